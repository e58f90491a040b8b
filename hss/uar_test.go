package hss_test

import (
	"context"
	"slices"
	"testing"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

// TestUAR covers TS 29.228 §6.1.1.1 over TCP: every check in order and every result code.
func TestUAR(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, func(c *hss.Config) { c.Cx.HomeNetworks = []string{realm, "home.example"} })
		ctx := context.Background()
		sub := e.subscriber(func(s *hss.Subscriber) {
			s.Private.AllowedVisitedNetworks = []string{"visited.example"}
			s.Private.RequiredCapabilities = hss.Capabilities{Mandatory: []uint32{1}, Optional: []uint32{2}}
		})
		impi, barred, sip, tel := ids(sub)
		other := e.subscriber(nil)
		// A subscriber whose only identity is barred.
		allBarred := e.subscriber(func(s *hss.Subscriber) {
			s.Public = s.Public[:1]
		})
		// A public service identity.
		must(t, db.AddIMPU(ctx, other.Private.IMPI, hss.PublicIdentity{IMPU: "sip:conference@" + realm,
			Type: hss.IdentityDistinctPSI, ImplicitSetID: "psi", ServiceProfileID: "default"}))
		vni := func(v string) func(*cx.UAR) { return func(r *cx.UAR) { r.VisitedNetworkIdentifier = []byte(v) } }
		uat := func(v cx.UserAuthorizationType) func(*cx.UAR) {
			return func(r *cx.UAR) { r.UserAuthorizationType = &v }
		}

		tests := []struct {
			name       string
			impi, impu string
			mutate     func(*cx.UAR)
			code       diameter.ResultCode
			vendor     uint32
		}{
			{name: "unknown private identity", impi: "nobody@" + realm, impu: sip, code: cx.ErrorUserUnknown, vendor: cx.Vendor3GPP},
			{name: "unknown public identity", impi: impi, impu: "sip:nobody@" + realm, code: cx.ErrorUserUnknown, vendor: cx.Vendor3GPP},
			{name: "public service identity", impi: other.Private.IMPI, impu: "sip:conference@" + realm, code: cx.ErrorUserUnknown, vendor: cx.Vendor3GPP},
			{name: "identities of two subscribers", impi: impi, impu: other.Public[1].IMPU, code: cx.ErrorIdentitiesDontMatch, vendor: cx.Vendor3GPP},
			{name: "barred identity with a non-barred one in its set", impi: impi, impu: barred, code: cx.FirstRegistration, vendor: cx.Vendor3GPP},
			{name: "barred identity alone", impi: allBarred.Private.IMPI, impu: allBarred.Public[0].IMPU, code: diameter.AuthorizationRejected},
			{name: "barred alone, emergency registration", impi: allBarred.Private.IMPI, impu: allBarred.Public[0].IMPU,
				mutate: func(r *cx.UAR) { f := cx.UARFlagIMSEmergencyRegistration; r.UARFlags = &f }, code: cx.FirstRegistration, vendor: cx.Vendor3GPP},
			{name: "barred alone, de-registration skips the barring check", impi: allBarred.Private.IMPI, impu: allBarred.Public[0].IMPU,
				mutate: uat(cx.UATDeRegistration), code: cx.ErrorIdentityNotRegistered, vendor: cx.Vendor3GPP},
			{name: "roaming not allowed", impi: impi, impu: sip, mutate: vni("elsewhere.example"), code: cx.ErrorRoamingNotAllowed, vendor: cx.Vendor3GPP},
			{name: "allowed visited network, quoted", impi: impi, impu: sip, mutate: vni(`"Visited.Example"`), code: cx.FirstRegistration, vendor: cx.Vendor3GPP},
			{name: "second home network", impi: impi, impu: sip, mutate: vni("home.example"), code: cx.FirstRegistration, vendor: cx.Vendor3GPP},
			{name: "no visited network is home", impi: impi, impu: tel, mutate: vni(""), code: cx.FirstRegistration, vendor: cx.Vendor3GPP},
			{name: "roaming, emergency registration", impi: impi, impu: sip,
				mutate: func(r *cx.UAR) {
					f := cx.UARFlagIMSEmergencyRegistration
					r.UARFlags = &f
					r.VisitedNetworkIdentifier = []byte("x")
				},
				code: cx.FirstRegistration, vendor: cx.Vendor3GPP},
			{name: "de-registration of an identity not registered", impi: impi, impu: sip, mutate: uat(cx.UATDeRegistration),
				code: cx.ErrorIdentityNotRegistered, vendor: cx.Vendor3GPP},
			{name: "de-registration from a network not allowed", impi: impi, impu: sip,
				mutate: func(r *cx.UAR) { uat(cx.UATDeRegistration)(r); vni("elsewhere.example")(r) },
				code:   cx.ErrorIdentityNotRegistered, vendor: cx.Vendor3GPP},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := e.icscf.uar(tc.impi, tc.impu, tc.mutate)
				wantResult(t, a, tc.code, tc.vendor)
			})
		}

		t.Run("first registration gets capabilities and the S-CSCFs offering them", func(t *testing.T) {
			must(t, db.PutSCSCF(ctx, hss.SCSCF{Name: "sip:poor." + realm, Capabilities: hss.Capabilities{Optional: []uint32{2}}}))
			must(t, db.PutSCSCF(ctx, hss.SCSCF{Name: "sip:fair." + realm, Capabilities: hss.Capabilities{Mandatory: []uint32{1}}}))
			a := e.icscf.uar(impi, sip, nil)
			wantExperimental(t, a, cx.FirstRegistration)
			if a.ServerName != "" {
				t.Errorf("Server-Name %q on a first registration", a.ServerName)
			}
			c := a.ServerCapabilities
			if c == nil || !slices.Equal(c.MandatoryCapabilities, []uint32{1}) || !slices.Equal(c.OptionalCapabilities, []uint32{2}) {
				t.Fatalf("Server-Capabilities %+v", c)
			}
			// The default S-CSCF offers 1 and 2 and goes first; "fair" lacks 2; "poor" lacks mandatory 1.
			if want := []string{scscfName, "sip:fair." + realm}; !slices.Equal(c.ServerNames, want) {
				t.Errorf("Server-Name in Server-Capabilities = %v, want %v", c.ServerNames, want)
			}
		})

		scscf := e.connect(scscfHost)
		t.Run("pending authentication gets the S-CSCF of the MAR", func(t *testing.T) {
			wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
			a := e.icscf.uar(impi, sip, nil)
			wantExperimental(t, a, cx.SubsequentRegistration)
			if a.ServerName != scscfName || a.ServerCapabilities != nil {
				t.Errorf("Server-Name %q, Server-Capabilities %+v", a.ServerName, a.ServerCapabilities)
			}
		})
		wantSuccess(t, scscf.sar(impi, []string{sip}, cx.SATRegistration, nil))
		t.Run("registered identity gets its S-CSCF", func(t *testing.T) {
			for _, u := range []string{barred, sip, tel} { // the whole implicit set
				a := e.icscf.uar(impi, u, nil)
				wantExperimental(t, a, cx.SubsequentRegistration)
				if a.ServerName != scscfName {
					t.Errorf("%s: Server-Name %q", u, a.ServerName)
				}
			}
		})
		t.Run("registration and capabilities never names the S-CSCF", func(t *testing.T) {
			a := e.icscf.uar(impi, sip, uat(cx.UATRegistrationAndCapabilities))
			wantExperimental(t, a, cx.FirstRegistration)
			if a.ServerName != "" || a.ServerCapabilities == nil {
				t.Errorf("Server-Name %q, Server-Capabilities %+v", a.ServerName, a.ServerCapabilities)
			}
		})
		t.Run("de-registration of a registered identity", func(t *testing.T) {
			a := e.icscf.uar(impi, tel, uat(cx.UATDeRegistration))
			wantSuccess(t, a)
			if a.ServerName != scscfName {
				t.Errorf("Server-Name %q", a.ServerName)
			}
		})
		t.Run("another identity of the subscription is served: same S-CSCF", func(t *testing.T) {
			// A second implicit set of the same private identity.
			must(t, db.AddIMPU(ctx, impi, hss.PublicIdentity{IMPU: "sip:work-" + sub.Private.IMSI + "@" + realm,
				ImplicitSetID: "work-" + impi, ServiceProfileID: "default"}))
			a := e.icscf.uar(impi, "sip:work-"+sub.Private.IMSI+"@"+realm, nil)
			wantExperimental(t, a, cx.SubsequentRegistration)
			if a.ServerName != scscfName {
				t.Errorf("Server-Name %q", a.ServerName)
			}
		})
	})
}
