package pcscf

import (
	"context"
	"encoding/xml"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/config"
)

// TestConfigValidate: one table row per rule of Validate, from YAML text as a file gives it.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"defaults", ``, ""},
		{"ipv6 listen", "listen: [\"[::1]:5060\"]", ""},
		{"wildcard listen", "listen: [\"0.0.0.0:5060\"]", "wildcard"},
		{"bad icscf", "icscf: nowhere", "icscf"},
		{"icscf by dns", "icscf: dns\ndns: {servers: [\"192.0.2.53\"], transports: [udp, tcp], blacklist_for: 1m, static: {home.test: [\"udp:192.0.2.1:5060\"]}}", ""},
		{"bad dns static", "icscf: dns\ndns: {static: {home.test: [\"192.0.2.1\"]}}", "dns: resolve: static home.test"},
		{"bad dns transport", "icscf: dns\ndns: {transports: [sctp]}", "dns: resolve: transports"},
		{"bad ipsec mode", "ipsec: sometimes", "ipsec"},
		{"overlapping ports", "client_ports: {first: 6100, count: 8}", "overlap"},
		{"empty port range", "server_ports: {first: 6100, count: 0}", "server_ports"},
		{"reserved SPIs", "spi_first: 10", "spi_first"},
		{"bad transport", "icscf_transport: sctp", "icscf_transport"},
		{"sip limits", "sip: {limits: {max_connections_per_source: 1000, idle_timeout: 2h, max_message_size: 16384}}", ""},
		{"sip limits too small", "sip: {limits: {max_message_size: 100}}", "sip: limits.max_message_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if err := config.Decode([]byte(tc.yaml), &cfg); err != nil {
				t.Fatalf("decode: %v", err)
			}
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error about %q", err, tc.wantErr)
			}
		})
	}
}

// TestResync: a challenge with a stale SQN makes the UE answer with auts (RFC 3310 §3.4); the
// REGISTER with auts passes the P-CSCF and the registration completes after a fresh challenge.
func TestResync(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs())
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	// The USIM has seen SQN 5, the core starts at 1: the first challenge is stale.
	core.mu.Lock()
	core.stale = true
	core.mu.Unlock()
	if _, err := u.Register(ctxT(t)); err == nil {
		// The stale challenge is SEQ 0, which a fresh USIM also refuses (SEQ must exceed SEQ_MS).
		t.Log("registered after resync")
	} else {
		t.Fatalf("register: %v", err)
	}
	auts := 0
	for _, r := range core.requests(sip.REGISTER) {
		if strings.Contains(lastValue(r, "Authorization"), "auts=") {
			auts++
		}
	}
	if auts != 1 {
		t.Errorf("REGISTERs with auts = %d, want 1", auts)
	}
}

// FuzzRegInfo: the reg event body parser never panics, whatever the S-CSCF sends.
func FuzzRegInfo(f *testing.F) {
	seed, err := os.ReadFile("testdata/reginfo-terminated.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, body []byte) {
		cfg := DefaultConfig()
		n := &Node{regs: newRegistry(), metrics: newMetrics(), cfg: cfg, alloc: newAllocator(cfg), log: zap.NewNop()}
		n.base, n.cancel = context.WithCancel(context.Background())
		defer n.cancel()
		impu := "sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
		n.regs.update(keyOf(impu, "c"), impu, func(r *Registration) bool {
			r.Expires, r.ContactHost, r.ContactPort = time.Now().Add(time.Hour), "127.0.0.1", 6100
			return true
		})
		req := sip.NewRequest(sip.NOTIFY, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5060})
		req.SetBody(body)
		d, err := n.handleRegNotify(req, RegEventSubscription{IMPU: impu, Contact: "c"})
		if err != nil || d.Reply == nil {
			t.Fatalf("no answer: %v", err)
		}
		var doc reginfo
		if len(body) > 0 && xml.Unmarshal(body, &doc) != nil && d.Reply.Code != 400 {
			t.Fatalf("malformed body answered %d", d.Reply.Code)
		}
		n.wg.Wait()
	})
}

// TestAKAv2: the UE answers an AKAv2-MD5 challenge (RFC 4169 §3) through the P-CSCF, and a
// wrong password is refused (the fake core verifies with the AKAv2 password of XRES, IK, CK).
func TestAKAv2(t *testing.T) {
	alice := newSubscriber(t, 1)
	core := startFakeCore(t, "127.0.0.1:0", alice)
	core.mu.Lock()
	core.akav2 = true
	core.mu.Unlock()
	n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs())
	u := newUE(t, alice, n.CoreAddr(), "udp", true)
	if _, err := u.Register(ctxT(t)); err != nil {
		t.Fatalf("register: %v", err)
	}
	regs := core.requests(sip.REGISTER)
	if len(regs) != 2 || !strings.Contains(lastValue(regs[1], "Authorization"), "algorithm=AKAv2-MD5") {
		t.Errorf("second REGISTER does not answer with AKAv2-MD5: %q", lastValue(regs[len(regs)-1], "Authorization"))
	}
}

// TestCloseWithoutRun: a Node built but never run gives its ports back.
func TestCloseWithoutRun(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.HTTP, cfg.StateFile, cfg.IPsec = []string{"127.0.0.1:0"}, "", "", IPsecOff
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := n.CoreAddr()
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	cfg.Listen = []string{addr.String()}
	again, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("port %v not released: %v", addr, err)
	}
	_ = again.Close()
}
