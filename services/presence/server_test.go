package presence_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/presence/xsdtest"
	"github.com/imscore/imscore/sip/proxy"
)

const (
	alice = "sip:alice@ims.example.org"
	bob   = "sip:bob@ims.example.org"
)

// peer stands for the S-CSCF side: it sends requests over ISC as the S-CSCF would (with
// P-Asserted-Identity) and receives the NOTIFYs as the watcher's UE would.
type peer struct {
	p       *proxy.Proxy
	mu      sync.Mutex
	notifys []*sip.Request
	taken   int  // NOTIFYs waitNotify has returned: each is returned once, in arrival order
	discard bool // benchmarks: count NOTIFYs on got, keep none
	got     chan struct{}
	addr    netip.AddrPort
}

func newPeer(t testing.TB, bind string) *peer {
	return newPeerLog(t, bind, zaptest.NewLogger(t).Named("peer"))
}

func newPeerLog(t testing.TB, bind string, log *zap.Logger) *peer {
	pe := &peer{got: make(chan struct{}, 1000)}
	p, err := proxy.New(proxy.Config{Listen: []proxy.Listen{{Addr: bind + ":0"}}, TimerF: 2 * time.Second,
		Router: proxy.RouterFunc(func(_ context.Context, req *sip.Request, _ proxy.Source) (proxy.Decision, error) {
			pe.mu.Lock()
			if !pe.discard {
				pe.notifys = append(pe.notifys, req)
			}
			pe.mu.Unlock()
			pe.got <- struct{}{}
			return proxy.Respond(200, "OK"), nil
		})}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	pe.p, pe.addr = p, p.Listeners()[0].Addr
	return pe
}

func (pe *peer) waitNotify(t testing.TB) *sip.Request {
	t.Helper()
	select {
	case <-pe.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no NOTIFY")
	}
	pe.mu.Lock()
	defer pe.mu.Unlock()
	// One signal per NOTIFY: return the next one not returned yet, not the latest, or two NOTIFYs arriving
	// together (a watcher's presence NOTIFY and the presentity's winfo NOTIFY) hide the first.
	n := pe.notifys[pe.taken]
	pe.taken++
	return n
}

func startServer(t testing.TB, st store.Store, mutate ...func(*presence.Config)) *presence.Server {
	return startServerLog(t, st, zaptest.NewLogger(t).Named("presence"), mutate...)
}

func startServerLog(t testing.TB, st store.Store, log *zap.Logger, mutate ...func(*presence.Config)) *presence.Server {
	cfg := presence.DefaultConfig()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.TrustedNetworks = []string{"127.0.0.1/32"}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := presence.New(cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

var seq uint32

func request(s *presence.Server, method sip.RequestMethod, ruri, pai string, hdrs ...string) *sip.Request {
	var u sip.Uri
	_ = sip.ParseUri(ruri, &u)
	req := sip.NewRequest(method, u)
	seq++
	req.AppendHeader(sip.NewHeader("Route", fmt.Sprintf("<sip:%s;lr>", s.SIPAddr())))
	req.AppendHeader(sip.NewHeader("From", "<"+pai+">;tag=f"+fmt.Sprint(seq)))
	req.AppendHeader(sip.NewHeader("To", "<"+ruri+">"))
	cid := sip.CallIDHeader(fmt.Sprintf("call-%d", seq))
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: method})
	if pai != "" {
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<"+pai+">"))
	}
	for _, h := range hdrs {
		n, v, _ := strings.Cut(h, ":")
		req.AppendHeader(sip.NewHeader(n, strings.TrimSpace(v)))
	}
	return req
}

func send(t testing.TB, pe *peer, req *sip.Request) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := pe.p.Send(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

func pidfDoc(entity, basic, note string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="` + entity +
		`"><tuple id="t1"><status><basic>` + basic + `</basic></status><note>` + note + `</note></tuple></presence>`)
}

func publish(t *testing.T, s *presence.Server, pe *peer, who string, body []byte, hdrs ...string) *sip.Response {
	req := request(s, sip.PUBLISH, who, who, append([]string{"Event: presence", "Content-Type: application/pidf+xml"}, hdrs...)...)
	req.SetBody(body)
	return send(t, pe, req)
}

func TestPublishSubscribeNotify(t *testing.T) {
	st := store.NewMemory()
	s := startServer(t, st, func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow })
	pe := newPeer(t, "127.0.0.1")

	res := publish(t, s, pe, alice, pidfDoc(alice, "open", "at my desk"))
	if res.StatusCode != 200 || res.GetHeader("SIP-ETag") == nil {
		t.Fatalf("PUBLISH: %s", res.StartLine())
	}
	etag := res.GetHeader("SIP-ETag").Value()

	sub := request(s, sip.SUBSCRIBE, alice, bob, "Event: presence", "Accept: application/pidf+xml",
		fmt.Sprintf("Contact: <sip:%s>", pe.addr), "Expires: 600")
	if res := send(t, pe, sub); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %s", res.StartLine())
	}
	n := pe.waitNotify(t)
	if ss := n.GetHeader("Subscription-State").Value(); !strings.HasPrefix(ss, "active") {
		t.Errorf("Subscription-State %q", ss)
	}
	d, err := pidf.Parse(n.Body())
	if err != nil || d.Elements[0].Basic != pidf.Open || d.Elements[0].Note != "at my desk" {
		t.Fatalf("first NOTIFY body: %v\n%s", err, n.Body())
	}
	// A second device: the composition has both tuples.
	second := []byte(strings.Replace(string(pidfDoc(alice, "closed", "phone")), `id="t1"`, `id="t2"`, 1))
	if res := publish(t, s, pe, alice, second); res.StatusCode != 200 {
		t.Fatalf("second PUBLISH: %s", res.StartLine())
	}
	n = pe.waitNotify(t)
	if d, err := pidf.Parse(n.Body()); err != nil || len(d.Elements) != 2 {
		t.Fatalf("composed NOTIFY: %v\n%s", err, n.Body())
	}
	// Modify with SIP-If-Match, then a stale entity-tag is 412.
	res = publish(t, s, pe, alice, pidfDoc(alice, "closed", "gone"), "SIP-If-Match: "+etag)
	if res.StatusCode != 200 || res.GetHeader("SIP-ETag").Value() == etag {
		t.Fatalf("modify: %s", res.StartLine())
	}
	pe.waitNotify(t)
	if res := publish(t, s, pe, alice, pidfDoc(alice, "open", "x"), "SIP-If-Match: "+etag); res.StatusCode != 412 {
		t.Errorf("stale etag: %d, want 412", res.StatusCode)
	}
	// Forged: bob publishing for alice is 403; a bad PIDF is 400; another event package 489.
	req := request(s, sip.PUBLISH, alice, bob, "Event: presence", "Content-Type: application/pidf+xml")
	req.SetBody(pidfDoc(alice, "open", "forged"))
	if res := send(t, pe, req); res.StatusCode != 403 {
		t.Errorf("PUBLISH by another user: %d, want 403", res.StatusCode)
	}
	if res := publish(t, s, pe, alice, pidfDoc(alice, "open", "x"), "Expires: 60x"); res.StatusCode != 400 {
		t.Errorf("Expires 60x: %d, want 400", res.StatusCode)
	}
	if res := publish(t, s, pe, alice, pidfDoc(alice, "open", "x"), "Expires: 5"); res.StatusCode != 423 {
		t.Errorf("Expires 5: %d, want 423", res.StatusCode)
	}
	if res := publish(t, s, pe, alice, []byte("<presence")); res.StatusCode != 400 {
		t.Errorf("bad PIDF: %d, want 400", res.StatusCode)
	}
	if res := send(t, pe, request(s, sip.PUBLISH, alice, alice, "Event: dialog")); res.StatusCode != 489 {
		t.Errorf("Event dialog: %d, want 489", res.StatusCode)
	}
	// De-registration (third-party REGISTER, Expires 0): offline.
	reg := request(s, sip.REGISTER, alice, "sip:scscf.ims.example.org", "Expires: 0")
	if res := send(t, pe, reg); res.StatusCode != 200 {
		t.Fatalf("third-party REGISTER: %s", res.StartLine())
	}
	n = pe.waitNotify(t)
	if d, err := pidf.Parse(n.Body()); err != nil || len(d.Elements) != 1 || d.Elements[0].Basic != pidf.Closed {
		t.Fatalf("after de-registration: %v\n%s", err, n.Body())
	}
}

// TestUntrustedSource: a request with a P-Asserted-Identity sent straight to the AS from outside the
// trust domain (not the S-CSCF) is refused.
func TestUntrustedSource(t *testing.T) {
	s := startServer(t, store.NewMemory())
	pe := newPeer(t, "127.0.0.2")
	if res := publish(t, s, pe, alice, pidfDoc(alice, "open", "forged")); res.StatusCode != 403 {
		t.Errorf("PUBLISH from outside the trust domain: %d, want 403", res.StatusCode)
	}
}

func TestPresRules(t *testing.T) {
	st := store.NewMemory()
	s := startServer(t, st)
	pe := newPeer(t, "127.0.0.1")
	publish(t, s, pe, alice, pidfDoc(alice, "open", "hi"))
	sub := request(s, sip.SUBSCRIBE, alice, bob, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr))
	if res := send(t, pe, sub); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %s", res.StartLine())
	}
	n := pe.waitNotify(t)
	if ss := n.GetHeader("Subscription-State").Value(); !strings.HasPrefix(ss, "pending") || len(n.Body()) != 0 {
		t.Fatalf("default confirm: %q %s", ss, n.Body())
	}
	for _, tc := range []struct {
		handling, state string
		basic           pidf.Basic
	}{{"allow", "active", pidf.Open}, {"polite-block", "active", pidf.Closed}, {"block", "terminated", ""}} {
		doc := rules(bob, tc.handling)
		prev := ""
		if d, err := st.Document(context.Background(), "pres-rules", alice, "index"); err == nil {
			prev = d.ETag
		}
		if err := st.PutDocument(context.Background(), &store.Document{AUID: "pres-rules", User: alice, Name: "index", ETag: tc.handling, Body: doc}, prev); err != nil {
			t.Fatal(err)
		}
		s.RulesChanged(context.Background(), alice)
		n := pe.waitNotify(t)
		if ss := n.GetHeader("Subscription-State").Value(); !strings.HasPrefix(ss, tc.state) {
			t.Errorf("%s: Subscription-State %q", tc.handling, ss)
		}
		if tc.basic != "" {
			if d, err := pidf.Parse(n.Body()); err != nil || d.Elements[0].Basic != tc.basic {
				t.Errorf("%s: body %v\n%s", tc.handling, err, n.Body())
			}
		}
	}
	// Blocked: a new SUBSCRIBE is 403.
	sub = request(s, sip.SUBSCRIBE, alice, bob, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr))
	if res := send(t, pe, sub); res.StatusCode != 403 {
		t.Errorf("blocked SUBSCRIBE: %d, want 403", res.StatusCode)
	}
}

func rules(watcher, handling string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="r1"><cr:conditions><cr:identity><cr:one id="` + watcher + `"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>` + handling + `</sub-handling></cr:actions></cr:rule>
</cr:ruleset>`)
}

// TestRestart: publications and subscriptions survive a restart of the server (same store).
func TestRestart(t *testing.T) {
	st := store.NewMemory()
	pe := newPeer(t, "127.0.0.1")
	s1 := startServer(t, st, func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow })
	publish(t, s1, pe, alice, pidfDoc(alice, "open", "before"))
	send(t, pe, request(s1, sip.SUBSCRIBE, alice, bob, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr)))
	pe.waitNotify(t)
	s2 := startServer(t, st, func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow })
	publish(t, s2, pe, alice, []byte(strings.Replace(string(pidfDoc(alice, "open", "after")), `"t1"`, `"t9"`, 1)))
	n := pe.waitNotify(t)
	if d, err := pidf.Parse(n.Body()); err != nil || len(d.Elements) != 2 {
		t.Fatalf("after restart: %v\n%s", err, n.Body())
	}
}

// waitEvent waits for a NOTIFY of the event package ev.
func (pe *peer) waitEvent(t *testing.T, ev string) *sip.Request {
	t.Helper()
	for {
		n := pe.waitNotify(t)
		if h := n.GetHeader("Event"); h != nil && h.Value() == ev {
			return n
		}
	}
}

// TestWatcherInfo: the presentity learns its watchers and their states (RFC 3857, RFC 3858); another user
// may not subscribe to them.
func TestWatcherInfo(t *testing.T) {
	s := startServer(t, store.NewMemory())
	pe := newPeer(t, "127.0.0.1")
	contact := fmt.Sprintf("Contact: <sip:%s>", pe.addr)
	if res := send(t, pe, request(s, sip.SUBSCRIBE, alice, bob, "Event: presence.winfo", contact)); res.StatusCode != 403 {
		t.Errorf("bob's winfo subscription to alice: %d, want 403", res.StatusCode)
	}
	if res := send(t, pe, request(s, sip.SUBSCRIBE, alice, alice, "Event: presence.winfo", "Accept: application/watcherinfo+xml", contact)); res.StatusCode != 200 {
		t.Fatalf("winfo SUBSCRIBE: %s", res.StartLine())
	}
	n := pe.waitEvent(t, "presence.winfo")
	if ct := n.GetHeader("Content-Type"); ct == nil || ct.Value() != presence.ContentTypeWinfo || !strings.Contains(string(n.Body()), `version="0"`) ||
		strings.Contains(string(n.Body()), "<watcher ") {
		t.Fatalf("first winfo NOTIFY:\n%s", n.Body())
	}
	send(t, pe, request(s, sip.SUBSCRIBE, alice, bob, "Event: presence", contact))
	n2 := pe.waitEvent(t, "presence.winfo")
	if body := string(n2.Body()); !strings.Contains(body, `status="pending">`+bob+`</watcher>`) || !strings.Contains(body, `version="1"`) {
		t.Fatalf("winfo after bob subscribed:\n%s", body)
	}
	// RFC 3858 §7: both documents validate against the watcherinfo schema.
	xsdtest.Valid(t, xsdtest.Watcherinfo, n.Body())
	xsdtest.Valid(t, xsdtest.Watcherinfo, n2.Body())
}

// TestExpiry: a publication that is not refreshed ends (RFC 3903 §4.1: the watchers get the state
// without it, here the neutral closed document), and so does a subscription (RFC 6665 §4.2.2: a final
// NOTIFY, terminated;reason=timeout).
func TestExpiry(t *testing.T) {
	s := startServer(t, store.NewMemory(), func(c *presence.Config) {
		c.DefaultSubHandling = presence.HandlingAllow
		c.PublishMinExpires, c.SubscribeMinExpires, c.ExpiryInterval = time.Second, time.Second, 100*time.Millisecond
	})
	pe := newPeer(t, "127.0.0.1")
	if res := publish(t, s, pe, alice, pidfDoc(alice, "open", "brief"), "Expires: 1"); res.StatusCode != 200 {
		t.Fatalf("PUBLISH: %s", res.StartLine())
	}
	send(t, pe, request(s, sip.SUBSCRIBE, alice, bob, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr), "Expires: 2"))
	if d, err := pidf.Parse(pe.waitNotify(t).Body()); err != nil || d.Elements[0].Note != "brief" {
		t.Fatalf("first NOTIFY: %v", err)
	}
	// Both expire within a second of each other: on a loaded machine one sweep may find both, and the two
	// NOTIFYs may then arrive in either order.
	var closed, final bool
	for range 2 {
		n := pe.waitNotify(t)
		switch ss := n.GetHeader("Subscription-State").Value(); {
		case ss == "terminated;reason=timeout":
			final = true
		case strings.HasPrefix(ss, "active"):
			d, err := pidf.Parse(n.Body())
			closed = err == nil && d.Elements[0].Basic == pidf.Closed && d.Elements[0].Note == ""
		}
	}
	if !closed || !final {
		t.Errorf("after the expiries: neutral state notified %v, final NOTIFY %v", closed, final)
	}
}

// TestServedUser: the S-CSCF's P-Served-User names the presentity (TS 24.229 §5.7.1.3, RFC 5502), not
// the Request-URI.
func TestServedUser(t *testing.T) {
	s := startServer(t, store.NewMemory(), func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow })
	pe := newPeer(t, "127.0.0.1")
	publish(t, s, pe, alice, pidfDoc(alice, "open", "served"))
	req := request(s, sip.SUBSCRIBE, "sip:alias@ims.example.org", bob, "Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr),
		"P-Served-User: <"+alice+">;sescase=term;regstate=reg")
	if res := send(t, pe, req); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE: %s", res.StartLine())
	}
	if d, err := pidf.Parse(pe.waitNotify(t).Body()); err != nil || d.Entity != alice || d.Elements[0].Note != "served" {
		t.Fatalf("NOTIFY: %+v %v", d, err)
	}
}
