package ue

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// TestRegisterHandsetHeaders: the REGISTER's Contact carries +sip.instance and reg-id (RFC 5626
// §4.1, §4.2, TS 24.229 §5.1.1.2.1) and Supported lists path, gruu and outbound.
func TestRegisterHandsetHeaders(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p, func(c *Config) { c.Instance = "urn:gsma:imei:35209900-176148-0" })
	req := p.registerPlain(t, u, "600")
	ct := req.Contact()
	if ct == nil {
		t.Fatal("REGISTER without Contact")
	}
	if v, _ := ct.Params.Get("+sip.instance"); v != `"<urn:gsma:imei:35209900-176148-0>"` {
		t.Errorf("+sip.instance = %q", v)
	}
	if v, _ := ct.Params.Get("reg-id"); v != "1" {
		t.Errorf("reg-id = %q, want 1", v)
	}
	for _, tag := range []string{"path", "gruu", "outbound"} {
		if !hasTag(req, "Supported", tag) {
			t.Errorf("Supported lacks %s: %v", tag, header.Values(req, "Supported"))
		}
	}
	// Default instance: a urn:uuid, the same on every REGISTER of the UE.
	u2 := newTestUE(t, p)
	r1 := p.registerPlain(t, u2, "600")
	r2 := p.registerPlain(t, u2, "600")
	i1, _ := r1.Contact().Params.Get("+sip.instance")
	i2, _ := r2.Contact().Params.Get("+sip.instance")
	if !strings.HasPrefix(i1, `"<urn:uuid:`) || len(i1) != len(`"<urn:uuid:>"`)+36 || i1 != i2 {
		t.Errorf("instance %q then %q, want one urn:uuid", i1, i2)
	}
}

// TestSecAgreeOnEveryRequest: over the SAs, every request (here MESSAGE, INVITE and BYE; PRACK,
// UPDATE and CANCEL are built the same way) carries Security-Verify with the P-CSCF's Security-Server and sec-agree in Require and
// Proxy-Require (RFC 3329 §2.3.1, TS 24.229 §5.1.2A.1.1).
func TestSecAgreeOnEveryRequest(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p, func(c *Config) { c.SecAgree = true })
	reg := p.registerSecAgree(t, u)
	verify := strings.Join(header.Values(reg, header.SecurityVerify), ",")
	if verify == "" {
		t.Fatal("protected REGISTER without Security-Verify")
	}
	check := func(req *sip.Request, g got) {
		t.Helper()
		if g.on != p.portS {
			t.Errorf("%s not sent to the protected server port", req.Method)
		}
		if got := strings.Join(header.Values(req, header.SecurityVerify), ","); got != verify {
			t.Errorf("%s Security-Verify %q, want %q", req.Method, got, verify)
		}
		if !hasTag(req, "Require", "sec-agree") || !hasTag(req, "Proxy-Require", "sec-agree") {
			t.Errorf("%s without sec-agree in Require and Proxy-Require:\n%s", req.Method, req)
		}
	}
	wait := async(func() error { _, err := u.Message(ctx(t), "sip:bob@ims.test", "hi"); return err })
	req, g := p.request(sip.MESSAGE)
	check(req, g)
	p.respond(g, req, 200, "OK")
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
	var call *Call
	wait = async(func() error { var err error; call, err = u.Invite(ctx(t), "sip:bob@ims.test"); return err })
	inv, g := p.request(sip.INVITE)
	check(inv, g)
	p.respond(g, inv, 200, "OK", withHeader("Contact", "<sip:bob@127.0.0.1:5999>"), toTag("b1"))
	p.request(sip.ACK)
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
	wait = async(func() error { return call.Hangup(ctx(t)) })
	bye, g := p.request(sip.BYE)
	check(bye, g)
	p.respond(g, bye, 200, "OK")
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
}

func toTag(tag string) func(*sip.Response) {
	return func(r *sip.Response) { r.To().Params.Add("tag", tag) }
}

// TestRefreshAfter: TS 24.229 §5.1.1.4.1.
func TestRefreshAfter(t *testing.T) {
	for _, tc := range []struct{ expires, want time.Duration }{
		{3600 * time.Second, 3000 * time.Second},
		{1201 * time.Second, 601 * time.Second},
		{1200 * time.Second, 600 * time.Second},
		{600 * time.Second, 300 * time.Second},
		{2 * time.Second, time.Second},
	} {
		if got := RefreshAfter(tc.expires); got != tc.want {
			t.Errorf("RefreshAfter(%v) = %v, want %v", tc.expires, got, tc.want)
		}
	}
}

// TestRefresh: with Refresh, the UE re-registers by itself before the 2 s granted run out, on
// the same Call-ID with a higher CSeq (RFC 3261 §10.2.4).
func TestRefresh(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p, func(c *Config) { c.Refresh = true })
	first := p.registerPlain(t, u, "2")
	again, g := p.request(sip.REGISTER)
	p.respond(g, again, 200, "OK", withHeader("Expires", "600"))
	if again.CallID().Value() != first.CallID().Value() || again.CSeq().SeqNo <= first.CSeq().SeqNo {
		t.Errorf("refresh Call-ID %s CSeq %d after %s %d", again.CallID().Value(), again.CSeq().SeqNo,
			first.CallID().Value(), first.CSeq().SeqNo)
	}
}

// Test423MinExpires: RFC 3261 §10.2.8: the REGISTER is sent again with the Min-Expires.
func Test423MinExpires(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p)
	var reg *Registration
	wait := async(func() error { var err error; reg, err = u.Register(ctx(t)); return err })
	req, g := p.request(sip.REGISTER)
	p.respond(g, req, 423, "Interval Too Brief", withHeader("Min-Expires", "1800"))
	req, g = p.request(sip.REGISTER)
	if got := header.Values(req, "Expires"); len(got) == 0 || got[0] != "1800" {
		t.Errorf("second REGISTER Expires %v, want 1800", got)
	}
	if v, _ := req.Contact().Params.Get("expires"); v != "1800" {
		t.Errorf("second REGISTER Contact expires %q, want 1800", v)
	}
	p.respond(g, req, 200, "OK", withHeader("Expires", "1800"))
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
	if reg.Expires != 1800*time.Second {
		t.Errorf("registered for %v", reg.Expires)
	}
}

// Test503RetryAfter: a 503 with Retry-After is waited out and the REGISTER sent again (RFC 3261
// §21.5.4); one longer than MaxRetryAfter fails at once with the 503.
func Test503RetryAfter(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p)
	wait := async(func() error { _, err := u.Register(ctx(t)); return err })
	req, g := p.request(sip.REGISTER)
	p.respond(g, req, 503, "Service Unavailable", withHeader("Retry-After", "1"))
	req, g = p.request(sip.REGISTER)
	p.respond(g, req, 200, "OK")
	if err := wait(t); err != nil {
		t.Fatal(err)
	}

	u2 := newTestUE(t, p)
	wait = async(func() error { _, err := u2.Register(ctx(t)); return err })
	req, g = p.request(sip.REGISTER)
	p.respond(g, req, 503, "Service Unavailable", withHeader("Retry-After", "3600"))
	var se *StatusError
	if err := wait(t); !errors.As(err, &se) || se.Code != 503 {
		t.Fatalf("Register = %v, want the 503", err)
	}
}

// TestReregistrationFailureRegistersAfresh: TS 24.229 §5.1.1.4.1: a re-registration answered
// 408, 500, 503 (no Retry-After) or 504 is followed by an initial registration: unprotected,
// with a new Security-Client, then challenged and protected again.
func TestReregistrationFailureRegistersAfresh(t *testing.T) {
	for _, code := range []int{408, 500, 503, 504} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			p := newPeer(t)
			u := newTestUE(t, p, func(c *Config) { c.SecAgree = true })
			p.registerSecAgree(t, u)
			wait := async(func() error { _, err := u.Register(ctx(t)); return err })
			req, g := p.request(sip.REGISTER)
			if g.on != p.portS {
				t.Fatal("re-REGISTER not over the SAs")
			}
			p.respond(g, req, code, "Failure")
			p.answerInitial(t) // fails unless the next REGISTER is an initial one
			req, g = p.request(sip.REGISTER)
			p.respond(g, req, 200, "OK")
			if err := wait(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRestorationOnRequest: a 305 to a MESSAGE (TS 24.229 §5.1.2A.1.1) or a 504 with a
// restoration body (§5.1.2A.1.6) makes the UE register afresh; a 504 without one does not.
func TestRestorationOnRequest(t *testing.T) {
	const body = `<?xml version="1.0"?><ims-3gpp version="1"><alternative-service>` +
		`<type>restoration</type><reason>P-CSCF lost the registration</reason>` +
		`<action>initial-registration</action></alternative-service></ims-3gpp>`
	for _, tc := range []struct {
		name     string
		code     int
		body     bool
		register bool
	}{
		{"305", 305, false, true},
		{"504 restoration", 504, true, true},
		{"504 plain", 504, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t)
			u := newTestUE(t, p)
			p.registerPlain(t, u, "600")
			wait := async(func() error { _, err := u.Message(ctx(t), "sip:bob@ims.test", "hi"); return err })
			req, g := p.request(sip.MESSAGE)
			p.respond(g, req, tc.code, "Failure", func(r *sip.Response) {
				if tc.body {
					r.AppendHeader(sip.NewHeader("Content-Type", "application/3gpp-ims+xml"))
					r.SetBody([]byte(body))
				}
			})
			if tc.register {
				req, g = p.request(sip.REGISTER)
				if ct := req.Contact(); ct == nil || header.Values(req, header.Authorization) == nil {
					t.Errorf("not an initial REGISTER:\n%s", req)
				}
				p.respond(g, req, 200, "OK")
			}
			var se *StatusError
			if err := wait(t); !errors.As(err, &se) || se.Code != tc.code {
				t.Fatalf("Message = %v, want %d", err, tc.code)
			}
			// What the UE sends next is the next MESSAGE, not a REGISTER.
			wait = async(func() error { _, err := u.Message(ctx(t), "sip:bob@ims.test", "again"); return err })
			g = p.next()
			if r, ok := g.msg.(*sip.Request); !ok || r.Method != sip.MESSAGE {
				t.Fatalf("after the %d the UE sent %v", tc.code, g.msg)
			}
			p.respond(g, g.msg.(*sip.Request), 200, "OK")
			if err := wait(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRegister305: a 305 to a re-registration drops the registration and its SAs; the next
// Register is an initial one on the unprotected port.
func TestRegister305(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p, func(c *Config) { c.SecAgree = true })
	p.registerSecAgree(t, u)
	wait := async(func() error { _, err := u.Register(ctx(t)); return err })
	req, g := p.request(sip.REGISTER)
	p.respond(g, req, 305, "Use Proxy")
	var se *StatusError
	if err := wait(t); !errors.As(err, &se) || se.Code != 305 {
		t.Fatalf("Register = %v, want 305", err)
	}
	if u.Registration() != nil {
		t.Error("still registered after the 305")
	}
	if c, s := u.ProtectedPorts(); c != 0 || s != 0 {
		t.Errorf("protected ports %d/%d still open after the 305", c, s)
	}
	p.registerSecAgree(t, u)
}
