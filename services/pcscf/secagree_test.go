package pcscf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/digest"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/storage"
	"go.uber.org/zap"
)

// rawUA sends hand-written requests over UDP and returns the raw response: assertions are
// on the bytes the UE would see.
type rawUA struct {
	t    testing.TB
	c    *net.UDPConn
	dst  netip.AddrPort
	port int
}

func newRawUA(t testing.TB, dst netip.AddrPort, local string) *rawUA {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(local)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawUA{t: t, c: c, dst: dst, port: c.LocalAddr().(*net.UDPAddr).Port}
}

// do sends text (with {port} replaced by our port) and returns the first final response.
func (r *rawUA) do(text string) string {
	r.t.Helper()
	text = strings.ReplaceAll(text, "{port}", fmt.Sprint(r.port))
	text = strings.ReplaceAll(text, "\n", "\r\n")
	if _, err := r.c.WriteToUDPAddrPort([]byte(text), r.dst); err != nil {
		r.t.Fatal(err)
	}
	buf := make([]byte, 65535)
	for {
		_ = r.c.SetReadDeadline(time.Now().Add(waitLong))
		n, _, err := r.c.ReadFromUDPAddrPort(buf)
		if err != nil {
			r.t.Fatalf("no response: %v", err)
		}
		s := string(buf[:n])
		if !strings.HasPrefix(s, "SIP/2.0 1") {
			return s
		}
	}
}

func register(sub subscriber, extra string) string {
	return "REGISTER sip:" + domain + " SIP/2.0\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK" + fmt.Sprint(time.Now().UnixNano()) + ";rport\n" +
		"Max-Forwards: 70\n" +
		"From: <" + sub.impu + ">;tag=abc\n" +
		"To: <" + sub.impu + ">\n" +
		"Call-ID: raw-" + fmt.Sprint(time.Now().UnixNano()) + "\n" +
		"CSeq: 1 REGISTER\n" +
		"Contact: <sip:u@127.0.0.1:{port}>;expires=600\n" +
		"Authorization: Digest username=\"" + sub.impi + "\",realm=\"" + domain + "\",nonce=\"\",uri=\"sip:" + domain + "\",response=\"\"\n" +
		extra +
		"Content-Length: 0\n\n"
}

// TestSecAgreeNegotiation covers the answers a P-CSCF gives before any SA exists
// (RFC 3329 §2.3.1, TS 24.229 §5.2.2.1), on the wire.
func TestSecAgreeNegotiation(t *testing.T) {
	sub := newSubscriber(t, 1)
	const offer = "Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1111;spi-s=2222;port-c=40001;port-s=40002\n"
	for _, tc := range []struct {
		name     string
		ipsec    bool // fake SA installer present
		mode     IPsecMode
		extra    string
		wantCode string
		want     []string // substrings of the response
		reject   []string // must not appear
	}{
		{"sec-agree offered: 401 with Security-Server, keys stripped", true, IPsecAuto,
			offer + "Require: sec-agree\nProxy-Require: sec-agree\n", "401",
			[]string{"Security-Server: ipsec-3gpp;q=0.1;alg=hmac-sha-1-96;ealg=aes-cbc;prot=esp;mod=trans;spi-c=", "WWW-Authenticate: Digest realm=", "nonce="},
			[]string{"ck=", "ik=", "Security-Client"}},
		{"nothing acceptable: 494", true, IPsecAuto,
			"Security-Client: ipsec-3gpp;alg=hmac-sha-256-128;ealg=aes-gcm;spi-c=1111;spi-s=2222;port-c=40001;port-s=40002\nRequire: sec-agree\nProxy-Require: sec-agree\n",
			"494", nil, nil},
		{"required but not offered: 421", true, IPsecRequired, "", "421", []string{"Require: sec-agree"}, nil},
		{"no ESP, UE requires sec-agree: 420, never downgraded", false, IPsecOff,
			offer + "Require: sec-agree\nProxy-Require: sec-agree\n", "420", []string{"Unsupported: sec-agree"}, nil},
		{"no ESP, plain UE: served, keys stripped", false, IPsecOff, "", "401", []string{"WWW-Authenticate: Digest"}, []string{"ck=", "ik="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := startFakeCore(t, "127.0.0.1:0", sub)
			var sas SAManager
			if tc.ipsec {
				sas = newFakeSAs()
			}
			n := startPCSCF(t, "127.0.0.1", core.addr, sas, func(c *Config) {
				if tc.mode == IPsecRequired {
					c.IPsec = IPsecRequired
				}
			})
			res := newRawUA(t, n.CoreAddr(), "127.0.0.1:0").do(register(sub, tc.extra))
			if !strings.HasPrefix(res, "SIP/2.0 "+tc.wantCode+" ") {
				t.Fatalf("response:\n%s\nwant %s", res, tc.wantCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(res, w) {
					t.Errorf("response lacks %q:\n%s", w, res)
				}
			}
			for _, r := range tc.reject {
				if r == "ck=" || r == "ik=" {
					// Parsed, not searched: a base64 nonce may well contain "ik=".
					if hasChallengeKey(t, res, r) {
						t.Errorf("response has %q:\n%s", r, res)
					}
					continue
				}
				if strings.Contains(strings.ToLower(res), strings.ToLower(r)) {
					t.Errorf("response has %q:\n%s", r, res)
				}
			}
			if tc.wantCode != "401" && len(core.requests(sip.REGISTER)) != 0 {
				t.Errorf("a rejected REGISTER reached the core")
			}
		})
	}
}

// TestProtectedPortChecks: after a sec-agree registration, a request to our protected server
// port that did not come over the UE's SA set is refused, and a protected REGISTER whose
// Security-Verify differs from our Security-Server is refused (RFC 3329 §2.3.1).
func TestProtectedPortChecks(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs())
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	ctx := ctxT(t)
	if _, err := u.Register(ctx); err != nil {
		t.Fatalf("register: %v", err)
	}
	reg, _ := n.Registration(alice.impu)
	ps := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), reg.SAs[0].Pair.PCSCF.PortS)
	msg := "MESSAGE " + alice.impu + " SIP/2.0\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKx1;rport\nMax-Forwards: 70\n" +
		"From: <" + alice.impu + ">;tag=1\nTo: <" + alice.impu + ">\nCall-ID: spoof\nCSeq: 1 MESSAGE\nContent-Length: 0\n\n"
	res := newRawUA(t, ps, "127.0.0.1:0").do(msg)
	if !strings.HasPrefix(res, "SIP/2.0 403 ") {
		t.Errorf("request from outside the SA to port-s answered:\n%s", res)
	}
	if got := len(core.requests(sip.MESSAGE)); got != 0 {
		t.Errorf("%d spoofed MESSAGEs reached the core", got)
	}

	// Security-Verify mismatch: the UE's port-c is taken by the simulator, so send from a raw
	// socket after closing it.
	portC := reg.SAs[0].Pair.UE.PortC
	u.Close()
	raw := newRawUA(t, ps, fmt.Sprintf("127.0.0.1:%d", portC))
	bad := strings.Replace(register(alice, "Security-Verify: ipsec-3gpp;q=0.1;alg=hmac-md5-96;ealg=null;prot=esp;mod=trans;spi-c=300;spi-s=301;port-c=1;port-s=2\n"),
		"{port}", fmt.Sprint(portC), -1)
	res = raw.do(bad)
	if !strings.HasPrefix(res, "SIP/2.0 494 ") {
		t.Errorf("Security-Verify mismatch answered:\n%s", res)
	}
}

// TestAssertedIdentity: TS 24.229 §5.2.6.3.1 — P-Preferred-Identity becomes P-Asserted-Identity
// when it is one of the UE's associated URIs, else the default identity is asserted; a
// P-Asserted-Identity from the UE never passes.
func TestAssertedIdentity(t *testing.T) {
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	for _, tc := range []struct {
		name    string
		headers []sip.Header
		want    string
	}{
		{"default", nil, "<" + alice.impu + ">"},
		{"preferred tel is associated", []sip.Header{sip.NewHeader(header.PPreferredIdentity, "<"+alice.tel+">")}, "<" + alice.tel + ">"},
		{"preferred not associated", []sip.Header{sip.NewHeader(header.PPreferredIdentity, "<"+bob.impu+">")}, "<" + alice.impu + ">"},
		{"UE's own PAI removed", []sip.Header{sip.NewHeader(header.PAssertedIdentity, "<sip:boss@"+domain+">")}, "<" + alice.impu + ">"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := startFakeCore(t, "127.0.0.1:0", alice, bob)
			n := startPCSCF(t, "127.0.0.1", core.addr, nil)
			ua := newUE(t, alice, n.CoreAddr(), "udp", false)
			ub := newUE(t, bob, n.CoreAddr(), "udp", false)
			ctx := ctxT(t)
			for _, u := range []*ue.UE{ua, ub} {
				if _, err := u.Register(ctx); err != nil {
					t.Fatalf("register: %v", err)
				}
			}
			if _, err := ua.Message(ctx, bob.impu, "x", tc.headers...); err != nil {
				t.Fatalf("MESSAGE: %v", err)
			}
			msgs := core.requests(sip.MESSAGE)
			if len(msgs) != 1 {
				t.Fatalf("core saw %d MESSAGEs", len(msgs))
			}
			if got := header.Values(msgs[0], header.PAssertedIdentity); len(got) != 1 || got[0] != tc.want {
				t.Errorf("P-Asserted-Identity = %q, want %q", got, tc.want)
			}
			if header.Has(msgs[0], header.PPreferredIdentity) {
				t.Error("P-Preferred-Identity forwarded")
			}
		})
	}
}

// TestTCPConnectionPerUE: two sec-agree UEs on different addresses share our protected
// ports; each request towards a UE must leave on that UE's own connection.
func TestTCPConnectionPerUE(t *testing.T) {
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	core := startFakeCore(t, "127.0.0.1:0", alice, bob)
	// One port pair: every UE shares our protected client port.
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs(), func(c *Config) { c.ClientPorts.Count, c.ServerPorts.Count = 1, 1 })
	ua := newUE(t, alice, n.CoreAddr(), "tcp", true)
	ub := newUE(t, bob, n.CoreAddr(), "tcp", true, func(c *ue.Config) { c.Local = netip.MustParseAddr("127.0.0.2") })
	ctx := ctxT(t)
	for _, u := range []*ue.UE{ua, ub} {
		if _, err := u.Register(ctx); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	ra, _ := n.Registration(alice.impu)
	rb, _ := n.Registration(bob.impu)
	if ra.SAs[0].Pair.PCSCF.PortC != rb.SAs[0].Pair.PCSCF.PortC {
		t.Fatalf("UEs on different addresses got different client ports %d, %d: the test needs them shared",
			ra.SAs[0].Pair.PCSCF.PortC, rb.SAs[0].Pair.PCSCF.PortC)
	}
	for i := range 3 {
		for _, c := range []struct {
			from, to *ue.UE
			target   string
		}{{ua, ub, bob.impu}, {ub, ua, alice.impu}} {
			text := fmt.Sprintf("to %s #%d", c.target, i)
			if _, err := c.from.Message(ctx, c.target, text); err != nil {
				t.Fatalf("MESSAGE: %v", err)
			}
			select {
			case got := <-c.to.Incoming():
				if string(got.Body()) != text {
					t.Errorf("got %q, want %q", got.Body(), text)
				}
			case <-time.After(waitLong):
				t.Fatalf("%s got nothing", c.target)
			}
		}
	}
}

// TestReregistrationNewSAs: a re-registration challenged again sets up a new SA set; the old
// one goes once the new one carried the 200 and the UE uses it (TS 33.203 §7.4).
func TestReregistrationNewSAs(t *testing.T) {
	sas := newFakeSAs()
	w := startTwoUEs(t, sas)
	n, alice, bob, ua := w.n, w.alice, w.bob, w.ua
	ctx := ctxT(t)
	first, _ := n.Registration(alice.impu)
	if _, err := ua.Register(ctx); err != nil {
		t.Fatalf("re-register: %v", err)
	}
	second, _ := n.Registration(alice.impu)
	if len(second.SAs) == 0 || second.SAs[0].Pair.PCSCF.SPIS == first.SAs[0].Pair.PCSCF.SPIS {
		t.Fatalf("no new SA set after re-registration: %+v", second.SAs)
	}
	if _, err := ua.Message(ctx, bob.impu, "over the new SAs"); err != nil {
		t.Fatalf("MESSAGE after re-registration: %v", err)
	}
	third, _ := n.Registration(alice.impu)
	if len(third.SAs) != 1 || third.SAs[0].Pair.PCSCF.SPIS != second.SAs[0].Pair.PCSCF.SPIS {
		t.Errorf("SA sets after the UE used the new one: %d (want only the new)", len(third.SAs))
	}
	if got := sas.count(); got != 2 {
		t.Errorf("installed SA sets = %d, want 2 (alice's new, bob's)", got)
	}
}

// TestRestartRestoresSAs: registrations and SA sets survive a restart through the state file,
// and the SAs are installed again.
func TestRestartRestoresSAs(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	state := t.TempDir() + "/state.json"
	sas := newFakeSAs()
	ctx, cancel := context.WithCancel(context.Background())
	cfgFn := func(c *Config) { c.StateFile = state }
	n1 := startPCSCFManual(t, ctx, core.addr, sas, cfgFn)
	u := newUE(t, alice, n1.node.CoreAddr(), "udp", true)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	cancel()
	if err := <-n1.done; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if got := sas.count(); got != 0 {
		t.Fatalf("SAs left after stop: %d", got)
	}
	n2 := startPCSCFManual(t, context.Background(), core.addr, sas, func(c *Config) {
		cfgFn(c)
		c.ClientPorts, c.ServerPorts = n1.node.cfg.ClientPorts, n1.node.cfg.ServerPorts
	})
	if got := sas.count(); got != 1 {
		t.Errorf("SAs after restart = %d, want 1", got)
	}
	reg, ok := n2.node.Registration(alice.impu)
	if !ok || !reg.Registered(time.Now()) || len(reg.SAs) != 1 {
		t.Errorf("restored registration = %+v", reg)
	}
	_ = ipsec.ErrNotFound
	_ = errors.New
}

type manualNode struct {
	node *Node
	done chan error
	// stopped is closed once Run has returned, after its last write to the state file.
	stopped chan struct{}
}

func startPCSCFManual(t testing.TB, ctx context.Context, core netip.AddrPort, sas SAManager, mutate func(*Config)) manualNode {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.ICSCF = core.String()
	cfg.HTTP = ""
	cfg.SAs = sas
	cfg.ClientPorts = PortRange{First: freeRange(t, "127.0.0.1", 4), Count: 4}
	cfg.ServerPorts = PortRange{First: freeRange(t, "127.0.0.1", 4), Count: 4}
	for overlap(cfg.ClientPorts, cfg.ServerPorts) {
		cfg.ServerPorts.First = freeRange(t, "127.0.0.1", 4)
	}
	mutate(&cfg)
	n, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m := manualNode{node: n, done: make(chan error, 1), stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(m.stopped)
		m.done <- n.Run(ctx)
	}()
	// The node must be gone before the test's temporary directories are removed: a clean stop writes the
	// state file.
	t.Cleanup(func() { cancel(); <-m.stopped })
	<-n.Ready()
	return m
}

// hasChallengeKey reports whether a WWW-Authenticate challenge in the raw response res carries
// the ck= or ik= parameter (TS 24.229 §5.4.1.2.1: the P-CSCF removes them before the UE sees the 401).
func hasChallengeKey(t *testing.T, res, param string) bool {
	t.Helper()
	for _, line := range strings.Split(res, "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "WWW-Authenticate") {
			continue
		}
		ch, err := digest.ParseChallenge(strings.TrimSpace(value))
		if err != nil {
			t.Fatalf("WWW-Authenticate does not parse: %v", err)
		}
		if (param == "ck=" && ch.CK != "") || (param == "ik=" && ch.IK != "") {
			return true
		}
	}
	return false
}

// TestJournal: the bindings are written behind to the store: with a long flush interval not while the node runs,
// always on a clean stop; with 0 soon after the change, without a stop. Rows, not a file: the store is read as the
// next start reads it.
func TestJournal(t *testing.T) {
	for _, tc := range []struct {
		name      string
		interval  time.Duration
		wantEarly bool // the binding reaches the store while the node runs
	}{
		{"write-behind", time.Hour, false},
		{"asap", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := newSubscriber(t, 1)
			core := startFakeCore(t, "127.0.0.1:0", alice)
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			n := startPCSCFManual(t, ctx, core.addr, newFakeSAs(), func(c *Config) {
				c.StateFile, c.DBFlushInterval = dir+"/state.json", tc.interval
			})
			u := newUE(t, alice, n.node.CoreAddr(), "udp", true)
			if _, err := u.Register(ctxT(t)); err != nil {
				t.Fatalf("register: %v", err)
			}
			db, err := storage.OpenAndMigrate(context.Background(), "sqlite://"+dir+"/pcscf.db", zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			inStore := func() bool {
				got, err := db.(bindings.Store).LoadBindings(context.Background(), n.node.nodeID)
				if err != nil {
					t.Fatal(err)
				}
				for _, b := range got {
					if b.IMPU == alice.impu && len(b.SAs) > 0 && b.Registered(time.Now()) {
						return true
					}
				}
				return false
			}
			early := inStore()
			for deadline := time.Now().Add(10 * time.Second); tc.wantEarly && !early && time.Now().Before(deadline); early = inStore() {
				time.Sleep(20 * time.Millisecond)
			}
			if early != tc.wantEarly {
				t.Errorf("binding in the store while running: %v, want %v", early, tc.wantEarly)
			}
			cancel()
			if err := <-n.done; err != nil {
				t.Fatalf("run: %v", err)
			}
			if !inStore() {
				t.Error("binding not in the store after a clean stop")
			}
		})
	}
}
