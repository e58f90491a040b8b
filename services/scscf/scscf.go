// Package scscf is the Serving-CSCF (TS 24.229 §5.4): the registrar with IMS-AKA authentication
// (MAR/SAR towards the HSS over Cx), the reg event notifier, and the session routing of originating and
// terminating requests with initial filter criteria towards application servers.
//
// Files follow the procedures: register.go (§5.4.1), regevent.go and reginfo.go (§5.4.2, RFC 3680),
// route.go (§5.4.3), ifc.go (TS 29.228 Annex B/F), cx.go (TS 29.228 §6), rtr.go (§5.4.1.5, RTR/PPR).
// Registration state lives in memory in a registrar.Table (services/scscf/registrar), authoritative, written
// behind as rows to the store (SQLite or PostgreSQL, storage/); docs/scscf.md#state.
package scscf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/doic"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/sip/trust/boundary"
	"github.com/imscore/imscore/storage"
)

// notifyQueueSize bounds the NOTIFY work queue.
const notifyQueueSize = 1024

// Server is one S-CSCF. New binds its sockets; Run serves until its context ends.
type Server struct {
	cfg Config
	log *zap.Logger
	reg registrar.Registrar
	// table is reg: the registrations in memory, authoritative, written behind to the store.
	table *registrar.Table
	store registrar.Registrar // the store New was given

	proxy     *proxy.Proxy
	advertise netip.AddrPort
	icscf     *sip.Uri
	// interconnect routes out of the home network (Config.Interconnect), nil when off.
	interconnect *interconnect
	contactURI   string // our Contact in NOTIFY and SUBSCRIBE answers
	// serviceRoute is the Service-Route URI handed to registered UEs.
	serviceRoute string

	dict   *dict.Parser
	node   *peer.Node
	cx     *cxClient
	diamLn net.Listener
	httpLn net.Listener
	admin  *adminhttp.Admin // the admin listener's tokens, profiles switch and TLS

	// fastreg is the one-pass registration (fastreg.go), nil when off.
	fastreg *fastReg

	iscMu sync.Mutex
	isc   map[string]iscState

	notifyQ chan notification
	metrics *metrics
	// edge is the boundary of the trust domain: it wraps the Router (New) and says whether a request came
	// from inside.
	edge *boundary.Boundary

	runCtx context.Context
	wg     sync.WaitGroup
}

// New validates cfg (after WithDefaults), binds the SIP, Diameter and HTTP listeners and returns a
// Server ready for Run. reg is the registration store; the caller closes it after Run returns.
func New(cfg Config, reg registrar.Registrar, log *zap.Logger) (s *Server, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("scscf config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("scscf")
	s = &Server{
		cfg: cfg, log: log, reg: reg,
		isc:     map[string]iscState{},
		notifyQ: make(chan notification, notifyQueueSize),
		metrics: newMetrics(),
		runCtx:  context.Background(),
	}
	// Memory is authoritative, the store is the journal (registrar.Table); every change moves the
	// registration gauges (metrics.go).
	s.store = reg
	if t, ok := reg.(*registrar.Table); ok {
		s.table = t
	} else {
		shared, _ := reg.(interface{ Shared() bool })
		s.table = registrar.NewTable(registrar.TableConfig{
			Store:   reg,
			Shared:  cfg.StoreShared || shared != nil && shared.Shared(),
			OnCount: s.metrics.registrationDelta,
			OnError: func(op, key string, err error) {
				s.metrics.storeErrors.WithLabelValues(op).Inc()
				log.Warn("registrar store write failed", zap.String("op", op), zap.String("key", key), zap.Error(err))
			},
		})
	}
	s.reg = s.table
	defer func() {
		if err != nil {
			s.closeListeners()
		}
	}()
	if cfg.ICSCF != "" && cfg.ICSCF != ICSCFNone {
		var u sip.Uri
		if err := sip.ParseUri(cfg.ICSCF, &u); err != nil {
			return nil, fmt.Errorf("scscf icscf %q: %w", cfg.ICSCF, err)
		}
		if u.UriParams == nil {
			u.UriParams = sip.NewParams()
		}
		if _, ok := u.UriParams.Get("lr"); !ok && cfg.ICSCFRoute == ICSCFRouteRoute {
			// RFC 3261 §16.6 step 3: a pre-loaded Route is a loose route.
			u.UriParams.Add("lr", "")
		}
		s.icscf = &u
	}

	if s.fastreg, err = newFastReg(cfg.FastReg); err != nil {
		return nil, fmt.Errorf("scscf: %w", err)
	}
	if cfg.Interconnect.Enabled {
		if s.interconnect, err = newInterconnect(cfg.Interconnect, cfg.Domain, log.Named("interconnect")); err != nil {
			return nil, fmt.Errorf("scscf: %w", err)
		}
	}

	// SIP.
	var server sip.Uri
	_ = sip.ParseUri(cfg.ServerName, &server)
	pcfg := proxy.DefaultConfig()
	pcfg.Listen = []proxy.Listen{{Addr: cfg.SIP.Listen, Advertise: cfg.SIP.Advertise}}
	pcfg.Aliases = []string{server.Host, server.Host + ":" + fmt.Sprint(server.Port)}
	trusted, err := trust.ParseDomain(cfg.TrustedNetworks)
	if err != nil {
		return nil, fmt.Errorf("scscf: %w", err)
	}
	s.edge = boundary.New(trusted, log.Named("trust"), s.metrics.edge)
	pcfg.Router = s.edge.Wrap(s) // TS 24.229 §4.4: nothing from outside the trust domain is read as asserted
	pcfg.Resolver = cfg.Resolver
	pcfg.Metrics = s.metrics
	pcfg.Limits = cfg.SIP.Limits
	pcfg.TLS = cfg.SIP.TLS.WithAdvertise(cfg.SIP.Advertise)
	if cfg.SIPTimerF > 0 {
		pcfg.TimerF = cfg.SIPTimerF
	}
	if cfg.SIPTimerC > 0 {
		pcfg.TimerC = cfg.SIPTimerC
	}
	s.proxy, err = proxy.New(pcfg, log)
	if err != nil {
		return nil, fmt.Errorf("scscf sip: %w", err)
	}
	for _, l := range s.proxy.Listeners() {
		if l.Transport == "UDP" {
			s.advertise = l.Addr
			if ip, perr := netip.ParseAddr(l.Advertise); perr == nil {
				s.advertise = netip.AddrPortFrom(ip, l.Addr.Port())
			}
		}
	}
	host := s.advertise.Addr().String()
	if cfg.SIP.Advertise != "" {
		host = cfg.SIP.Advertise
	}
	s.serviceRoute = serviceRouteURI(host, int(s.advertise.Port()))
	s.contactURI = fmt.Sprintf("sip:%s:%d", host, s.advertise.Port())

	// Diameter.
	s.dict, err = cx.NewDictionary()
	if err != nil {
		return nil, fmt.Errorf("scscf diameter: %w", err)
	}
	tlsCfg, err := cfg.Diameter.TLS.Load()
	if err != nil {
		return nil, fmt.Errorf("scscf diameter.tls: %w", err)
	}
	dcfg := peer.Config{
		OriginHost:       cfg.Diameter.OriginHost,
		OriginRealm:      cfg.Diameter.OriginRealm,
		VendorID:         cx.Vendor3GPP,
		ProductName:      "imscore-scscf",
		Applications:     []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}},
		Dictionary:       s.dict,
		RequestTimeout:   cfg.Diameter.RequestTimeout,
		WatchdogInterval: cfg.Diameter.WatchdogInterval,
		Peers:            peer.WithRoles(cfg.Diameter.Peers, cx.RoleHSS),
		Permissions:      Permissions(),
		TLS:              tlsCfg,
		Log:              log.Named("diameter"),
		Observer:         s.metrics,
	}
	cfg.Diameter.Resilience.Apply(&dcfg)
	s.node, err = peer.New(dcfg, s)
	if err != nil {
		return nil, fmt.Errorf("scscf diameter: %w", err)
	}
	s.cx = &cxClient{node: s.node, cfg: cfg.Diameter, serverName: cfg.ServerName, sessionHi: randomUint32(),
		log: log}
	if cfg.Diameter.DOIC {
		s.cx.overload = doic.New(log.Named("diameter"))
	}
	if cfg.Diameter.Listen != "" {
		if s.diamLn, err = net.Listen("tcp", cfg.Diameter.Listen); err != nil {
			return nil, fmt.Errorf("scscf diameter listen: %w", err)
		}
	}
	if cfg.HTTPListen != "" {
		if s.admin, err = adminhttp.New(cfg.Admin, log.Named("admin")); err != nil {
			return nil, fmt.Errorf("scscf admin: %w", err)
		}
		if s.httpLn, err = s.admin.Listen(cfg.HTTPListen); err != nil {
			return nil, fmt.Errorf("scscf http listen: %w", err)
		}
	}
	return s, nil
}

func (s *Server) closeListeners() {
	if s.proxy != nil {
		_ = s.proxy.Close()
	}
	if s.diamLn != nil {
		_ = s.diamLn.Close()
	}
	if s.httpLn != nil {
		_ = s.httpLn.Close()
	}
}

// SIPAddr is the bound SIP address (UDP and TCP share it).
func (s *Server) SIPAddr() netip.AddrPort { return s.advertise }

// DiameterAddr is the bound Diameter listener, if any.
func (s *Server) DiameterAddr() net.Addr {
	if s.diamLn == nil {
		return nil
	}
	return s.diamLn.Addr()
}

// HTTPAddr is the bound HTTP listener, if any.
func (s *Server) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// ServiceRoute is the Service-Route URI given to registered UEs.
func (s *Server) ServiceRoute() string { return s.serviceRoute }

// Run serves until ctx ends, then drains: the HTTP server stops, the SIP proxy closes (transactions
// ended), DPR goes to the HSS (diameter/peer Close), and every goroutine has returned. It returns the
// first error that stopped a component.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.runCtx = ctx
	errc := make(chan error, 4)

	// Before the HSS can send RTR or PPR and before the first request: the table holds the store's state.
	if err := s.table.Load(ctx); err != nil {
		s.closeListeners()
		return fmt.Errorf("scscf: load registrar: %w", err)
	}
	s.initRegistrationGauges(ctx)
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.table.Run(ctx, s.cfg.StoreFlushInterval) }()
	if w, ok := s.store.(registrar.Watcher); ok && s.table.Shared() {
		// A pool: a copy another S-CSCF changed is dropped, the next request reads the store's.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = w.WatchRegistrations(ctx, s.table.Invalidate)
		}()
	}
	if err := s.node.Connect(ctx, peer.PeerConfig{Address: s.cfg.Diameter.HSS, Host: s.cfg.Diameter.HSSHost,
		Roles: []string{cx.RoleHSS}}); err != nil {
		s.closeListeners()
		return fmt.Errorf("scscf: connect HSS: %w", err)
	}
	if s.diamLn != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.node.Serve(ctx, s.diamLn); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, peer.ErrClosed) {
				errc <- fmt.Errorf("diameter serve: %w", err)
			}
		}()
	}
	var httpSrv *http.Server
	if s.httpLn != nil {
		httpSrv = adminhttp.NewServer(s.httpHandler(), s.log.Named("admin"))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http: %w", err)
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.proxy.Run(ctx); err != nil {
			errc <- fmt.Errorf("sip: %w", err)
		}
	}()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.runNotifier(ctx) }()
	go func() { defer s.wg.Done(); s.runSweeper(ctx) }()
	s.log.Info("running", zap.Stringer("sip", s.advertise), zap.String("service_route", s.serviceRoute),
		zap.String("hss", s.cfg.Diameter.HSS), zap.Stringer("trusted_networks", s.edge.Domain()))

	var first error
	select {
	case <-ctx.Done():
	case first = <-errc:
		s.log.Error("component failed, shutting down", zap.Error(first))
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer done()
	if httpSrv != nil {
		_ = httpSrv.Shutdown(shutdownCtx)
	}
	if err := s.proxy.Close(); err != nil && first == nil {
		first = fmt.Errorf("sip close: %w", err)
	}
	if err := s.node.Close(shutdownCtx); err != nil && first == nil && !errors.Is(err, context.DeadlineExceeded) {
		first = fmt.Errorf("diameter close: %w", err)
	}
	s.wg.Wait()
	// A clean stop loses nothing: every change still in memory only goes to the store now.
	flushCtx, flushDone := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer flushDone()
	if err := s.table.Flush(flushCtx); err != nil {
		s.log.Error("registrar: final flush failed", zap.Int("pending", s.table.Pending()), zap.Error(err))
		if first == nil {
			first = fmt.Errorf("scscf: final flush: %w", err)
		}
	}
	s.log.Info("stopped")
	return first
}

// runSweeper expires registrations, subscriptions, vectors and ISC tokens.
func (s *Server) runSweeper(ctx context.Context) {
	t := time.NewTicker(s.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.expireRegistrations(ctx, now)
			s.expireSubscriptions(ctx, now)
			s.expireAuth(ctx, now)
			s.expireISC(now)
		}
	}
}

// Run opens the registrar named by cfg.DB (migrating it), runs an S-CSCF until ctx ends and closes the
// store. It is what cmd/scscf calls.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("scscf config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	var reg registrar.Registrar
	var closeStore func() error
	if strings.EqualFold(cfg.DB, "memory") {
		reg, closeStore = registrar.NewMemory(), func() error { return nil }
	} else {
		db, err := storage.OpenAndMigrate(ctx, cfg.DB, log)
		if err != nil {
			return fmt.Errorf("scscf: %w", err)
		}
		r, ok := db.(registrar.Registrar)
		if !ok {
			db.Close()
			return fmt.Errorf("scscf: storage backend %T has no registrar", db)
		}
		reg, closeStore = r, db.Close
	}
	s, err := New(cfg, reg, log)
	if err != nil {
		_ = closeStore()
		return err
	}
	runErr := s.Run(ctx)
	if err := closeStore(); err != nil && runErr == nil {
		runErr = fmt.Errorf("scscf: close store: %w", err)
	}
	return runErr
}

// Permissions are the Cx requests the S-CSCF serves and from whom: RTR (TS 29.228 §6.1.3) and PPR (§6.2.2),
// from the HSS only. An I-CSCF or another S-CSCF allowed to connect gets DIAMETER_AUTHORIZATION_REJECTED.
func Permissions() map[string][]peer.Command {
	return map[string][]peer.Command{cx.RoleHSS: {
		{App: cx.AppID, Code: uint32(cx.CmdRegistrationTermination)},
		{App: cx.AppID, Code: uint32(cx.CmdPushProfile)},
	}}
}

// Interface guards.
var (
	_ proxy.Router       = (*Server)(nil)
	_ proxy.OptionTagger = (*Server)(nil)
	_ peer.Handler       = (*Server)(nil)
)
