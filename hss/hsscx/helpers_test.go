package hsscx_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/storage/postgres/pgtest"
)

var cluster = pgtest.NewShared()

func TestMain(m *testing.M) { os.Exit(cluster.Run(m)) }

const (
	realm     = hss.DefaultDomain
	hssHost   = hss.DefaultOriginHost
	scscfHost = "scscf." + realm
)

// dsns returns a fresh database of each backend.
func dsns(t *testing.T) map[string]string {
	return map[string]string{
		"sqlite":   "sqlite://" + filepath.Join(t.TempDir(), "hss.db"),
		"postgres": cluster.DSN(t),
	}
}

func forEachStore(t *testing.T, f func(t *testing.T, dsn string)) {
	d := dsns(t)
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) { f(t, d[name]) })
	}
}

func testConfig(dsn string) hss.Config {
	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen = "127.0.0.1:0"
	cfg.API.Listen = "127.0.0.1:0"
	cfg.Store.DSN = dsn
	cfg.Diameter.RequestTimeout = 2 * time.Second
	// The default I-CSCF and S-CSCF, and the S-CSCFs the tests run beside them.
	for _, h := range []string{"scscf-a", "scscf-b", "scscf-gone"} {
		cfg.Diameter.Peers = append(cfg.Diameter.Peers, peer.AllowedPeer{Host: h + "." + realm, Realm: realm,
			Sources: []string{"127.0.0.1"}, Roles: []string{hss.RoleSCSCF}})
	}
	return cfg
}

func testLogger(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok {
		return zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

// start runs a node until the test ends and checks that it stops cleanly.
func start(t testing.TB, cfg hss.Config) *hsscx.Node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := hsscx.Start(ctx, cfg, testLogger(t), hsscx.Options{})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := n.Wait(); err != nil {
			t.Errorf("node stopped with %v", err)
		}
	})
	return n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// httpGet returns the status and body of GET url.
func httpGet(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(b)
}

// metric returns the value of the first sample line of /metrics starting with prefix, or "".
func metric(t testing.TB, n *hsscx.Node, prefix string) string {
	t.Helper()
	_, body := httpGet(t, "http://"+n.APIAddr().String()+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// client is a CSCF connected to an HSS; as an S-CSCF it answers RTR (recorded) and PPR with success.
type client struct {
	t    testing.TB
	node *peer.Node
	host string
	d    *dict.Parser
	sess atomic.Int64
	mu   sync.Mutex
	rtrs []*cx.RTR
	pprs int
	hold chan struct{} // not nil: RTR and PPR are received but never answered, as Kamailio 5.6 does PPR
}

// mute makes the S-CSCF receive RTR and PPR without ever answering them, until the end of the test.
func (c *client) mute() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hold == nil {
		c.hold = make(chan struct{})
		c.t.Cleanup(func() { close(c.hold) })
	}
}

// pushes is the number of PPRs received.
func (c *client) pushes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pprs
}

func connect(t testing.TB, addr, host string) *client {
	t.Helper()
	d, err := cx.NewDictionary()
	must(t, err)
	c := &client{t: t, host: host, d: d}
	c.node, err = peer.New(peer.Config{OriginHost: host, OriginRealm: realm, VendorID: cx.Vendor3GPP,
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 10 * time.Second, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		Log: zap.NewNop()}, peer.HandlerFunc(c.serve))
	must(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.node.Close(ctx)
	})
	must(t, c.node.Connect(context.Background(), peer.PeerConfig{Address: addr, Host: hssHost, Realm: realm}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.node.WaitPeer(ctx, hssHost); err != nil {
		t.Fatalf("%s cannot reach the HSS: %v", host, err)
	}
	return c
}

func (c *client) serve(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	c.mu.Lock()
	hold := c.hold
	if cx.Command(req.Header.CommandCode) == cx.CmdPushProfile {
		c.pprs++
	}
	c.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
		}
		return nil, fmt.Errorf("test S-CSCF: not answering")
	}
	switch cx.Command(req.Header.CommandCode) {
	case cx.CmdRegistrationTermination:
	case cx.CmdPushProfile:
		r, err := cx.ParsePPR(req)
		if err != nil {
			return nil, err
		}
		a := cx.NewPPA(r)
		a.OriginHost, a.OriginRealm = c.host, realm
		a.SetResultCode(diameter.Success)
		return a.Marshal(c.d)
	default:
		return nil, diameter.Errorf(diameter.CommandUnsupported, "command %d", req.Header.CommandCode)
	}
	r, err := cx.ParseRTR(req)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.rtrs = append(c.rtrs, r)
	c.mu.Unlock()
	a := cx.NewRTA(r)
	a.OriginHost, a.OriginRealm = c.host, realm
	a.SetResultCode(diameter.Success)
	return a.Marshal(c.d)
}

func (c *client) received() []*cx.RTR {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*cx.RTR(nil), c.rtrs...)
}

func (c *client) mar(impi, impu string, n uint32) (*cx.MAA, error) {
	r := &cx.MAR{SessionID: fmt.Sprintf("%s;1;%d", c.host, c.sess.Add(1)), OriginHost: c.host, OriginRealm: realm,
		DestinationRealm: realm, UserName: impi, PublicIdentity: impu,
		SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5}, SIPNumberAuthItems: n, ServerName: hss.DefaultSCSCFName}
	msg, err := r.Marshal(c.d)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ans, err := c.node.Request(ctx, msg)
	if err != nil {
		return nil, err
	}
	return cx.ParseMAA(ans)
}

func (c *client) sar(impi, impu string, sat cx.ServerAssignmentType) (*cx.SAA, error) {
	r := &cx.SAR{SessionID: fmt.Sprintf("%s;1;%d", c.host, c.sess.Add(1)), OriginHost: c.host, OriginRealm: realm,
		DestinationRealm: realm, UserName: impi, PublicIdentity: []string{impu}, ServerName: hss.DefaultSCSCFName,
		ServerAssignmentType: sat, UserDataAlreadyAvailable: cx.UserDataNotAvailable}
	msg, err := r.Marshal(c.d)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ans, err := c.node.Request(ctx, msg)
	if err != nil {
		return nil, err
	}
	return cx.ParseSAA(ans)
}
