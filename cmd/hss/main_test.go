package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/version"
)

func TestFlagsAndConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hss.yaml")
	if err := os.WriteFile(file, []byte("diameter:\n  listen: 127.0.0.1:13868\ncx:\n  max_auth_items: 3\nstore:\n  dsn: /tmp/x.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("diameter:\n  lisen: 127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{name: "defaults", args: []string{"--dump-config"}, code: 0, contains: []string{
			"listen: 127.0.0.1:3868", "listen: 127.0.0.1:8080", "origin_host: hss.ims.mnc001.mcc001.3gppnetwork.org",
			"realm: ims.mnc001.mcc001.3gppnetwork.org", "dsn: ./var/hss.db", "auto_migrate: true", "cache_ttl: 1s", "max_auth_items: 5",
			"name: sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060", "watchdog_interval: 30s", "level: info"}},
		{name: "file then flags", args: []string{"--config", file, "--db", "postgres://db/hss", "--log-format", "json", "--dump-config"},
			code: 0, contains: []string{"listen: 127.0.0.1:13868", "max_auth_items: 3", "dsn: postgres://db/hss", "format: json"}},
		{name: "every flag", args: []string{"--diameter-listen", "127.0.0.1:1", "--api-listen", "127.0.0.1:2", "--origin-host", "h.example",
			"--realm", "example", "--log-level", "debug", "--dump-config"}, code: 0,
			contains: []string{"listen: 127.0.0.1:1", "listen: 127.0.0.1:2", "origin_host: h.example", "realm: example", "level: debug"}},
		{name: "version", args: []string{"--version"}, code: 0, contains: []string{"hss " + version.Release}},
		{name: "bad origin host", args: []string{"--origin-host", "not valid"}, code: 2, contains: []string{"diameter.origin_host"}},
		{name: "bad log level", args: []string{"--log-level", "loud"}, code: 2, contains: []string{"log"}},
		{name: "typo in the file", args: []string{"--config", bad}, code: 2, contains: []string{"lisen"}},
		{name: "unknown flag", args: []string{"--nope"}, code: 2},
		{name: "stray argument", args: []string{"serve"}, code: 2, contains: []string{"unexpected arguments"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errOut.String())
			}
			all := out.String() + errOut.String()
			for _, c := range tc.contains {
				if !strings.Contains(all, c) {
					t.Fatalf("output lacks %q:\n%s", c, all)
				}
			}
		})
	}
}

// buildHSS builds the binary once per test.
func buildHSS(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hss")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls /healthz until it answers 200.
func waitHealthy(t *testing.T, api string, exited <-chan error, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + api + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(body) == "ok\n" {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("hss exited before serving: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hss not healthy after 20s\n%s", stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSmoke builds bin/hss, starts it on free ports with a temporary store, provisions a subscriber over the
// API, sends a MAR as an S-CSCF, and stops it with SIGTERM: exit status 0.
func TestSmoke(t *testing.T) {
	bin := buildHSS(t)
	diamAddr, apiAddr := freePort(t), freePort(t)
	db := filepath.Join(t.TempDir(), "hss.db")
	tokensFile, tokens := adminhttptest.TokensFile(t)
	cmd := exec.Command(bin, "--diameter-listen", diamAddr, "--api-listen", apiAddr, "--db", db, "--log-format", "json",
		"--api-tokens-file", tokensFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	waitHealthy(t, apiAddr, exited, &stderr)

	ctx := context.Background()
	anonymous, err := provision.NewClient("http://"+apiAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	req := provision.SubscriberRequest{IMSI: "001010000000123", MSISDN: "15550123", K: hsstest.TestK, OP: hsstest.TestOP}
	if _, err := anonymous.CreateSubscriber(ctx, req); err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Fatalf("create without a token: %v, want 401", err)
	}
	api, err := provision.NewClient("http://"+apiAddr, nil, provision.WithToken(tokens[httpauth.ScopeProvision]))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := api.CreateSubscriber(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	code := mar(t, diamAddr, sub.IMPI, "sip:15550123@"+hss.DefaultDomain)
	if code != diameter.Success {
		t.Fatalf("MAA result %d", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("hss exited with %v after SIGTERM\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("hss did not stop after SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "hss stopped") {
		t.Errorf("no stop line in the log:\n%s", stderr.String())
	}
}

// TestNoArguments runs `hss` with no argument from a fresh directory: Cx on 127.0.0.1:3868, HTTP on
// 127.0.0.1:8080, the store created under ./var/. Skipped when another process holds those ports.
func TestNoArguments(t *testing.T) {
	for _, addr := range []string{hss.DefaultDiameterListen, hss.DefaultAPIListen} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("%s is in use by another process: %v", addr, err)
		}
		ln.Close()
	}
	bin := buildHSS(t)
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	waitHealthy(t, hss.DefaultAPIListen, exited, &stderr)
	conn, err := net.DialTimeout("tcp", hss.DefaultDiameterListen, 2*time.Second)
	if err != nil {
		t.Fatalf("Cx not on %s: %v", hss.DefaultDiameterListen, err)
	}
	conn.Close()
	if _, err := os.Stat(filepath.Join(dir, "var", "hss.db")); err != nil {
		t.Errorf("store not created under ./var: %v", err)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop on SIGINT")
	}
}

// mar sends one MAR as an S-CSCF and returns the result code.
func mar(t *testing.T, addr, impi, impu string) diameter.ResultCode {
	t.Helper()
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	const host = "scscf." + hss.DefaultDomain
	node, err := peer.New(peer.Config{OriginHost: host, OriginRealm: hss.DefaultDomain,
		Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d, Log: zap.NewNop()},
		peer.HandlerFunc(func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
			return nil, diameter.Errorf(diameter.CommandUnsupported, "test client")
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer node.Close(ctx)
	if err := node.Connect(ctx, peer.PeerConfig{Address: addr, Host: hss.DefaultOriginHost}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.WaitPeer(ctx, hss.DefaultOriginHost); err != nil {
		t.Fatal(err)
	}
	msg, err := (&cx.MAR{SessionID: host + ";1;1", OriginHost: host, OriginRealm: hss.DefaultDomain, DestinationRealm: hss.DefaultDomain,
		UserName: impi, PublicIdentity: impu, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5},
		SIPNumberAuthItems: 1, ServerName: hss.DefaultSCSCFName}).Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := node.Request(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	maa, err := cx.ParseMAA(ans)
	if err != nil {
		t.Fatal(fmt.Errorf("MAA: %w", err))
	}
	code, _ := maa.Result()
	return code
}
