package hss_test

import (
	"context"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

// TestLIR covers TS 29.228 §6.1.4.1: the serving S-CSCF of a registered or unregistered identity, unregistered
// services (DIAMETER_UNREGISTERED_SERVICE with capabilities or a name), Originating-Request, not registered,
// unknown, and wildcarded PSIs.
func TestLIR(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		scscf := e.connect(scscfHost)
		// "registered-only" has iFCs for the registered state only: no unregistered services.
		regOnly := hss.ProfilePartRegistered
		must(t, db.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "registered-only", IFCs: []hss.InitialFilterCriteria{{
			Priority: 1, ProfilePartIndicator: &regOnly, ApplicationServer: hss.ApplicationServer{ServerName: "sip:as." + realm}}}}))
		// "voicemail" serves unregistered users.
		termUnreg := hss.SessionTerminatingUnregistered
		must(t, db.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "voicemail", IFCs: []hss.InitialFilterCriteria{{
			Priority: 1, TriggerPoint: &hss.TriggerPoint{SPTs: []hss.ServicePointTrigger{{Group: []int32{0}, SessionCase: &termUnreg}}},
			ApplicationServer: hss.ApplicationServer{ServerName: "sip:vm." + realm}}}}))
		withProfile := func(id string) func(*hss.Subscriber) {
			return func(s *hss.Subscriber) {
				for i := range s.Public {
					s.Public[i].ServiceProfileID = id
				}
			}
		}
		plain := e.subscriber(withProfile("registered-only"))
		vm := e.subscriber(withProfile("voicemail"))
		originating := func(r *cx.LIR) { o := cx.Originating; r.OriginatingRequest = &o }

		t.Run("unknown", func(t *testing.T) {
			wantExperimental(t, e.icscf.lir("sip:nobody@"+realm, nil), cx.ErrorUserUnknown)
		})
		t.Run("not registered, no unregistered services", func(t *testing.T) {
			wantExperimental(t, e.icscf.lir(plain.Public[1].IMPU, nil), cx.ErrorIdentityNotRegistered)
		})
		// The HSS looks a Public-Identity up by its key (package identity), as the CSCFs compute it: another
		// spelling names the same identity, and is no wildcard match.
		t.Run("another spelling of the identity", func(t *testing.T) {
			sipURI := strings.Replace(plain.Public[1].IMPU, "@"+realm, "@"+strings.ToUpper(realm)+":5060", 1)
			wantExperimental(t, e.icscf.lir(sipURI, nil), cx.ErrorIdentityNotRegistered)
			tel := vm.Public[2].IMPU
			dashed := tel[:5] + "-" + tel[5:8] + "-" + tel[8:]
			a := e.icscf.lir(dashed, nil)
			wantExperimental(t, a, cx.UnregisteredService)
			if a.WildcardedPublicIdentity != "" {
				t.Errorf("%s matched as a wildcard: %q", dashed, a.WildcardedPublicIdentity)
			}
		})
		t.Run("not registered, originating request", func(t *testing.T) {
			a := e.icscf.lir(plain.Public[1].IMPU, originating)
			wantExperimental(t, a, cx.UnregisteredService)
			if a.ServerCapabilities == nil || a.ServerName != "" {
				t.Errorf("Server-Name %q Server-Capabilities %+v", a.ServerName, a.ServerCapabilities)
			}
		})
		t.Run("not registered, unregistered services", func(t *testing.T) {
			a := e.icscf.lir(vm.Public[2].IMPU, nil)
			wantExperimental(t, a, cx.UnregisteredService)
			if a.ServerCapabilities == nil || len(a.ServerCapabilities.ServerNames) == 0 || a.ServerName != "" {
				t.Errorf("Server-Name %q Server-Capabilities %+v", a.ServerName, a.ServerCapabilities)
			}
		})
		t.Run("unregistered, S-CSCF keeping the profile", func(t *testing.T) {
			wantSuccess(t, scscf.sar("", []string{vm.Public[2].IMPU}, cx.SATUnregisteredUser, nil))
			a := e.icscf.lir(vm.Public[1].IMPU, nil)
			wantSuccess(t, a)
			if a.ServerName != scscfName {
				t.Errorf("Server-Name %q", a.ServerName)
			}
		})
		t.Run("registered", func(t *testing.T) {
			e.register(scscf, plain)
			for _, u := range []string{plain.Public[0].IMPU, plain.Public[1].IMPU, plain.Public[2].IMPU} {
				a := e.icscf.lir(u, nil)
				wantSuccess(t, a)
				if a.ServerName != scscfName || a.ServerCapabilities != nil {
					t.Errorf("%s: Server-Name %q Server-Capabilities %+v", u, a.ServerName, a.ServerCapabilities)
				}
			}
		})
		t.Run("another set of the subscription is served: its S-CSCF named", func(t *testing.T) {
			other := "sip:other-" + plain.Private.IMSI + "@" + realm
			must(t, db.AddIMPU(ctx, plain.Private.IMPI, hss.PublicIdentity{IMPU: other, ImplicitSetID: "other-" + plain.Private.IMPI,
				ServiceProfileID: "voicemail"}))
			a := e.icscf.lir(other, nil)
			wantExperimental(t, a, cx.UnregisteredService)
			if a.ServerName != scscfName {
				t.Errorf("Server-Name %q", a.ServerName)
			}
		})
		t.Run("wildcarded PSI", func(t *testing.T) {
			must(t, db.AddIMPU(ctx, vm.Private.IMPI, hss.PublicIdentity{IMPU: "sip:chatroom-!.*!@" + realm, Type: hss.IdentityWildcardedPSI,
				ImplicitSetID: "chat", ServiceProfileID: "voicemail"}))
			a := e.icscf.lir("sip:chatroom-42@"+realm, nil)
			wantExperimental(t, a, cx.UnregisteredService)
			if a.WildcardedPublicIdentity != "sip:chatroom-!.*!@"+realm {
				t.Errorf("Wildcarded-Public-Identity %q", a.WildcardedPublicIdentity)
			}
			// The S-CSCF fetches its profile with the wildcarded identity (TS 29.228 §6.1.2).
			saa := scscf.sar("", []string{"sip:chatroom-42@" + realm}, cx.SATUnregisteredUser, func(r *cx.SAR) {
				r.WildcardedPublicIdentity = a.WildcardedPublicIdentity
			})
			wantSuccess(t, saa)
			if saa.WildcardedPublicIdentity != a.WildcardedPublicIdentity {
				t.Errorf("SAA Wildcarded-Public-Identity %q", saa.WildcardedPublicIdentity)
			}
			xmllint(t, saa.UserData)
			b := e.icscf.lir("sip:chatroom-7@"+realm, nil)
			wantSuccess(t, b)
			if b.ServerName != scscfName {
				t.Errorf("Server-Name %q", b.ServerName)
			}
		})
	})
}
