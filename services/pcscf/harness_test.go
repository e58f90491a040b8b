package pcscf

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/ue"
)

// waitLong bounds waits in these tests: a guard against hangs, never a speed assertion.
const waitLong = 10 * time.Second

const domain = "ims.mnc001.mcc001.3gppnetwork.org"

// testLogger shows the logs only when the test fails.
func testLogger(t testing.TB) *zap.Logger {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	ws := zapcore.AddSync(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	// Benchmarks log at Info, as a node in production does: at Debug they measured the logging (every message
	// traced, sipgo's debug lines built) more than the P-CSCF.
	level := zapcore.DebugLevel
	if _, bench := t.(*testing.B); bench {
		level = zapcore.InfoLevel
	}
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), ws, level)
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			t.Log("log:\n" + buf.String())
			mu.Unlock()
		}
	})
	return zap.New(core)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// subscriber is one test user with Milenage keys (TS 35.208 test set 1 K and OPc).
type subscriber struct {
	impi, impu, tel string
	keys            aka.Keys
}

func newSubscriber(t testing.TB, n int) subscriber {
	t.Helper()
	k := mustHex(t, "465b5ce8b199b49faa5f0a2ee238a6bc")
	opc := mustHex(t, "cd63cb71954a9f4e48a5994e37a02baf")
	keys, err := aka.NewKeys(k, nil, opc, [2]byte{0x80, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	imsi := fmt.Sprintf("00101000000%04d", n)
	return subscriber{
		impi: imsi + "@" + domain, impu: "sip:" + imsi + "@" + domain,
		tel: fmt.Sprintf("tel:+1555000%04d", n), keys: keys,
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		b[i] = byte(v)
	}
	return b
}

// fakeCore plays I-CSCF and S-CSCF in one proxy: a registrar that challenges with real AKA
// vectors carrying ck/ik (TS 24.229 §5.4.1.2.1), answers 200 with Service-Route and
// P-Associated-URI, and routes originating requests to the target's contact along its Path.
// It stands in for services/icscf + services/scscf + hss until internal/e2e exists.
type fakeCore struct {
	t    testing.TB
	p    *proxy.Proxy
	addr netip.AddrPort
	subs map[string]subscriber // by IMPI

	mu       sync.Mutex
	seq      uint64
	vectors  map[string]aka.Vector // by nonce
	bindings map[string]binding    // by IMPU and tel
	got      []*sip.Request
	stale    bool // next challenge uses an old SQN, to provoke auts
	akav2    bool // challenge with AKAv2-MD5 (RFC 4169)
	// associated, when set, is the P-Associated-URI of the 200 for a subscriber (default: its IMPU and tel URI);
	// srHostPort, when set, replaces the core's address in Service-Route (another node, or a host name).
	associated func(subscriber) string
	srHostPort string
	// beforeDereg, when set, runs before the 200 to a de-REGISTER is sent.
	beforeDereg func()
	// pad, when positive, adds a header field of this many bytes to each INVITE routed to a callee.
	pad int
}

type binding struct {
	contact sip.Uri
	path    []sip.Uri
}

func startFakeCore(t testing.TB, listen string, subs ...subscriber) *fakeCore {
	t.Helper()
	return startFakeCoreWith(t, listen, nil, subs...)
}

// startFakeCoreWith is startFakeCore with its proxy configuration edited by mutate (nil: none).
func startFakeCoreWith(t testing.TB, listen string, mutate func(*proxy.Config), subs ...subscriber) *fakeCore {
	t.Helper()
	f := &fakeCore{t: t, subs: make(map[string]subscriber), vectors: make(map[string]aka.Vector), bindings: make(map[string]binding), seq: 1}
	for _, s := range subs {
		f.subs[s.impi] = s
	}
	pcfg := proxy.Config{Listen: []proxy.Listen{{Addr: listen}}, Router: f, TimerF: 3 * time.Second}
	if mutate != nil {
		mutate(&pcfg)
	}
	p, err := proxy.New(pcfg, testLogger(t).Named("core"))
	if err != nil {
		t.Fatalf("fake core: %v", err)
	}
	f.p = p
	f.addr = p.Listeners()[0].Addr
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(context.Background()) }()
	t.Cleanup(func() { _ = p.Close(); <-done })
	return f
}

func (f *fakeCore) requests(method sip.RequestMethod) []*sip.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*sip.Request
	for _, r := range f.got {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeCore) Route(_ context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	f.mu.Lock()
	f.got = append(f.got, req.Clone())
	f.mu.Unlock()
	if req.Method == sip.REGISTER {
		return f.register(req)
	}
	if req.Method == sip.SUBSCRIBE && strings.HasPrefix(lastValue(req, header.Event), "reg") {
		return proxy.Respond(200, "OK", sip.NewHeader(header.Expires, lastValue(req, header.Expires))), nil
	}
	if src.ConsumedRoute != nil && src.ConsumedRoute.User == "orig" {
		f.mu.Lock()
		b, ok := f.bindings[identity.URIKey(&req.Recipient)]
		f.mu.Unlock()
		if !ok {
			return proxy.Respond(404, "Not Found"), nil
		}
		d := proxy.Decision{RecordRoute: true, Targets: []proxy.Target{{URI: &b.contact, Route: b.path}}}
		f.mu.Lock()
		if f.pad > 0 && req.Method == sip.INVITE {
			d.AddHeaders = []sip.Header{sip.NewHeader("X-Pad", strings.Repeat("p", f.pad))}
		}
		f.mu.Unlock()
		return d, nil
	}
	return proxy.Forward(), nil
}

func (f *fakeCore) register(req *sip.Request) (proxy.Decision, error) {
	vals := header.Values(req, header.Authorization)
	if len(vals) == 0 {
		return proxy.Respond(403, "Forbidden"), nil
	}
	cred, err := digest.ParseCredentials(vals[0])
	if err != nil {
		return proxy.Respond(400, "Bad Authorization"), nil
	}
	sub, ok := f.subs[cred.Username]
	if !ok {
		return proxy.Respond(403, "Forbidden"), nil
	}
	f.mu.Lock()
	v, known := f.vectors[cred.Nonce]
	f.mu.Unlock()
	if cred.Response == "" || !known || cred.AUTS != "" {
		if cred.AUTS != "" && known {
			auts, _ := digest.ParseAUTS(cred.AUTS)
			sqn, err := aka.Resync(sub.keys, v.RAND, auts)
			if err != nil {
				return proxy.Respond(403, "Forbidden"), nil
			}
			f.mu.Lock()
			f.seq = uint64(sqn)>>5 + 1
			f.mu.Unlock()
		}
		return f.challenge(sub)
	}
	pw := digest.AKAv1Password(v.XRES)
	if strings.EqualFold(cred.Algorithm, digest.AlgAKAv2MD5) {
		pw = digest.AKAv2Password(v.XRES, v.IK[:], v.CK[:])
	}
	if !digest.Verify(cred, "REGISTER", pw, nil) {
		return proxy.Respond(403, "Forbidden"), nil
	}
	contact := req.Contact()
	if contact == nil {
		return proxy.Respond(400, "No Contact"), nil
	}
	expires := "600"
	if e, ok := contact.Params.Get("expires"); ok {
		expires = e
	}
	var path []sip.Uri
	paths, _ := header.NameAddrs(req, header.Path)
	for _, p := range paths {
		if u, err := p.ParsedURI(); err == nil {
			path = append(path, u)
		}
	}
	f.mu.Lock()
	hook := f.beforeDereg
	f.mu.Unlock()
	if expires == "0" && hook != nil {
		hook()
	}
	f.mu.Lock()
	if expires == "0" {
		delete(f.bindings, sub.impu)
		delete(f.bindings, sub.tel)
	} else {
		f.bindings[sub.impu] = binding{contact: *contact.Address.Clone(), path: path}
		f.bindings[sub.tel] = f.bindings[sub.impu]
	}
	f.mu.Unlock()
	c := contact.Clone()
	c.Params = sip.NewParams()
	c.Params.Add("expires", expires)
	f.mu.Lock()
	assoc, sr := "<"+sub.impu+">, <"+sub.tel+">", fmt.Sprintf("<sip:orig@%s;lr>", f.addr)
	if f.associated != nil {
		assoc = f.associated(sub)
	}
	if f.srHostPort != "" {
		sr = fmt.Sprintf("<sip:orig@%s;lr>", f.srHostPort)
	}
	f.mu.Unlock()
	hs := []sip.Header{
		c,
		sip.NewHeader(header.ServiceRoute, sr),
		sip.NewHeader(header.PAssociatedURI, assoc),
	}
	for _, p := range header.Values(req, header.Path) {
		hs = append(hs, sip.NewHeader(header.Path, p))
	}
	return proxy.Respond(200, "OK", hs...), nil
}

func (f *fakeCore) challenge(sub subscriber) (proxy.Decision, error) {
	rnd, err := aka.NewRAND()
	if err != nil {
		return proxy.Decision{}, err
	}
	f.mu.Lock()
	seq := f.seq
	if f.stale {
		seq, f.stale = 0, false
	} else {
		f.seq++
	}
	f.mu.Unlock()
	v, err := aka.GenerateVector(sub.keys, aka.SQN(seq<<5), rnd)
	if err != nil {
		return proxy.Decision{}, err
	}
	nonce := digest.AKANonce(v.RAND[:], v.AUTN[:], nil)
	f.mu.Lock()
	f.vectors[nonce] = v
	f.mu.Unlock()
	alg := digest.AlgAKAv1MD5
	f.mu.Lock()
	if f.akav2 {
		alg = digest.AlgAKAv2MD5
	}
	f.mu.Unlock()
	ch := digest.Challenge{Realm: domain, Nonce: nonce, Algorithm: alg, QOP: "auth",
		IK: fmt.Sprintf("%x", v.IK), CK: fmt.Sprintf("%x", v.CK)}
	return proxy.Respond(401, "Unauthorized", sip.NewHeader(header.WWWAuthenticate, ch.String())), nil
}

// fakeSAs records what the P-CSCF asks of the kernel (host without ESP).
type fakeSAs struct {
	mu        sync.Mutex
	installed map[uint32]ipsec.Pair // by P-CSCF spi-s
	updates   int
	removed   int
}

func newFakeSAs() *fakeSAs { return &fakeSAs{installed: make(map[uint32]ipsec.Pair)} }

func (f *fakeSAs) Install(_ context.Context, side ipsec.Side, p ipsec.Pair, _ time.Duration, _ ...ipsec.InstallOption) error {
	if err := p.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.installed[p.PCSCF.SPIS]; dup {
		return ipsec.ErrExists
	}
	f.installed[p.PCSCF.SPIS] = p
	return nil
}

func (f *fakeSAs) Remove(p ipsec.Pair) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.installed[p.PCSCF.SPIS]; !ok {
		return ipsec.ErrNotFound
	}
	delete(f.installed, p.PCSCF.SPIS)
	f.removed++
	return nil
}

func (f *fakeSAs) UpdateLifetime(context.Context, ipsec.Pair, time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.updates++
	return nil
}

func (f *fakeSAs) Flush(ipsec.Filter) (ipsec.Flushed, error) { return ipsec.Flushed{}, nil }

func (f *fakeSAs) Counters(p ipsec.Pair) (map[uint32]ipsec.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.installed[p.PCSCF.SPIS]; !ok {
		return nil, ipsec.ErrNotFound
	}
	return map[uint32]ipsec.Stats{}, nil
}

func (f *fakeSAs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.installed)
}

// freeRange finds count consecutive ports free for UDP and TCP on addr.
func freeRange(t testing.TB, addr string, count int) uint16 {
	t.Helper()
	for try := 0; try < 200; try++ {
		l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(addr)})
		if err != nil {
			t.Fatal(err)
		}
		first := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		if first+count > 65000 {
			continue
		}
		ok := true
		for p := first; p < first+count && ok; p++ {
			u, err1 := net.ListenPacket("udp", net.JoinHostPort(addr, strconv.Itoa(p)))
			c, err2 := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(p)))
			ok = err1 == nil && err2 == nil
			if u != nil {
				u.Close()
			}
			if c != nil {
				c.Close()
			}
		}
		if ok {
			return uint16(first)
		}
	}
	t.Fatal("no free port range")
	return 0
}

// startPCSCF runs a P-CSCF on addr:0 towards core with its protected ports on free ranges.
func startPCSCF(t testing.TB, addr string, core netip.AddrPort, sas SAManager, mutate ...func(*Config)) *Node {
	t.Helper()
	// The free port ranges are found before New binds them; a test of another package running
	// at the same time may take one in between, so a bind failure picks new ranges.
	var n *Node
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		cfg := DefaultConfig()
		cfg.Listen = []string{net.JoinHostPort(addr, "0")}
		cfg.ICSCF = core.String()
		cfg.HTTP = ""
		cfg.StateFile = ""
		cfg.DeregDelay = 50 * time.Millisecond
		cfg.ClientPorts = PortRange{First: freeRange(t, addr, 4), Count: 4}
		cfg.ServerPorts = PortRange{First: freeRange(t, addr, 4), Count: 4}
		for cfg.ClientPorts.First == cfg.ServerPorts.First || overlap(cfg.ClientPorts, cfg.ServerPorts) {
			cfg.ServerPorts.First = freeRange(t, addr, 4)
		}
		if sas != nil {
			cfg.SAs = sas
		} else {
			cfg.IPsec = IPsecOff
		}
		for _, m := range mutate {
			m(&cfg)
		}
		if n, err = New(cfg, testLogger(t).Named("pcscf")); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("pcscf New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("pcscf Run: %v", err)
			}
		case <-time.After(waitLong):
			t.Error("pcscf Run did not return")
		}
	})
	<-n.Ready()
	return n
}

// newUE builds a UE simulator for sub through the P-CSCF.
func newUE(t testing.TB, sub subscriber, pcscf netip.AddrPort, transport string, secAgree bool, mutate ...func(*ue.Config)) *ue.UE {
	t.Helper()
	cfg := ue.Config{IMPI: sub.impi, IMPU: sub.impu, PCSCF: pcscf, Transport: transport, Keys: sub.keys, SecAgree: secAgree,
		Timeout: 5 * time.Second, Local: pcscf.Addr()}
	for _, m := range mutate {
		m(&cfg)
	}
	u, err := ue.New(cfg, testLogger(t).Named("ue"))
	if err != nil {
		t.Fatalf("ue.New: %v", err)
	}
	t.Cleanup(u.Close)
	return u
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

func lastValue(r sip.Message, name string) string {
	v := header.Values(r, name)
	if len(v) == 0 {
		return ""
	}
	return strings.Join(v, ", ")
}

// twoUEs is a fake core, a P-CSCF with fake SAs and alice and bob registered through it over UDP with sec-agree.
type twoUEs struct {
	core       *fakeCore
	n          *Node
	alice, bob subscriber
	ua, ub     *ue.UE
}

func startTwoUEs(t *testing.T, sas *fakeSAs) twoUEs {
	t.Helper()
	w := twoUEs{alice: newSubscriber(t, 1), bob: newSubscriber(t, 2)}
	w.core = startFakeCore(t, "127.0.0.1:0", w.alice, w.bob)
	w.n = startPCSCF(t, "127.0.0.1", w.core.addr, sas)
	w.ua = newUE(t, w.alice, w.n.CoreAddr(), "udp", true)
	w.ub = newUE(t, w.bob, w.n.CoreAddr(), "udp", true)
	for _, u := range []*ue.UE{w.ua, w.ub} {
		if _, err := u.Register(ctxT(t)); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	return w
}
