// Package hsscx runs a complete HSS node: the Cx server of package hss on its Diameter listener, over the
// subscriber store a DSN names (embedded SQLite or PostgreSQL), with the HTTP side — the provisioning API
// of hss/provision under /api/v1/, Prometheus metrics on /metrics, /healthz and /readyz, and the runtime
// profiles under /debug/pprof/.
//
// It sits above hss, storage and hss/provision (which all import hss), so that cmd/hss, cmd/hssbench and
// the end-to-end tests start the same node: Run for a main, Start when the bound addresses are needed.
package hsscx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/migrations"
	"github.com/imscore/imscore/storage"
	"github.com/imscore/imscore/storage/postgres"
)

// readyTimeout bounds the store check of /readyz.
const readyTimeout = 2 * time.Second

// Options change how Start builds the node; the zero value is what Run uses.
type Options struct {
	// API builds the handler served under /api/v1/; nil means provision.NewHandler with the store and the
	// Cx server as its NetworkInitiated.
	API func(store hss.Store, network provision.NetworkInitiated, log *zap.Logger) (http.Handler, error)
	// Registry receives the metrics served on /metrics; nil creates a registry for this node (never the
	// global default one).
	Registry *prometheus.Registry
}

// Node is a running HSS.
type Node struct {
	cfg      hss.Config
	log      *zap.Logger
	db       storage.DB
	srv      *hss.Server
	diamLn   net.Listener
	apiLn    net.Listener
	http     *http.Server
	registry *prometheus.Registry
	serving  atomic.Bool // the Cx listener is accepting

	done chan struct{} // closed when the node has stopped; err is set before
	err  error
}

// Run starts the HSS described by cfg and serves until ctx ends, then stops it (DPR to every Diameter
// peer, HTTP drained, store closed) and returns the first real error. It refuses to start, with an error
// saying why, when the configuration is invalid, the store cannot be opened or migrated, or a listener
// cannot be bound.
func Run(ctx context.Context, cfg hss.Config, log *zap.Logger) error {
	n, err := Start(ctx, cfg, log, Options{})
	if err != nil {
		return err
	}
	return n.Wait()
}

// Start is Run without the waiting: it returns once the node serves (listen addresses with port 0 are bound
// to real ports, see DiameterAddr and APIAddr). The node stops when ctx ends; Wait returns then.
func Start(ctx context.Context, cfg hss.Config, log *zap.Logger, opts Options) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kind, _, err := storage.ParseDSN(cfg.Store.DSN)
	if err != nil {
		return nil, fmt.Errorf("%w: store.dsn: %v", hss.ErrInvalidConfig, err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	n := &Node{cfg: cfg, log: log, registry: opts.Registry, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			n.closeListeners()
			if n.db != nil {
				n.db.Close()
			}
		}
	}()

	target := cfg.Store.DSN
	if kind == storage.KindPostgres {
		target = postgres.Redact(target)
	}
	if n.db, err = storage.Open(ctx, cfg.Store.DSN, log); err != nil {
		return nil, fmt.Errorf("hss: cannot open the subscriber store %s: %w", target, err)
	}
	if c, ok := n.db.(interface{ SetCacheTTL(time.Duration) }); ok {
		c.SetCacheTTL(cfg.Store.CacheTTL)
	}
	if err := n.prepareStore(ctx, kind); err != nil {
		return nil, fmt.Errorf("hss: subscriber store %s: %w", target, err)
	}
	if n.registry == nil {
		n.registry = prometheus.NewRegistry()
		n.registry.MustRegister(adminhttp.RuntimeCollectors()...)
	}
	metrics, err := hss.NewMetrics(n.registry)
	if err != nil {
		return nil, err
	}
	// The EAP server's tokens go where the fastreg application keeps them (docs/fastreg.md): the MAA carries
	// them to the S-CSCF whichever placement granted them.
	var tokens hss.AccessTokenSink
	if ts, ok := n.db.(hss.TokenStore); ok {
		tokens = hss.AccessTokens(ts)
	}
	eapOpts, err := cfg.EAP.Options(tokens)
	if err != nil {
		return nil, err
	}
	if n.srv, err = hss.NewServer(hss.ServerOptions{Config: cfg, Store: n.db, Log: log, Metrics: metrics, EAP: eapOpts}); err != nil {
		return nil, err
	}
	if n.diamLn, err = net.Listen("tcp", cfg.Diameter.Listen); err != nil {
		return nil, fmt.Errorf("hss: diameter listen %s: %w", cfg.Diameter.Listen, err)
	}
	admin, err := adminhttp.New(cfg.API.Security, log.Named("api"))
	if err != nil {
		return nil, fmt.Errorf("%w: api: %v", hss.ErrInvalidConfig, err)
	}
	if n.apiLn, err = admin.Listen(cfg.API.Listen); err != nil {
		return nil, fmt.Errorf("hss: api listen %s: %w", cfg.API.Listen, err)
	}
	if admin.Tokens() == 0 {
		log.Warn("provisioning API: no tokens (api.tokens_file), every /api/v1/ request is refused; imsctl token create makes one")
	}
	newAPI := opts.API
	if newAPI == nil {
		newAPI = func(store hss.Store, network provision.NetworkInitiated, log *zap.Logger) (http.Handler, error) {
			return provision.NewHandler(provision.Options{Store: store, Network: network, Log: log, Domain: cfg.Diameter.Realm,
				Guard: admin.Guard()})
		}
	}
	api, err := newAPI(n.db, n.srv, log)
	if err != nil {
		return nil, fmt.Errorf("hss: provisioning api: %w", err)
	}
	n.http = adminhttp.NewServer(n.mux(api, admin), log.Named("api"))
	ok = true
	go n.run(ctx)
	log.Info("hss started", zap.Stringer("diameter", n.diamLn.Addr()), zap.Stringer("api", n.apiLn.Addr()),
		zap.String("origin_host", cfg.Diameter.OriginHost), zap.String("realm", cfg.Diameter.Realm),
		zap.String("store", string(kind)))
	return n, nil
}

// prepareStore migrates (or checks the schema version) and seeds the configured S-CSCFs.
func (n *Node) prepareStore(ctx context.Context, kind storage.Kind) error {
	if n.cfg.Store.AutoMigrate {
		if err := n.db.Migrate(ctx); err != nil {
			return fmt.Errorf("migration failed: %w", err)
		}
	} else {
		fsys, dir := migrations.SQLite, "sqlite"
		if kind == storage.KindPostgres {
			fsys, dir = migrations.Postgres, "postgres"
		}
		ms, err := migrations.Load(fsys, dir)
		if err != nil {
			return err
		}
		have, err := n.db.SchemaVersion(ctx)
		if err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		if want := ms[len(ms)-1].Version; have != want {
			return fmt.Errorf("schema version %d, this binary needs %d: migrate (imsctl migrate, or store.auto_migrate: true)", have, want)
		}
	}
	for _, s := range n.cfg.SCSCFs {
		err := n.db.PutSCSCF(ctx, hss.SCSCF{Name: s.Name, Capabilities: hss.Capabilities{Mandatory: s.Mandatory, Optional: s.Optional}})
		if err != nil {
			return fmt.Errorf("seed s-cscf %s: %w", s.Name, err)
		}
	}
	return nil
}

// mux is the HTTP side: the API, metrics, health and (when enabled) the runtime profiles.
func (n *Node) mux(api http.Handler, admin *adminhttp.Admin) http.Handler {
	m := http.NewServeMux()
	m.Handle("/api/v1/", api)
	admin.Mount(m, n.registry)
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	m.HandleFunc("GET /readyz", n.ready)
	return m
}

// ready answers 200 when the store answers and the Cx listener accepts, 503 otherwise, with the details.
func (n *Node) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	status := struct {
		Store string `json:"store"`
		Cx    string `json:"cx"`
		Peers int    `json:"peers_open"`
	}{Store: "ok", Cx: "listening"}
	code := http.StatusOK
	if _, err := n.db.SchemaVersion(ctx); err != nil {
		status.Store, code = "unreachable: "+err.Error(), http.StatusServiceUnavailable
	}
	if !n.serving.Load() {
		status.Cx, code = "not listening", http.StatusServiceUnavailable
	}
	for _, p := range n.srv.Peers() {
		if p.State == peer.StateOpen {
			status.Peers++
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(status)
}

// run serves until ctx ends or a listener fails, then stops everything in order.
func (n *Node) run(ctx context.Context) {
	defer close(n.done)
	var wg sync.WaitGroup
	failed := make(chan error, 2)
	n.serving.Store(true)
	wg.Go(func() {
		err := n.srv.Serve(context.Background(), n.diamLn) // stopped by Close below, which sends DPR
		n.serving.Store(false)
		if err != nil {
			failed <- fmt.Errorf("hss: diameter: %w", err)
		}
	})
	wg.Go(func() {
		if err := n.http.Serve(n.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("hss: api: %w", err)
		}
	})
	var first error
	select {
	case <-ctx.Done():
		n.log.Info("hss stopping")
	case first = <-failed:
		n.log.Error("hss stopping after a listener failed", zap.Error(first))
	}
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.API.ShutdownTimeout)
	defer cancel()
	note := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	note(n.srv.Close(sctx))     // DPR to every peer (RFC 6733 §5.4), background procedures stopped
	note(n.http.Shutdown(sctx)) // in-flight API requests drained
	wg.Wait()
	select {
	case err := <-failed:
		note(err)
	default:
	}
	note(n.db.Close())
	n.err = first
	n.log.Info("hss stopped", zap.Error(first))
}

func (n *Node) closeListeners() {
	if n.diamLn != nil {
		n.diamLn.Close()
	}
	if n.apiLn != nil {
		n.apiLn.Close()
	}
}

// Wait blocks until the node has stopped and returns the first real error (nil after a clean stop).
func (n *Node) Wait() error {
	<-n.done
	return n.err
}

// DiameterAddr is the bound Cx address.
func (n *Node) DiameterAddr() net.Addr { return n.diamLn.Addr() }

// APIAddr is the bound HTTP address.
func (n *Node) APIAddr() net.Addr { return n.apiLn.Addr() }

// Server is the Cx server (Deregister, PushProfile, Peers).
func (n *Node) Server() *hss.Server { return n.srv }

// Store is the subscriber store the node uses; it is closed when the node stops.
func (n *Node) Store() hss.Store { return n.db }

// Registry is the node's metrics registry.
func (n *Node) Registry() *prometheus.Registry { return n.registry }

// Interface guard: the Cx server is what the provisioning API uses for RTR and PPR.
var _ provision.NetworkInitiated = (*hss.Server)(nil)
