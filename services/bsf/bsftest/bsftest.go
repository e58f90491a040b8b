// Package bsftest starts an HSS (hss.Server on an SQLite store) and a BSF connected to it over Zh on
// loopback, for the tests of the BSF and of NAFs (the XDMS). Everything stops at the test's cleanup.
package bsftest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/services/bsf"
	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/storage"
)

// Realm is the realm of every node of the environment; BSFName the BSF's FQDN.
const (
	Realm   = hss.DefaultDomain
	BSFName = "bsf." + Realm
)

// Env is a running HSS and BSF.
type Env struct {
	DB     storage.DB
	HSS    *hss.Server
	BSF    *bsf.Server
	UbURL  string // http://127.0.0.1:port/
	ZnAddr string // the BSF's Zn listener
	imsi   atomic.Int64
}

// Start runs an HSS and a BSF. nafHosts are the Origin-Hosts of the NAFs the BSF accepts on Zn (from
// loopback, role naf); mutate, if set, changes the BSF's configuration first.
func Start(t testing.TB, nafHosts []string, mutate func(*bsf.Config)) *Env {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenAndMigrate(ctx, "sqlite://"+filepath.Join(t.TempDir(), "hss.db"), zap.NewNop())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateServiceProfile(ctx, hsstest.Profile(hsstest.DefaultProfileID)); err != nil {
		t.Fatal(err)
	}
	hcfg := hss.DefaultConfig()
	hcfg.Diameter.Peers = append(hcfg.Diameter.Peers, peer.AllowedPeer{Host: BSFName, Realm: Realm,
		Sources: []string{"127.0.0.1"}, Roles: []string{hss.RoleBSF}})
	srv, err := hss.NewServer(hss.ServerOptions{Config: hcfg, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
		<-served
	})
	cfg := bsf.DefaultConfig()
	cfg.Name, cfg.Realm = BSFName, Realm
	cfg.UbListen, cfg.Zn.Listen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Zh.HSS, cfg.Zh.HSSHost, cfg.Zh.HSSRealm = ln.Addr().String(), hcfg.Diameter.OriginHost, Realm
	for _, h := range nafHosts {
		cfg.Zn.Peers = append(cfg.Zn.Peers, peer.AllowedPeer{Host: h, Realm: Realm, Sources: []string{"127.0.0.1"},
			Roles: []string{bsf.RoleNAF}})
	}
	if len(cfg.Zn.Peers) == 0 {
		cfg.Zn.Listen = ""
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := bsf.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	bctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(bctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("bsf: %v", err)
		}
	})
	e := &Env{DB: db, HSS: srv, BSF: b, UbURL: "http://" + b.UbAddr().String() + "/"}
	if a := b.ZnAddr(); a != nil {
		e.ZnAddr = a.String()
	}
	// Wait until the BSF's Zh connection is up: a bootstrapping right away must not see 503.
	deadline := time.Now().Add(10 * time.Second)
	for !b.HSSConnected() {
		if time.Now().After(deadline) {
			t.Fatal("bsf: the HSS connection did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return e
}

// Subscriber provisions a subscriber with the hsstest keys (AKA) and a fresh IMSI.
func (e *Env) Subscriber(t testing.TB) hss.Subscriber {
	t.Helper()
	n := e.imsi.Add(1)
	sub := hsstest.Subscriber(fmt.Sprintf("00101%010d", n), fmt.Sprintf("1555%08d", n))
	if err := e.DB.CreateSubscriber(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	return sub
}

// USIM is the card of every hsstest subscriber, with every SEQ_MS at zero.
func USIM(t testing.TB) *aka.USIM {
	t.Helper()
	sub := hsstest.Subscriber("001010000000000", "15550000")
	keys, err := aka.NewKeys(sub.Private.K, sub.Private.OP, sub.Private.OPc, sub.Private.AMF)
	if err != nil {
		t.Fatal(err)
	}
	u, err := aka.NewUSIM(keys, aka.DefaultUSIMConfig())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// StartNAF runs a NAF named fqdn whose Zn Origin-Host is originHost ("" : fqdn), connected to the BSF, and
// waits for its Zn connection.
func (e *Env) StartNAF(t testing.TB, fqdn, originHost string) *gba.NAF {
	t.Helper()
	n, err := gba.NewNAF(gba.NAFConfig{FQDN: fqdn, OriginHost: originHost, BSF: e.ZnAddr, BSFHost: BSFName}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(10 * time.Second); !n.Connected(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("NAF: no Zn connection to the BSF")
		}
	}
	return n
}
