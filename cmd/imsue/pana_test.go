package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/services/paa"
	"github.com/imscore/imscore/services/paa/eaptls"
	"github.com/imscore/imscore/services/paa/paatest"
)

// TestPANACommand: imsue pana authenticates to a PAA, prints the token the PAA pushed and terminates.
func TestPANACommand(t *testing.T) {
	const impi = "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"
	ca := paatest.NewCA(t, "operator")
	srv := ca.Server("paa.example")
	ue := ca.UE(impi)
	pusher := paa.NewMemoryPusher()
	cfg := paa.DefaultConfig()
	cfg.Listen, cfg.HTTPListen, cfg.Pusher = []string{"127.0.0.1:0"}, "", pusher
	cfg.EAP.CertFile, cfg.EAP.KeyFile, cfg.EAP.CAFile = srv.CertFile, srv.KeyFile, ca.File
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nctx, stopNode := context.WithCancel(ctx)
	n, err := paa.Start(nctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { stopNode(); _ = n.Wait() }()
	tokenFile := filepath.Join(t.TempDir(), "token")
	var out, errOut bytes.Buffer
	code := runPANA(ctx, []string{"--paa", n.Addrs()[0], "--impi", impi, "--cert", ue.CertFile, "--key", ue.KeyFile,
		"--ca", ca.File, "--server-name", "paa.example", "--identity", "anonymous@ims.mnc001.mcc001.3gppnetwork.org", "--token-file", tokenFile, "--once"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	file, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(file))
	if !strings.Contains(out.String(), "token "+tok) || !strings.Contains(out.String(), "terminated") || len(tok) != 2*eaptls.TokenLen {
		t.Fatalf("output %q, token file %q", out.String(), tok)
	}
	if !pusher.Wait(ctx, impi, func(_ paa.Grant, ok bool) bool { return len(pusher.Events()) == 2 && !ok }) {
		t.Fatalf("pushes and drops %+v, want a push and a drop", pusher.Events())
	}
	ev := pusher.Events()
	if ev[0].Op != "push" || ev[0].Grant.IMPI != impi || eaptls.EncodeToken(ev[0].Grant.Token) != tok || ev[1].Op != "drop" {
		t.Fatalf("events %+v, the UE printed %s", ev, tok)
	}
}
