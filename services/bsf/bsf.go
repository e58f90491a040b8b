package bsf

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

	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/adminhttp"
)

// Server is a BSF: its listeners are bound by New, Run serves them.
type Server struct {
	cfg      Config
	log      *zap.Logger
	node     *peer.Node
	sessions *sessions
	metrics  *metrics
	now      func() time.Time

	ubLn, znLn, httpLn net.Listener
	admin              *adminhttp.Admin

	sessionHigh uint32
	sessionLow  atomic.Uint32
}

// New validates cfg (defaults filled), builds the Diameter node and binds the listeners. Nothing is served
// until Run; Close releases the listeners of a Server never run.
func New(cfg Config, log *zap.Logger) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bsf config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	s := &Server{cfg: cfg, log: log, sessions: newSessions(cfg.MaxSessions), now: time.Now,
		sessionHigh: uint32(time.Now().Unix())}
	s.metrics = newMetrics(s.sessions)
	d, err := gaa.NewDictionary()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.DiameterTLS.Load()
	if err != nil {
		return nil, fmt.Errorf("bsf: diameter_tls: %w", err)
	}
	s.node, err = peer.New(peer.Config{
		OriginHost:  cfg.Name,
		OriginRealm: cfg.Realm,
		VendorID:    gaa.Vendor3GPP,
		ProductName: "imscore-bsf",
		Applications: []peer.Application{{ID: gaa.AppZh, VendorID: gaa.Vendor3GPP},
			{ID: gaa.AppZn, VendorID: gaa.Vendor3GPP}},
		Dictionary:     d,
		RequestTimeout: cfg.Zh.RequestTimeout,
		Peers:          cfg.Zn.Peers,
		Permissions:    map[string][]peer.Command{RoleNAF: {{App: gaa.AppZn, Code: uint32(gaa.CmdBootstrappingInfo)}}},
		TLS:            tlsCfg,
		Log:            log.Named("diameter"),
	}, diameterHandler{s})
	if err != nil {
		return nil, fmt.Errorf("bsf: diameter node: %w", err)
	}
	if s.ubLn, err = net.Listen("tcp", cfg.UbListen); err != nil {
		return nil, fmt.Errorf("bsf: ub listen: %w", err)
	}
	if cfg.Zn.Listen != "" {
		if s.znLn, err = net.Listen("tcp", cfg.Zn.Listen); err != nil {
			s.Close()
			return nil, fmt.Errorf("bsf: zn listen: %w", err)
		}
	}
	if cfg.HTTPListen != "" {
		if s.admin, err = adminhttp.New(cfg.Admin, log.Named("admin")); err != nil {
			s.Close()
			return nil, fmt.Errorf("bsf admin: %w", err)
		}
		if s.httpLn, err = s.admin.Listen(cfg.HTTPListen); err != nil {
			s.Close()
			return nil, fmt.Errorf("bsf: http listen: %w", err)
		}
	}
	return s, nil
}

// UbAddr, ZnAddr and HTTPAddr are the bound addresses (nil when the listener is off).
func (s *Server) UbAddr() net.Addr { return addrOf(s.ubLn) }
func (s *Server) ZnAddr() net.Addr { return addrOf(s.znLn) }
func (s *Server) HTTPAddr() net.Addr {
	return addrOf(s.httpLn)
}

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Close releases the listeners of a Server that is not running.
func (s *Server) Close() {
	for _, ln := range []net.Listener{s.ubLn, s.znLn, s.httpLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

// newSessionID is <DiameterIdentity>;<high>;<low> (RFC 6733 §8.8).
func (s *Server) newSessionID() string {
	return fmt.Sprintf("%s;%d;%d", s.cfg.Name, s.sessionHigh, s.sessionLow.Add(1))
}

// Run connects to the HSS and serves Ub, Zn and the admin listener until ctx ends, then stops them in reverse
// order (HTTP drained, a DPR to every Diameter peer) and returns the first real error.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup // every goroutine of the node
	errc := make(chan error, 4)
	if err := s.node.Connect(ctx, peer.PeerConfig{Address: s.cfg.Zh.HSS, Host: s.cfg.Zh.HSSHost, Realm: s.cfg.Zh.HSSRealm,
		Roles: []string{"hss"}}); err != nil {
		s.Close()
		return fmt.Errorf("bsf: zh: %w", err)
	}
	ub := adminhttp.NewServer(s, s.log)
	ub.ReadTimeout, ub.WriteTimeout = 30*time.Second, 30*time.Second
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ub.Serve(s.ubLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("bsf: ub: %w", err)
		}
	}()
	if s.znLn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.node.Serve(ctx, s.znLn); err != nil && !errors.Is(err, peer.ErrClosed) && ctx.Err() == nil {
				errc <- fmt.Errorf("bsf: zn: %w", err)
			}
		}()
	}
	var adminSrv *http.Server
	if s.httpLn != nil {
		mux := http.NewServeMux()
		s.admin.Mount(mux, s.metrics.registry)
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		adminSrv = adminhttp.NewServer(mux, s.log)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := adminSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("bsf: http: %w", err)
			}
		}()
	}
	wg.Add(1)
	go func() { // expired sessions and challenges go once a minute (the bound holds in between)
		defer wg.Done()
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sessions.sweep(s.now())
			}
		}
	}()
	s.log.Info("BSF serving", zap.Stringer("ub", s.UbAddr()), zap.String("name", s.cfg.Name),
		zap.Duration("key_lifetime", s.cfg.KeyLifetime))
	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if adminSrv != nil {
		_ = adminSrv.Shutdown(sctx)
	}
	_ = ub.Shutdown(sctx)
	if err := s.node.Close(sctx); err != nil && first == nil {
		first = fmt.Errorf("bsf: diameter close: %w", err)
	}
	wg.Wait()
	return first
}

// Run builds the BSF from cfg and runs it until ctx ends.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	s, err := New(cfg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// HSSConnected reports whether the Zh connection to the HSS is open.
func (s *Server) HSSConnected() bool {
	for _, p := range s.node.Peers() {
		if p.OriginHost == s.cfg.Zh.HSSHost && p.State == peer.StateOpen {
			return true
		}
	}
	return false
}
