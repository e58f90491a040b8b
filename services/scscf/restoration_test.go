package scscf

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
)

// TestRestorationFromHSS: S-CSCF restoration against the real HSS (TS 23.380 §5.2.2.2, TS 29.228 §6.1.2.1).
// Bob registers at the first S-CSCF, whose SAR REGISTRATION carries his restoration information; the first
// S-CSCF stops. A terminating MESSAGE for Bob reaches a second S-CSCF that never saw him: its SAR
// UNREGISTERED_USER is answered with the profile and the restoration information, it rebuilds Bob's
// registration (his contact) and delivers the MESSAGE there; the HSS now names it for Bob. With restoration off
// at the second S-CSCF the same request gets 480.
func TestRestorationFromHSS(t *testing.T) {
	const scscf2Host = "scscf2." + hss.DefaultDomain
	scscf2Name := "sip:" + scscf2Host + ":6060"
	_, addr, hsub := realHSSWith(t, func(c *hss.Config) {
		c.Diameter.Peers = append(c.Diameter.Peers, peer.AllowedPeer{Host: scscf2Host, Realm: hss.DefaultDomain,
			Sources: []string{"127.0.0.1"}, Roles: []string{hss.RoleSCSCF}})
	})
	sub := ueSubscriber(t, hsub)
	fake := &fakeHSS{addr: addr}
	s1, stop1 := runSCSCFWith(t, fake, nil, func(c *Config) {
		c.ServerName = hss.DefaultSCSCFName
		c.Diameter.OriginHost = "scscf." + hss.DefaultDomain
		c.Diameter.HSSHost = hss.DefaultOriginHost
	})
	bob := newUE(t, s1, sub)
	if res := bob.registerFully(600); res.StatusCode != 200 {
		t.Fatalf("REGISTER at the first S-CSCF: %d", res.StatusCode)
	}
	stop1() // gone

	second := func(restoration bool) *Server {
		s2, stop2 := runSCSCFWith(t, fake, nil, func(c *Config) {
			c.ServerName = scscf2Name
			c.Diameter.OriginHost = scscf2Host
			c.Diameter.HSSHost = hss.DefaultOriginHost
			c.Restoration = restoration
		})
		t.Cleanup(stop2)
		return s2
	}
	message := func(s *Server) *sip.Response {
		caller := newUEFor(t, s.SIPAddr(), sub, "127.0.0.1")
		caller.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", "", "restore-"+randHex(4), 1, "", "hi")
		return caller.response()
	}

	t.Run("restoration off", func(t *testing.T) {
		if res := message(second(false)); res.StatusCode != 480 {
			t.Fatalf("MESSAGE without restoration: %d, want 480", res.StatusCode)
		}
	})
	t.Run("restored", func(t *testing.T) {
		s2 := second(true)
		caller := newUEFor(t, s2.SIPAddr(), sub, "127.0.0.1")
		caller.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", "", "restore-"+randHex(4), 1, "", "hi")
		got := bob.request(sip.MESSAGE)
		bob.answer(got, 200, "")
		if res := caller.response(); res.StatusCode != 200 {
			t.Fatalf("MESSAGE through the second S-CSCF: %d", res.StatusCode)
		}
		reg := registered(t, s2, bob.impu)
		if reg == nil || len(reg.Contacts) != 1 || !strings.Contains(reg.Contacts[0].URI, bob.addr.String()) || reg.IMPI != sub.impi {
			t.Fatalf("restored registration %+v, want Bob's contact", reg)
		}
		checkMetrics(t, scrape(t, s2), []metricCheck{{"scscf_registrations_total", []string{"outcome", "restored"}, 1}})
	})
}

// TestSplitContact: the Contact header values of a Restoration-Info (TS 29.229 §6.3.48), as this S-CSCF and
// others write them.
func TestSplitContact(t *testing.T) {
	tests := []struct{ in, uri, params string }{
		{"<sip:ue@192.0.2.1:5060>", "sip:ue@192.0.2.1:5060", ""},
		{`<sip:ue@192.0.2.1:5060;transport=tcp>;+sip.instance="<urn:uuid:1>";reg-id=1`, "sip:ue@192.0.2.1:5060;transport=tcp", `+sip.instance="<urn:uuid:1>";reg-id=1`},
		{`"Bob" <sip:bob@192.0.2.2>;expires=600`, "sip:bob@192.0.2.2", "expires=600"},
		{"sip:ue@192.0.2.1;q=0.5", "sip:ue@192.0.2.1", "q=0.5"},
	}
	for _, tt := range tests {
		uri, params, err := splitContact(tt.in)
		if err != nil || uri != tt.uri || params != tt.params {
			t.Errorf("splitContact(%q) = %q, %q, %v; want %q, %q", tt.in, uri, params, err, tt.uri, tt.params)
		}
	}
	for _, bad := range []string{"", "<sip:ue@x", "<>", ";a=b"} {
		if _, _, err := splitContact(bad); err == nil {
			t.Errorf("splitContact(%q): no error", bad)
		}
	}
}

// FuzzSplitContact: any Contact value from an SAA gives a URI and parameters or an error, never a panic, and
// a URI never holds the '>' that ended it.
func FuzzSplitContact(f *testing.F) {
	for _, s := range []string{"<sip:ue@192.0.2.1:5060>;reg-id=1", `"x" <sip:a@b>`, "sip:a@b;c", "<", ">"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		uri, _, err := splitContact(v)
		if err == nil && (uri == "" || strings.Contains(uri, ">") && strings.Contains(v, "<")) {
			t.Fatalf("splitContact(%q) = %q", v, uri)
		}
	})
}
