package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/internal/testpki"
)

// events collects the Observer's events.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) Observe(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) count(k EventKind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// RFC 6733 §5.6.1, §7.1.3: a CER whose Origin-Host, Origin-Realm or source address is not a configured
// peer's gets a CEA with DIAMETER_UNKNOWN_PEER and the 'E' bit, then the connection is closed; the refusal
// is counted. A configured peer still gets 2001.
func TestCERFromUnknownPeerRefused(t *testing.T) {
	leakCheck(t)
	cfg := testConfig(t, "hss.test.example")
	cfg.Peers = []AllowedPeer{
		{Host: "scscf.test.example", Realm: testRealm, Sources: []string{"127.0.0.1"}},
		{Host: "icscf.test.example", Realm: testRealm, Sources: []string{"10.0.0.0/8"}}, // never loopback
	}
	ev := &events{}
	cfg.Observer = ev
	n := newNode(t, cfg, echoHandler())
	addr := listen(t, n)

	tests := []struct {
		name, host, realm string
	}{
		{"unknown Origin-Host", "evil.example.org", testRealm},
		{"known host, wrong realm", "scscf.test.example", "evil.example.org"},
		{"known host, wrong source address", "icscf.test.example", testRealm},
		{"known host in other letter case, wrong realm", "SCSCF.test.example", "other.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := dialRaw(t, addr, tt.host)
			cer := diam.NewRequest(cmdCapabilitiesExchange, 0, p.d)
			p.capabilities(cer, 1, echoApp)
			if a := findAVP(cer.AVP, avpOriginRealm); a != nil {
				a.Data = datatype.DiameterIdentity(tt.realm)
			}
			p.writeMsg(cer)
			cea := p.readAnswer()
			if got := resultCode(t, cea); got != diameter.UnknownPeer {
				t.Fatalf("CEA Result-Code %d, want 3010 DIAMETER_UNKNOWN_PEER", got)
			}
			if cea.Header.CommandFlags&flagError == 0 {
				t.Errorf("CEA with a protocol error lacks the 'E' bit (RFC 6733 §7.1.3)")
			}
			p.expectClosed()
		})
	}
	if got := ev.count(EventPeerRefused); got != len(tests) {
		t.Errorf("%d peer_refused events, want %d", got, len(tests))
	}
	for _, p := range n.Peers() {
		if p.State == StateOpen {
			t.Errorf("a refused peer is open: %+v", p)
		}
	}
	// The configured peer from its configured address is accepted, case-insensitively.
	p := dialRaw(t, addr, "SCSCF.Test.Example")
	if got := resultCode(t, p.handshake(echoApp)); got != diameter.Success {
		t.Fatalf("configured peer: CEA %d, want 2001", got)
	}
}

// A node with no Peers accepts no incoming connection.
func TestNoPeersRefusesEveryCER(t *testing.T) {
	cfg := testConfig(t, "hss.test.example")
	cfg.Peers = nil
	n := newNode(t, cfg, echoHandler())
	p := dialRaw(t, listen(t, n), "scscf.test.example")
	if got := resultCode(t, p.handshake(echoApp)); got != diameter.UnknownPeer {
		t.Fatalf("CEA %d, want 3010", got)
	}
	p.expectClosed()
}

// Config.Permissions: a request the peer's roles may not send gets DIAMETER_AUTHORIZATION_REJECTED (5003)
// without reaching the Handler; one no role may send gets DIAMETER_COMMAND_UNSUPPORTED (3001); a permitted
// one is served. Roles come from the AllowedPeer (accepted) and from PeerConfig (dialled).
func TestRequestsOnlyFromPermittedRoles(t *testing.T) {
	leakCheck(t)
	var served sync.Map
	handler := HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		served.Store(from.OriginHost, from.Roles)
		return echoHandler().ServeDiameter(ctx, req, from)
	})
	scfg := testConfig(t, "hss.test.example")
	scfg.Peers = []AllowedPeer{
		{Host: "icscf.test.example", Realm: testRealm, Sources: []string{"127.0.0.1"}, Roles: []string{"icscf"}},
		{Host: "scscf.test.example", Realm: testRealm, Sources: []string{"127.0.0.1"}, Roles: []string{"scscf"}},
	}
	scfg.Permissions = map[string][]Command{"scscf": {{App: echoApp, Code: cmdEcho}}, "icscf": nil}
	ev := &events{}
	scfg.Observer = ev
	server := newNode(t, scfg, handler)
	addr := listen(t, server)

	icscf := newNode(t, testConfig(t, "icscf.test.example"), echoHandler())
	scscf := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	for _, c := range []*Node{icscf, scscf} {
		if err := c.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss.test.example", Realm: testRealm}); err != nil {
			t.Fatal(err)
		}
		waitPeer(t, c, "hss.test.example")
	}
	ctx := context.Background()
	ans, err := icscf.Request(ctx, newEcho(icscf.cfg.Dictionary, "icscf;1", "hss.test.example", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != diameter.AuthorizationRejected {
		t.Errorf("Echo from the icscf role: %d, want 5003", got)
	}
	if ans.Header.CommandFlags&flagError != 0 {
		t.Errorf("5003 is not a protocol error: no 'E' bit")
	}
	if findAVP(ans.AVP, avpVendorSpecificApplicationID) == nil {
		t.Errorf("5003 answer lacks the command's Vendor-Specific-Application-Id")
	}
	if _, ok := served.Load("icscf.test.example"); ok {
		t.Errorf("the Handler served a request the peer's role may not send")
	}
	ans, err = scscf.Request(ctx, newEcho(scscf.cfg.Dictionary, "scscf;1", "hss.test.example", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != diameter.Success {
		t.Errorf("Echo from the scscf role: %d, want 2001", got)
	}
	if roles, _ := served.Load("scscf.test.example"); len(roles.([]string)) != 1 || roles.([]string)[0] != "scscf" {
		t.Errorf("Handler saw roles %v, want [scscf]", roles)
	}
	if got := ev.count(EventRequestRefused); got != 1 {
		t.Errorf("%d request_refused events, want 1", got)
	}

	// The same over a connection this node dialled: the PeerConfig's roles count.
	dcfg := testConfig(t, "a.test.example")
	dcfg.Permissions = map[string][]Command{"hss": {{App: echoApp, Code: cmdEcho}}}
	dialler := newNode(t, dcfg, echoHandler())
	other := newNode(t, testConfig(t, "b.test.example"), echoHandler())
	if err := dialler.Connect(ctx, PeerConfig{Address: listen(t, other), Host: "b.test.example", Roles: []string{"icscf"}}); err != nil {
		t.Fatal(err)
	}
	waitPeer(t, other, "a.test.example")
	ans, err = other.Request(ctx, newEcho(other.cfg.Dictionary, "b;1", "a.test.example", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != diameter.AuthorizationRejected {
		t.Errorf("Echo over the dialled connection from a non-hss peer: %d, want 5003", got)
	}

	// A command no role may send: 3001.
	dcfg2 := testConfig(t, "z.test.example")
	dcfg2.Permissions = map[string][]Command{"hss": nil}
	z := newNode(t, dcfg2, echoHandler())
	m := newNode(t, testConfig(t, "m.test.example"), echoHandler())
	connectPair(t, m, z)
	ans, err = m.Request(ctx, newEcho(m.cfg.Dictionary, "m;1", "z.test.example", "x"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resultCode(t, ans); got != diameter.CommandUnsupported {
		t.Errorf("Echo served by no role: %d, want 3001", got)
	}
}

func TestAllowedPeerValidate(t *testing.T) {
	good := AllowedPeer{Host: "icscf.example.org", Realm: "example.org", Sources: []string{"192.0.2.1", "2001:db8::/32"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]AllowedPeer{
		"no host":     {Realm: "example.org", Sources: []string{"192.0.2.1"}},
		"no realm":    {Host: "a.example.org", Sources: []string{"192.0.2.1"}},
		"no sources":  {Host: "a.example.org", Realm: "example.org"},
		"bad source":  {Host: "a.example.org", Realm: "example.org", Sources: []string{"icscf.example.org"}},
		"bad prefix":  {Host: "a.example.org", Realm: "example.org", Sources: []string{"192.0.2.0/33"}},
		"empty role":  {Host: "a.example.org", Realm: "example.org", Sources: []string{"192.0.2.1"}, Roles: []string{" "}},
		"bad host ch": {Host: "a b.example.org", Realm: "example.org", Sources: []string{"192.0.2.1"}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	cfg := testConfig(t, "hss.test.example")
	cfg.Peers = []AllowedPeer{{Host: "x.test.example", Realm: testRealm}}
	if _, err := New(cfg, echoHandler()); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New with an invalid peer: %v, want ErrInvalidConfig", err)
	}
}

// --- TLS ------------------------------------------------------------------------------------

// pki is peertest's CA, its certificates as TLSFiles.
type pki struct{ *testpki.PKI }

func newPKI(t *testing.T, name string) pki { return pki{testpki.New(t, name)} }

func (p pki) issue(dnsName string) TLSFiles {
	cert, key := p.Issue(dnsName)
	return TLSFiles{CertFile: cert, KeyFile: key, CAFile: p.CAFile}
}

func tlsNode(t *testing.T, host string, files TLSFiles) *Node {
	t.Helper()
	cfg := testConfig(t, host)
	var err error
	if cfg.TLS, err = files.Load(); err != nil {
		t.Fatal(err)
	}
	return newNode(t, cfg, echoHandler())
}

// RFC 6733 §2.1 TLS/TCP with mutual authentication (§13.1): a peer with a certificate of the trusted CA that
// names its Origin-Host is accepted and requests flow; a peer whose certificate another CA signed is refused
// in the handshake; a peer of the right CA claiming an Origin-Host its certificate does not name gets 3010;
// a plain TCP peer never gets a CEA.
func TestTLSPeers(t *testing.T) {
	leakCheck(t)
	ca := newPKI(t, "operator")
	ev := &events{}
	scfg := testConfig(t, "hss.test.example")
	var err error
	if scfg.TLS, err = ca.issue("hss.test.example").Load(); err != nil {
		t.Fatal(err)
	}
	scfg.Observer = ev
	server := newNode(t, scfg, echoHandler())
	addr := listen(t, server)

	t.Run("trusted certificate naming the Origin-Host", func(t *testing.T) {
		c := tlsNode(t, "scscf.test.example", ca.issue("scscf.test.example"))
		if err := c.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss.test.example"}); err != nil {
			t.Fatal(err)
		}
		waitPeer(t, c, "hss.test.example")
		ans, err := c.Request(context.Background(), newEcho(c.cfg.Dictionary, "scscf;tls", "hss.test.example", "over tls"))
		if err != nil {
			t.Fatal(err)
		}
		if got := resultCode(t, ans); got != diameter.Success {
			t.Fatalf("Echo over TLS: %d", got)
		}
	})
	t.Run("certificate of another CA", func(t *testing.T) {
		rogue := newPKI(t, "rogue")
		files := rogue.issue("icscf.test.example")
		files.CAFile = ca.CAFile // it trusts the server, the server does not trust it
		cfg, err := files.Load()
		if err != nil {
			t.Fatal(err)
		}
		before := ev.count(EventPeerRefused)
		nc, err := tls.Dial("tcp", addr, &tls.Config{Certificates: cfg.Certificates, RootCAs: cfg.RootCAs, ServerName: "hss.test.example"})
		if err == nil {
			// TLS 1.3: the client finishes first; the server's refusal arrives on the first read.
			p := newRawPeer(t, nc, "icscf.test.example")
			cer := diam.NewRequest(cmdCapabilitiesExchange, 0, p.d)
			p.capabilities(cer, 1, echoApp)
			_ = p.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = p.nc.Write(mustEncode(t, cer))
			if _, _, rerr := p.read(); rerr == nil {
				t.Fatal("a peer with an untrusted certificate got an answer")
			}
		}
		waitFor(t, func() bool { return ev.count(EventPeerRefused) > before }, "the refused handshake counted")
	})
	t.Run("trusted certificate naming another host", func(t *testing.T) {
		files := ca.issue("icscf.test.example")
		cfg, err := files.Load()
		if err != nil {
			t.Fatal(err)
		}
		nc, err := tls.Dial("tcp", addr, &tls.Config{Certificates: cfg.Certificates, RootCAs: cfg.RootCAs, ServerName: "hss.test.example"})
		if err != nil {
			t.Fatal(err)
		}
		p := newRawPeer(t, nc, "scscf.test.example") // claims the S-CSCF, certified as the I-CSCF
		if got := resultCode(t, p.handshake(echoApp)); got != diameter.UnknownPeer {
			t.Fatalf("CEA %d, want 3010", got)
		}
		p.expectClosed()
	})
	t.Run("plain TCP", func(t *testing.T) {
		p := dialRaw(t, addr, "scscf.test.example")
		cer := diam.NewRequest(cmdCapabilitiesExchange, 0, p.d)
		p.capabilities(cer, 1, echoApp)
		p.writeMsg(cer)
		if _, m, err := p.read(); err == nil && m != nil {
			t.Fatalf("a plain TCP CER got %d", m.Header.CommandCode)
		}
	})
	t.Run("dialling a server whose certificate names another host", func(t *testing.T) {
		c := tlsNode(t, "scscf.test.example", ca.issue("scscf.test.example"))
		err := c.Connect(context.Background(), PeerConfig{Address: addr, Host: "hss2.test.example"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if _, err := c.WaitPeer(ctx, "hss.test.example"); err == nil {
			t.Fatal("connected to a server whose certificate does not name the configured host")
		}
	})
	if err := (TLSFiles{CertFile: "x"}).Validate(); err == nil {
		t.Errorf("partial TLS files accepted")
	}
}

func mustEncode(t *testing.T, m *diam.Message) []byte {
	t.Helper()
	b, err := encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitFor polls cond (bounded) and fails with what if it never holds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for range 250 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for: %s", what)
}

var _ net.Conn = (*tls.Conn)(nil)
