package hss

import (
	"context"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
)

// S-CSCF restoration (TS 23.380 §5.2; TS 29.228 §6.1.2.1): the S-CSCF hands the HSS what it needs to serve a
// registered user again — per contact the Path, Contact, Call-ID and CSeq of the REGISTER, the reg event
// subscription, the registration's expiry and authentication scheme — with SAR REGISTRATION,
// RE_REGISTRATION and RESTORATION. The HSS keeps it per private identity and implicit set
// (RegistrationChange.Restoration, as the SCSCF-Restoration-Info AVP in wire form) until the registration
// ends, and answers with it when another S-CSCF takes the user over (or the same one asks again after losing
// it). docs/hss.md "Restoration".

// restorationToStore is the request's SCSCF-Restoration-Info in the form the store keeps, nil when the
// request has none or restoration is off.
func (s *Server) restorationToStore(req *cx.SAR) ([]byte, error) {
	if !s.cfg.Cx.Restoration || req.SCSCFRestorationInfo == nil {
		return nil, nil
	}
	b, err := req.SCSCFRestorationInfo.AppendBinary(nil)
	if err != nil {
		// Decoded from the wire a moment ago, so it encodes: a failure is ours.
		return nil, fmt.Errorf("sar %s: restoration information: %w", req.ServerAssignmentType, err)
	}
	return b, nil
}

// storedRestoration returns the restoration information stored for impu's implicit set, one group per
// private identity (TS 29.228 §6.1.2.1: "the HSS shall include all the S-CSCF Restoration Information
// groups in the response"). A stored group that no longer decodes is skipped and logged.
func (s *Server) storedRestoration(ctx context.Context, t *txn, impu string) ([]cx.SCSCFRestorationInfo, error) {
	stored, err := s.store.Restoration(ctx, impu)
	if err != nil {
		return nil, storeError("sar restoration information of "+impu, err)
	}
	out := make([]cx.SCSCFRestorationInfo, 0, len(stored))
	for _, b := range stored {
		var x cx.SCSCFRestorationInfo
		if err := x.UnmarshalBinary(b); err != nil {
			s.log.Warn("stored restoration information does not decode", zap.String("impu", impu), zap.Error(err))
			continue
		}
		out = append(out, x)
	}
	if len(out) > 0 {
		t.add(zap.Int("restoration_groups", len(out)))
	}
	return out, nil
}

// sarRestoration serves SAR RESTORATION (TS 29.228 §6.1.2.1): the S-CSCF that serves a registered identity
// updates its restoration information after a change no REGISTER carried (a reg event subscription, a
// contact that expired). The HSS stores it for the private identity and the identity's implicit set and
// sends no profile. The identity must be registered by that private identity through this S-CSCF
// (otherwise DIAMETER_UNABLE_TO_COMPLY, §8.1: a command other than MAR does not reassign).
func (s *Server) sarRestoration(ctx context.Context, t *txn, req *cx.SAR, ans *cx.SAA) error {
	if !s.cfg.Cx.Restoration {
		return cx.Errorf(cx.ErrorInAssignmentType, "sar RESTORATION: IMS restoration is off (cx.restoration)")
	}
	identity, err := singleIdentity(req)
	if err != nil {
		return err
	}
	t.impu, t.impi = identity, req.UserName
	if req.UserName == "" {
		return missingAVP(cx.AVPUserName, fmt.Errorf("sar RESTORATION without User-Name"))
	}
	if req.SCSCFRestorationInfo == nil {
		return &diameter.Error{Code: diameter.MissingAVP, Err: fmt.Errorf("sar RESTORATION without SCSCF-Restoration-Info"),
			FailedAVPs: []*diam.AVP{diam.NewAVP(uint32(cx.AVPSCSCFRestorationInfo), avp.Vbit, cx.Vendor3GPP, &diam.GroupedAVP{})}}
	}
	info, err := s.restorationToStore(req)
	if err != nil {
		return err
	}
	name := req.ServerName
	err = s.store.UpdateRegistration(ctx, req.UserName, identity, func(cur ImplicitSetState) (RegistrationChange, error) {
		if cur.Registration.State != Registered || !cur.IMPIRegistered || cur.Registration.SCSCFName != name {
			return RegistrationChange{}, diameter.Errorf(diameter.UnableToComply, "sar RESTORATION from %s: %s is %s by %q",
				name, identity, cur.Registration.State, cur.Registration.SCSCFName)
		}
		return RegistrationChange{Registration: cur.Registration, IMPIRegistered: true, Restoration: info}, nil
	})
	if err != nil {
		return storeError("sar RESTORATION", err)
	}
	ans.SetResultCode(diameter.Success)
	return nil
}
