package hss

import (
	"context"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
)

// lir serves the Location-Info-Request: TS 29.228 §6.1.4.1. The I-CSCF asks which S-CSCF serves a public
// identity (a terminating request, or with Originating-Request an originating one for an unregistered user);
// wildcarded PSIs and IMPUs match through the store (TS 23.003 §13.5) and are named in the answer.
func (s *Server) lir(ctx context.Context, t *txn, req *cx.LIR, ans *cx.LIA) error {
	originating := req.OriginatingRequest != nil
	if originating {
		t.add(zap.Bool("originating", true))
	}
	// Step 1: the identity must be known.
	pub, err := s.store.GetIMPU(ctx, req.PublicIdentity)
	if err != nil {
		return storeError("lir public identity "+req.PublicIdentity, err)
	}
	if pub.IMPU != req.PublicIdentity || pub.Type.Wildcarded() {
		ans.WildcardedPublicIdentity = pub.IMPU // the distinct identity wins when both exist: the store's rule
	}
	reg := pub.Registration
	// TS 29.228 §6.1.4.1 with IMS restoration (TS 23.380 §5.2.2.2): User-Authorization-Type
	// REGISTRATION_AND_CAPABILITIES asks for capabilities rather than the assigned S-CSCF, which the I-CSCF
	// could not reach; it selects another, which takes the user over with SAR (sar.go).
	reselect := s.cfg.Cx.Restoration && req.UserAuthorizationType != nil && *req.UserAuthorizationType == cx.UATRegistrationAndCapabilities
	if reselect && reg.State != NotRegistered {
		t.add(zap.String("reselect_from", reg.SCSCFName))
		return s.lirCapabilities(ctx, pub, ans, diameter.Success)
	}
	// Registered, or unregistered with the S-CSCF keeping the profile: that S-CSCF.
	if reg.State != NotRegistered && reg.SCSCFName != "" {
		ans.ServerName = reg.SCSCFName
		ans.SetResultCode(diameter.Success)
		return nil
	}
	// Not registered: only services for the unregistered state (or an originating request on behalf of
	// the user) get an S-CSCF; the I-CSCF then selects one (DIAMETER_UNREGISTERED_SERVICE).
	unregServices, err := s.hasUnregisteredServices(ctx, pub.IMPU)
	if err != nil {
		return err
	}
	if !unregServices && !originating {
		return cx.Errorf(cx.ErrorIdentityNotRegistered, "lir %s: not registered and no services for the unregistered state", pub.IMPU)
	}
	// An S-CSCF already serving the subscription (or authenticating it) is named; otherwise capabilities.
	if name, err := s.subscriptionSCSCF(ctx, pub); err != nil {
		return err
	} else if name != "" {
		ans.ServerName = name
		ans.SetExperimentalResult(cx.Vendor3GPP, cx.UnregisteredService)
		return nil
	}
	return s.lirCapabilities(ctx, pub, ans, 0)
}

// lirCapabilities answers with the Server-Capabilities the subscription needs, so that the I-CSCF selects
// an S-CSCF: DIAMETER_UNREGISTERED_SERVICE (code 0), or code for a registered identity being reassigned.
func (s *Server) lirCapabilities(ctx context.Context, pub *PublicIdentity, ans *cx.LIA, code diameter.ResultCode) error {
	var need PrivateIdentity
	if impis, err := s.store.IMPIsOfIMPU(ctx, pub.IMPU); err != nil {
		return storeError("lir private identities", err)
	} else if len(impis) > 0 {
		p, err := s.store.GetIMPI(ctx, impis[0])
		if err != nil {
			return storeError("lir private identity", err)
		}
		need = *p
	}
	caps, err := s.capabilities(ctx, &need)
	if err != nil {
		return err
	}
	ans.ServerCapabilities = caps
	if code != 0 {
		ans.SetResultCode(code)
		return nil
	}
	ans.SetExperimentalResult(cx.Vendor3GPP, cx.UnregisteredService)
	return nil
}

// subscriptionSCSCF returns the S-CSCF already assigned to (or authenticating) another identity of the
// subscriptions pub belongs to, or "".
func (s *Server) subscriptionSCSCF(ctx context.Context, pub *PublicIdentity) (string, error) {
	if pub.Registration.PendingSCSCF != "" {
		return pub.Registration.PendingSCSCF, nil
	}
	impis, err := s.store.IMPIsOfIMPU(ctx, pub.IMPU)
	if err != nil {
		return "", storeError("private identities of "+pub.IMPU, err)
	}
	for _, impi := range impis {
		all, err := s.store.IMPUsOfIMPI(ctx, impi)
		if err != nil {
			return "", storeError("identities of "+impi, err)
		}
		for _, p := range all {
			if p.Registration.State != NotRegistered && p.Registration.SCSCFName != "" {
				return p.Registration.SCSCFName, nil
			}
		}
	}
	return "", nil
}
