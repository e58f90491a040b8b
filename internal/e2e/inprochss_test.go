package e2e

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/storage"
)

// inProcHSS is the project's HSS (hss.NewServer) run inside the test over a real store, standing in for
// cmd/hss until that binary exists. Its Cx listener is real TCP, so the CSCF binaries cannot tell.
type inProcHSS struct {
	srv  *hss.Server
	addr string // Cx
	host string // Origin-Host
	api  string // provisioning API base URL, for imsctl
	db   storage.DB
}

// startInProcHSS serves Cx on a free port from dsn ("" : a temporary SQLite file) and seeds the S-CSCF names.
func startInProcHSS(t *testing.T, dsn string, scscfNames ...string) *inProcHSS {
	t.Helper()
	ctx := context.Background()
	if dsn == "" {
		dsn = "sqlite://" + filepath.Join(t.TempDir(), "hss.db")
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named("hss")
	db, err := storage.OpenAndMigrate(ctx, dsn, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := hss.DefaultConfig()
	cfg.Diameter.Listen = "127.0.0.1:0"
	cfg.Diameter.RequestTimeout = 2 * time.Second
	for _, name := range scscfNames {
		if err := db.PutSCSCF(ctx, hss.SCSCF{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	media := int32(1)
	if err := db.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "plain", SubscribedMediaProfileID: &media}); err != nil {
		t.Fatal(err)
	}
	srv, err := hss.NewServer(hss.ServerOptions{Config: cfg, Store: db, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
		<-served
	})
	api, err := provision.NewHandler(provision.Options{Store: db, Network: srv, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", api)
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	apiDone := make(chan struct{})
	go func() { defer close(apiDone); _ = hs.Serve(apiLn) }()
	t.Cleanup(func() {
		_ = hs.Close()
		<-apiDone
	})
	return &inProcHSS{srv: srv, addr: ln.Addr().String(), host: cfg.Diameter.OriginHost,
		api: "http://" + apiLn.Addr().String(), db: db}
}

// provision adds a subscriber with the SIPp key set through imsctl, with the profile without iFCs.
func (h *inProcHSS) provision(t *testing.T, s Subscriber) {
	t.Helper()
	Imsctl(t, bins, h.api, "subscriber", "add", "--imsi", s.IMSI, "--msisdn", s.MSISDN, "--k", AKAK, "--op", AKAOP,
		"--amf", AKAAMF, "--profile", "plain")
}

// deregister is the network-initiated de-registration (RTR, TS 29.228 §6.1.3), asked through imsctl.
func (h *inProcHSS) deregister(t *testing.T, s Subscriber) {
	t.Helper()
	Imsctl(t, bins, h.api, "deregister", "--imsi", s.IMSI)
}
