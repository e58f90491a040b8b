package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
)

// Stand-ins for nodes not yet available as binaries, used to test the harness and the I-CSCF binary with SIPp.

// fakeHSS answers every UAR with the given S-CSCF name and every LIR likewise.
func startFakeHSS(t *testing.T, scscfName string) string {
	t.Helper()
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	node, err := peer.New(peer.Config{
		OriginHost: "hss." + Domain, OriginRealm: Domain, VendorID: cx.Vendor3GPP, ProductName: "e2e-fake-hss",
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		// The I-CSCF binary with its default Origin-Host, from loopback.
		Peers: []peer.AllowedPeer{{Host: "icscf." + Domain, Realm: Domain, Sources: []string{"127.0.0.1"}}},
		Log:   zap.NewNop(),
	}, peer.HandlerFunc(func(_ context.Context, req *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
		m, err := cx.Parse(req)
		if err != nil {
			return nil, err
		}
		switch r := m.(type) {
		case *cx.UAR:
			a := cx.NewUAA(r)
			a.OriginHost, a.OriginRealm, a.ServerName = "hss."+Domain, Domain, scscfName
			a.SetExperimentalResult(cx.Vendor3GPP, cx.SubsequentRegistration)
			return a.Marshal(d)
		case *cx.LIR:
			a := cx.NewLIA(r)
			a.OriginHost, a.OriginRealm, a.ServerName = "hss."+Domain, Domain, scscfName
			a.SetResultCode(2001)
			return a.Marshal(d)
		}
		return nil, fmt.Errorf("unexpected %T", m)
	}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = node.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer ccancel()
		_ = node.Close(cctx)
		<-done
	})
	return ln.Addr().String()
}

// fakeAKASCSCF is a registrar that challenges with real AKA vectors (hss/aka) for the test key set and checks
// the response (sip/digest): enough of an S-CSCF to play the SIPp registration scenarios against.
type fakeAKASCSCF struct {
	name string
	addr string

	mu      sync.Mutex
	sqn     aka.SQN
	pending map[string]aka.Vector // by nonce
}

func startFakeAKASCSCF(t *testing.T) *fakeAKASCSCF {
	t.Helper()
	keys, err := aka.NewKeys(mustHex(t, AKAK), mustHex(t, AKAOP), nil, [2]byte(mustHex(t, AKAAMF)))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ua, err := sipgo.NewUA(sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := udp.LocalAddr().(*net.UDPAddr).Port
	f := &fakeAKASCSCF{addr: udp.LocalAddr().String(), name: fmt.Sprintf("sip:scscf.%s:%d", Domain, port),
		pending: make(map[string]aka.Vector)}
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(f.register(t, keys, req))
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.ServeUDP(udp) }()
	t.Cleanup(func() {
		_ = udp.Close()
		_ = ua.Close()
		wg.Wait()
	})
	return f
}

func (f *fakeAKASCSCF) register(t *testing.T, keys aka.Keys, req *sip.Request) *sip.Response {
	for _, line := range header.Lines(req, "Authorization") {
		cred, err := digest.ParseCredentials(line)
		if err != nil || cred.Response == "" {
			continue
		}
		f.mu.Lock()
		v, ok := f.pending[cred.Nonce]
		delete(f.pending, cred.Nonce)
		f.mu.Unlock()
		if !ok || !digest.Verify(cred, string(req.Method), digest.AKAv1Password(v.XRES), req.Body()) {
			t.Logf("fake S-CSCF: response refused (known nonce %v)", ok)
			return sip.NewResponseFromRequest(req, 403, "Forbidden", nil)
		}
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Service-Route", "<"+strings.Replace(f.name, "sip:", "sip:orig@", 1)+";lr>"))
		res.AppendHeader(sip.NewHeader("P-Associated-URI", "<"+req.To().Address.String()+">"))
		if c := req.Contact(); c != nil {
			res.AppendHeader(sip.HeaderClone(c))
		}
		return res
	}
	rand, err := aka.NewRAND()
	if err != nil {
		t.Error(err)
		return sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)
	}
	f.mu.Lock()
	f.sqn += 32 // next SEQ, same IND
	sqn := f.sqn
	f.mu.Unlock()
	v, err := aka.GenerateVector(keys, sqn, rand)
	if err != nil {
		t.Error(err)
		return sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)
	}
	nonce := digest.AKANonce(v.RAND[:], v.AUTN[:], nil)
	f.mu.Lock()
	f.pending[nonce] = v
	f.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate",
		`Digest realm="`+Domain+`", nonce="`+nonce+`", algorithm=AKAv1-MD5, qop="auth"`))
	return res
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
