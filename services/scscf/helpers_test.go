package scscf

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/digest"
)

// waitLong bounds every wait: a guard against hangs, never an assertion about speed.
const waitLong = 10 * time.Second

const (
	testDomain  = "ims.mnc001.mcc001.3gppnetwork.org"
	testHSSHost = "hss.test." + testDomain
	testSCSCF   = "scscf.test." + testDomain
)

// TS 35.208 test set 1 keys.
var (
	testK  = mustHex("465b5ce8b199b49faa5f0a2ee238a6bc")
	testOP = mustHex("cdc202d5123e20f62b6d676ac72cb318")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// testLogger collects logs and prints them when the test fails.
func testLogger(t testing.TB) *zap.Logger {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	ws := zapcore.AddSync(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}))
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), ws, zapcore.DebugLevel)
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

// subscriber is one user of the fake HSS.
type subscriber struct {
	impi     string
	impus    []string // first is barred (the IMSI one), as docs/design.md §2
	keys     aka.Keys
	sqn      aka.SQN
	userData []byte
	// scheme is the SIP-Authentication-Scheme the HSS answers with (default AKAv1); password is for SIP Digest.
	scheme   string
	password string
	// noZeroRES makes the HSS draw RAND again until XRES has no zero byte (for SIPp 3.6.1).
	noZeroRES bool
}

// fakeHSS is a Cx server good enough for the S-CSCF: vectors from Milenage with SQN handling and
// resync, SAR with User-Data, RTR on demand. (The real HSS is tested by its own package.)
type fakeHSS struct {
	t    *testing.T
	node *peer.Node
	dict *dict.Parser
	addr string

	mu   sync.Mutex
	subs map[string]*subscriber
	sars []cx.ServerAssignmentType

	// olr, when set, goes into every MAA and SAA with an OC-Supported-Features (RFC 7683); mars counts the
	// MARs received and marOC those that carried OC-Supported-Features.
	olr   *cx.OCOLR
	mars  int
	marOC int

	holdMu sync.Mutex
	hold   map[cx.Command]chan struct{} // requests of these commands wait for the channel to close
	held   map[cx.Command]int           // requests waiting in hold now
}

// waitHeld waits until n requests of cmd are held.
func (h *fakeHSS) waitHeld(t *testing.T, cmd cx.Command, n int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		h.holdMu.Lock()
		got := h.held[cmd]
		h.holdMu.Unlock()
		if got >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d %v requests held", n, cmd)
}

// holdCommand makes the HSS sit on every cmd request (its answer is sent late, or never) until release.
func (h *fakeHSS) holdCommand(cmd cx.Command) (release func()) {
	ch := make(chan struct{})
	h.holdMu.Lock()
	if h.hold == nil {
		h.hold = map[cx.Command]chan struct{}{}
	}
	h.hold[cmd] = ch
	h.holdMu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// wait blocks a held command until its release or the end of the connection.
func (h *fakeHSS) wait(ctx context.Context, cmd cx.Command) error {
	h.holdMu.Lock()
	ch := h.hold[cmd]
	if ch != nil {
		if h.held == nil {
			h.held = map[cx.Command]int{}
		}
		h.held[cmd]++
	}
	h.holdMu.Unlock()
	if ch == nil {
		return nil
	}
	defer func() {
		h.holdMu.Lock()
		h.held[cmd]--
		h.holdMu.Unlock()
	}()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func startFakeHSS(t *testing.T) *fakeHSS {
	t.Helper()
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHSS{t: t, dict: d, subs: map[string]*subscriber{}}
	h.node, err = peer.New(peer.Config{
		OriginHost: testHSSHost, OriginRealm: testDomain, VendorID: cx.Vendor3GPP, ProductName: "fake-hss",
		Peers: []peer.AllowedPeer{
			{Host: testSCSCF, Realm: testDomain, Sources: []string{"127.0.0.1"}},
			{Host: "scscf2.test." + testDomain, Realm: testDomain, Sources: []string{"127.0.0.1"}},
		},
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 2 * time.Second,
	}, peer.HandlerFunc(h.serve))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.node.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), waitLong)
		defer ccancel()
		_ = h.node.Close(cctx)
		<-done
	})
	return h
}

// addSubscriber provisions imsi with the implicit set {sip:IMSI (barred), sip:MSISDN, tel:MSISDN} and ifcs.
func (h *fakeHSS) addSubscriber(t *testing.T, imsi, msisdn string, ifcs ...userdata.InitialFilterCriteria) *subscriber {
	t.Helper()
	keys, err := aka.NewKeys(testK, testOP, nil, [2]byte{0x80, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	s := &subscriber{
		impi:  imsi + "@" + testDomain,
		impus: []string{"sip:" + imsi + "@" + testDomain, "sip:" + msisdn + "@" + testDomain, "tel:" + msisdn},
		keys:  keys,
	}
	sub := &userdata.IMSSubscription{PrivateID: s.impi, ServiceProfiles: []userdata.ServiceProfile{{
		PublicIdentities: []userdata.PublicIdentity{
			{Identity: s.impus[0], BarringIndication: userdata.NewBool(true)},
			{Identity: s.impus[1]},
			{Identity: s.impus[2]},
		},
		InitialFilterCriteria: ifcs,
	}}}
	s.userData, err = userdata.Marshal(sub)
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.subs[s.impi] = s
	h.mu.Unlock()
	return s
}

func (h *fakeHSS) sarTypes() []cx.ServerAssignmentType {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]cx.ServerAssignmentType(nil), h.sars...)
}

// waitSAR waits until a SAR of type sat has arrived.
func (h *fakeHSS) waitSAR(t *testing.T, sat cx.ServerAssignmentType) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		for _, s := range h.sarTypes() {
			if s == sat {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no SAR %v; got %v", sat, h.sarTypes())
}

func (h *fakeHSS) findByIMPU(impu string) *subscriber {
	for _, s := range h.subs {
		for _, u := range s.impus {
			if u == impu {
				return s
			}
		}
	}
	return nil
}

func (h *fakeHSS) serve(ctx context.Context, req *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
	if err := h.wait(ctx, cx.Command(req.Header.CommandCode)); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch cx.Command(req.Header.CommandCode) {
	case cx.CmdMultimediaAuth:
		mar, err := cx.ParseMAR(req)
		if err != nil {
			return nil, err
		}
		maa := cx.NewMAA(mar)
		maa.OriginHost, maa.OriginRealm = testHSSHost, testDomain
		h.mars++
		if mar.OCSupportedFeatures != nil {
			h.marOC++
		}
		if h.olr != nil {
			v := uint64(1)
			maa.OCSupportedFeatures, maa.OCOLR = &cx.OCSupportedFeatures{FeatureVector: &v}, h.olr
		}
		s := h.subs[mar.UserName]
		if s == nil {
			maa.SetExperimentalResult(cx.Vendor3GPP, cx.ErrorUserUnknown)
			return maa.Marshal(h.dict)
		}
		cfg := aka.DefaultSQNConfig()
		if a := mar.SIPAuthDataItem.Authorization; len(a) == 16+14 {
			var r [16]byte
			copy(r[:], a[:16])
			sqnMS, err := aka.Resync(s.keys, r, a[16:])
			if err != nil {
				maa.SetResultCode(diameter.AuthenticationRejected)
				return maa.Marshal(h.dict)
			}
			if s.sqn, err = aka.SQNAfterResync(s.sqn, sqnMS, cfg); err != nil {
				return nil, err
			}
		}
		next, err := aka.NextSQN(s.sqn, cfg)
		if err != nil {
			return nil, err
		}
		s.sqn = next
		var v aka.Vector
		for {
			r, err := aka.NewRAND()
			if err != nil {
				return nil, err
			}
			if v, err = aka.GenerateVector(s.keys, next, r); err != nil {
				return nil, err
			}
			if !s.noZeroRES || !bytes.Contains(v.XRES, []byte{0}) {
				break
			}
		}
		maa.SetResultCode(diameter.Success)
		maa.UserName, maa.PublicIdentity = mar.UserName, mar.PublicIdentity
		one := uint32(1)
		maa.SIPNumberAuthItems = &one
		switch s.scheme {
		case cx.SchemeSIPDigest:
			maa.SIPAuthDataItems = []cx.SIPAuthDataItem{{Scheme: cx.SchemeSIPDigest,
				DigestAuthenticate: &cx.SIPDigestAuthenticate{Realm: testDomain, Algorithm: "MD5", QoP: "auth",
					HA1: digest.HA1(s.impi, testDomain, []byte(s.password))}}}
			return maa.Marshal(h.dict)
		case SchemeAKAv2MD5:
			maa.SIPAuthDataItems = []cx.SIPAuthDataItem{{
				Scheme: SchemeAKAv2MD5, Authenticate: append(v.RAND[:], v.AUTN[:]...), Authorization: v.XRES,
				ConfidentialityKey: v.CK[:], IntegrityKey: v.IK[:],
			}}
			return maa.Marshal(h.dict)
		}
		maa.SIPAuthDataItems = []cx.SIPAuthDataItem{{
			Scheme: cx.SchemeAKAv1MD5, Authenticate: append(v.RAND[:], v.AUTN[:]...), Authorization: v.XRES,
			ConfidentialityKey: v.CK[:], IntegrityKey: v.IK[:],
		}}
		return maa.Marshal(h.dict)
	case cx.CmdServerAssignment:
		sar, err := cx.ParseSAR(req)
		if err != nil {
			return nil, err
		}
		h.sars = append(h.sars, sar.ServerAssignmentType)
		saa := cx.NewSAA(sar)
		saa.OriginHost, saa.OriginRealm = testHSSHost, testDomain
		if h.olr != nil {
			v := uint64(1)
			saa.OCSupportedFeatures, saa.OCOLR = &cx.OCSupportedFeatures{FeatureVector: &v}, h.olr
		}
		s := h.subs[sar.UserName]
		if s == nil && len(sar.PublicIdentity) > 0 {
			s = h.findByIMPU(sar.PublicIdentity[0])
		}
		if s == nil {
			saa.SetExperimentalResult(cx.Vendor3GPP, cx.ErrorUserUnknown)
			return saa.Marshal(h.dict)
		}
		saa.SetResultCode(diameter.Success)
		switch sar.ServerAssignmentType {
		case cx.SATRegistration, cx.SATReRegistration, cx.SATUnregisteredUser:
			saa.UserName = s.impi
			saa.UserData = s.userData
			saa.ChargingInformation = &cx.ChargingInformation{
				PrimaryChargingCollectionFunctionName: "aaa://ccf1.ims.mnc001.mcc001.3gppnetwork.org",
				PrimaryEventChargingFunctionName:      "aaa://ecf1.ims.mnc001.mcc001.3gppnetwork.org",
			}
		}
		return saa.Marshal(h.dict)
	}
	return nil, diameter.Errorf(diameter.CommandUnsupported, "command %d", req.Header.CommandCode)
}

// deregister sends an RTR to the S-CSCF (network-initiated de-registration, TS 29.228 §6.1.3).
func (h *fakeHSS) deregister(t *testing.T, impi string, impus []string, reason cx.ReasonCode) *cx.RTA {
	t.Helper()
	rtr := &cx.RTR{
		SessionID: fmt.Sprintf("%s;1;%d", testHSSHost, time.Now().UnixNano()), OriginHost: testHSSHost,
		OriginRealm: testDomain, DestinationHost: testSCSCF, DestinationRealm: testDomain, UserName: impi,
		PublicIdentity: impus, DeregistrationReason: cx.DeregistrationReason{Code: reason, Info: "test"},
	}
	msg, err := rtr.Marshal(h.dict)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	ans, err := h.node.Request(ctx, msg)
	if err != nil {
		t.Fatalf("RTR: %v", err)
	}
	rta, err := cx.ParseRTA(ans)
	if err != nil {
		t.Fatal(err)
	}
	return rta
}

// startSCSCF runs an S-CSCF against h with short timers; reg nil means an in-memory registrar. It stops
// at cleanup.
func startSCSCF(t *testing.T, h *fakeHSS, reg registrar.Registrar, mutate ...func(*Config)) *Server {
	t.Helper()
	s, stop := runSCSCF(t, h, reg, mutate...)
	t.Cleanup(stop)
	return s
}

// runSCSCF is startSCSCF with an explicit stop (safe to call twice).
func runSCSCF(t *testing.T, h *fakeHSS, reg registrar.Registrar, mutate ...func(*Config)) (*Server, func()) {
	t.Helper()
	s, stop := runSCSCFWith(t, h, reg, mutate...)
	wctx, wcancel := context.WithTimeout(context.Background(), waitLong)
	defer wcancel()
	if _, err := h.node.WaitPeer(wctx, testSCSCF); err != nil {
		t.Fatalf("S-CSCF did not connect to the HSS: %v", err)
	}
	return s, stop
}

// runSCSCFWith starts an S-CSCF dialling h.addr and waits until its side of the Cx connection is open.
func runSCSCFWith(t *testing.T, h *fakeHSS, reg registrar.Registrar, mutate ...func(*Config)) (*Server, func()) {
	t.Helper()
	if reg == nil {
		reg = registrar.NewMemory()
	}
	cfg := DefaultConfig()
	cfg.SIP.Listen = "127.0.0.1:0"
	cfg.Diameter.OriginHost = testSCSCF
	cfg.Diameter.HSS = h.addr
	cfg.Diameter.HSSHost = testHSSHost
	cfg.Diameter.Listen = ""
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.DB = "memory"
	cfg.ICSCF = ICSCFNone
	cfg.ExpiryInterval = 100 * time.Millisecond
	cfg.SIPTimerF = 2 * time.Second
	cfg.SIPTimerC = 5 * time.Second
	cfg.Resolver = noDNS()
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg, reg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(waitLong):
				t.Errorf("Run did not return")
			}
		})
	}
	wctx, wcancel := context.WithTimeout(context.Background(), waitLong)
	defer wcancel()
	// The HSS may send RTR only once we have taken its CEA.
	if _, err := s.node.WaitPeer(wctx, s.cfg.Diameter.HSSHost); err != nil {
		t.Fatalf("S-CSCF peer not open: %v", err)
	}
	return s, stop
}

// testUE is a UE on a raw UDP socket: it writes what the test builds and parses what arrives.
type testUE struct {
	t      *testing.T
	conn   *net.UDPConn
	addr   netip.AddrPort
	scscf  netip.AddrPort
	sub    *subscriber
	impu   string // the identity registered: sip:MSISDN@domain
	usim   *aka.USIM
	callID string
	cseq   uint32
	tag    string
	reqs   chan *sip.Request
	ress   chan *sip.Response
	// subContact is the Contact of the last 200 to a SUBSCRIBE.
	subContact string
	// IntegrityProtected is sent in Authorization, as a P-CSCF would set it.
	integrity string
	// instance is the +sip.instance of the UE's Contact (RFC 5626 §4.1), regID its reg-id ("" for none).
	instance string
	regID    string
}

func newUE(t *testing.T, s *Server, sub *subscriber) *testUE {
	t.Helper()
	return newUEAt(t, s, sub, "127.0.0.1")
}

// newUEAt is newUE bound to ip: another loopback address (127.0.0.2 ...) plays a peer outside a trust
// domain of 127.0.0.1/32 (Linux answers the whole of 127.0.0.0/8 without setup).
func newUEAt(t *testing.T, s *Server, sub *subscriber, ip string) *testUE {
	t.Helper()
	return newUEFor(t, s.SIPAddr(), sub, ip)
}

// newUEFor is newUEAt towards an S-CSCF at scscf (one this test runs as a process, say).
func newUEFor(t *testing.T, scscf netip.AddrPort, sub *subscriber, ip string) *testUE {
	t.Helper()
	usim, err := aka.NewUSIM(sub.keys, aka.DefaultUSIMConfig())
	if err != nil {
		t.Fatal(err)
	}
	conn, addr := listenUDP(t, ip)
	ue := &testUE{t: t, conn: conn, addr: addr, scscf: scscf, sub: sub,
		impu: sub.impus[1], usim: usim, callID: randHex(8) + "@ue", tag: randHex(4), integrity: digest.IntegrityNo,
		instance: testInstance,
		reqs:     make(chan *sip.Request, 32), ress: make(chan *sip.Response, 32)}
	serveUDP(t, conn, "UE", func(msg sip.Message, _ netip.AddrPort) {
		switch m := msg.(type) {
		case *sip.Request:
			ue.reqs <- m
		case *sip.Response:
			ue.ress <- m
		}
	})
	return ue
}

// listenUDP binds a UDP socket on ip, the port chosen by the kernel.
func listenUDP(t *testing.T, ip string) (*net.UDPConn, netip.AddrPort) {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// serveUDP hands every SIP message c receives, with its source, to handle, on a goroutine that ends when c is
// closed at cleanup. A datagram that does not parse fails the test: name says whose socket it is.
func serveUDP(t *testing.T, c *net.UDPConn, name string, handle func(msg sip.Message, src netip.AddrPort)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		parser := sip.NewParser()
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg, err := parser.ParseSIP(buf[:n])
			if err != nil {
				t.Errorf("%s: unparseable message: %v\n%s", name, err, buf[:n])
				continue
			}
			handle(msg, src)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (u *testUE) send(msg string) {
	u.t.Helper()
	msg = strings.ReplaceAll(strings.TrimLeft(msg, "\n"), "\n", "\r\n")
	if _, err := u.conn.WriteToUDPAddrPort([]byte(msg), u.scscf); err != nil {
		u.t.Fatal(err)
	}
}

func (u *testUE) response() *sip.Response {
	u.t.Helper()
	for {
		select {
		case r := <-u.ress:
			if r.StatusCode == 100 {
				continue
			}
			return r
		case <-time.After(waitLong):
			u.t.Fatal("no response")
			return nil
		}
	}
}

func (u *testUE) request(method sip.RequestMethod) *sip.Request {
	u.t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case r := <-u.reqs:
			if r.Method == method {
				return r
			}
			u.answer(r, 200, "")
		case <-deadline:
			u.t.Fatalf("no %s", method)
			return nil
		}
	}
}

// answer replies to a request the UE received.
func (u *testUE) answer(req *sip.Request, code int, extra string) {
	u.t.Helper()
	res := sip.NewResponseFromRequest(req, code, "Whatever", nil)
	if to := res.To(); to != nil && !to.Params.Has("tag") {
		to.Params.Add("tag", u.tag)
	}
	if extra != "" {
		for _, line := range strings.Split(extra, "\n") {
			name, value, _ := strings.Cut(line, ": ")
			res.AppendHeader(sip.NewHeader(name, value))
		}
	}
	dst := u.scscf
	if v := req.Via(); v != nil {
		host := v.Host
		port := v.Port
		if r, ok := v.Params.Get("received"); ok {
			host = r
		}
		if rp, ok := v.Params.Get("rport"); ok && rp != "" {
			fmt.Sscan(rp, &port)
		}
		if ap, err := netip.ParseAddrPort(fmt.Sprintf("%s:%d", host, port)); err == nil {
			dst = ap
		}
	}
	if _, err := u.conn.WriteToUDPAddrPort([]byte(res.String()), dst); err != nil {
		u.t.Fatal(err)
	}
}

// register sends one REGISTER; auth is the Authorization value.
func (u *testUE) register(expires int, auth string, extra ...string) *sip.Response {
	u.t.Helper()
	u.sendRegister(expires, auth, extra...)
	return u.response()
}

// sendRegister sends the REGISTER of register without waiting for its response.
func (u *testUE) sendRegister(expires int, auth string, extra ...string) {
	u.t.Helper()
	contact := fmt.Sprintf(`<sip:ue@%s>;expires=%d;+sip.instance="<%s>"`, u.addr, expires, u.instance)
	if u.regID != "" {
		contact += ";reg-id=" + u.regID
	}
	u.sendRegisterContact(contact, auth, extra...)
}

// testInstance is the instance-id of a testUE's Contact unless the test sets another: UEs of one subscriber
// sharing it are one device re-registering from another address.
const testInstance = "urn:gsma:imei:35209900-176148-0"

// registerContact sends one REGISTER with the given Contact value.
func (u *testUE) registerContact(contact, auth string, extra ...string) *sip.Response {
	u.t.Helper()
	u.sendRegisterContact(contact, auth, extra...)
	return u.response()
}

// sendRegisterContact sends the REGISTER of registerContact without waiting for its response.
func (u *testUE) sendRegisterContact(contact, auth string, extra ...string) {
	u.t.Helper()
	u.cseq++
	hs := ""
	for _, e := range extra {
		hs += e + "\n"
	}
	u.send(fmt.Sprintf(`
REGISTER sip:%[1]s SIP/2.0
Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK%[3]s;rport
Max-Forwards: 70
From: <%[4]s>;tag=%[5]s
To: <%[4]s>
Call-ID: %[6]s
CSeq: %[7]d REGISTER
Contact: %[8]s
Path: <sip:term@%[2]s;lr>
Supported: path
Authorization: %[9]s
%[10]sContent-Length: 0

`, testDomain, u.addr, randHex(8), u.impu, u.tag, u.callID, u.cseq, contact, auth, hs))
}

func (u *testUE) emptyAuth() string {
	return fmt.Sprintf(`Digest username="%s",realm="%s",nonce="",uri="sip:%s",response="",integrity-protected="%s"`,
		u.sub.impi, testDomain, testDomain, u.integrity)
}

// authFor answers a 401: RES from the USIM (or AUTS on a sync failure; a wrong RES when corrupt).
func (u *testUE) authFor(res *sip.Response, corrupt bool) string {
	u.t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		u.t.Fatalf("401 without WWW-Authenticate:\n%s", res)
	}
	ch, err := digest.ParseChallenge(h.Value())
	if err != nil {
		u.t.Fatal(err)
	}
	if ch.Algorithm == digest.AlgMD5 {
		cred := digest.Credentials{Username: u.sub.impi, Realm: ch.Realm, Nonce: ch.Nonce, URI: "sip:" + testDomain,
			Algorithm: ch.Algorithm, CNonce: randHex(8), NC: "00000001", QOP: digest.QOPAuth, IntegrityProtected: u.integrity}
		password := []byte(u.sub.password)
		if corrupt {
			password = append(password, 'x')
		}
		if cred.Response, err = digest.Response(cred, "REGISTER", password, nil); err != nil {
			u.t.Fatal(err)
		}
		return cred.String()
	}
	rnd, autn, _, err := digest.ParseAKANonce(ch.Nonce)
	if err != nil {
		u.t.Fatal(err)
	}
	var r16, a16 [16]byte
	copy(r16[:], rnd)
	copy(a16[:], autn)
	cred := digest.Credentials{Username: u.sub.impi, Realm: ch.Realm, Nonce: ch.Nonce, URI: "sip:" + testDomain,
		Algorithm: ch.Algorithm, CNonce: randHex(8), NC: "00000001", QOP: digest.QOPAuth,
		IntegrityProtected: u.integrity}
	result, err := u.usim.Authenticate(r16, a16)
	var sf *aka.SyncFailure
	var password []byte
	switch {
	case errors.As(err, &sf):
		cred.AUTS = digest.EncodeAUTS(sf.AUTS)
	case err != nil:
		u.t.Fatalf("USIM: %v", err)
	default:
		password = digest.AKAv1Password(result.RES)
		if ch.Algorithm == digest.AlgAKAv2MD5 {
			password = digest.AKAv2Password(result.RES, result.IK[:], result.CK[:])
		}
		if corrupt {
			password[0] ^= 0xff
		}
	}
	cred.Response, err = digest.Response(cred, "REGISTER", password, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	return cred.String()
}

// registerFully runs REGISTER → 401 → REGISTER → 200.
func (u *testUE) registerFully(expires int) *sip.Response {
	u.t.Helper()
	res := u.register(expires, u.emptyAuth())
	if res.StatusCode != 401 {
		u.t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
	}
	u.integrity = digest.IntegrityYes
	res = u.register(expires, u.authFor(res, false))
	if res.StatusCode != 200 {
		u.t.Fatalf("second REGISTER: %d, want 200\n%s", res.StatusCode, res)
	}
	return res
}

// subscribe sends a reg event SUBSCRIBE for the UE's own registration and returns the 200.
func (u *testUE) subscribe(expires int) *sip.Response {
	u.t.Helper()
	u.cseq++
	u.send(fmt.Sprintf(`
SUBSCRIBE %[4]s SIP/2.0
Via: SIP/2.0/UDP %[2]s;branch=z9hG4bK%[3]s;rport
Max-Forwards: 70
From: <%[4]s>;tag=%[5]s
To: <%[4]s>
Call-ID: sub-%[6]s
CSeq: %[7]d SUBSCRIBE
Contact: <sip:ue@%[2]s>
Event: reg
Accept: application/reginfo+xml
Expires: %[8]d
P-Asserted-Identity: <%[4]s>
Content-Length: 0

`, testDomain, u.addr, randHex(8), u.impu, u.tag, u.callID, u.cseq, expires))
	return u.response()
}

// notify waits for a reg event NOTIFY, answers it 200 and returns it with its document.
func (u *testUE) notify() (*sip.Request, *Reginfo) {
	u.t.Helper()
	req := u.request(sip.NOTIFY)
	u.answer(req, 200, "")
	doc, err := ParseReginfo(req.Body())
	if err != nil {
		u.t.Fatalf("NOTIFY body: %v\n%s", err, req.Body())
	}
	return req, doc
}

// notifyTerminated waits for the NOTIFY that ends the subscription, answering the others.
func (u *testUE) notifyTerminated() (*sip.Request, *Reginfo) {
	u.t.Helper()
	for {
		req, doc := u.notify()
		if st := req.GetHeader("Subscription-State"); st != nil && strings.HasPrefix(st.Value(), "terminated") {
			return req, doc
		}
	}
}

// noDNS is a resolver that never sends a query: tests only talk to loopback.
func noDNS() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("DNS disabled in tests")
	}}
}
