package paa

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/adminhttp"
)

// shutdownGrace bounds the HTTP server's drain and the Diameter DPR at shutdown.
const shutdownGrace = 3 * time.Second

// Node is a running PAA. Start makes one; Run is Start then Wait.
type Node struct {
	cfg     Config
	log     *zap.Logger
	metrics *metrics
	agent   *agent
	conns   []*net.UDPConn
	relay   *relay
	pusher  *hssPusher // tokens: hss
	http    *http.Server
	httpLn  net.Listener

	ready atomic.Bool
	wg    sync.WaitGroup
	errMu sync.Mutex
	err   error
}

// Run starts the PAA and serves until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	n, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return n.Wait()
}

// Start validates cfg, binds the listeners and serves until ctx ends.
func Start(ctx context.Context, cfg Config, log *zap.Logger) (*Node, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("paa config: %w", err)
	}
	cfg = cfg.withDefaults()
	log = log.Named("paa")
	n := &Node{cfg: cfg, log: log, metrics: newMetrics()}
	ok := false
	defer func() {
		if !ok {
			n.closeAll()
		}
	}()
	var eapServer EAPServer
	switch cfg.EAP.Server {
	case EAPServerLocal:
		tlsCfg, err := cfg.EAP.ServerTLS()
		if err != nil {
			return nil, fmt.Errorf("paa: %w", err)
		}
		eapServer = newLocalEAP(tlsCfg, cfg.EAP.Fragment)
	case EAPServerHSS:
		r, err := startRelay(ctx, cfg.Diameter, log.Named("diameter"))
		if err != nil {
			return nil, fmt.Errorf("paa: %w", err)
		}
		n.relay = r
		eapServer = r
	}
	pusher := cfg.Pusher
	if pusher == nil && cfg.EAP.Server == EAPServerLocal && cfg.Tokens == TokensHSS {
		p, err := startHSSPusher(cfg.Diameter, log.Named("tokens"))
		if err != nil {
			return nil, fmt.Errorf("paa: %w", err)
		}
		n.pusher, pusher = p, p
	}
	if pusher == nil {
		pusher = NewMemoryPusher()
	}
	n.agent = newAgent(cfg, log, eapServer, pusher, n.metrics)
	for _, a := range cfg.Listen {
		addr, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return nil, fmt.Errorf("paa: listen %s: %w", a, err)
		}
		c, err := net.ListenUDP("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("paa: listen %s: %w", a, err)
		}
		n.conns = append(n.conns, c)
	}
	if cfg.HTTPListen != "" {
		admin, err := adminhttp.New(cfg.Admin, log.Named("admin"))
		if err != nil {
			return nil, fmt.Errorf("paa: admin: %w", err)
		}
		n.httpLn, err = admin.Listen(cfg.HTTPListen)
		if err != nil {
			return nil, fmt.Errorf("paa: http listen: %w", err)
		}
		n.http = adminhttp.NewServer(n.httpHandler(admin), log.Named("admin"))
	}
	ok = true
	for _, c := range n.conns {
		n.wg.Go(func() {
			if err := n.agent.serve(ctx, c); err != nil {
				n.fail(fmt.Errorf("paa: pana %s: %w", c.LocalAddr(), err))
			}
		})
	}
	if n.http != nil {
		n.wg.Go(func() {
			if err := n.http.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.fail(fmt.Errorf("paa: http: %w", err))
			}
		})
	}
	n.wg.Go(func() {
		<-ctx.Done()
		n.shutdown()
	})
	n.ready.Store(true)
	log.Info("started", zap.Strings("pana", n.Addrs()), zap.String("eap_server", cfg.EAP.Server),
		zap.Duration("session_lifetime", cfg.SessionLifetime), zap.String("http", cfg.HTTPListen))
	return n, nil
}

// Addrs are the bound PANA addresses.
func (n *Node) Addrs() []string {
	var out []string
	for _, c := range n.conns {
		out = append(out, c.LocalAddr().String())
	}
	return out
}

// HTTPAddr is the bound admin address, "" without one.
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// Sessions is the number of PANA sessions.
func (n *Node) Sessions() int { return n.agent.count() }

// Ready reports whether the node serves.
func (n *Node) Ready() bool { return n.ready.Load() }

// Wait blocks until the node has stopped and returns the first error that stopped a component.
func (n *Node) Wait() error {
	n.wg.Wait()
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

func (n *Node) fail(err error) {
	n.errMu.Lock()
	if n.err == nil {
		n.err = err
	}
	n.errMu.Unlock()
	n.log.Error("component stopped", zap.Error(err))
}

// shutdown closes the sockets (the sessions end with ctx and drop their tokens), then Diameter and HTTP.
func (n *Node) shutdown() {
	n.ready.Store(false)
	n.log.Info("stopping")
	for _, c := range n.conns {
		_ = c.Close()
	}
	n.agent.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if n.relay != nil {
		n.relay.close(ctx)
	}
	if n.pusher != nil {
		_ = n.pusher.close(ctx) // after the sessions dropped their tokens
	}
	if n.http != nil {
		_ = n.http.Shutdown(ctx)
	}
	n.log.Info("stopped")
}

func (n *Node) closeAll() {
	for _, c := range n.conns {
		_ = c.Close()
	}
	if n.relay != nil || n.pusher != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if n.relay != nil {
			n.relay.close(ctx)
		}
		if n.pusher != nil {
			_ = n.pusher.close(ctx)
		}
		cancel()
	}
	if n.httpLn != nil {
		_ = n.httpLn.Close()
	}
}

func (n *Node) httpHandler(admin *adminhttp.Admin) http.Handler {
	mux := http.NewServeMux()
	admin.Mount(mux, n.metrics.reg)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.Ready() || (n.relay != nil && !n.relay.ready()) || (n.pusher != nil && !n.pusher.ready()) {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
