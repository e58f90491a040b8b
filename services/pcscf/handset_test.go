package pcscf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/secagree"
)

// TestHandsetSecAgreeHeaders: over its SAs a handset puts Security-Verify, Require: sec-agree and
// Proxy-Require: sec-agree in every request. The P-CSCF checks Security-Verify against what it sent (RFC 3329
// §2.3.1 step 5: 494 on a mismatch, never forwarded) and removes the sec-agree headers and option-tags from
// what it forwards (TS 24.229 §5.2.6.3), other option-tags kept; every initial request gets a P-Charging-Vector
// with an icid of ours (RFC 7315 §4.6), whatever the UE wrote. The requests are written by hand over a
// registered UE's SA flow (fake kernel), so that the test says exactly what the UE sent.
func TestHandsetSecAgreeHeaders(t *testing.T) {
	e := startEdge(t)
	mal := e.registeredRaw(t)
	reg, _ := e.n.Registration(e.mal.impu)
	verify := reg.SAs[0].SecurityServer
	message := func(callID string, extra ...string) string {
		h := append([]string{"From: <" + e.mal.impu + ">;tag=h1", "To: <" + e.bob.impu + ">", "Call-ID: " + callID}, extra...)
		return mal.send(rawRequest("MESSAGE", e.bob.impu, h...))
	}
	handset := []string{"Security-Verify: " + verify, "Require: sec-agree", "Proxy-Require: sec-agree", "Require: foo",
		"P-Charging-Vector: icid-value=forged;icid-generated-at=ue"}
	if res := message("handset-1", handset...); statusOf(res) != 200 {
		t.Fatalf("MESSAGE with handset headers: %s", res)
	}
	recv(t, e.ub, sip.MESSAGE)
	msgs := e.core.requests(sip.MESSAGE)
	if len(msgs) != 1 {
		t.Fatalf("core got %d MESSAGEs", len(msgs))
	}
	got := msgs[0]
	for _, h := range []string{header.SecurityVerify, header.SecurityClient, header.ProxyRequire} {
		if header.Has(got, h) {
			t.Errorf("forwarded MESSAGE still has %s: %q", h, lastValue(got, h))
		}
	}
	if r := lastValue(got, header.Require); r != "foo" {
		t.Errorf("forwarded Require = %q, want foo (sec-agree removed, the rest kept)", r)
	}
	cvs := header.Values(got, header.PChargingVector)
	if len(cvs) != 1 {
		t.Fatalf("forwarded P-Charging-Vector: %q", cvs)
	}
	if cv, err := header.ParseChargingVector(cvs[0]); err != nil || len(cv.ICIDValue) != 32 || cv.ICIDGeneratedAt != e.n.chargingHost() {
		t.Errorf("P-Charging-Vector %q: %v", cvs[0], err)
	}

	// A Security-Verify that is not what we sent (another SPI, or one mechanism more): 494, not forwarded.
	bad, err := secagree.Parse(verify)
	if err != nil {
		t.Fatal(err)
	}
	bad[0].SPIC++
	for i, sv := range [][]string{{"Security-Verify: " + secagree.Format(bad)}, {"Security-Verify: " + verify, "Security-Verify: " + secagree.Format(bad)}} {
		if res := message(fmt.Sprintf("handset-bad-%d", i), append(sv, "Proxy-Require: sec-agree")...); statusOf(res) != secagree.StatusSecurityAgreementRequired {
			t.Errorf("MESSAGE with Security-Verify %q: %s, want 494", sv, res)
		}
	}
	// Without Security-Verify: served (the SAs authenticate the request).
	if res := message("handset-none", "Proxy-Require: sec-agree"); statusOf(res) != 200 {
		t.Errorf("MESSAGE without Security-Verify: %s", res)
	}
	recv(t, e.ub, sip.MESSAGE)
	if got := len(e.core.requests(sip.MESSAGE)); got != 2 {
		t.Errorf("core got %d MESSAGEs, want 2 (none with a wrong Security-Verify)", got)
	}
}

// TestRegisterSupportedPath: a REGISTER forwarded with our Path carries "path" in Supported whether the UE
// listed it or not, once (RFC 3327 §5).
func TestRegisterSupportedPath(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, nil)
	for i, extra := range []string{"", "Supported: path, gruu\n", "Supported: gruu\n"} {
		ua := newRawUA(t, n.CoreAddr(), "127.0.0.1:0")
		if res := ua.do(register(alice, extra)); statusOf(res) != 401 {
			t.Fatalf("REGISTER %d: %q", i, res)
		}
		regs := core.requests(sip.REGISTER)
		got := regs[len(regs)-1]
		paths := 0
		for _, v := range header.Values(got, header.Supported) {
			if strings.EqualFold(strings.TrimSpace(v), "path") {
				paths++
			}
		}
		if paths != 1 {
			t.Errorf("REGISTER with %q forwarded with Supported %q, want path once", extra, header.Values(got, header.Supported))
		}
		if strings.Contains(extra, "gruu") && !hasTag(got, header.Supported, "gruu") {
			t.Errorf("the UE's gruu went: %q", header.Values(got, header.Supported))
		}
	}
}

// TestLargeRequestToUDPUE: a request larger than 1300 bytes towards a UE that registered over UDP with IPsec
// goes over TCP, from our protected client port to the UE's protected server port (RFC 3261 §18.1.1, TS 24.229
// §5.2.2, TS 33.203 §7.1): the SAs cover both transports. A small one stays on UDP.
func TestLargeRequestToUDPUE(t *testing.T) {
	w := startTwoUEs(t, newFakeSAs())
	core, n, alice, bob, ua, ub := w.core, w.n, w.alice, w.bob, w.ua, w.ub
	ctx := ctxT(t)
	reg, _ := n.Registration(bob.impu)
	sa := reg.SAs[0].Pair
	for _, tc := range []struct {
		size      int
		transport string
	}{{100, "UDP"}, {2048, "TCP"}} {
		text := strings.Repeat("x", tc.size)
		if res, err := ua.Message(ctx, bob.impu, text); err != nil || res.StatusCode != 200 {
			t.Fatalf("MESSAGE of %d bytes: %v %v", tc.size, res, err)
		}
		got := <-ub.Incoming()
		if string(got.Body()) != text {
			t.Fatalf("bob got %d bytes, want %d", len(got.Body()), tc.size)
		}
		via := got.Via()
		if via == nil || !strings.EqualFold(via.Transport, tc.transport) || via.Port != int(sa.PCSCF.PortC) {
			t.Errorf("MESSAGE of %d bytes reached bob with Via %v, want %s from our protected client port %d", tc.size, via, tc.transport, sa.PCSCF.PortC)
		}
	}
	// The VM test's exchange, here over the fake SAs: a 2 kB MESSAGE and INVITE both ways.
	largeRequests(t, ctx, core, []largeLeg{{ua, ub, bob.impu}, {ub, ua, alice.impu}})
}
