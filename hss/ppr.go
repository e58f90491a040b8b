package hss

import (
	"context"
	"fmt"
	"slices"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/logging"
)

// PushProfile sends the current profile of impi's registered (or unregistered, profile kept) implicit
// registration sets to their S-CSCFs with a Push-Profile-Request (TS 29.228 §6.2.2, §6.6.1): one PPR per set,
// with User-Data for that set (shared iFC sets expanded) and Charging-Information, addressed by the
// Origin-Host of the S-CSCF's SAR. User-Name is impi when it holds the set's registration, else one of the
// private identities that do (§6.2.2.1: "arbitrarily selects one").
//
// The S-CSCF's answer is handled as §6.2.2.1 says: DIAMETER_ERROR_USER_UNKNOWN ends that private identity's
// registration of the set; DIAMETER_ERROR_TOO_MUCH_DATA de-registers the set with an RTR (SERVER_CHANGE) so
// that the user registers again, perhaps with another S-CSCF. Both are still returned as an *AnswerError.
// Nothing registered is not an error (nothing is sent). Errors wrap ErrNotFound, ErrSCSCFUnreachable or
// ErrRefused; a profile too large to send wraps a *diameter.Error with DIAMETER_ERROR_TOO_MUCH_DATA.
func (s *Server) PushProfile(ctx context.Context, impi string) error {
	if s.isClosed() {
		return ErrServerClosed
	}
	if _, err := s.store.GetIMPI(ctx, impi); err != nil {
		return fmt.Errorf("push profile %s: %w", impi, err)
	}
	all, err := s.store.IMPUsOfIMPI(ctx, impi)
	if err != nil {
		return fmt.Errorf("push profile %s: %w", impi, err)
	}
	held, err := s.store.RegisteredIMPUs(ctx, impi, "")
	if err != nil {
		return fmt.Errorf("push profile %s: %w", impi, err)
	}
	holds := make(map[string]bool, len(held))
	for _, p := range held {
		holds[p.ImplicitSetID] = true
	}
	seen := make(map[string]bool)
	sent := 0
	var firstErr error
	for _, p := range all {
		if seen[p.ImplicitSetID] || p.Registration.State == NotRegistered || p.Registration.SCSCFOriginHost == "" {
			continue
		}
		seen[p.ImplicitSetID] = true
		userName := impi
		if p.Registration.State == Registered && !holds[p.ImplicitSetID] {
			if userName, err = s.registeredIMPI(ctx, p.IMPU); err != nil {
				return fmt.Errorf("push profile %s: %w", impi, err)
			}
		}
		sent++
		if err := s.pushSet(ctx, userName, p); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("push profile %s: %w", impi, err)
		}
	}
	if sent == 0 {
		s.log.Info("cx PPR not sent: nothing registered", logging.IMPI(impi))
	}
	return firstErr
}

// StartPushProfile is PushProfile in the background: it returns at once the pending Operation (command
// PPR), whose outcome Operations().Get and Wait read later; see StartDeregister.
func (s *Server) StartPushProfile(impi string) (Operation, error) {
	if s.isClosed() {
		return Operation{}, ErrServerClosed
	}
	return s.ops.Start(Operation{Command: cx.CmdPushProfile, IMPI: impi},
		func(ctx context.Context) error { return s.PushProfile(ctx, impi) })
}

// registeredIMPI returns a private identity holding the registration of impu's set.
func (s *Server) registeredIMPI(ctx context.Context, impu string) (string, error) {
	impis, err := s.store.IMPIsOfIMPU(ctx, impu)
	if err != nil {
		return "", err
	}
	for _, impi := range impis {
		regs, err := s.store.RegisteredIMPUs(ctx, impi, "")
		if err != nil {
			return "", err
		}
		if slices.ContainsFunc(regs, func(p PublicIdentity) bool { return p.IMPU == impu }) {
			return impi, nil
		}
	}
	return "", fmt.Errorf("%s is registered but no private identity holds it: %w", impu, ErrNotFound)
}

// pushSet sends the PPR for the set of p with impi as User-Name.
func (s *Server) pushSet(ctx context.Context, impi string, p PublicIdentity) error {
	host := p.Registration.SCSCFOriginHost
	realm, err := s.openPeer(host)
	if err != nil {
		return err
	}
	data, err := s.userData(ctx, impi, p.IMPU, false)
	if err != nil {
		return err
	}
	charging, err := s.chargingInformation(ctx, impi, nil)
	if err != nil {
		return err
	}
	req := &cx.PPR{
		SessionID:           s.newSessionID(),
		OriginHost:          s.cfg.Diameter.OriginHost,
		OriginRealm:         s.cfg.Diameter.Realm,
		DestinationHost:     host,
		DestinationRealm:    realm,
		UserName:            impi,
		UserData:            data,
		ChargingInformation: charging,
	}
	msg, err := req.Marshal(s.dict)
	if err != nil {
		return fmt.Errorf("ppr: %w", err)
	}
	ans, code, vendor, err := s.request(ctx, cx.CmdPushProfile, msg, host, req.SessionID, impi)
	if err != nil {
		return err
	}
	if _, err := cx.ParsePPA(ans); err != nil {
		return fmt.Errorf("ppa from %s: %w", host, err)
	}
	s.log.Info("cx PPR", logging.SessionID(req.SessionID), logging.IMPI(impi), logging.IMPU(p.IMPU), logging.Peer(host),
		zap.Int("user_data_bytes", len(data)), zap.Uint32("result", uint32(code)), zap.Uint32("vendor", vendor))
	if vendor == 0 && code == diameter.Success {
		return nil
	}
	refused := &AnswerError{Command: cx.CmdPushProfile, Host: host, Code: code, VendorID: vendor}
	if vendor == cx.Vendor3GPP {
		switch code {
		case cx.ErrorUserUnknown:
			// The S-CSCF no longer knows impi: its registration of the set is over (§6.2.2.1, no restoration).
			if err := s.clearRegistration(ctx, impi, p.IMPU, host); err != nil {
				return fmt.Errorf("%w; clearing the registration: %v", refused, err)
			}
		case cx.ErrorTooMuchData:
			// §6.2.2.1: de-register with SERVER_CHANGE so that the I-CSCF picks an S-CSCF able to take it.
			if err := s.Deregister(ctx, impi, []string{p.IMPU}, cx.ReasonServerChange,
				"the user profile is too large for the serving S-CSCF"); err != nil {
				return fmt.Errorf("%w; de-registering: %v", refused, err)
			}
		}
	}
	return refused
}
