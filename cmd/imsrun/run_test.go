package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/httpauth"
)

// waitReady waits for the node's /readyz to answer 200: 503 while the node cannot serve yet.
func TestWaitReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "no HSS connection", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	}))
	defer srv.Close()
	n := &node{name: "scscf", ready: srv.URL + "/readyz"}
	if err := waitReady(context.Background(), n, 10*time.Second, nil); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("%d probes, want 3 (two 503s, then 200)", got)
	}
}

func TestWaitReadyTimeoutAndExit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	n := &node{name: "icscf", ready: srv.URL + "/readyz"}
	err := waitReady(context.Background(), n, 300*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "icscf was not ready") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("want a timeout naming the node and the 503, got %v", err)
	}
	exited := make(chan *process, 1)
	exited <- &process{node: n, err: errors.New("exit status 2")}
	err = waitReady(context.Background(), n, 10*time.Second, exited)
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Fatalf("want the node's exit reported, got %v", err)
	}
}

func TestParseOptionsReadyURLs(t *testing.T) {
	o, err := parseOptions([]string{"--pcscf-ready=http://127.0.0.1:19101/readyz"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"hss": "http://127.0.0.1:8080/readyz", "scscf": "http://127.0.0.1:9103/readyz",
		"icscf": "http://127.0.0.1:9102/readyz", "pcscf": "http://127.0.0.1:19101/readyz",
		"presence": "http://127.0.0.1:8090/healthz"}
	for _, n := range o.nodes {
		if n.ready != want[n.name] {
			t.Errorf("%s ready %q, want %q", n.name, n.ready, want[n.name])
		}
	}
}

// The first start makes the API token (0600, the tokens file holding only its hash); the next start reuses
// it; a token that does not match the tokens file is an error, not a silent replacement.
func TestEnsureToken(t *testing.T) {
	t.Chdir(t.TempDir())
	token, made, err := ensureToken(defaultTokensFile, defaultTokenFile)
	if err != nil || !made {
		t.Fatalf("first start: %v made %v", err, made)
	}
	for _, p := range []string{defaultTokensFile, defaultTokenFile} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", p, fi, err)
		}
	}
	if b, _ := os.ReadFile(defaultTokensFile); strings.Contains(string(b), token) {
		t.Errorf("the tokens file holds the token itself")
	}
	tokens, err := httpauth.LoadTokens(defaultTokensFile)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := tokens.Lookup(token); !ok || p.Name != "imsctl" || !p.Has(httpauth.ScopeAdmin) {
		t.Errorf("token %+v %v, want imsctl with the admin scope", p, ok)
	}
	again, made, err := ensureToken(defaultTokensFile, defaultTokenFile)
	if err != nil || made || again != token {
		t.Fatalf("second start: %v made %v same %v", err, made, again == token)
	}
	if err := httpauth.WriteSecretFile(defaultTokenFile, []byte("imscore_other\n")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ensureToken(defaultTokensFile, defaultTokenFile); err == nil || !strings.Contains(err.Error(), "remove both") {
		t.Fatalf("mismatch: %v", err)
	}
}

// The HSS is told where the tokens file is; --hss-arg comes after, so an operator's own setting wins.
func TestHSSGetsTokensFile(t *testing.T) {
	o, err := parseOptions([]string{"--hss-arg=--log-level=debug"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.tokensFile != defaultTokensFile || o.tokenFile != defaultTokenFile {
		t.Errorf("defaults %q %q", o.tokensFile, o.tokenFile)
	}
	want := []string{"--api-tokens-file", defaultTokensFile, "--log-level=debug"}
	if hss := o.nodes[0]; hss.name != "hss" || !slices.Equal(hss.args, want) {
		t.Errorf("%s args %q, want %q", hss.name, hss.args, want)
	}
	// The S-CSCF and P-CSCF read imsctl's token on their admin routes (imsctl contacts).
	for _, n := range o.nodes {
		if (n.name == "scscf" || n.name == "pcscf") && !slices.Equal(n.args, []string{"--admin-tokens-file", defaultTokensFile}) {
			t.Errorf("%s args %q, want --admin-tokens-file %s", n.name, n.args, defaultTokensFile)
		}
	}
}

// A busy port stops imsrun before it starts anything, and the message names the process holding it.
func TestBusyPortRefusedAndNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().String()
	err = checkFree("pcscf", sockets("tcp:"+busy))
	if !errors.Is(err, errPortBusy) {
		t.Fatalf("checkFree on a held port: %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(err.Error(), "--pcscf-ports") {
		t.Fatalf("the error does not name the holder (this test, pid %d) and the way out: %v", os.Getpid(), err)
	}
	u, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := checkFree("pcscf", sockets("udp:"+u.LocalAddr().String())); !errors.Is(err, errPortBusy) {
		t.Fatalf("checkFree on a held UDP port: %v", err)
	}
	free := freePort(t)
	if err := checkFree("pcscf", sockets("tcp+udp:127.0.0.1:"+free)); err != nil {
		t.Fatalf("checkFree on a free port: %v", err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	return port
}

// A /readyz answered by a process other than the one imsrun started is refused.
func TestIdentityChecked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	n := &node{name: "hss", ready: srv.URL + "/readyz"}
	if err := checkIdentity(n, os.Getpid()); err != nil {
		t.Fatalf("our own listener: %v", err)
	}
	err := checkIdentity(n, os.Getpid()+1)
	if err == nil || !strings.Contains(err.Error(), "not from the process imsrun started") {
		t.Fatalf("another process's listener: %v; want it refused", err)
	}
}

// The ports flag replaces a node's default sockets.
func TestPortsFlag(t *testing.T) {
	o, err := parseOptions([]string{"--pcscf-ports=tcp:127.0.0.1:15060, udp:[::1]:15060"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := joinPorts(o.nodes[3].ports); got != "tcp:127.0.0.1:15060,udp:[::1]:15060" {
		t.Fatalf("pcscf ports %q", got)
	}
	if _, err := parseOptions([]string{"--hss-ports=sctp:127.0.0.1:3868"}, io.Discard); err == nil {
		t.Fatal("an sctp port accepted")
	}
}
