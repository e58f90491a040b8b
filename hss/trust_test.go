package hss_test

import (
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

// A Cx request whose required AVPs are present but empty is refused before its procedure runs: a MAR with
// an empty Session-Id gets DIAMETER_INVALID_AVP_VALUE and issues no vector (SQN_HE does not move); the same
// for the other empty fields of MAR, SAR, UAR and LIR.
func TestEmptyRequiredAVPsRefusedBeforeWork(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		scscf := e.connect(scscfHost)
		icscf := e.icscf // UAR comes from the I-CSCF role
		sub := e.subscriber(nil)
		impi, _, sip, _ := ids(sub)
		sqn := e.sqn(impi)

		// empty marshals m and then empties the AVP code (base protocol) of the wire message: cx's encoder
		// refuses to write an empty Session-Id, an attacker's encoder does not.
		empty := func(m cx.Message, code uint32) *diam.Message {
			msg, err := m.Marshal(scscf.d)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range msg.AVP {
				if a.Code == code {
					a.Data = datatype.UTF8String("")
				}
			}
			return msg
		}
		mar := func() *cx.MAR {
			return &cx.MAR{SessionID: scscf.session(), OriginHost: scscfHost, OriginRealm: realm, DestinationRealm: realm,
				UserName: impi, PublicIdentity: sip, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5},
				SIPNumberAuthItems: 1, ServerName: scscf.serverName()}
		}
		cases := []struct {
			name string
			msg  *diam.Message
		}{
			{"MAR with an empty Session-Id", empty(mar(), uint32(cx.AVPSessionID))},
			{"MAR with an empty Origin-Host", empty(mar(), uint32(cx.AVPOriginHost))},
			{"MAR with an empty User-Name", empty(mar(), uint32(cx.AVPUserName))},
			{"SAR with an empty Session-Id", empty(&cx.SAR{SessionID: scscf.session(), OriginHost: scscfHost, OriginRealm: realm,
				DestinationRealm: realm, UserName: impi, PublicIdentity: []string{sip}, ServerName: scscf.serverName(),
				ServerAssignmentType: cx.SATRegistration}, uint32(cx.AVPSessionID))},
			{"UAR with an empty Session-Id", empty(&cx.UAR{SessionID: icscf.session(), OriginHost: icscfHost, OriginRealm: realm,
				DestinationRealm: realm, UserName: impi, PublicIdentity: sip, VisitedNetworkIdentifier: []byte(realm)}, uint32(cx.AVPSessionID))},
			{"LIR with an empty Session-Id", empty(&cx.LIR{SessionID: scscf.session(), OriginHost: scscfHost, OriginRealm: realm,
				DestinationRealm: realm, PublicIdentity: sip}, uint32(cx.AVPSessionID))},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := scscf
				if tc.msg.Header.CommandCode == uint32(cx.CmdUserAuthorization) {
					c = icscf
				}
				got := c.sendRaw(tc.msg)
				if code := resultOf(t, got); code != diameter.InvalidAVPValue {
					t.Fatalf("Result-Code %d, want 5004 DIAMETER_INVALID_AVP_VALUE", code)
				}
			})
		}
		if got := e.sqn(impi); got != sqn {
			t.Errorf("SQN_HE moved from %d to %d: a vector was issued for a refused MAR", sqn, got)
		}
		if reg := e.registration(sip); reg.SCSCFName != "" || reg.PendingSCSCF != "" {
			t.Errorf("a refused request changed the registration: %+v", reg)
		}
	})
}

// TS 29.228 §6.1, §6.3: an I-CSCF may not ask for vectors or assign itself; the HSS answers its MAR and SAR
// DIAMETER_AUTHORIZATION_REJECTED without touching the subscriber, and an RTR sent to the HSS is not a
// command it serves.
func TestHSSCommandsOnlyFromTheirRole(t *testing.T) {
	e := newEnv(t, openSQLite(t), nil)
	icscf := e.icscf
	sub := e.subscriber(nil)
	impi, _, sip, _ := ids(sub)
	sqn := e.sqn(impi)

	mar, err := (&cx.MAR{SessionID: icscf.session(), OriginHost: icscfHost, OriginRealm: realm, DestinationRealm: realm,
		UserName: impi, PublicIdentity: sip, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5},
		SIPNumberAuthItems: 1, ServerName: "sip:evil.example.org"}).Marshal(icscf.d)
	if err != nil {
		t.Fatal(err)
	}
	if code := resultOf(t, icscf.sendRaw(mar)); code != diameter.AuthorizationRejected {
		t.Errorf("MAR from the I-CSCF: %d, want 5003", code)
	}
	sar, err := (&cx.SAR{SessionID: icscf.session(), OriginHost: icscfHost, OriginRealm: realm, DestinationRealm: realm,
		UserName: impi, PublicIdentity: []string{sip}, ServerName: "sip:evil.example.org",
		ServerAssignmentType: cx.SATRegistration}).Marshal(icscf.d)
	if err != nil {
		t.Fatal(err)
	}
	if code := resultOf(t, icscf.sendRaw(sar)); code != diameter.AuthorizationRejected {
		t.Errorf("SAR from the I-CSCF: %d, want 5003", code)
	}
	if got := e.sqn(impi); got != sqn {
		t.Errorf("SQN_HE moved from %d to %d", sqn, got)
	}
	if reg := e.registration(sip); reg.SCSCFName != "" || reg.PendingSCSCF != "" {
		t.Errorf("the refused SAR/MAR changed the registration: %+v", reg)
	}
	// The I-CSCF's own commands still work.
	if a := icscf.uar(impi, sip, nil); a.ResultCode == 0 && a.ExperimentalResult == nil {
		t.Errorf("UAR from the I-CSCF got no result")
	}
	scscf := e.connect(scscfHost)
	rtr, err := (&cx.RTR{SessionID: scscf.session(), OriginHost: scscfHost, OriginRealm: realm, DestinationHost: hssHost,
		DestinationRealm: realm, UserName: impi, DeregistrationReason: cx.DeregistrationReason{Code: cx.ReasonPermanentTermination}}).Marshal(scscf.d)
	if err != nil {
		t.Fatal(err)
	}
	if code := resultOf(t, scscf.sendRaw(rtr)); code != diameter.CommandUnsupported {
		t.Errorf("RTR to the HSS: %d, want 3001", code)
	}
}

// The default configuration allows the project's I-CSCF and S-CSCF from loopback, with their roles.
func TestDefaultPeers(t *testing.T) {
	cfg := hss.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{hss.DefaultICSCFHost: hss.RoleICSCF, hss.DefaultSCSCFHost: hss.RoleSCSCF}
	for _, p := range cfg.Diameter.Peers {
		if want[p.Host] == "" || len(p.Roles) != 1 || p.Roles[0] != want[p.Host] {
			t.Errorf("default peer %+v", p)
		}
		for _, s := range p.Sources {
			pfx, err := peer.ParseSource(s)
			if err != nil || !pfx.Addr().IsLoopback() {
				t.Errorf("default peer %s allowed from %s, not loopback", p.Host, s)
			}
		}
		delete(want, p.Host)
	}
	if len(want) != 0 {
		t.Errorf("default peers lack %v", want)
	}
	for name, mutate := range map[string]func(*hss.Config){
		"no peers":     func(c *hss.Config) { c.Diameter.Peers = nil },
		"no roles":     func(c *hss.Config) { c.Diameter.Peers[0].Roles = nil },
		"unknown role": func(c *hss.Config) { c.Diameter.Peers[0].Roles = []string{"hss"} },
		"no sources":   func(c *hss.Config) { c.Diameter.Peers[0].Sources = nil },
		"partial tls":  func(c *hss.Config) { c.Diameter.TLS.CertFile = "/x.pem" },
	} {
		c := hss.DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func resultOf(t *testing.T, m *diam.Message) diameter.ResultCode {
	t.Helper()
	for _, a := range m.AVP {
		if a.Code == 268 && a.VendorID == 0 {
			if v, ok := a.Data.(datatype.Unsigned32); ok {
				return diameter.ResultCode(v)
			}
		}
	}
	t.Fatalf("no Result-Code in %s", m)
	return 0
}
