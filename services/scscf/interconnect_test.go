package scscf

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/bindtest"
	"github.com/imscore/imscore/services/bgcf"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/resolve"
)

// peerUAS is a next hop on a raw UDP socket (another network's I-CSCF, a PSTN gateway) that answers 200 and
// hands over what it got.
type peerUAS struct {
	addr netip.AddrPort
	got  chan *sip.Request
}

func startPeerUAS(t *testing.T, name string) *peerUAS {
	t.Helper()
	c, addr := listenUDP(t, "127.0.0.1")
	p := &peerUAS{addr: addr, got: make(chan *sip.Request, 8)}
	serveUDP(t, c, name, func(msg sip.Message, src netip.AddrPort) {
		req, ok := msg.(*sip.Request)
		if !ok || req.Method == sip.ACK {
			return
		}
		p.got <- req
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		if to := res.To(); to != nil && !to.Params.Has("tag") {
			to.Params.Add("tag", name)
		}
		_, _ = c.WriteToUDPAddrPort([]byte(res.String()), src)
	})
	return p
}

func (p *peerUAS) request(t *testing.T, what string) *sip.Request {
	t.Helper()
	select {
	case r := <-p.got:
		return r
	case <-time.After(waitLong):
		t.Fatalf("nothing reached %s", what)
		return nil
	}
}

func (p *peerUAS) none(t *testing.T, what string) {
	t.Helper()
	select {
	case r := <-p.got:
		t.Errorf("%s got %s %s", what, r.Method, r.Recipient.String())
	default:
	}
}

// TestInterconnect checks TS 24.229 §5.4.3.2 step 10 with Config.Interconnect against bind9: a callee of
// another domain goes to the I-CSCF its domain publishes (NAPTR/SRV), a telephone number ENUM knows is
// rewritten to its SIP URI (another network's, or the home network's: then through our I-CSCF), a number ENUM
// does not know breaks out through the BGCF's longest-prefix gateway, and a number no table entry covers or a
// domain without SIP servers gets 404.
func TestInterconnect(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000031", "15550000031")
	homeICSCF := startPeerUAS(t, "home I-CSCF")
	otherICSCF := startPeerUAS(t, "other I-CSCF")
	ukGW := startPeerUAS(t, "UK gateway")
	londonGW := startPeerUAS(t, "London gateway")
	soa := "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 127.0.0.1\n"
	dns := bindtest.Start(t,
		bindtest.Zone{Origin: "other.test", Text: "$ORIGIN other.test.\n" + soa + fmt.Sprintf(
			"@ IN NAPTR 10 50 \"s\" \"SIP+D2U\" \"\" _sip._udp\n_sip._udp IN SRV 10 0 %d icscf\nicscf IN A 127.0.0.1\n",
			otherICSCF.addr.Port())},
		bindtest.Zone{Origin: "nowhere.test", Text: "$ORIGIN nowhere.test.\n" + soa + "www IN A 127.0.0.1\n"},
		bindtest.Zone{Origin: "e164.arpa", Text: "$ORIGIN e164.arpa.\n" + soa +
			// +1 555 000 0099: Carol of other.test; +1 555 000 0088: Dave of the home network.
			"9.9.0.0.0.0.0.5.5.5.1 IN NAPTR 10 10 \"u\" \"E2U+sip\" \"!^.*$!sip:carol@other.test!\" .\n" +
			"8.8.0.0.0.0.0.5.5.5.1 IN NAPTR 10 10 \"u\" \"E2U+sip\" \"!^.*$!sip:dave@" + testDomain + "!\" .\n"})
	s := startSCSCF(t, hss, nil, func(c *Config) {
		c.ICSCF = "sip:" + homeICSCF.addr.String()
		c.Interconnect = InterconnectConfig{Enabled: true,
			DNS: resolve.Config{Servers: []string{dns}, Transports: []resolve.Transport{resolve.UDP}},
			BGCF: bgcf.Config{Routes: []bgcf.Route{
				{Prefix: "+44", Gateway: "sip:" + ukGW.addr.String(), Name: "uk"},
				{Prefix: "+4420", Gateway: "sip:" + londonGW.addr.String(), Name: "london"},
			}}}
	})
	alice := newUE(t, s, subA)
	sr := header.Values(alice.registerFully(600), "Service-Route")[0]

	send := func(ruri string) *sip.Response {
		t.Helper()
		alice.sendRequest(sip.MESSAGE, ruri, "<"+ruri+">", sr, "ic-"+randHex(4), 1, "", "hi")
		for {
			if res := alice.response(); res.StatusCode >= 200 {
				return res
			}
		}
	}
	t.Run("another domain's I-CSCF by DNS", func(t *testing.T) {
		if res := send("sip:carol@other.test"); res.StatusCode != 200 {
			t.Fatalf("MESSAGE to sip:carol@other.test: %d", res.StatusCode)
		}
		got := otherICSCF.request(t, "other.test's I-CSCF")
		if got.Recipient.String() != "sip:carol@other.test" {
			t.Errorf("Request-URI at the other I-CSCF: %s", got.Recipient.String())
		}
		homeICSCF.none(t, "the home I-CSCF")
	})
	t.Run("ENUM to another network", func(t *testing.T) {
		if res := send("tel:+1-555-000-0099"); res.StatusCode != 200 {
			t.Fatalf("MESSAGE to tel:+15550000099: %d", res.StatusCode)
		}
		if got := otherICSCF.request(t, "other.test's I-CSCF"); got.Recipient.String() != "sip:carol@other.test" {
			t.Errorf("Request-URI after ENUM: %s, want sip:carol@other.test", got.Recipient.String())
		}
	})
	t.Run("ENUM to the home network", func(t *testing.T) {
		if res := send("sip:+15550000088@" + testDomain + ";user=phone"); res.StatusCode != 200 {
			t.Fatalf("MESSAGE to +15550000088: %d", res.StatusCode)
		}
		if got := homeICSCF.request(t, "the home I-CSCF"); got.Recipient.String() != "sip:dave@"+testDomain {
			t.Errorf("Request-URI after ENUM: %s, want Dave's", got.Recipient.String())
		}
	})
	t.Run("no ENUM entry: BGCF break-out by the longest prefix", func(t *testing.T) {
		for _, tc := range []struct {
			number string
			gw     *peerUAS
			other  *peerUAS
		}{{"tel:+442079460000", londonGW, ukGW}, {"tel:+441632960083", ukGW, londonGW}} {
			if res := send(tc.number); res.StatusCode != 200 {
				t.Fatalf("MESSAGE to %s: %d", tc.number, res.StatusCode)
			}
			got := tc.gw.request(t, "the gateway of "+tc.number)
			if got.Recipient.String() != tc.number {
				t.Errorf("Request-URI at the gateway %s, want %s unchanged", got.Recipient.String(), tc.number)
			}
			tc.other.none(t, "the other gateway")
		}
	})
	t.Run("no break-out for the number", func(t *testing.T) {
		if res := send("tel:+33123456789"); res.StatusCode != 404 {
			t.Fatalf("MESSAGE to a number without ENUM entry or BGCF route: %d, want 404", res.StatusCode)
		}
	})
	t.Run("a domain without SIP servers", func(t *testing.T) {
		if res := send("sip:erin@nowhere.test"); res.StatusCode != 404 {
			t.Fatalf("MESSAGE to sip:erin@nowhere.test: %d, want 404", res.StatusCode)
		}
	})
	if !strings.Contains(sr, "orig") {
		t.Fatalf("Service-Route %q", sr)
	}
}
