package scscf

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/peer/peertest"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/testpki"
)

// The issue's attacks at the S-CSCF. Its Diameter listener is off by default (RTR and PPR arrive over the
// connection it opens to the HSS). With one configured: a CER from evil.example.org is answered
// DIAMETER_UNKNOWN_PEER (3010) and the connection closed; a configured peer that is not the HSS (role icscf)
// gets DIAMETER_AUTHORIZATION_REJECTED (5003) for RTR and PPR, and the registration and the profile stay as
// they were; the HSS's own RTR still works.
func TestCxOnlyFromTheHSS(t *testing.T) {
	if l := DefaultConfig().Diameter.Listen; l != "" {
		t.Errorf("the S-CSCF listens for Diameter by default on %s", l)
	}
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000901", "15550000901")
	rogueHost := "icscf.test." + testDomain
	s := startSCSCF(t, hss, nil, func(c *Config) {
		c.Diameter.Listen = "127.0.0.1:0"
		c.Diameter.Peers = []peer.AllowedPeer{{Host: rogueHost, Realm: testDomain, Sources: []string{"127.0.0.1"},
			Roles: []string{cx.RoleICSCF}}}
	})
	ue := newUE(t, s, sub)
	ue.registerFully(600)
	addr := s.DiameterAddr().String()

	code, closed := peertest.CER(t, addr, "evil.example.org", "example.org")
	if code != diameter.UnknownPeer || !closed {
		t.Errorf("forged CER: CEA %d, closed %v; want 3010 and closed", code, closed)
	}

	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := peer.New(peer.Config{OriginHost: rogueHost, OriginRealm: testDomain, VendorID: cx.Vendor3GPP,
		ProductName: "rogue", Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 2 * time.Second, Log: testLogger(t).Named("rogue")}, peer.HandlerFunc(
		func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
			return nil, diameter.Errorf(diameter.CommandUnsupported, "rogue")
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rogue.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := rogue.Connect(ctx, peer.PeerConfig{Address: addr, Host: testSCSCF}); err != nil {
		t.Fatal(err)
	}
	if _, err := rogue.WaitPeer(ctx, testSCSCF); err != nil {
		t.Fatal(err)
	}
	send := func(m cx.Message) diameter.ResultCode {
		t.Helper()
		msg, err := m.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		ans, err := rogue.Request(ctx, msg)
		if err != nil {
			t.Fatal(err)
		}
		a, err := cx.Parse(ans)
		if err != nil {
			t.Fatalf("answer %s: %v", ans, err)
		}
		code, _ := a.(cx.Answer).Result()
		return code
	}
	rtr := &cx.RTR{SessionID: fmt.Sprintf("%s;1;1", rogueHost), OriginHost: rogueHost, OriginRealm: testDomain,
		DestinationHost: testSCSCF, DestinationRealm: testDomain, UserName: sub.impi,
		DeregistrationReason: cx.DeregistrationReason{Code: cx.ReasonPermanentTermination}}
	if code := send(rtr); code != diameter.AuthorizationRejected {
		t.Errorf("RTR from a peer that is not the HSS: %d, want 5003", code)
	}
	evil, err := userdata.Marshal(&userdata.IMSSubscription{PrivateID: sub.impi, ServiceProfiles: []userdata.ServiceProfile{{
		PublicIdentities: []userdata.PublicIdentity{{Identity: sub.impus[1]}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ppr := &cx.PPR{SessionID: fmt.Sprintf("%s;1;2", rogueHost), OriginHost: rogueHost, OriginRealm: testDomain,
		DestinationHost: testSCSCF, DestinationRealm: testDomain, UserName: sub.impi, UserData: evil}
	if code := send(ppr); code != diameter.AuthorizationRejected {
		t.Errorf("PPR from a peer that is not the HSS: %d, want 5003", code)
	}
	if registered(t, s, ue.impu) == nil {
		t.Fatal("the refused RTR de-registered the UE")
	}
	if v, _ := sample(scrape(t, s), "scscf_diameter_events_total", "kind", "request_refused"); v != 2 {
		t.Errorf("request_refused counted %v, want 2", v)
	}
	// The HSS, over the connection the S-CSCF opened, still may.
	if rta := hss.deregister(t, sub.impi, nil, cx.ReasonPermanentTermination); func() bool { c, _ := rta.Result(); return c != 2001 }() {
		t.Errorf("RTR from the HSS refused: %+v", rta)
	}
}

// Cx over TLS (RFC 6733 §2.1, mutual authentication §13.1) between the S-CSCF and the real HSS, both
// configured with diameter.tls files from one test CA: the AKA registration (MAR, SAR) and the HSS's RTR run
// over it. (Without the S-CSCF's TLS files the HSS never opens the connection: checked by hand.)
func TestCxOverTLSWithRealHSS(t *testing.T) {
	ca := testpki.New(t, "operator")
	hssCert, hssKey := ca.Issue(hss.DefaultOriginHost)
	srv, addr, hsub := realHSSWith(t, func(c *hss.Config) {
		c.Diameter.TLS = peer.TLSFiles{CertFile: hssCert, KeyFile: hssKey, CAFile: ca.CAFile}
	})
	sub := ueSubscriber(t, hsub)
	cert, key := ca.Issue(hss.DefaultSCSCFHost)
	s, stop := runSCSCFWith(t, &fakeHSS{addr: addr}, nil, func(c *Config) {
		c.ServerName = hss.DefaultSCSCFName
		c.Diameter.OriginHost = hss.DefaultSCSCFHost
		c.Diameter.HSSHost = hss.DefaultOriginHost
		c.Diameter.TLS = peer.TLSFiles{CertFile: cert, KeyFile: key, CAFile: ca.CAFile}
	})
	t.Cleanup(stop)
	ue := newUE(t, s, sub)
	ue.registerFully(600)
	if registered(t, s, ue.impu) == nil {
		t.Fatal("not registered after the AKA exchange over TLS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	if err := srv.Deregister(ctx, hsub.Private.IMPI, nil, cx.ReasonPermanentTermination, "tls test"); err != nil {
		t.Fatalf("RTR over TLS: %v", err)
	}
	waitGone(t, s, ue.impu)
}
