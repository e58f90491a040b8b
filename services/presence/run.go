package presence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/xdms"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/storage"
)

// presenceStorer is a storage backend that holds the presence state (storage/sqlite, storage/postgres).
type presenceStorer interface{ Presence() store.Store }

// Run opens the store, then serves SIP (the presence server) and, when HTTPListen is set, XCAP (the
// XDMS) on one process until ctx ends. A change of a pres-rules document applies at once to the
// presentity's watchers.
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("presence config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	var st store.Store
	closeStore := func() error { return nil }
	if strings.EqualFold(cfg.DB, "memory") {
		st = store.NewMemory()
	} else {
		db, err := storage.OpenAndMigrate(ctx, cfg.DB, log)
		if err != nil {
			return fmt.Errorf("presence: %w", err)
		}
		ps, ok := db.(presenceStorer)
		if !ok {
			db.Close()
			return fmt.Errorf("presence: storage backend %T has no presence store", db)
		}
		st, closeStore = ps.Presence(), db.Close
	}
	defer func() { _ = closeStore() }()
	s, err := New(cfg, st, log)
	if err != nil {
		return err
	}
	var srv *http.Server
	if cfg.HTTPListen != "" {
		proxies, err := trust.ParseDomain(cfg.XCAPTrustedProxies)
		if err != nil {
			return fmt.Errorf("presence: %w", err)
		}
		handler := &xdms.Handler{Root: cfg.XCAPRoot, Store: st, Proxies: proxies, Log: log.Named("xdms"),
			OnChange: func(ctx context.Context, auid, user string) {
				if strings.HasSuffix(auid, "pres-rules") {
					s.RulesChanged(ctx, user)
				}
			}}
		if cfg.XCAPAuth == XCAPAuthGBA {
			naf, err := gba.NewNAF(cfg.GBA, log.Named("naf"))
			if err != nil {
				return fmt.Errorf("presence: %w", err)
			}
			handler.GBA = naf
			nctx, stopNAF := context.WithCancel(ctx)
			nafDone := make(chan error, 1)
			go func() { // the Zn connection to the BSF, stopped below
				err := naf.Run(nctx)
				if err != nil && nctx.Err() == nil {
					log.Error("xdms: no Zn connection to the BSF: GBA requests get 503", zap.Error(err))
				}
				nafDone <- err
			}()
			defer func() {
				stopNAF()
				<-nafDone
			}()
		}
		mux := http.NewServeMux()
		mux.Handle(cfg.XCAPRoot+"/", handler)
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		ln, err := net.Listen("tcp", cfg.HTTPListen)
		if err != nil {
			return fmt.Errorf("presence: http: %w", err)
		}
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("xcap server", zap.Error(err))
			}
		}()
		log.Info("XDMS listening", zap.String("addr", ln.Addr().String()), zap.String("root", cfg.XCAPRoot))
	}
	log.Info("presence server listening", zap.Stringer("sip", s.SIPAddr()))
	return s.Run(ctx)
}
