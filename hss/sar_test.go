package hss_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/storage"
)

// TestSARRegistration covers REGISTRATION and RE_REGISTRATION (TS 29.228 §6.1.2.1, §6.6): state, User-Data
// valid against the Annex E schema, Charging-Information, Associated-Identities, User-Data-Already-Available.
func TestSARRegistration(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		scscf := e.connect(scscfHost)
		// One client per Origin-Host for the whole test: two live nodes with one identity take the connection
		// from each other (RFC 6733 §5.6.4), and a request on the losing one fails.
		s2 := e.connect(scscf2Host)
		must(t, db.SetDefaultChargingInfo(ctx, hss.ChargingInfo{PrimaryCCF: "aaa://ccf1." + realm, PrimaryECF: "aaa://ecf1." + realm}))
		sub := e.subscriber(func(s *hss.Subscriber) { s.Public[1].DisplayName = "Alice" })
		impi, barred, sip, tel := ids(sub)
		// A second private identity sharing the SIP identity (TS 23.228 §4.3.3.4).
		second := e.subscriber(func(s *hss.Subscriber) {
			s.Public = s.Public[:1]
			s.SharedIMPUs = []string{sip}
		})

		t.Run("RE_REGISTRATION before REGISTRATION", func(t *testing.T) {
			a := scscf.sar(impi, []string{sip}, cx.SATReRegistration, nil)
			wantExperimental(t, a, cx.ErrorInAssignmentType)
			if a.UserName != impi {
				t.Errorf("error answer User-Name %q, want the request's %q (issue 11: peers log it)", a.UserName, impi)
			}
			// An MAA error names both identities of the request.
			m := scscf.mar(impi, "sip:nobody@"+realm, cx.SchemeAKAv1MD5, 1, nil)
			wantExperimental(t, m, cx.ErrorUserUnknown)
			if m.UserName != impi || m.PublicIdentity != "sip:nobody@"+realm {
				t.Errorf("error MAA names %q / %q, want the request's identities", m.UserName, m.PublicIdentity)
			}
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("state changed: %+v", reg)
			}
		})
		t.Run("REGISTRATION", func(t *testing.T) {
			wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
			a := scscf.sar(impi, []string{sip}, cx.SATRegistration, nil)
			wantSuccess(t, a)
			if a.UserName != impi {
				t.Errorf("User-Name %q", a.UserName)
			}
			for _, u := range []string{barred, sip, tel} {
				reg := e.registration(u)
				if reg.State != hss.Registered || reg.SCSCFName != scscfName || reg.SCSCFOriginHost != scscfHost || reg.PendingSCSCF != "" {
					t.Errorf("%s: %+v", u, reg)
				}
			}
			xmllint(t, a.UserData)
			ud, err := userdata.Parse(a.UserData)
			must(t, err)
			if ud.PrivateID != impi || len(ud.ServiceProfiles) != 1 {
				t.Fatalf("User-Data %+v", ud)
			}
			sp := ud.ServiceProfiles[0]
			var got []string
			for _, p := range sp.PublicIdentities {
				got = append(got, p.Identity)
				if p.Barred() != (p.Identity == barred) {
					t.Errorf("%s: BarringIndication %v", p.Identity, p.Barred())
				}
			}
			if want := []string{barred, sip, tel}; !slices.Equal(got, want) {
				t.Errorf("identities %v, want the implicit set %v", got, want)
			}
			if n := sp.PublicIdentities[1].Extension; n == nil || n.Extension == nil || n.Extension.DisplayName != "Alice" {
				t.Errorf("display name not in User-Data: %+v", n)
			}
			if len(sp.InitialFilterCriteria) != 2 || sp.InitialFilterCriteria[0].Priority != 0 || sp.InitialFilterCriteria[1].Priority != 10 {
				t.Errorf("iFCs %+v", sp.InitialFilterCriteria)
			}
			c := a.ChargingInformation
			if c == nil || c.PrimaryChargingCollectionFunctionName != "aaa://ccf1."+realm || c.PrimaryEventChargingFunctionName != "aaa://ecf1."+realm {
				t.Errorf("Charging-Information %+v", c)
			}
			if ai := a.AssociatedIdentities; ai == nil || !slices.Equal(ai.UserNames, []string{impi, second.Private.IMPI}) {
				t.Errorf("Associated-Identities %+v, want both private identities", ai)
			}
		})
		t.Run("RE_REGISTRATION with user data already available", func(t *testing.T) {
			a := scscf.sar(impi, []string{tel}, cx.SATReRegistration, func(r *cx.SAR) { r.UserDataAlreadyAvailable = cx.UserDataAvailable })
			wantSuccess(t, a)
			if len(a.UserData) != 0 || a.ChargingInformation != nil {
				t.Errorf("User-Data (%d bytes) or Charging-Information sent although already available", len(a.UserData))
			}
		})
		t.Run("RE_REGISTRATION with user data", func(t *testing.T) {
			a := scscf.sar(impi, []string{tel}, cx.SATReRegistration, nil)
			wantSuccess(t, a)
			if len(a.UserData) == 0 {
				t.Error("no User-Data")
			}
		})
		t.Run("REGISTRATION from another S-CSCF", func(t *testing.T) {
			a := s2.sar(impi, []string{sip}, cx.SATRegistration, nil)
			wantExperimental(t, a, cx.ErrorIdentityAlreadyRegistered)
			if a.ServerName != scscfName {
				t.Errorf("Server-Name %q, want the assigned S-CSCF", a.ServerName)
			}
			if reg := e.registration(sip); reg.SCSCFName != scscfName || reg.SCSCFOriginHost != scscfHost {
				t.Errorf("overwritten: %+v", reg)
			}
		})
		t.Run("NO_ASSIGNMENT", func(t *testing.T) {
			a := scscf.sar(impi, []string{sip}, cx.SATNoAssignment, nil)
			wantSuccess(t, a)
			xmllint(t, a.UserData)
			wantResult(t, s2.sar(impi, []string{sip}, cx.SATNoAssignment, nil), diameter.UnableToComply, 0)
		})
		// Issue 11: a UE de-registered at the HSS (an RTR, or its own de-REGISTER) while its S-CSCF still holds the
		// contact authenticates again; that S-CSCF then sends RE_REGISTRATION. Answering 5007 locked the UE out.
		t.Run("RE_REGISTRATION after de-registration, from the S-CSCF that authenticated", func(t *testing.T) {
			wantSuccess(t, scscf.sar(impi, []string{sip}, cx.SATUserDeregistration, nil))
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Fatalf("not de-registered: %+v", reg)
			}
			// Another S-CSCF that never authenticated the user may not register it this way.
			wantExperimental(t, s2.sar(impi, []string{sip}, cx.SATReRegistration, nil), cx.ErrorInAssignmentType)
			wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
			a := scscf.sar(impi, []string{sip}, cx.SATReRegistration, nil)
			wantSuccess(t, a)
			if len(a.UserData) == 0 {
				t.Error("no User-Data in the answer to the re-registration treated as a registration")
			}
			for _, u := range []string{barred, sip, tel} {
				if reg := e.registration(u); reg.State != hss.Registered || reg.SCSCFName != scscfName || reg.PendingSCSCF != "" {
					t.Errorf("%s: %+v, want registered at %s", u, reg, scscfName)
				}
			}
		})
	})
}

// TestSARAssignmentTypes runs every other Server-Assignment-Type through its state changes and errors.
func TestSARAssignmentTypes(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		scscf := e.connect(scscfHost)
		s2 := e.connect(scscf2Host)

		deregistrations := []struct {
			name  string
			sat   cx.ServerAssignmentType
			state hss.RegistrationState
		}{
			{"TIMEOUT_DEREGISTRATION", cx.SATTimeoutDeregistration, hss.NotRegistered},
			{"USER_DEREGISTRATION", cx.SATUserDeregistration, hss.NotRegistered},
			{"ADMINISTRATIVE_DEREGISTRATION", cx.SATAdministrativeDeregistration, hss.NotRegistered},
			{"DEREGISTRATION_TOO_MUCH_DATA", cx.SATDeregistrationTooMuchData, hss.NotRegistered},
			{"TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME", cx.SATTimeoutDeregistrationStoreServerName, hss.Unregistered},
			{"USER_DEREGISTRATION_STORE_SERVER_NAME", cx.SATUserDeregistrationStoreServerName, hss.Unregistered},
		}
		for _, tc := range deregistrations {
			t.Run(tc.name, func(t *testing.T) {
				sub := e.subscriber(nil)
				impi, barred, sip, tel := ids(sub)
				e.register(scscf, sub)
				// From another S-CSCF: refused, nothing changes (§8.1).
				wantResult(t, s2.sar(impi, []string{tel}, tc.sat, nil), diameter.UnableToComply, 0)
				if reg := e.registration(sip); reg.State != hss.Registered {
					t.Fatalf("changed by another S-CSCF: %+v", reg)
				}
				a := scscf.sar(impi, []string{tel}, tc.sat, nil)
				wantSuccess(t, a)
				if len(a.UserData) != 0 {
					t.Error("User-Data in a de-registration answer")
				}
				for _, u := range []string{barred, sip, tel} {
					reg := e.registration(u)
					wantName := ""
					if tc.state == hss.Unregistered {
						wantName = scscfName
					}
					if reg.State != tc.state || reg.SCSCFName != wantName {
						t.Errorf("%s: %+v, want %s with name %q", u, reg, tc.state, wantName)
					}
				}
				if regs, err := db.RegisteredIMPUs(ctx, impi, ""); err != nil || len(regs) != 0 {
					t.Errorf("still registered by %s: %v %v", impi, regs, err)
				}
				// Again: nothing left to de-register, not an error.
				wantSuccess(t, scscf.sar(impi, []string{tel}, tc.sat, nil))
			})
		}

		t.Run("de-registration by private identity only", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			wantSuccess(t, scscf.sar(impi, nil, cx.SATUserDeregistration, nil))
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("de-registration keeps the set of another private identity", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			second := e.subscriber(func(s *hss.Subscriber) { s.Public = s.Public[:1]; s.SharedIMPUs = []string{sip} })
			e.register(scscf, sub)
			wantSuccess(t, scscf.sar(second.Private.IMPI, []string{sip}, cx.SATRegistration, func(r *cx.SAR) {
				r.UserDataAlreadyAvailable = cx.UserDataAvailable
			}))
			wantSuccess(t, scscf.sar(impi, []string{sip}, cx.SATUserDeregistration, nil))
			if reg := e.registration(sip); reg.State != hss.Registered {
				t.Fatalf("the other private identity lost its registration: %+v", reg)
			}
			if regs, _ := db.RegisteredIMPUs(ctx, impi, ""); len(regs) != 0 {
				t.Errorf("%s still holds %v", impi, regs)
			}
			wantSuccess(t, scscf.sar(second.Private.IMPI, []string{sip}, cx.SATUserDeregistration, nil))
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("UNREGISTERED_USER without User-Name", func(t *testing.T) {
			sub := e.subscriber(nil)
			_, _, sip, tel := ids(sub)
			a := scscf.sar("", []string{tel}, cx.SATUnregisteredUser, nil)
			wantSuccess(t, a)
			if a.UserName != sub.Private.IMPI {
				t.Errorf("User-Name %q, want the subscriber's private identity", a.UserName)
			}
			xmllint(t, a.UserData)
			if reg := e.registration(sip); reg.State != hss.Unregistered || reg.SCSCFName != scscfName || reg.SCSCFOriginHost != scscfHost {
				t.Errorf("%+v", reg)
			}
			// Another S-CSCF asking for it is told which one serves it.
			b := s2.sar("", []string{sip}, cx.SATUnregisteredUser, nil)
			wantExperimental(t, b, cx.ErrorIdentityAlreadyRegistered)
			if b.ServerName != scscfName {
				t.Errorf("Server-Name %q", b.ServerName)
			}
			// REGISTRATION from the S-CSCF keeping the profile.
			e.register(scscf, sub)
			if reg := e.registration(sip); reg.State != hss.Registered {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("AUTHENTICATION_FAILURE and AUTHENTICATION_TIMEOUT clear a pending name", func(t *testing.T) {
			for _, sat := range []cx.ServerAssignmentType{cx.SATAuthenticationFailure, cx.SATAuthenticationTimeout} {
				sub := e.subscriber(nil)
				impi, _, sip, _ := ids(sub)
				wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
				wantSuccess(t, scscf.sar(impi, []string{sip}, sat, nil))
				if reg := e.registration(sip); reg != (hss.Registration{}) {
					t.Errorf("%s: %+v", sat, reg)
				}
			}
			// A registered user failing a re-authentication keeps its registration.
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			wantSuccess(t, scscf.sar(impi, []string{sip}, cx.SATAuthenticationFailure, nil))
			if reg := e.registration(sip); reg.State != hss.Registered || reg.SCSCFName != scscfName {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("keep_server_name false answers SERVER_NAME_NOT_STORED", func(t *testing.T) {
			e2 := newEnv(t, openSQLite(t), func(c *hss.Config) { c.Cx.KeepServerName = false })
			s := e2.connect(scscfHost)
			sub := e2.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e2.register(s, sub)
			wantExperimental(t, s.sar(impi, []string{sip}, cx.SATUserDeregistrationStoreServerName, nil), cx.SuccessServerNameNotStored)
			if reg := e2.registration(sip); reg != (hss.Registration{}) {
				t.Errorf("%+v", reg)
			}
		})

		sub := e.subscriber(nil)
		impi, _, sip, tel := ids(sub)
		must(t, db.AddIMPU(ctx, impi, hss.PublicIdentity{IMPU: "sip:service-" + sub.Private.IMSI + "@" + realm,
			Type: hss.IdentityDistinctPSI, ImplicitSetID: "psi-" + impi, ServiceProfileID: "default"}))
		errorCases := []struct {
			name   string
			impi   string
			impus  []string
			sat    cx.ServerAssignmentType
			mutate func(*cx.SAR)
			code   diameter.ResultCode
			vendor uint32
		}{
			{name: "unknown public identity", impi: impi, impus: []string{"sip:nobody@" + realm}, sat: cx.SATRegistration, code: cx.ErrorUserUnknown, vendor: cx.Vendor3GPP},
			{name: "unknown private identity", impi: "nobody@" + realm, impus: []string{sip}, sat: cx.SATRegistration, code: cx.ErrorUserUnknown, vendor: cx.Vendor3GPP},
			{name: "identities do not match", impi: impi, impus: []string{e.subscriber(nil).Public[1].IMPU}, sat: cx.SATRegistration, code: cx.ErrorIdentitiesDontMatch, vendor: cx.Vendor3GPP},
			{name: "two identities for REGISTRATION", impi: impi, impus: []string{sip, tel}, sat: cx.SATRegistration, code: diameter.AVPOccursTooManyTimes},
			{name: "REGISTRATION without User-Name", impus: []string{sip}, sat: cx.SATRegistration, code: diameter.MissingAVP},
			{name: "REGISTRATION without Public-Identity", impi: impi, sat: cx.SATRegistration, code: diameter.MissingAVP},
			{name: "de-registration with neither identity", sat: cx.SATUserDeregistration, code: diameter.MissingAVP},
			{name: "a PSI is never registered", impi: impi, impus: []string{"sip:service-" + sub.Private.IMSI + "@" + realm}, sat: cx.SATRegistration,
				code: cx.ErrorInAssignmentType, vendor: cx.Vendor3GPP},
			{name: "RESTORATION without SCSCF-Restoration-Info", impi: impi, impus: []string{sip}, sat: cx.SATRestoration, code: diameter.MissingAVP},
			{name: "AAA_USER_DATA_REQUEST is not Cx", impi: impi, impus: []string{sip}, sat: cx.SATAAAUserDataRequest, code: cx.ErrorInAssignmentType, vendor: cx.Vendor3GPP},
		}
		for _, tc := range errorCases {
			t.Run(tc.name, func(t *testing.T) {
				a := scscf.sar(tc.impi, tc.impus, tc.sat, tc.mutate)
				wantResult(t, a, tc.code, tc.vendor)
				if tc.code == diameter.MissingAVP || tc.code == diameter.AVPOccursTooManyTimes {
					if len(a.FailedAVP) != 1 {
						t.Errorf("Failed-AVP %v", a.FailedAVP)
					}
				}
				if reg := e.registration(sip); reg.State != hss.NotRegistered {
					t.Errorf("state changed on an error: %+v", reg)
				}
			})
		}
		t.Run("PSI gets its profile as UNREGISTERED_USER", func(t *testing.T) {
			psi := "sip:service-" + sub.Private.IMSI + "@" + realm
			a := scscf.sar("", []string{psi}, cx.SATUnregisteredUser, nil)
			wantSuccess(t, a)
			xmllint(t, a.UserData)
		})
	})
}

// TestSARUserData covers shared iFC sets (SiFC negotiated or expanded) and DIAMETER_ERROR_TOO_MUCH_DATA.
func TestSARUserData(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		scscf := e.connect(scscfHost)
		shared := hsstest.Profile("shared")
		must(t, db.CreateSharedIFCSet(ctx, hss.SharedIFCSet{ID: 7, IFCs: []hss.InitialFilterCriteria{{
			Priority: 5, ApplicationServer: hss.ApplicationServer{ServerName: "sip:voicemail." + realm}}}}))
		shared.ID, shared.SharedIFCSetIDs = "with-shared", []int32{7}
		must(t, db.CreateServiceProfile(ctx, shared))
		sub := e.subscriber(func(s *hss.Subscriber) {
			for i := range s.Public {
				s.Public[i].ServiceProfileID = "with-shared"
			}
		})
		impi, _, sip, _ := ids(sub)
		wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))

		t.Run("expanded for an S-CSCF without SiFC", func(t *testing.T) {
			a := scscf.sar(impi, []string{sip}, cx.SATRegistration, nil)
			wantSuccess(t, a)
			xmllint(t, a.UserData)
			ud, err := userdata.Parse(a.UserData)
			must(t, err)
			var prios []int
			for _, f := range ud.ServiceProfiles[0].InitialFilterCriteria {
				prios = append(prios, f.Priority)
			}
			if !slices.Equal(prios, []int{0, 5, 10}) || ud.ServiceProfiles[0].Extension != nil {
				t.Errorf("priorities %v extension %+v: the shared set must be expanded in priority order", prios, ud.ServiceProfiles[0].Extension)
			}
			if len(a.SupportedFeatures) != 0 {
				t.Errorf("Supported-Features %+v not asked for", a.SupportedFeatures)
			}
		})
		t.Run("identifiers for an S-CSCF with SiFC", func(t *testing.T) {
			a := scscf.sar(impi, []string{sip}, cx.SATReRegistration, func(r *cx.SAR) {
				r.SupportedFeatures = []cx.SupportedFeatures{{VendorID: cx.Vendor3GPP, FeatureListID: 1, FeatureList: 1}}
			})
			wantSuccess(t, a)
			xmllint(t, a.UserData)
			if !bytes.Contains(a.UserData, []byte("<SharedIFCSetID>7</SharedIFCSetID>")) || bytes.Contains(a.UserData, []byte("voicemail")) {
				t.Errorf("User-Data must reference set 7, not expand it:\n%s", a.UserData)
			}
			if len(a.SupportedFeatures) != 1 || a.SupportedFeatures[0].FeatureList&1 == 0 {
				t.Errorf("Supported-Features %+v", a.SupportedFeatures)
			}
		})
		t.Run("too much data", func(t *testing.T) {
			e2 := newEnv(t, openSQLite(t), func(c *hss.Config) { c.Cx.MaxUserDataBytes = 512 })
			s := e2.connect(scscfHost)
			sub := e2.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			wantSuccess(t, s.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
			wantExperimental(t, s.sar(impi, []string{sip}, cx.SATRegistration, nil), cx.ErrorTooMuchData)
			if reg := e2.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("registered although the profile was refused: %+v", reg)
			}
			if !strings.Contains(e2.registration(sip).PendingSCSCF, "scscf") {
				t.Errorf("pending name lost: %+v", e2.registration(sip))
			}
		})
	})
}
