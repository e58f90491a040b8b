package hss

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
)

// Feature-List-ID 1 of the Cx application (TS 29.229 §7.1.1, Table 7.1.1): bit 0 is SiFC, shared iFC sets.
const (
	featureListCx uint32 = 1
	featureSiFC   uint32 = 1 << 0
)

// sar serves the Server-Assignment-Request: TS 29.228 §6.1.2.1 for every Server-Assignment-Type, §6.6 for
// the User-Data download, §8.1 for a request from an S-CSCF other than the assigned one.
//
// docs/design.md §4 step 7 (REGISTRATION after authentication) and the de-registration paragraph (every way a
// registration ends goes through an SAR).
func (s *Server) sar(ctx context.Context, t *txn, req *cx.SAR, ans *cx.SAA) error {
	sat := req.ServerAssignmentType
	t.add(zap.Stringer("assignment_type", sat), zap.String("server_name", req.ServerName))
	switch sat {
	case cx.SATRegistration, cx.SATReRegistration, cx.SATUnregisteredUser, cx.SATNoAssignment,
		cx.SATAuthenticationFailure, cx.SATAuthenticationTimeout:
		identity, err := singleIdentity(req)
		if err != nil {
			return err
		}
		t.impu = identity
		return s.sarAssign(ctx, t, req, ans, identity)
	case cx.SATTimeoutDeregistration, cx.SATUserDeregistration, cx.SATTimeoutDeregistrationStoreServerName,
		cx.SATUserDeregistrationStoreServerName, cx.SATAdministrativeDeregistration, cx.SATDeregistrationTooMuchData:
		return s.sarDeregister(ctx, req, ans)
	case cx.SATRestoration:
		return s.sarRestoration(ctx, t, req, ans)
	}
	// AAA_USER_DATA_REQUEST and PGW_UPDATE belong to SWx (TS 29.273).
	return cx.Errorf(cx.ErrorInAssignmentType, "sar: assignment type %s not supported on Cx", sat)
}

// singleIdentity is the one public identity of a Server-Assignment-Type that applies to one identity
// (TS 29.228 §6.1.2.1: more than one Public-Identity is DIAMETER_AVP_OCCURS_TOO_MANY_TIMES). A
// Wildcarded-Public-Identity, when present, is what the profile is looked up by (TS 29.228 §6.1.2: the
// S-CSCF sends the one the I-CSCF received).
func singleIdentity(req *cx.SAR) (string, error) {
	if len(req.PublicIdentity) > 1 {
		second := diam.NewAVP(uint32(cx.AVPPublicIdentity), avp.Mbit|avp.Vbit, cx.Vendor3GPP, datatype.UTF8String(req.PublicIdentity[1]))
		return "", &diameter.Error{Code: diameter.AVPOccursTooManyTimes, FailedAVPs: []*diam.AVP{second},
			Err: fmt.Errorf("sar %s: %d Public-Identity AVPs", req.ServerAssignmentType, len(req.PublicIdentity))}
	}
	if req.WildcardedPublicIdentity != "" {
		return req.WildcardedPublicIdentity, nil
	}
	if len(req.PublicIdentity) == 1 {
		return req.PublicIdentity[0], nil
	}
	return "", missingAVP(cx.AVPPublicIdentity, fmt.Errorf("sar %s without Public-Identity", req.ServerAssignmentType))
}

// missingAVP is DIAMETER_MISSING_AVP with an example of the missing 3GPP UTF8String AVP (RFC 6733 §7.5).
func missingAVP(code cx.AVPCode, err error) error {
	vendor := cx.Vendor3GPP
	flags := uint8(avp.Mbit | avp.Vbit)
	if code == cx.AVPUserName {
		vendor, flags = 0, avp.Mbit
	}
	return &diameter.Error{Code: diameter.MissingAVP, Err: err,
		FailedAVPs: []*diam.AVP{diam.NewAVP(uint32(code), flags, vendor, datatype.UTF8String(""))}}
}

// sarAssign handles the assignment types that name one identity: REGISTRATION, RE_REGISTRATION,
// UNREGISTERED_USER, NO_ASSIGNMENT, AUTHENTICATION_FAILURE and AUTHENTICATION_TIMEOUT.
func (s *Server) sarAssign(ctx context.Context, t *txn, req *cx.SAR, ans *cx.SAA, identity string) error {
	sat, name, host := req.ServerAssignmentType, req.ServerName, req.OriginHost
	impi := req.UserName
	var (
		pub  *PublicIdentity
		priv *PrivateIdentity // read when the request names it: its own charging addresses
		err  error
	)
	if impi != "" {
		// The common case in one store read: both identities exist exactly and are associated.
		var ok bool
		priv, pub, ok, err = s.store.Identities(ctx, impi, identity)
		switch {
		case err == nil && !ok:
			return cx.Errorf(cx.ErrorIdentitiesDontMatch, "sar: %s is not associated with %s", pub.IMPU, impi)
		case err != nil && !errors.Is(err, ErrNotFound):
			return storeError("sar identities", err)
		}
	}
	if pub == nil {
		if pub, err = s.store.GetIMPU(ctx, identity); err != nil {
			return storeError("sar public identity "+identity, err)
		}
	}
	switch {
	case impi != "":
		if priv != nil {
			break // checked above
		}
		if priv, err = s.store.GetIMPI(ctx, impi); err != nil {
			return storeError("sar private identity "+impi, err)
		}
		ok, err := s.store.IsAssociated(ctx, impi, pub.IMPU)
		if err != nil {
			return storeError("sar association", err)
		}
		if !ok {
			return cx.Errorf(cx.ErrorIdentitiesDontMatch, "sar: %s is not associated with %s", pub.IMPU, impi)
		}
	case sat == cx.SATUnregisteredUser || sat == cx.SATNoAssignment:
		// No User-Name: "the HSS shall arbitrarily select one of the Private User Identities and put it
		// into the response" (TS 29.228 §6.1.2.1).
		impis, err := s.store.IMPIsOfIMPU(ctx, pub.IMPU)
		if err != nil {
			return storeError("sar private identities of "+pub.IMPU, err)
		}
		if len(impis) > 0 {
			impi = impis[0]
		}
	default:
		return missingAVP(cx.AVPUserName, fmt.Errorf("sar %s without User-Name", sat))
	}
	t.impi = impi
	psi := pub.Type == IdentityDistinctPSI || pub.Type == IdentityWildcardedPSI
	if psi && sat != cx.SATUnregisteredUser && sat != cx.SATNoAssignment {
		// A PSI is never registered (TS 23.228 §4.3.6 hosts it on an S-CSCF for unregistered services).
		return cx.Errorf(cx.ErrorInAssignmentType, "sar %s for %s, a %s", sat, pub.IMPU, pub.Type)
	}

	withData := sat == cx.SATRegistration || sat == cx.SATReRegistration || sat == cx.SATUnregisteredUser || sat == cx.SATNoAssignment
	sifc := s.cfg.Cx.SharedIFCSets && supportsSiFC(req.SupportedFeatures)
	// TS 29.228 §6.6: USER_DATA_ALREADY_AVAILABLE means the HSS should not send the profile again. The
	// document is built before the state changes, so that a profile too large (5008) changes nothing.
	var data []byte
	if withData && req.UserDataAlreadyAvailable == cx.UserDataNotAvailable {
		privateID := impi
		if privateID == "" {
			privateID = pub.IMPU // a PSI without a private service identity
		}
		if data, err = s.userData(ctx, privateID, pub.IMPU, sifc); err != nil {
			return err
		}
	}

	// IMS restoration (TS 23.380 §5.2, TS 29.228 §6.1.2.1). takeover: another S-CSCF asks for a registered
	// identity whose restoration information is stored — its S-CSCF is gone, and the I-CSCF (or a pool's
	// DNS) chose a new one; the HSS records the new name and answers with the restoration information, which
	// the new S-CSCF serves the user with until the UE registers again. The same S-CSCF asking
	// UNREGISTERED_USER or NO_ASSIGNMENT for a registered identity (it lost its state) gets it too.
	var (
		restoration []cx.SCSCFRestorationInfo
		takeover    bool
	)
	if s.cfg.Cx.Restoration && pub.Registration.State == Registered && sat != cx.SATAuthenticationFailure && sat != cx.SATAuthenticationTimeout {
		other := pub.Registration.SCSCFName != "" && pub.Registration.SCSCFName != name
		if other && sat != cx.SATNoAssignment || !other && (sat == cx.SATUnregisteredUser || sat == cx.SATNoAssignment) {
			if restoration, err = s.storedRestoration(ctx, t, pub.IMPU); err != nil {
				return err
			}
			takeover = other && len(restoration) > 0
		}
	}
	toStore, err := s.restorationToStore(req)
	if err != nil {
		return err
	}
	if sat == cx.SATNoAssignment {
		// The S-CSCF only wants the profile; it must be the assigned one (TS 29.228 §6.1.2.1).
		if pub.Registration.SCSCFName != name {
			return diameter.Errorf(diameter.UnableToComply, "sar NO_ASSIGNMENT from %s: %s is assigned to %q", name, pub.IMPU, pub.Registration.SCSCFName)
		}
	} else {
		var assigned string
		regIMPI := impi
		if sat == cx.SATUnregisteredUser {
			regIMPI = "" // the private identity was only picked for the answer; it registers nothing
		}
		err = s.store.UpdateRegistration(ctx, regIMPI, pub.IMPU, func(cur ImplicitSetState) (RegistrationChange, error) {
			reg := cur.Registration
			switch sat {
			case cx.SATRegistration, cx.SATReRegistration, cx.SATUnregisteredUser:
				if takeover && reg.State == Registered && reg.SCSCFName == pub.Registration.SCSCFName {
					// §6.1.2.1 with IMS restoration: the HSS overwrites the S-CSCF name. The stored restoration
					// information stands for the "S-CSCF reassignment pending" flag (docs/hss.md "Restoration").
					t.add(zap.String("restoration_from", reg.SCSCFName))
					if sat == cx.SATUnregisteredUser {
						// The registration goes on, now served by the new S-CSCF.
						reg.SCSCFName, reg.SCSCFOriginHost, reg.PendingSCSCF = name, host, ""
						return RegistrationChange{Registration: reg, IMPIRegistered: cur.IMPIRegistered}, nil
					}
					return RegistrationChange{Registration: Registration{State: Registered, SCSCFName: name, SCSCFOriginHost: host},
						IMPIRegistered: true, Restoration: toStore}, nil
				}
				if reg.SCSCFName != "" && reg.SCSCFName != name {
					// §6.1.2.1: another S-CSCF is assigned and there is no reassignment pending (§8.1: a
					// command other than MAR does not overwrite the name): answer with the assigned one.
					assigned = reg.SCSCFName
					return RegistrationChange{}, cx.Errorf(cx.ErrorIdentityAlreadyRegistered, "sar %s from %s: %s is served by %s",
						sat, name, pub.IMPU, reg.SCSCFName)
				}
				if sat == cx.SATReRegistration && (reg.State != Registered || !cur.IMPIRegistered) {
					// The S-CSCF still holds a registration the HSS has ended (a de-registration or an RTR it
					// has not applied yet: Kamailio keeps such contacts for about a minute) and the UE has just
					// authenticated again through it. The S-CSCF may serve the user when it is the one the MAR
					// made pending or the one whose name is stored (TS 29.228 §6.1.2.1, §8.1): the request is
					// then the registration it stands for, not an error that would lock the UE out. Any other
					// S-CSCF gets DIAMETER_ERROR_IN_ASSIGNMENT_TYPE as before.
					if reg.PendingSCSCF != name && reg.SCSCFName != name {
						return RegistrationChange{}, cx.Errorf(cx.ErrorInAssignmentType, "sar RE_REGISTRATION of %s by %s, which is %s",
							pub.IMPU, impi, reg.State)
					}
					t.add(zap.String("treated_as", cx.SATRegistration.String()), zap.Stringer("was", reg.State))
				}
				if sat == cx.SATUnregisteredUser {
					if reg.State == NotRegistered {
						reg.State = Unregistered // registered as a consequence of a terminating or originating request
					}
					reg.SCSCFName, reg.SCSCFOriginHost, reg.PendingSCSCF = name, host, ""
					return RegistrationChange{Registration: reg, IMPIRegistered: cur.IMPIRegistered}, nil
				}
				// §6.1.2.1: the HSS stores the S-CSCF restoration information the request carries.
				return RegistrationChange{Registration: Registration{State: Registered, SCSCFName: name, SCSCFOriginHost: host},
					IMPIRegistered: true, Restoration: toStore}, nil
			default: // AUTHENTICATION_FAILURE, AUTHENTICATION_TIMEOUT
				// §6.1.2.1: the S-CSCF name is cleared only if the identity is not registered; the
				// authentication pending flag goes either way.
				switch {
				case reg.State == NotRegistered && (reg.PendingSCSCF == name || reg.PendingSCSCF == ""):
					reg = Registration{}
				case reg.PendingSCSCF == name:
					reg.PendingSCSCF = ""
				}
				return RegistrationChange{Registration: reg, IMPIRegistered: cur.IMPIRegistered}, nil
			}
		})
		if err != nil {
			if assigned != "" {
				ans.ServerName = assigned
			}
			return storeError("sar "+sat.String(), err)
		}
	}

	ans.UserName = impi
	if pub.IMPU != identity || pub.Type.Wildcarded() {
		ans.WildcardedPublicIdentity = pub.IMPU
	}
	if withData {
		if data != nil {
			ans.UserData = data
			if impi != "" {
				if ans.ChargingInformation, err = s.chargingInformation(ctx, impi, priv); err != nil {
					return err
				}
			}
		}
		impis, err := s.store.IMPIsOfIMPU(ctx, pub.IMPU)
		if err != nil {
			return storeError("sar associated identities", err)
		}
		if len(impis) > 1 {
			// TS 29.229 §6.3.33: the private identities sharing the public one.
			ans.AssociatedIdentities = &cx.AssociatedIdentities{UserNames: impis}
		}
	}
	if len(restoration) > 0 {
		ans.SCSCFRestorationInfo = restoration
	}
	if sifc {
		ans.SupportedFeatures = []cx.SupportedFeatures{{VendorID: cx.Vendor3GPP, FeatureListID: featureListCx, FeatureList: featureSiFC}}
	}
	ans.SetResultCode(diameter.Success)
	return nil
}

// sarDeregister handles the de-registration types: TIMEOUT_DEREGISTRATION, USER_DEREGISTRATION, their
// _STORE_SERVER_NAME variants, ADMINISTRATIVE_DEREGISTRATION and DEREGISTRATION_TOO_MUCH_DATA. They name
// one or more public identities, or none and a private identity: every set that identity holds with this
// S-CSCF (TS 29.228 §6.1.2.1). Each implicit registration set changes atomically (§6.5.1.2).
func (s *Server) sarDeregister(ctx context.Context, req *cx.SAR, ans *cx.SAA) error {
	sat, name, impi := req.ServerAssignmentType, req.ServerName, req.UserName
	storeName := sat == cx.SATTimeoutDeregistrationStoreServerName || sat == cx.SATUserDeregistrationStoreServerName
	keep := storeName && s.cfg.Cx.KeepServerName
	identities := slices.Clone(req.PublicIdentity)
	if len(identities) == 0 && req.WildcardedPublicIdentity != "" {
		identities = []string{req.WildcardedPublicIdentity}
	}
	if len(identities) == 0 && impi == "" {
		return missingAVP(cx.AVPPublicIdentity, fmt.Errorf("sar %s with neither Public-Identity nor User-Name", sat))
	}
	if impi != "" {
		if _, err := s.store.GetIMPI(ctx, impi); err != nil {
			return storeError("sar private identity "+impi, err)
		}
	}
	// One identity per implicit registration set.
	var targets []string
	sets := make(map[string]bool)
	addSet := func(p PublicIdentity) {
		if !sets[p.ImplicitSetID] {
			sets[p.ImplicitSetID] = true
			targets = append(targets, p.IMPU)
		}
	}
	if len(identities) > 0 {
		for _, id := range identities {
			pub, err := s.store.GetIMPU(ctx, id)
			if err != nil {
				return storeError("sar public identity "+id, err)
			}
			addSet(*pub)
		}
	} else {
		registered, err := s.store.RegisteredIMPUs(ctx, impi, "")
		if err != nil {
			return storeError("sar registered identities of "+impi, err)
		}
		all, err := s.store.IMPUsOfIMPI(ctx, impi)
		if err != nil {
			return storeError("sar identities of "+impi, err)
		}
		for _, p := range registered {
			addSet(p)
		}
		for _, p := range all {
			if p.Registration.State == Unregistered && p.Registration.SCSCFName == name {
				addSet(p)
			}
		}
	}
	for _, target := range targets {
		err := s.store.UpdateRegistration(ctx, impi, target, func(cur ImplicitSetState) (RegistrationChange, error) {
			reg := cur.Registration
			if reg.State == NotRegistered {
				return RegistrationChange{Registration: reg}, nil // nothing left to de-register
			}
			if reg.SCSCFName != name {
				// §8.1: a command other than MAR from another S-CSCF changes nothing and gets an error.
				return RegistrationChange{}, diameter.Errorf(diameter.UnableToComply, "sar %s from %s: %s is served by %q",
					sat, name, target, reg.SCSCFName)
			}
			if reg.State == Registered && impi != "" && slices.ContainsFunc(cur.RegisteredIMPIs, func(r string) bool { return r != impi }) {
				// Other private identities keep their registration of the set (§6.1.2.1).
				return RegistrationChange{Registration: reg, IMPIRegistered: false}, nil
			}
			if keep {
				// The S-CSCF keeps the profile: the set is "unregistered" with the name stored.
				return RegistrationChange{Registration: Registration{State: Unregistered, SCSCFName: name,
					SCSCFOriginHost: reg.SCSCFOriginHost}}, nil
			}
			return RegistrationChange{Registration: Registration{}}, nil
		})
		if err != nil {
			return storeError("sar "+sat.String(), err)
		}
	}
	ans.UserName = impi
	if storeName && !keep {
		ans.SetExperimentalResult(cx.Vendor3GPP, cx.SuccessServerNameNotStored)
		return nil
	}
	ans.SetResultCode(diameter.Success)
	return nil
}

// supportsSiFC reports whether the request's Supported-Features announce shared iFC sets (TS 29.229 §7.1.1).
func supportsSiFC(features []cx.SupportedFeatures) bool {
	for _, f := range features {
		if f.VendorID == cx.Vendor3GPP && f.FeatureListID == featureListCx && f.FeatureList&featureSiFC != 0 {
			return true
		}
	}
	return false
}
