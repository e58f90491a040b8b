package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/httpauth"
)

// HSS is a running cmd/hss.
type HSS struct {
	*Process
	Cx   string // Diameter address
	Host string // Origin-Host
	API  string // provisioning API base URL (imsctl --api)
	// Token is an API token with the admin scope (named "e2e"); TokenFile holds it (imsctl --token-file).
	Token, TokenFile string
}

// HSSOptions configure StartHSS.
type HSSOptions struct {
	// DB is the store DSN; "": an SQLite file in the process's directory.
	DB string
	// SCSCFs are the S-CSCF names seeded into the store (no capabilities), replacing the default one.
	SCSCFs []string
	// NS is the network namespace to run in (nil: the test's own).
	NS Namespace
	// Args are further flags (e.g. --diameter-peer for CSCFs other than imscore's own).
	Args []string
	// Extra is YAML appended to the configuration file.
	Extra string
}

// DefaultHSSHost is cmd/hss's default Origin-Host.
const DefaultHSSHost = "hss." + Domain

// StartHSS starts cmd/hss on free loopback ports and waits for its /readyz.
func StartHSS(t testing.TB, b *Builder, o HSSOptions) *HSS {
	t.Helper()
	bin := b.MustPath(t, "hss")
	n := &HSS{Cx: Addr(FreePort(t)), Host: DefaultHSSHost}
	apiAddr := Addr(FreePort(t))
	n.API = "http://" + apiAddr
	dir := t.TempDir()
	db := o.DB
	if db == "" {
		db = "sqlite://" + filepath.Join(dir, "hss.db")
	}
	var cfg strings.Builder
	cfg.WriteString("scscfs:\n")
	for _, s := range o.SCSCFs {
		fmt.Fprintf(&cfg, "  - name: %q\n", s)
	}
	if len(o.SCSCFs) == 0 {
		cfg.Reset()
	}
	cfg.WriteString(o.Extra)
	path := filepath.Join(dir, "hss.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	tokensFile := filepath.Join(dir, "api-tokens.yaml")
	token, err := httpauth.AddToken(tokensFile, "e2e", []httpauth.Scope{httpauth.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	n.Token, n.TokenFile = token, filepath.Join(dir, "imsctl.token")
	if err := httpauth.WriteSecretFile(n.TokenFile, []byte(token+"\n")); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", path, "--db", db, "--diameter-listen", n.Cx,
		"--api-listen", apiAddr, "--api-tokens-file", tokensFile, "--log-level", "debug"}
	n.Process = StartProcessIn(t, o.NS, "hss", bin, append(args, o.Args...)...)
	n.WaitHTTP(n.API + "/readyz")
	return n
}

// Provision adds s with the SIPp key set (subscriber.go) through imsctl.
func (h *HSS) Provision(t testing.TB, b *Builder, s Subscriber) {
	t.Helper()
	Imsctl(t, b, h, "subscriber", "add", "--imsi", s.IMSI, "--msisdn", s.MSISDN, "--k", AKAK, "--op", AKAOP,
		"--amf", AKAAMF)
}

// Deregister asks for a network-initiated de-registration of s (Cx RTR, TS 29.228 §6.1.3) through imsctl.
func (h *HSS) Deregister(t testing.TB, b *Builder, s Subscriber) {
	t.Helper()
	Imsctl(t, b, h, "deregister", "--imsi", s.IMSI)
}
