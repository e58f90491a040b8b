package qos

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/internal/bsftest"
	"github.com/imscore/imscore/internal/pcftest"
	"github.com/imscore/imscore/services/pcscf/qos/n5"
)

// endPoint is the pcfIpEndPoints entry of a test PCF's API root.
func endPoint(t *testing.T, root string) n5.IPEndPoint {
	t.Helper()
	u, err := url.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	return n5.IPEndPoint{Ipv4Address: host, Transport: "TCP", Port: p}
}

// TestN5BSFDiscovery: with a BSF, each application session is created at the PCF the BSF names for the UE
// (TS 29.521 §4.2.4.2: GET pcfBindings?ipv4Addr=…); a UE the BSF has no binding for (204) goes to the configured
// PCF, or, without one, gets the policy-server-unreachable treatment (on_failure reject: 503).
func TestN5BSFDiscovery(t *testing.T) {
	bsf := bsftest.Start(t)
	defer bsf.Check(t)
	home, other := pcftest.Start(t, false), pcftest.Start(t, false)
	defer home.Check(t)
	defer other.Check(t)
	bound, unbound := netip.MustParseAddr("10.45.0.7"), netip.MustParseAddr("10.45.0.8")
	bsf.Bind(t, bound, n5.PcfBinding{Supi: "imsi-001010000000007", Ipv4Addr: bound.String(), Dnn: "ims",
		Snssai: &n5.Snssai{Sst: 1}, PcfIPEndPoints: []n5.IPEndPoint{endPoint(t, other.Root)}})

	newAF := func(t *testing.T, pcfRoot string) *AF {
		c, err := n5.NewClient(pcfRoot, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := n5.NewBSF(bsf.Root, "http", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Locate(b)
		t.Cleanup(c.Close)
		t.Cleanup(b.Close)
		cfg := Config{Mode: ModeN5, PCF: home.Root, NotifyURI: "http://127.0.0.1:9/cb", OnFailure: FailReject}.WithDefaults()
		af, err := New(cfg, Deps{N5: c, Events: newEvents(), Log: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(af.Close)
		return af
	}
	ctx := context.Background()

	t.Run("bound UE at its PCF, unbound at the configured one", func(t *testing.T) {
		af := newAF(t, home.Root)
		for _, ue := range []netip.Addr{bound, unbound} {
			c := Call{Key: "k-" + ue.String(), CallID: "c-" + ue.String(), IMPU: impu, UE: ue}
			if err := af.Offer(ctx, c, []byte(ueAudioOffer), true); err != nil {
				t.Fatalf("offer for %s: %v", ue, err)
			}
		}
		if got := len(other.Sessions()); got != 1 {
			t.Errorf("the BSF's PCF holds %d sessions, want 1 (the bound UE's)", got)
		}
		if got := len(home.Sessions()); got != 1 {
			t.Errorf("the configured PCF holds %d sessions, want 1 (the unbound UE's)", got)
		}
		for _, s := range other.Sessions() {
			if s.Context.AscReqData.UeIpv4 != bound.String() {
				t.Errorf("the BSF's PCF got UE %s", s.Context.AscReqData.UeIpv4)
			}
		}
		q := bsf.Queries()
		if len(q) != 2 || q[0].Get("ipv4Addr") != bound.String() || q[1].Get("ipv4Addr") != unbound.String() {
			t.Errorf("discovery queries %v", q)
		}
	})
	t.Run("no binding and no configured PCF: unreachable", func(t *testing.T) {
		af := newAF(t, "http://")
		c := Call{Key: "k-none", CallID: "c-none", IMPU: impu, UE: unbound}
		err := af.Offer(ctx, c, []byte(ueAudioOffer), true)
		var rej *RejectError
		if !errors.As(err, &rej) || rej.Code != 503 {
			t.Fatalf("offer = %v, want a 503 RejectError", err)
		}
	})
}
