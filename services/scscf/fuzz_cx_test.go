package scscf

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/cx/cxtest"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/services/scscf/registrar"
)

// FuzzServeDiameter: bytes → cx.DecodeMessage (what the peer layer hands over) → Server.ServeDiameter, the
// S-CSCF's handling of the HSS's RTR and PPR (TS 29.228 §6.1.3, §6.1.4), over an in-memory registrar holding one
// registration the seeds name (saved again before every input, as an RTR may remove it). It must never panic
// or hang, refuse with a *diameter.Error only, and whatever it answers must serialize and decode again.
// Seeds: an RTR of the registration's IMPI, one of its IMPU, a PPR with the User-Data of
// diameter/userdata/testdata/kamailio-style.xml, one without, and both for an unknown user.
func FuzzServeDiameter(f *testing.F) {
	reg := registrar.NewMemory()
	cfg := DefaultConfig()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.Diameter.Listen = ""
	cfg.HTTPListen = ""
	cfg.DB = "memory"
	cfg.ICSCF = ICSCFNone
	cfg.Resolver = noDNS()
	s, err := New(cfg, reg, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.closeListeners) // never Run: only the bound sockets to release
	d, err := cx.NewDictionary()
	if err != nil {
		f.Fatal(err)
	}
	const impi, impu = "001010000000001@" + testDomain, "sip:15550000001@" + testDomain
	registration := func() *registrar.Registration {
		return &registrar.Registration{IMPU: impu, IMPI: impi,
			Identities: []registrar.Identity{{URI: impu}, {URI: "tel:+15550000001"}},
			Contacts:   []registrar.Contact{{URI: "sip:ue@127.0.0.1:5099"}}, Expires: time.Now().Add(time.Hour)}
	}
	profile, err := os.ReadFile("../../diameter/userdata/testdata/kamailio-style.xml")
	if err != nil {
		f.Fatal(err)
	}
	const hss = "hss." + testDomain
	reason := cx.DeregistrationReason{Code: cx.ReasonPermanentTermination}
	seeds := []cx.Message{
		&cx.RTR{SessionID: hss + ";1;1", OriginHost: hss, OriginRealm: testDomain, DestinationHost: cfg.Diameter.OriginHost,
			DestinationRealm: testDomain, UserName: impi, DeregistrationReason: reason},
		&cx.RTR{SessionID: hss + ";1;2", OriginHost: hss, OriginRealm: testDomain, DestinationHost: cfg.Diameter.OriginHost,
			DestinationRealm: testDomain, UserName: impi, PublicIdentity: []string{impu}, DeregistrationReason: reason},
		&cx.RTR{SessionID: hss + ";1;3", OriginHost: hss, OriginRealm: testDomain, DestinationHost: cfg.Diameter.OriginHost,
			DestinationRealm: testDomain, UserName: "nobody@" + testDomain, DeregistrationReason: reason},
		&cx.PPR{SessionID: hss + ";1;4", OriginHost: hss, OriginRealm: testDomain, DestinationHost: cfg.Diameter.OriginHost,
			DestinationRealm: testDomain, UserName: impi, UserData: profile},
		&cx.PPR{SessionID: hss + ";1;5", OriginHost: hss, OriginRealm: testDomain, DestinationHost: cfg.Diameter.OriginHost,
			DestinationRealm: testDomain, UserName: impi},
		&cx.PPR{SessionID: hss + ";1;6", OriginHost: hss, OriginRealm: testDomain, DestinationHost: cfg.Diameter.OriginHost,
			DestinationRealm: testDomain, UserName: "nobody@" + testDomain, UserData: profile},
	}
	for _, m := range seeds {
		msg, err := m.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		b, err := msg.Serialize()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	from := peer.PeerInfo{OriginHost: hss, OriginRealm: testDomain, State: peer.StateOpen}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := cx.DecodeMessage(b, d)
		if err != nil || req.Header.CommandFlags&diam.RequestFlag == 0 {
			return // the peer layer answers these itself
		}
		if err := reg.SaveRegistration(ctx, registration()); err != nil {
			t.Fatal(err)
		}
		cxtest.Serve(t, ctx, s, req, from, d, b)
	})
}
