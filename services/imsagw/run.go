// Package imsagw is the IMS Access Gateway (TS 23.334, TS 29.334): the media-plane node the P-CSCF's IMS-ALG
// controls over the Iq interface (H.248, package h248). Per H.248 context it holds two terminations, T1
// towards the UE in the access realm and T2 towards the core, and relays the TCP (MSRP) bearer between them,
// with TLS towards the UE for MSRP end-to-access-edge security (TS 23.334 §6.2.10.3, TS 33.328).
//
// The flow from the tree: iq.go serves Add, Modify, Subtract and AuditValue; context.go owns each context's
// sockets (listen, dial, TLS with the fingerprint check, source filtering, the relay) and sends the Notify of
// a released bearer; profile.go names the H.248 elements used; run.go is the node (Run, metrics, health).
package imsagw

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/services/imsagw/h248"
)

// shutdownGrace bounds the HTTP server's drain at shutdown.
const shutdownGrace = 3 * time.Second

// notifyTimeout bounds one Notify: the endpoint retransmits it until then (H.248.1 Annex D.1).
const notifyTimeout = 30 * time.Second

// Node is a running IMS-AGW. Start makes one; Run is Start then Wait.
type Node struct {
	cfg         Config
	log         *zap.Logger
	metrics     *metrics
	iq          *h248.Endpoint
	cert        tls.Certificate
	fingerprint string
	http        *http.Server
	httpLn      net.Listener
	ctx         context.Context // the node's lifetime: Notify and contexts stop with it
	// dialAllowed, when set (tests only), limits where the AGW opens connections.
	dialAllowed func(netip.Addr) bool

	mu       sync.Mutex
	contexts map[uint32]*agwContext
	nextCtx  uint32
	seq      atomic.Uint64

	ready atomic.Bool
	wg    sync.WaitGroup // every goroutine the node starts
	errMu sync.Mutex
	err   error
}

// Run starts the AGW and serves until ctx ends; then Iq stops first, every context is closed (its sockets
// with it) and HTTP drains. Contexts are not kept across a restart of the AGW itself.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	n, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return n.Wait()
}

// Start validates cfg, binds the Iq and HTTP listeners and starts serving until ctx ends.
func Start(ctx context.Context, cfg Config, log *zap.Logger) (*Node, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("imsagw config: %w", err)
	}
	log = log.Named("imsagw")
	n := &Node{cfg: cfg, log: log, metrics: newMetrics(), contexts: map[uint32]*agwContext{}, nextCtx: 1, ctx: ctx}
	var err error
	if n.cert, err = loadCertificate(cfg.TLS); err != nil {
		return nil, fmt.Errorf("imsagw: tls: %w", err)
	}
	n.fingerprint = Fingerprint(n.cert.Certificate[0])
	var peers []netip.Addr
	for _, p := range cfg.Iq.Peers {
		peers = append(peers, netip.MustParseAddr(p))
	}
	n.iq, err = h248.Listen(h248.EndpointConfig{Listen: netip.MustParseAddrPort(cfg.Iq.Listen), MID: cfg.Iq.MID,
		Peers: peers}, n.serveIq, log.Named("iq"))
	if err != nil {
		return nil, fmt.Errorf("imsagw: iq: %w", err)
	}
	if cfg.HTTPListen != "" {
		admin, err := adminhttp.New(cfg.Admin, log.Named("admin"))
		if err == nil {
			n.httpLn, err = admin.Listen(cfg.HTTPListen)
		}
		if err != nil {
			n.iq.Close()
			return nil, fmt.Errorf("imsagw: http: %w", err)
		}
		n.http = adminhttp.NewServer(n.httpHandler(admin), log.Named("admin"))
	}
	iqCtx, stopIq := context.WithCancel(context.Background())
	var iqDone sync.WaitGroup
	iqDone.Go(func() {
		if err := n.iq.Run(iqCtx); err != nil {
			n.fail(fmt.Errorf("imsagw: iq: %w", err))
		}
	})
	if n.http != nil {
		n.wg.Go(func() {
			if err := n.http.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.fail(fmt.Errorf("imsagw: http: %w", err))
			}
		})
	}
	n.wg.Go(func() { n.sweep(ctx) })
	n.wg.Go(func() {
		<-ctx.Done()
		n.ready.Store(false)
		n.log.Info("stopping")
		stopIq() // no new command; handlers in progress finish
		iqDone.Wait()
		for _, cx := range n.contextList() {
			n.removeContext(cx)
		}
		if n.http != nil {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			_ = n.http.Shutdown(sctx)
			cancel()
		}
		n.log.Info("stopped")
	})
	n.ready.Store(true)
	log.Info("started", zap.Stringer("iq", n.iq.Addr()), zap.Strings("iq_peers", cfg.Iq.Peers),
		zap.String("access", cfg.AccessAddress), zap.String("core", cfg.CoreAddress),
		zap.String("http", n.HTTPAddr()), zap.String("fingerprint", n.fingerprint))
	return n, nil
}

// Wait blocks until the node has stopped and returns the first error that stopped a component.
func (n *Node) Wait() error {
	n.wg.Wait()
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// IqAddr is the bound Iq (H.248/UDP) address.
func (n *Node) IqAddr() netip.AddrPort { return n.iq.Addr() }

// HTTPAddr is the bound HTTP address, "" when disabled.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// Fingerprint is the a=fingerprint of the AGW's certificate towards the UEs.
func (n *Node) Fingerprint() string { return n.fingerprint }

// Contexts is the number of contexts in place.
func (n *Node) Contexts() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.contexts)
}

func (n *Node) fail(err error) {
	n.errMu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.errMu.Unlock()
	n.log.Error("component stopped", zap.Error(err))
}

func (n *Node) newContext(from netip.AddrPort) (*agwContext, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return nil, iqError(errResources, "Insufficient resources: stopping")
	}
	if len(n.contexts) >= n.cfg.MaxContexts {
		return nil, iqError(errNoContextIDs, "No ContextIDs available")
	}
	id := n.nextCtx
	for n.contexts[id] != nil || id == 0 || id >= 0xFFFFFFFE { // 0, FFFFFFFE ($) and FFFFFFFF (*) are reserved
		id++
		if id >= 0xFFFFFFFE {
			id = 1
		}
	}
	n.nextCtx = id + 1
	cctx, cancel := context.WithCancel(n.ctx)
	cx := &agwContext{id: id, n: n, ctx: cctx, end: cancel, ctrl: from, lastCmd: time.Now(),
		log: n.log.With(zap.Uint32("context", id))}
	n.contexts[id] = cx
	n.metrics.contexts.Inc()
	return cx, nil
}

func (n *Node) context(id uint32) *agwContext {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.contexts[id]
}

func (n *Node) contextList() []*agwContext {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*agwContext, 0, len(n.contexts))
	for _, cx := range n.contexts {
		out = append(out, cx)
	}
	slices.SortFunc(out, func(a, b *agwContext) int { return int(a.id) - int(b.id) })
	return out
}

// removeContext closes every socket of cx and forgets it.
func (n *Node) removeContext(cx *agwContext) {
	n.mu.Lock()
	if n.contexts[cx.id] != cx {
		n.mu.Unlock()
		return
	}
	delete(n.contexts, cx.id)
	n.metrics.contexts.Dec()
	n.mu.Unlock()
	cx.end()
	cx.mu.Lock()
	cx.closed = true
	for _, t := range cx.terms {
		t.close()
		n.metrics.terms.Dec()
	}
	cx.terms = nil
	cx.mu.Unlock()
	cx.log.Info("context removed")
}

// sweep removes contexts whose bearer is not up and that had no Iq command for setup_timeout: the ALG that
// set them up went away before the media flowed, or never released a released bearer. A relayed bearer stays
// until it ends (idle_timeout) or the ALG subtracts it, so calls outlive a P-CSCF restart.
func (n *Node) sweep(ctx context.Context) {
	period := min(n.cfg.SetupTimeout/4, time.Second)
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, cx := range n.contextList() {
				cx.mu.Lock()
				stale := !cx.bearerUp() && now.Sub(cx.lastCmd) > n.cfg.SetupTimeout
				cx.mu.Unlock()
				if stale {
					cx.log.Info("context removed: no bearer and no command within setup_timeout",
						zap.Duration("setup_timeout", n.cfg.SetupTimeout))
					n.removeContext(cx)
				}
			}
		}
	}
}

// notify sends Notify g/cause for t to the context's controller (under cx.mu), if the ALG asked for it with an
// Events descriptor (H.248.1 §7.2.7: only requested events are notified).
func (n *Node) notify(cx *agwContext, t *termination, cause, text string) {
	if !t.notify {
		return
	}
	to, ctxID, termID, rid := cx.ctrl, strconv.FormatUint(uint64(cx.id), 10), t.id, t.eventsID
	ev := h248.Token(EventCause, h248.Prop("Generalcause", cause), h248.Prop("Failurecause", strconv.Quote(text)))
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, notifyTimeout)
		defer cancel()
		if _, err := n.iq.Request(ctx, to, ctxID, h248.Notify(termID, rid, ev)); err != nil {
			n.metrics.notifies.WithLabelValues("failed").Inc()
			t.log.Warn("Notify not answered", zap.Stringer("to", to), zap.String("cause", cause), zap.Error(err))
			return
		}
		n.metrics.notifies.WithLabelValues("ok").Inc()
		t.log.Info("Notify sent", zap.Stringer("to", to), zap.String("cause", cause))
	})
}

// httpHandler serves /metrics, /healthz, /readyz (Iq served) and, when enabled, /debug/pprof/.
func (n *Node) httpHandler(admin *adminhttp.Admin) http.Handler {
	mux := http.NewServeMux()
	admin.Mount(mux, n.metrics.reg)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// loadCertificate reads the configured certificate, or makes a self-signed one: the UE authenticates it by its
// fingerprint in the SDP (TS 33.328 §7.3), not by a CA.
func loadCertificate(f TLSFiles) (tls.Certificate, error) {
	if f.CertFile != "" {
		return tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	}
	return SelfSigned("imscore IMS-AGW")
}

// SelfSigned makes a self-signed certificate (ECDSA P-256, valid a year) named cn, the kind MSRP endpoints
// present and authenticate by fingerprint (RFC 4975 §14.1, RFC 8122).
func SelfSigned(cn string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
