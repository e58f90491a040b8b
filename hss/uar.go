package hss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
)

// uar serves the User-Authorization-Request: TS 29.228 §6.1.1.1, in the clause's order — the first failing
// check gives the answer.
//
// docs/design.md §4 step 3: the I-CSCF asks, for a REGISTER, whether the user may register and which S-CSCF
// serves (or may serve) the identity.
func (s *Server) uar(ctx context.Context, t *txn, req *cx.UAR, ans *cx.UAA) error {
	uat := cx.UATRegistration // absent means REGISTRATION (TS 29.229 §6.3.24)
	if req.UserAuthorizationType != nil {
		uat = *req.UserAuthorizationType
	}
	// TS 29.228 §6.1.1.1: an IMS emergency registration skips the barring and roaming checks.
	emergency := req.UARFlags != nil && *req.UARFlags&cx.UARFlagIMSEmergencyRegistration != 0
	t.add(zap.Stringer("authorization_type", uat))

	// Steps 1–3: both identities known, the public one a distinct Public User Identity, and associated.
	priv, pub, err := s.userIdentities(ctx, req.UserName, req.PublicIdentity)
	if err != nil {
		return err
	}
	if uat != cx.UATDeRegistration && !emergency {
		// Step 4: a barred identity may register only if its implicit registration set holds a non-barred
		// one (TS 23.228 §4.3.3.4; the barred `sip:<IMSI>@<domain>` handsets register with is the usual
		// case); otherwise DIAMETER_AUTHORIZATION_REJECTED, a base Result-Code.
		if pub.Barred {
			set, err := s.store.ImplicitSet(ctx, pub.IMPU)
			if err != nil {
				return storeError("uar implicit set", err)
			}
			if !slices.ContainsFunc(set, func(p PublicIdentity) bool { return !p.Barred }) {
				return diameter.Errorf(diameter.AuthorizationRejected,
					"uar %s: identity barred and no identity of its implicit set is not", pub.IMPU)
			}
		}
		// Step 5: roaming. The home network is always allowed.
		if !s.roamingAllowed(priv, req.VisitedNetworkIdentifier) {
			return cx.Errorf(cx.ErrorRoamingNotAllowed, "uar %s: visited network %q not allowed",
				req.UserName, req.VisitedNetworkIdentifier)
		}
	}

	// Step 6: the registration state decides the answer.
	reg := pub.Registration
	switch uat {
	case cx.UATDeRegistration:
		if reg.State == NotRegistered || reg.SCSCFName == "" {
			return cx.Errorf(cx.ErrorIdentityNotRegistered, "uar %s: de-registration of an identity that is not registered", pub.IMPU)
		}
		ans.ServerName = reg.SCSCFName
		ans.SetResultCode(diameter.Success)
		return nil
	case cx.UATRegistrationAndCapabilities:
		// The I-CSCF wants to choose an S-CSCF anew (the assigned one does not answer): capabilities only,
		// never a name.
		caps, err := s.capabilities(ctx, priv)
		if err != nil {
			return err
		}
		ans.ServerCapabilities = caps
		ans.SetExperimentalResult(cx.Vendor3GPP, cx.FirstRegistration)
		return nil
	}
	if reg.State != NotRegistered && reg.SCSCFName != "" {
		// Registered, or unregistered with the S-CSCF keeping the profile: the same S-CSCF again.
		ans.ServerName = reg.SCSCFName
		ans.SetExperimentalResult(cx.Vendor3GPP, cx.SubsequentRegistration)
		return nil
	}
	if reg.PendingSCSCF != "" {
		// Not registered, authentication pending at an S-CSCF (a MAR stored its name): the second REGISTER
		// of the AKA exchange must reach the same S-CSCF.
		ans.ServerName = reg.PendingSCSCF
		ans.SetExperimentalResult(cx.Vendor3GPP, cx.SubsequentRegistration)
		return nil
	}
	// Another identity of the subscription already has an S-CSCF: use it, so that one subscription is
	// served by one S-CSCF.
	all, err := s.store.IMPUsOfIMPI(ctx, priv.IMPI)
	if err != nil {
		return storeError("uar identities", err)
	}
	for _, p := range all {
		if p.Registration.State != NotRegistered && p.Registration.SCSCFName != "" {
			ans.ServerName = p.Registration.SCSCFName
			ans.SetExperimentalResult(cx.Vendor3GPP, cx.SubsequentRegistration)
			return nil
		}
	}
	caps, err := s.capabilities(ctx, priv)
	if err != nil {
		return err
	}
	ans.ServerCapabilities = caps
	ans.SetExperimentalResult(cx.Vendor3GPP, cx.FirstRegistration)
	return nil
}

// userIdentities runs the identity checks UAR and MAR start with (TS 29.228 §6.1.1.1 steps 1–3, §6.3.1
// steps 1–3): the private and public identities exist (DIAMETER_ERROR_USER_UNKNOWN), the public one is a
// distinct Public User Identity — not a PSI, not matched through a wildcard — (DIAMETER_ERROR_USER_UNKNOWN),
// and they are associated (DIAMETER_ERROR_IDENTITIES_DONT_MATCH).
func (s *Server) userIdentities(ctx context.Context, impi, impu string) (*PrivateIdentity, *PublicIdentity, error) {
	// The common case in one store read: both identities exist exactly and are associated.
	priv, pub, ok, err := s.store.Identities(ctx, impi, impu)
	switch {
	case err == nil && pub.Type == IdentityPublicUser:
		if !ok {
			return nil, nil, cx.Errorf(cx.ErrorIdentitiesDontMatch, "%s is not associated with %s", impu, impi)
		}
		return priv, pub, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, nil, storeError("identities", err)
	}
	// Which check fails, in the clause's order.
	if priv, err = s.store.GetIMPI(ctx, impi); err != nil {
		return nil, nil, storeError("private identity "+impi, err)
	}
	if pub, err = s.store.GetIMPU(ctx, impu); err != nil {
		return nil, nil, storeError("public identity "+impu, err)
	}
	if pub.Type != IdentityPublicUser || pub.IMPU != impu {
		return nil, nil, cx.Errorf(cx.ErrorUserUnknown, "%s is a %s (matched %s), not a distinct public user identity",
			impu, pub.Type, pub.IMPU)
	}
	if ok, err = s.store.IsAssociated(ctx, impi, impu); err != nil {
		return nil, nil, storeError("association", err)
	}
	if !ok {
		return nil, nil, cx.Errorf(cx.ErrorIdentitiesDontMatch, "%s is not associated with %s", impu, impi)
	}
	return priv, pub, nil
}

// roamingAllowed is the roaming check of TS 29.228 §6.1.1.1: the Visited-Network-Identifier (the
// P-Visited-Network-ID the P-CSCF added, TS 24.229 §5.2.2) is the home network or one the subscriber may
// roam to. An empty value (no P-Visited-Network-ID) counts as the home network.
func (s *Server) roamingAllowed(priv *PrivateIdentity, visited []byte) bool {
	v := normalizeNetwork(string(visited))
	if v == "" {
		return true
	}
	for _, h := range s.cfg.homeNetworks() {
		if normalizeNetwork(h) == v {
			return true
		}
	}
	for _, a := range priv.AllowedVisitedNetworks {
		if normalizeNetwork(a) == v {
			return true
		}
	}
	return false
}

// normalizeNetwork compares network identifiers as TS 24.229 §7.2A.1 writes P-Visited-Network-ID: a token
// or a quoted string, case-insensitive.
func normalizeNetwork(s string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(s), `"`))
}

// capabilities builds the UAA/LIA Server-Capabilities (TS 29.228 §6.7, TS 29.229 §6.3.4): the capabilities
// the subscriber requires, and the names of the known S-CSCFs offering every mandatory one — those offering
// more of the optional ones first — so that the I-CSCF can pick by name or by capability.
func (s *Server) capabilities(ctx context.Context, priv *PrivateIdentity) (*cx.ServerCapabilities, error) {
	need := priv.RequiredCapabilities
	scscfs, err := s.store.SCSCFs(ctx)
	if err != nil {
		return nil, fmt.Errorf("s-cscf list: %w", err)
	}
	type candidate struct {
		name  string
		score int
	}
	var cands []candidate
	for _, sc := range scscfs {
		offered := append(append([]uint32(nil), sc.Capabilities.Mandatory...), sc.Capabilities.Optional...)
		ok := true
		for _, c := range need.Mandatory {
			if !slices.Contains(offered, c) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		score := 0
		for _, c := range need.Optional {
			if slices.Contains(offered, c) {
				score++
			}
		}
		cands = append(cands, candidate{sc.Name, score})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return b.score - a.score })
	caps := &cx.ServerCapabilities{
		MandatoryCapabilities: append([]uint32(nil), need.Mandatory...),
		OptionalCapabilities:  append([]uint32(nil), need.Optional...),
	}
	for _, c := range cands {
		caps.ServerNames = append(caps.ServerNames, c.name)
	}
	return caps, nil
}
