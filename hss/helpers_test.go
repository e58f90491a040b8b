package hss_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/storage"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

// cluster is one throwaway PostgreSQL server for the whole test binary, a fresh database per test.
var cluster = pgtest.NewShared()

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

// Identities of the tests: test PLMN 001/01 (docs/design.md §2).
const (
	realm      = hss.DefaultDomain
	hssHost    = hss.DefaultOriginHost
	icscfHost  = "icscf." + realm
	scscfHost  = "scscf." + realm
	scscf2Host = "scscf2." + realm
	scscfName  = hss.DefaultSCSCFName
	scscf2Name = "sip:scscf2." + realm + ":6060"
)

// backend opens a fresh, migrated store.
type backend struct {
	name string
	open func(t testing.TB) storage.DB
}

func backends() []backend {
	return []backend{{"sqlite", openSQLite}, {"postgres", openPostgres}}
}

func openSQLite(t testing.TB) storage.DB {
	return openDSN(t, "sqlite://"+filepath.Join(t.TempDir(), "hss.db"))
}

func openPostgres(t testing.TB) storage.DB { return openDSN(t, cluster.DSN(t)) }

func openDSN(t testing.TB, dsn string) storage.DB {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenAndMigrate(ctx, dsn, zap.NewNop())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachStore runs f as a subtest on each backend.
func forEachStore(t *testing.T, f func(t *testing.T, db storage.DB)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { f(t, b.open(t)) })
	}
}

func testLogger(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok {
		return zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

// testConfig is DefaultConfig with ports picked by the kernel and short timers.
func testConfig() hss.Config {
	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Diameter.RequestTimeout = 2 * time.Second
	// The default I-CSCF and S-CSCF, and the second S-CSCF of the tests that move a user.
	cfg.Diameter.Peers = append(cfg.Diameter.Peers, peer.AllowedPeer{Host: scscf2Host, Realm: realm,
		Sources: []string{"127.0.0.1"}, Roles: []string{hss.RoleSCSCF}})
	return cfg
}

// env is a running HSS on a store with the default profile and S-CSCFs, and an I-CSCF connected to it.
type env struct {
	t     testing.TB
	db    storage.DB
	srv   *hss.Server
	addr  string
	cfg   hss.Config
	icscf *client
	imsi  atomic.Int64
	reg   *prometheus.Registry // the HSS's metrics
}

// newEnv starts an HSS on db; mutate, if given, changes the configuration first.
func newEnv(t testing.TB, db storage.DB, mutate func(*hss.Config)) *env {
	t.Helper()
	return newEnvLog(t, db, mutate, testLogger(t))
}

// newEnvLog is newEnv with the HSS logging to log.
func newEnvLog(t testing.TB, db storage.DB, mutate func(*hss.Config), log *zap.Logger) *env {
	t.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	ctx := context.Background()
	must(t, db.CreateServiceProfile(ctx, hsstest.Profile(hsstest.DefaultProfileID)))
	for _, s := range cfg.SCSCFs {
		must(t, db.PutSCSCF(ctx, hss.SCSCF{Name: s.Name, Capabilities: hss.Capabilities{Mandatory: s.Mandatory, Optional: s.Optional}}))
	}
	return startEnv(t, db, cfg, log)
}

// replica starts another HSS Server on e's store with e's configuration (nothing is seeded again): a
// second replica, or the HSS after a crash (it starts with no SQN reserved in memory).
func (e *env) replica() *env {
	e.t.Helper()
	return startEnv(e.t, e.db, e.cfg, testLogger(e.t))
}

// startEnv starts an HSS Server with cfg on db, already seeded, and connects an I-CSCF to it.
func startEnv(t testing.TB, db storage.DB, cfg hss.Config, log *zap.Logger) *env {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics, err := hss.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hss.NewServer(hss.ServerOptions{Config: cfg, Store: db, Log: log, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Diameter.Listen)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("hss close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("hss serve: %v", err)
		}
	})
	e := &env{t: t, db: db, srv: srv, addr: ln.Addr().String(), cfg: cfg, reg: reg}
	e.icscf = e.connect(icscfHost)
	return e
}

// subscriber provisions a conventional subscriber (hsstest.Subscriber) with a fresh IMSI, changed by mutate.
func (e *env) subscriber(mutate func(*hss.Subscriber)) hss.Subscriber {
	e.t.Helper()
	n := e.imsi.Add(1)
	sub := hsstest.Subscriber(fmt.Sprintf("00101%010d", n), fmt.Sprintf("1555%08d", n))
	if mutate != nil {
		mutate(&sub)
	}
	must(e.t, e.db.CreateSubscriber(context.Background(), sub))
	return sub
}

// ids returns the IMPI, the barred IMSI IMPU, the SIP MSISDN IMPU and the tel IMPU of sub.
func ids(sub hss.Subscriber) (impi, barred, sip, tel string) {
	return sub.Private.IMPI, sub.Public[0].IMPU, sub.Public[1].IMPU, sub.Public[2].IMPU
}

// client is a CSCF: a diameter/peer node connected to the HSS. As an S-CSCF it answers RTR and PPR with
// rtaResult / ppaResult and hands what it received to the channels.
type client struct {
	t    testing.TB
	node *peer.Node
	host string
	d    *dict.Parser
	sess atomic.Int64

	mu        sync.Mutex
	rtaResult diameter.ResultCode // 0: DIAMETER_SUCCESS
	rtaVendor uint32
	rtaKeep   []cx.IdentityWithEmergencyRegistration
	ppaResult diameter.ResultCode
	ppaVendor uint32
	silent    *gate // not nil: RTR and PPR are received but not answered until it opens
	rtr       chan *cx.RTR
	ppr       chan *cx.PPR
}

// connect opens a Cx connection from a new client with Origin-Host host.
func (e *env) connect(host string) *client {
	e.t.Helper()
	return connectTo(e.t, e.addr, host)
}

func connectTo(t testing.TB, addr, host string) *client {
	t.Helper()
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, host: host, d: d, rtr: make(chan *cx.RTR, 16), ppr: make(chan *cx.PPR, 16)}
	node, err := peer.New(peer.Config{
		OriginHost:     host,
		OriginRealm:    realm,
		VendorID:       cx.Vendor3GPP,
		ProductName:    "imscore-test-cscf",
		Applications:   []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}},
		Dictionary:     d,
		RequestTimeout: 5 * time.Second,
		ReconnectMin:   20 * time.Millisecond,
		ReconnectMax:   200 * time.Millisecond,
		Log:            zap.NewNop(),
	}, peer.HandlerFunc(c.serve))
	if err != nil {
		t.Fatal(err)
	}
	c.node = node
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := node.Close(ctx); err != nil {
			t.Errorf("client %s close: %v", host, err)
		}
	})
	if err := node.Connect(context.Background(), peer.PeerConfig{Address: addr, Host: hssHost, Realm: realm}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := node.WaitPeer(ctx, hssHost); err != nil {
		t.Fatalf("%s: HSS not reachable: %v", host, err)
	}
	return c
}

// serve is the S-CSCF side of RTR and PPR.
func (c *client) serve(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	c.mu.Lock()
	silent := c.silent
	c.mu.Unlock()
	if silent != nil { // as Kamailio 5.6 does with a PPR: received, never answered
		switch cx.Command(req.Header.CommandCode) {
		case cx.CmdRegistrationTermination:
			if r, err := cx.ParseRTR(req); err == nil {
				c.rtr <- r
			}
		case cx.CmdPushProfile:
			if r, err := cx.ParsePPR(req); err == nil {
				c.ppr <- r
			}
		}
		select {
		case <-silent.ch:
		case <-ctx.Done():
		}
		return nil, errors.New("test S-CSCF: not answering")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ans cx.Answer
	switch cx.Command(req.Header.CommandCode) {
	case cx.CmdRegistrationTermination:
		r, err := cx.ParseRTR(req)
		if err != nil {
			return nil, err
		}
		c.rtr <- r
		a := cx.NewRTA(r)
		a.OriginHost, a.OriginRealm = c.host, realm
		a.IdentityWithEmergencyRegistration = c.rtaKeep
		setResult(a, c.rtaResult, c.rtaVendor)
		ans = a
	case cx.CmdPushProfile:
		r, err := cx.ParsePPR(req)
		if err != nil {
			return nil, err
		}
		c.ppr <- r
		a := cx.NewPPA(r)
		a.OriginHost, a.OriginRealm = c.host, realm
		setResult(a, c.ppaResult, c.ppaVendor)
		ans = a
	default:
		return nil, diameter.Errorf(diameter.CommandUnsupported, "command %d", req.Header.CommandCode)
	}
	return ans.Marshal(c.d)
}

func setResult(a cx.Answer, code diameter.ResultCode, vendor uint32) {
	switch {
	case code == 0:
		a.SetResultCode(diameter.Success)
	case vendor != 0:
		a.SetExperimentalResult(vendor, code)
	default:
		a.SetResultCode(code)
	}
}

func (c *client) session() string {
	return c.host + ";1700000000;" + strconv.FormatInt(c.sess.Add(1), 10)
}

// send marshals m, sends it to the HSS and returns the raw answer.
func (c *client) send(m cx.Message) *diam.Message {
	c.t.Helper()
	msg, err := m.Marshal(c.d)
	if err != nil {
		c.t.Fatalf("marshal %T: %v", m, err)
	}
	return c.sendRaw(msg)
}

func (c *client) sendRaw(msg *diam.Message) *diam.Message {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := c.node.Request(ctx, msg)
	if err != nil {
		c.t.Fatalf("request %d: %v", msg.Header.CommandCode, err)
	}
	return ans
}

func (c *client) uar(impi, impu string, mutate func(*cx.UAR)) *cx.UAA {
	c.t.Helper()
	r := &cx.UAR{SessionID: c.session(), OriginHost: c.host, OriginRealm: realm, DestinationRealm: realm,
		UserName: impi, PublicIdentity: impu, VisitedNetworkIdentifier: []byte(realm)}
	if mutate != nil {
		mutate(r)
	}
	a, err := cx.ParseUAA(c.send(r))
	if err != nil {
		c.t.Fatalf("UAA: %v", err)
	}
	checkAnswerHead(c.t, a.VendorSpecificApplicationID, a.AuthSessionState, a.SessionID, r.SessionID)
	return a
}

func (c *client) mar(impi, impu, scheme string, n uint32, mutate func(*cx.MAR)) *cx.MAA {
	c.t.Helper()
	r := &cx.MAR{SessionID: c.session(), OriginHost: c.host, OriginRealm: realm, DestinationRealm: realm,
		UserName: impi, PublicIdentity: impu, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: scheme},
		SIPNumberAuthItems: n, ServerName: c.serverName()}
	if mutate != nil {
		mutate(r)
	}
	a, err := cx.ParseMAA(c.send(r))
	if err != nil {
		c.t.Fatalf("MAA: %v", err)
	}
	checkAnswerHead(c.t, a.VendorSpecificApplicationID, a.AuthSessionState, a.SessionID, r.SessionID)
	return a
}

func (c *client) sar(impi string, impus []string, sat cx.ServerAssignmentType, mutate func(*cx.SAR)) *cx.SAA {
	c.t.Helper()
	r := &cx.SAR{SessionID: c.session(), OriginHost: c.host, OriginRealm: realm, DestinationRealm: realm,
		UserName: impi, PublicIdentity: impus, ServerName: c.serverName(), ServerAssignmentType: sat,
		UserDataAlreadyAvailable: cx.UserDataNotAvailable}
	if mutate != nil {
		mutate(r)
	}
	a, err := cx.ParseSAA(c.send(r))
	if err != nil {
		c.t.Fatalf("SAA: %v", err)
	}
	checkAnswerHead(c.t, a.VendorSpecificApplicationID, a.AuthSessionState, a.SessionID, r.SessionID)
	return a
}

func (c *client) lir(impu string, mutate func(*cx.LIR)) *cx.LIA {
	c.t.Helper()
	r := &cx.LIR{SessionID: c.session(), OriginHost: c.host, OriginRealm: realm, DestinationRealm: realm, PublicIdentity: impu}
	if mutate != nil {
		mutate(r)
	}
	a, err := cx.ParseLIA(c.send(r))
	if err != nil {
		c.t.Fatalf("LIA: %v", err)
	}
	checkAnswerHead(c.t, a.VendorSpecificApplicationID, a.AuthSessionState, a.SessionID, r.SessionID)
	return a
}

// serverName is the Server-Name of a client acting as S-CSCF: the default S-CSCF for scscfHost.
func (c *client) serverName() string {
	if c.host == scscf2Host {
		return scscf2Name
	}
	return scscfName
}

// checkAnswerHead checks what every Cx answer carries (TS 29.229 §6.1).
func checkAnswerHead(t testing.TB, vsai *cx.VendorSpecificApplicationID, state *cx.AuthSessionState, got, want string) {
	t.Helper()
	if vsai == nil || vsai.VendorID != cx.Vendor3GPP || vsai.AuthApplicationID != cx.AppID {
		t.Errorf("Vendor-Specific-Application-Id = %+v, want vendor %d app %d", vsai, cx.Vendor3GPP, cx.AppID)
	}
	if state == nil || *state != cx.NoStateMaintained {
		t.Errorf("Auth-Session-State = %v, want NO_STATE_MAINTAINED", state)
	}
	if got != want {
		t.Errorf("Session-Id = %q, want %q", got, want)
	}
}

// wantResult checks an answer's outcome: a base Result-Code (vendor 0) or a 3GPP Experimental-Result-Code.
func wantResult(t testing.TB, a cx.Answer, code diameter.ResultCode, vendor uint32) {
	t.Helper()
	gotCode, gotVendor := a.Result()
	if gotCode != code || gotVendor != vendor {
		t.Fatalf("result %d (vendor %d), want %d (vendor %d)", gotCode, gotVendor, code, vendor)
	}
}

func wantSuccess(t testing.TB, a cx.Answer) { t.Helper(); wantResult(t, a, diameter.Success, 0) }

func wantExperimental(t testing.TB, a cx.Answer, code diameter.ResultCode) {
	t.Helper()
	wantResult(t, a, code, cx.Vendor3GPP)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// registration reads the registration data of impu.
func (e *env) registration(impu string) hss.Registration {
	e.t.Helper()
	p, err := e.db.GetIMPU(context.Background(), impu)
	must(e.t, err)
	return p.Registration
}

// sqn reads SQN_HE of impi.
func (e *env) sqn(impi string) uint64 {
	e.t.Helper()
	p, err := e.db.GetIMPI(context.Background(), impi)
	must(e.t, err)
	return p.SQN
}

// testKeys are the keys of every hsstest subscriber.
func testKeys(t testing.TB) aka.Keys {
	t.Helper()
	sub := hsstest.Subscriber("001010000000000", "15550000")
	keys, err := aka.NewKeys(sub.Private.K, sub.Private.OP, sub.Private.OPc, sub.Private.AMF)
	must(t, err)
	return keys
}

// newUSIM is the subscriber's card, with every SEQ_MS at zero.
func newUSIM(t testing.TB) *aka.USIM {
	t.Helper()
	u, err := aka.NewUSIM(testKeys(t), aka.DefaultUSIMConfig())
	must(t, err)
	return u
}

// challenge splits SIP-Authenticate into RAND and AUTN.
func challenge(t testing.TB, item cx.SIPAuthDataItem) (rand, autn [16]byte) {
	t.Helper()
	if len(item.Authenticate) != 32 {
		t.Fatalf("SIP-Authenticate has %d octets, want RAND ‖ AUTN = 32", len(item.Authenticate))
	}
	copy(rand[:], item.Authenticate[:16])
	copy(autn[:], item.Authenticate[16:])
	return rand, autn
}

// decodeSQN recovers the SQN inside a vector's AUTN with a fresh USIM (every SEQ_MS zero, so any SQN
// within Δ is accepted) and checks the vector's XRES, CK and IK against what the USIM computes.
func decodeSQN(t testing.TB, item cx.SIPAuthDataItem) aka.SQN {
	t.Helper()
	rand, autn := challenge(t, item)
	res, err := newUSIM(t).Authenticate(rand, autn)
	if err != nil {
		t.Fatalf("USIM rejects the vector: %v", err)
	}
	if string(res.RES) != string(item.Authorization) || string(res.CK[:]) != string(item.ConfidentialityKey) ||
		string(res.IK[:]) != string(item.IntegrityKey) {
		t.Fatal("XRES, CK or IK of the vector differ from what the USIM computes")
	}
	return res.SQN
}

// xmllint validates a User-Data document against the TS 29.228 Annex E schema. It skips without xmllint,
// unless CI=true.
func xmllint(t testing.TB, doc []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmllint not found (apt-get install libxml2-utils); CI must validate User-Data")
		}
		t.Skip("xmllint not found: apt-get install libxml2-utils to validate User-Data against the schema")
	}
	f := filepath.Join(t.TempDir(), "user-data.xml")
	must(t, os.WriteFile(f, doc, 0o600))
	out, err := exec.Command(bin, "--noout", "--schema", "../diameter/userdata/testdata/CxDataType.xsd", f).CombinedOutput()
	if err != nil {
		t.Fatalf("User-Data does not validate against CxDataType.xsd: %v\n%s\n%s", err, out, doc)
	}
}

// waitRTR waits for an RTR at c.
func (c *client) waitRTR() *cx.RTR {
	c.t.Helper()
	select {
	case r := <-c.rtr:
		return r
	case <-time.After(5 * time.Second):
		c.t.Fatal("no RTR received")
		return nil
	}
}

// noRTR checks that c receives no RTR for a while.
func (c *client) noRTR(d time.Duration) {
	c.t.Helper()
	select {
	case r := <-c.rtr:
		c.t.Fatalf("unexpected RTR %+v", r)
	case <-time.After(d):
	}
}

func (c *client) waitPPR() *cx.PPR {
	c.t.Helper()
	select {
	case r := <-c.ppr:
		return r
	case <-time.After(5 * time.Second):
		c.t.Fatal("no PPR received")
		return nil
	}
}

// gate holds requests until it opens, once.
type gate struct {
	ch   chan struct{}
	once sync.Once
}

func (g *gate) open() { g.once.Do(func() { close(g.ch) }) }

// mute makes c receive RTR and PPR without answering them, until unmute or the end of the test.
func (c *client) mute() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.silent == nil {
		g := &gate{ch: make(chan struct{})}
		c.silent = g
		c.t.Cleanup(g.open)
	}
}

// unmute lets c answer again; the requests it held get no answer.
func (c *client) unmute() {
	c.mu.Lock()
	g := c.silent
	c.silent = nil
	c.mu.Unlock()
	if g != nil {
		g.open()
	}
}

// setRTA and setPPA choose the S-CSCF's answers.
func (c *client) setRTA(code diameter.ResultCode, vendor uint32, keep []cx.IdentityWithEmergencyRegistration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rtaResult, c.rtaVendor, c.rtaKeep = code, vendor, keep
}

func (c *client) setPPA(code diameter.ResultCode, vendor uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ppaResult, c.ppaVendor = code, vendor
}

// register runs MAR and SAR(REGISTRATION) for sub's SIP IMPU at c and checks success.
func (e *env) register(c *client, sub hss.Subscriber) {
	e.t.Helper()
	impi, _, sip, _ := ids(sub)
	wantSuccess(e.t, c.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
	wantSuccess(e.t, c.sar(impi, []string{sip}, cx.SATRegistration, nil))
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
