package icscf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"

	"github.com/emiago/sipgo/sip"
	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/sip/trust/boundary"
)

// shutdownGrace bounds the Diameter DPR exchange and the HTTP server's drain at shutdown.
const shutdownGrace = 3 * time.Second

// Node is a running I-CSCF. Start makes one; Run is Start then Wait.
type Node struct {
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	diam    *peer.Node
	proxy   *proxy.Proxy
	router  *Router
	http    *http.Server
	httpLn  net.Listener
	diamLn  net.Listener

	ready atomic.Bool
	wg    sync.WaitGroup
	errMu sync.Mutex
	err   error
}

// Run starts the I-CSCF and serves until ctx ends, then stops it: SIP listeners first, then Diameter (DPR to
// the HSS), then HTTP. It returns the first error that stopped a component, nil after a clean stop.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	n, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return n.Wait()
}

// Start validates cfg, binds every listener and starts serving. The node stops when ctx ends; Wait returns then.
func Start(ctx context.Context, cfg Config, log *zap.Logger) (*Node, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("icscf config: %w", err)
	}
	log = log.Named("icscf")
	n := &Node{cfg: cfg, log: log, metrics: newMetrics()}
	ok := false
	defer func() {
		if !ok {
			n.closeAll()
		}
	}()

	d, err := cx.NewDictionary()
	if err != nil {
		return nil, fmt.Errorf("icscf: cx dictionary: %w", err)
	}
	tlsCfg, err := cfg.Diameter.TLS.Load()
	if err != nil {
		return nil, fmt.Errorf("icscf: diameter.tls: %w", err)
	}
	dcfg := peer.Config{
		OriginHost:       cfg.Diameter.OriginHost,
		OriginRealm:      cfg.Diameter.OriginRealm,
		VendorID:         cx.Vendor3GPP,
		ProductName:      "imscore-icscf",
		Applications:     []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}},
		Dictionary:       d,
		WatchdogInterval: cfg.Diameter.WatchdogInterval,
		RequestTimeout:   cfg.Diameter.RequestTimeout,
		Peers:            peer.WithRoles(cfg.Diameter.Peers, cx.RoleHSS),
		// Cx has no request towards the I-CSCF (TS 29.228 §6): whoever sends one gets 3001.
		Permissions: map[string][]peer.Command{cx.RoleHSS: nil},
		TLS:         tlsCfg,
		Log:         log,
		Observer:    peer.ObserverFunc(n.metrics.observe),
	}
	cfg.Diameter.Resilience.Apply(&dcfg)
	n.diam, err = peer.New(dcfg, peer.HandlerFunc(refuseCxRequests))
	if err != nil {
		return nil, fmt.Errorf("icscf: diameter: %w", err)
	}
	hss := newCxClient(n.diam, cfg.Diameter, cfg.Domain, log.Named("cx"))
	trusted, err := trust.ParseDomain(cfg.TrustedNetworks)
	if err != nil {
		return nil, fmt.Errorf("icscf: %w", err)
	}
	edge := boundary.New(trusted, log.Named("trust"), n.metrics.edge)
	var ex *exit
	if cfg.Interconnect.Enabled {
		if ex, err = newExit(cfg.Interconnect, []string{cfg.Domain, cfg.THIG.Domain}, log.Named("interconnect")); err != nil {
			return nil, fmt.Errorf("icscf: %w", err)
		}
	}
	n.router, err = newRouter(routerConfig{hss: hss, scscfs: cfg.SCSCFs, domain: cfg.Domain,
		attemptTimeout: cfg.AttemptTimeout, maxAttempts: cfg.MaxAttempts, retryAfter: cfg.Diameter.RetryAfter,
		metrics: n.metrics, log: log, edge: edge, exit: ex})
	if err != nil {
		return nil, fmt.Errorf("icscf: %w", err)
	}
	sipCfg := cfg.SIP
	sipCfg.Router = edge.Wrap(n.router) // TS 24.229 §4.4: nothing from outside the trust domain is read as asserted
	if cfg.THIG.enabled() {
		// TS 24.229 §5.10.4: the border hides the home network's topology (thig.go), around everything else.
		h, err := newHider(cfg.THIG, cfg.Domain, sipCfg.Router, n.selfURI, log.Named("thig"))
		if err != nil {
			return nil, fmt.Errorf("icscf: %w", err)
		}
		sipCfg.Router = h
	}
	sipCfg.Metrics = sipMetrics{n.metrics}
	n.proxy, err = proxy.New(sipCfg, log.Named("sip"))
	if err != nil {
		return nil, fmt.Errorf("icscf: sip: %w", err)
	}

	if cfg.Diameter.Listen != "" {
		n.diamLn, err = net.Listen("tcp", cfg.Diameter.Listen)
		if err != nil {
			return nil, fmt.Errorf("icscf: diameter listen: %w", err)
		}
	}
	if cfg.HTTPListen != "" {
		admin, err := adminhttp.New(cfg.Admin, log.Named("admin"))
		if err != nil {
			return nil, fmt.Errorf("icscf: admin: %w", err)
		}
		n.httpLn, err = admin.Listen(cfg.HTTPListen)
		if err != nil {
			return nil, fmt.Errorf("icscf: http listen: %w", err)
		}
		n.http = adminhttp.NewServer(n.httpHandler(admin), log.Named("admin"))
	}
	ok = true

	for _, a := range cfg.Diameter.HSS {
		if err := n.diam.Connect(ctx, peer.PeerConfig{Address: a, Host: cfg.Diameter.HSSHost, Roles: []string{cx.RoleHSS}}); err != nil {
			n.closeAll()
			return nil, fmt.Errorf("icscf: connect hss %s: %w", a, err)
		}
	}
	n.wg.Go(func() {
		if err := n.proxy.Run(ctx); err != nil && !errors.Is(err, proxy.ErrClosed) {
			n.fail(fmt.Errorf("icscf: sip: %w", err))
		}
	})
	if n.diamLn != nil {
		n.wg.Go(func() {
			err := n.diam.Serve(ctx, n.diamLn)
			if err != nil && !errors.Is(err, peer.ErrClosed) && !errors.Is(err, context.Canceled) {
				n.fail(fmt.Errorf("icscf: diameter serve: %w", err))
			}
		})
	}
	if n.http != nil {
		n.wg.Go(func() {
			if err := n.http.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.fail(fmt.Errorf("icscf: http: %w", err))
			}
		})
	}
	n.wg.Go(func() {
		<-ctx.Done()
		n.shutdown()
	})
	n.ready.Store(true)
	log.Info("started", zap.Any("sip", n.proxy.Listeners()), zap.Strings("hss", cfg.Diameter.HSS),
		zap.String("http", cfg.HTTPListen), zap.Stringer("trusted_networks", trusted))
	return n, nil
}

// Wait blocks until the node has stopped and returns the first error that stopped a component.
func (n *Node) Wait() error {
	n.wg.Wait()
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// selfURI is this node's loose-routing SIP URI (its first UDP listener, as advertised), false before the
// listeners are bound.
func (n *Node) selfURI() (sip.Uri, bool) {
	if n.proxy == nil {
		return sip.Uri{}, false
	}
	for _, l := range n.proxy.Listeners() {
		if l.Transport != "UDP" {
			continue
		}
		host := l.Addr.Addr().String()
		if l.Advertise != "" {
			host = l.Advertise
		}
		u := sip.Uri{Scheme: "sip", Host: host, Port: int(l.Addr.Port()), UriParams: sip.NewParams()}
		u.UriParams.Add("lr", "")
		return u, true
	}
	return sip.Uri{}, false
}

// SIPListeners reports the bound SIP addresses (port 0 resolved).
func (n *Node) SIPListeners() []proxy.ListenAddr { return n.proxy.Listeners() }

// HTTPAddr is the bound HTTP address, "" when disabled.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// DiameterAddr is the bound Diameter listener address, "" when disabled.
func (n *Node) DiameterAddr() string {
	if n.diamLn == nil {
		return ""
	}
	return n.diamLn.Addr().String()
}

// Ready tells whether the node serves SIP and has an open Cx connection to an HSS.
func (n *Node) Ready() bool {
	if !n.ready.Load() {
		return false
	}
	for _, p := range n.diam.Peers() {
		if p.State == peer.StateOpen {
			return true
		}
	}
	return false
}

func (n *Node) fail(err error) {
	n.errMu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.errMu.Unlock()
	n.log.Error("component stopped", zap.Error(err))
}

func (n *Node) shutdown() {
	n.ready.Store(false)
	n.log.Info("stopping")
	_ = n.proxy.Close() // SIP first: no new Cx queries
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := n.diam.Close(ctx); err != nil && !errors.Is(err, peer.ErrClosed) {
		n.log.Info("diameter close", zap.Error(err))
	}
	if n.http != nil {
		_ = n.http.Shutdown(ctx)
	}
	n.log.Info("stopped")
}

// closeAll releases what Start bound when Start fails half-way.
func (n *Node) closeAll() {
	if n.proxy != nil {
		_ = n.proxy.Close()
	}
	if n.diam != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		_ = n.diam.Close(ctx)
		cancel()
	}
	if n.diamLn != nil {
		_ = n.diamLn.Close()
	}
	if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
}

// httpHandler is the admin listener's mux: /metrics (our own registry), /healthz (alive), /readyz (SIP
// served and a Cx connection open) and, when enabled, the runtime profiles under /debug/pprof/ (admin.Mount).
func (n *Node) httpHandler(admin *adminhttp.Admin) http.Handler {
	mux := http.NewServeMux()
	admin.Mount(mux, n.metrics.reg)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready: no open Cx connection", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

// refuseCxRequests answers requests peers send to the I-CSCF: Cx defines none towards it (TS 29.228 §6).
func refuseCxRequests(_ context.Context, _ *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
	return nil, diameter.Errorf(diameter.CommandUnsupported, "the I-CSCF serves no Cx requests")
}
