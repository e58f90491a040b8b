package scscf

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// fakeICSCF is an I-CSCF on a raw UDP socket that behaves as a stock Kamailio I-CSCF script does: it never
// removes a Route naming itself, so a request pre-routed to it ends in 604 (what the callee's S-CSCF answers
// when the stale Route loops it back). A request without such a Route is "delivered" and answered 200.
type fakeICSCF struct {
	conn *net.UDPConn
	addr netip.AddrPort
	got  chan *sip.Request
}

func startFakeICSCF(t *testing.T) *fakeICSCF {
	t.Helper()
	c, addr := listenUDP(t, "127.0.0.1")
	f := &fakeICSCF{conn: c, addr: addr, got: make(chan *sip.Request, 8)}
	serveUDP(t, c, "I-CSCF", func(msg sip.Message, src netip.AddrPort) {
		req, ok := msg.(*sip.Request)
		if !ok || req.Method == sip.ACK {
			return
		}
		f.got <- req
		code := 200
		for _, r := range header.Values(req, "Route") {
			if strings.Contains(r, f.addr.String()) {
				code = 604
			}
		}
		res := sip.NewResponseFromRequest(req, code, "Whatever", nil)
		if to := res.To(); to != nil && !to.Params.Has("tag") {
			to.Params.Add("tag", "icscf")
		}
		_, _ = f.conn.WriteToUDPAddrPort([]byte(res.String()), src)
	})
	return f
}

func (f *fakeICSCF) request(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case r := <-f.got:
		return r
	case <-time.After(waitLong):
		t.Fatal("nothing reached the I-CSCF")
		return nil
	}
}

// TestTowardsICSCF: a callee not served here is reached through the I-CSCF (TS 24.229 §5.4.3.2 step 10). By
// default the I-CSCF is the next hop, the Request-URI unchanged and no Route naming it, so an I-CSCF that
// never removes its own Route (stock Kamailio) routes the request; icscf_route: route keeps the pre-loaded
// loose Route.
func TestTowardsICSCF(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000031", "15550000031")
	icscf := startFakeICSCF(t)
	callee := "sip:bob@other.example.net"

	t.Run("next hop (default)", func(t *testing.T) {
		s := startSCSCF(t, hss, nil, func(c *Config) {
			c.ICSCF = "sip:" + icscf.addr.String()
			c.ICSCFRoute = ""
		})
		alice := newUE(t, s, sub)
		sr := header.Values(alice.registerFully(600), "Service-Route")[0]
		alice.sendRequest(sip.MESSAGE, callee, "<"+callee+">", sr, "nh-"+randHex(4), 1, "", "hi")
		got := icscf.request(t)
		if got.Recipient.String() != callee {
			t.Errorf("Request-URI at the I-CSCF %s, want %s unchanged", got.Recipient.String(), callee)
		}
		if r := header.Values(got, "Route"); len(r) != 0 {
			t.Errorf("Route at the I-CSCF %q, want none", r)
		}
		if res := alice.response(); res.StatusCode != 200 {
			t.Fatalf("MESSAGE through the I-CSCF: %d, want 200", res.StatusCode)
		}
	})

	t.Run("next hop whose name does not resolve", func(t *testing.T) {
		s := startSCSCF(t, hss, nil, func(c *Config) { c.ICSCF = "sip:icscf.invalid:4060" }) // noDNS: never resolves
		alice := newUE(t, s, sub)
		sr := header.Values(alice.registerFully(600), "Service-Route")[0]
		alice.sendRequest(sip.MESSAGE, callee, "<"+callee+">", sr, "nx-"+randHex(4), 1, "", "hi")
		if res := alice.response(); res.StatusCode != 503 {
			t.Fatalf("MESSAGE towards an I-CSCF that does not resolve: %d, want 503", res.StatusCode)
		}
	})

	t.Run("route", func(t *testing.T) {
		s := startSCSCF(t, hss, nil, func(c *Config) {
			c.ICSCF = "sip:" + icscf.addr.String()
			c.ICSCFRoute = ICSCFRouteRoute
		})
		alice := newUE(t, s, sub)
		sr := header.Values(alice.registerFully(600), "Service-Route")[0]
		alice.sendRequest(sip.MESSAGE, callee, "<"+callee+">", sr, "rt-"+randHex(4), 1, "", "hi")
		got := icscf.request(t)
		r := header.Values(got, "Route")
		if got.Recipient.String() != callee || len(r) != 1 || !strings.Contains(r[0], icscf.addr.String()) || !strings.Contains(r[0], ";lr") {
			t.Fatalf("at the I-CSCF: Request-URI %s Route %q, want %s and a loose Route to it", got.Recipient.String(), r, callee)
		}
		if res := alice.response(); res.StatusCode != 604 {
			t.Fatalf("MESSAGE through an I-CSCF keeping its Route: %d, want its 604", res.StatusCode)
		}
	})
}
