package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter/fastreg"
	"github.com/imscore/imscore/internal/testpki"
	"github.com/imscore/imscore/services/paa/paatest"
	"github.com/imscore/imscore/sip/ue"
)

// TestFastRegistration: the access-bound fast registration (docs/fastreg.md) through the real P-, I- and
// S-CSCF and HSS processes, the UE being sip/ue (cmd/imsue's engine) and the access agent's token push the
// diameter/fastreg client (in place of the PAA): with the token and a valid AIB, one REGISTER and one 200
// (UAR, MAR, SAR at the HSS, no challenge); a wrong, expired, dropped (PANA session terminated) or used token
// and a badly signed AIB each fall back to the standard AKA challenge, and the UE still registers.
func TestFastRegistration(t *testing.T) {
	alice := NthSubscriber(91)
	pki := testpki.New(t, "operator-ue-ca")
	access := paatest.NewCA(t, "operator-access-ca") // the PAA's EAP-TLS server and the UE certificates of the last subtest
	const paaHost = "paa." + Domain
	// The S-CSCF trusts both CAs' UE certificates to sign AIBs.
	roots := filepath.Join(t.TempDir(), "ue-roots.pem")
	var pems []byte
	for _, f := range []string{pki.CAFile, access.File} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, b...)
	}
	if err := os.WriteFile(roots, pems, 0o600); err != nil {
		t.Fatal(err)
	}
	scscfCfg := filepath.Join(t.TempDir(), "scscf-fastreg.yaml")
	if err := os.WriteFile(scscfCfg, []byte(fmt.Sprintf("fastreg:\n  enabled: true\n  ca_file: %q\n", roots)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCoreWith(t, coreOptions{pcscf: true, scscfArgs: []string{"--config", scscfCfg},
		hssExtra: fmt.Sprintf(`fastreg:
  enabled: true
diameter:
  peers:
    - {origin_host: icscf.%[1]s, origin_realm: %[1]s, sources: ["127.0.0.1", "::1"], roles: [icscf]}
    - {origin_host: scscf.%[1]s, origin_realm: %[1]s, sources: ["127.0.0.1", "::1"], roles: [scscf]}
    - {origin_host: %[2]s, origin_realm: %[1]s, sources: ["127.0.0.1", "::1"], roles: [paa]}
`, Domain, paaHost)}, alice)
	Imsctl(t, bins, c.hss, "fastreg", "on", "--imsi", alice.IMSI)

	paa, err := fastreg.NewClient(fastreg.ClientConfig{OriginHost: paaHost, OriginRealm: Domain, HSSAddress: c.hss.Cx,
		HSSHost: c.hss.Host, HSSRealm: Domain, Log: zaptest.NewLogger(t).Named("paa")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = paa.Close(context.Background()) })
	if err := paa.WaitReady(uctx(t)); err != nil {
		t.Fatalf("the PAA's Diameter connection to the HSS: %v", err)
	}
	cert, key := e2eCert(t, pki, alice.IMPI())
	push := func(token []byte, lifetime time.Duration) {
		t.Helper()
		if err := paa.Push(uctx(t), alice.IMPI(), token, lifetime); err != nil {
			t.Fatalf("token push: %v", err)
		}
	}
	register := func(t *testing.T, f *ue.FastReg) {
		t.Helper()
		cfg := ue.Config{IMPI: alice.IMPI(), IMPU: number(alice), PCSCF: netip.MustParseAddrPort(c.entry), Keys: akaKeys(t),
			Timeout: 10 * time.Second, FastReg: f}
		u, err := ue.New(cfg, zaptest.NewLogger(t).Named("ue"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.Close)
		if _, err := u.Register(uctx(t)); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	counts := func() (fast, challenged, fallback, mar, sar, uar int) {
		s := Metrics(t, c.scscf.HTTP)
		h := Metrics(t, c.hss.API[len("http://"):])
		return metric(s, `scscf_registrations_total{outcome="fastreg"}`), metric(s, `scscf_registrations_total{outcome="challenged"}`),
			metric(s, `scscf_registrations_total{outcome="fastreg_fallback"}`),
			metric(h, `hss_cx_requests_received_total{command="MAR"}`), metric(h, `hss_cx_requests_received_total{command="SAR"}`),
			metric(h, `hss_cx_requests_received_total{command="UAR"}`)
	}

	token := bytes.Repeat([]byte{0xa1}, 32)
	push(token, time.Hour)
	t.Run("one REGISTER, one 200", func(t *testing.T) {
		f0, c0, _, m0, s0, u0 := counts()
		register(t, &ue.FastReg{Token: token, Cert: cert, Key: key})
		f1, c1, _, m1, s1, u1 := counts()
		if f1-f0 != 1 || c1 != c0 {
			t.Fatalf("S-CSCF: %d fast registrations and %d challenges, want 1 and 0", f1-f0, c1-c0)
		}
		// One REGISTER: one UAR at the I-CSCF, one MAR (the token beside the vector), one SAR.
		if m1-m0 != 1 || s1-s0 != 1 || u1-u0 != 1 {
			t.Fatalf("HSS saw UAR %d, MAR %d, SAR %d; want 1 each", u1-u0, m1-m0, s1-s0)
		}
	})
	fallsBack := func(t *testing.T, f *ue.FastReg) {
		t.Helper()
		_, c0, b0, _, _, _ := counts()
		register(t, f)
		_, c1, b1, _, _, _ := counts()
		if c1-c0 != 1 || b1-b0 != 1 {
			t.Fatalf("S-CSCF: %d challenges, %d fallbacks; want the standard challenge once", c1-c0, b1-b0)
		}
	}
	t.Run("used token falls back to the challenge", func(t *testing.T) {
		fallsBack(t, &ue.FastReg{Token: token, Cert: cert, Key: key})
	})
	t.Run("wrong token falls back to the challenge", func(t *testing.T) {
		push(bytes.Repeat([]byte{0xa2}, 32), time.Hour)
		fallsBack(t, &ue.FastReg{Token: bytes.Repeat([]byte{0xa3}, 32), Cert: cert, Key: key})
	})
	t.Run("bad AIB signature falls back to the challenge", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0xa4}, 32)
		push(tk, time.Hour)
		ocert, okey := e2eCert(t, testpki.New(t, "not-the-operator"), alice.IMPI())
		fallsBack(t, &ue.FastReg{Token: tk, Cert: ocert, Key: okey})
	})
	t.Run("terminated access session falls back to the challenge", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0xa5}, 32)
		push(tk, time.Hour)
		if err := paa.Drop(uctx(t), alice.IMPI()); err != nil {
			t.Fatal(err)
		}
		fallsBack(t, &ue.FastReg{Token: tk, Cert: cert, Key: key})
	})
	t.Run("expired token falls back to the challenge", func(t *testing.T) {
		tk := bytes.Repeat([]byte{0xa6}, 32)
		push(tk, time.Second)
		time.Sleep(1500 * time.Millisecond) // past the token's lifetime: waiting for an expiry, not timing anything
		fallsBack(t, &ue.FastReg{Token: tk, Cert: cert, Key: key})
	})

	// The whole scheme with the real access side: imsue pana authenticates with EAP-TLS to imspaa, which
	// pushes the exported token to the HSS (tokens: hss); the UE then registers in one round trip with that
	// token and an AIB signed by the same certificate. Ending the PANA session drops the token at the HSS.
	t.Run("through the PAA: imsue pana, imspaa, one REGISTER", func(t *testing.T) {
		srv, ueCert := access.Server("paa.ims.example"), access.UE(alice.IMPI())
		paaAddr, paaHTTP := fmt.Sprintf("127.0.0.1:%d", FreePort(t)), fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		pp := StartProcess(t, "imspaa", bins.MustPath(t, "imspaa"), "--listen", paaAddr, "--http-listen", paaHTTP,
			"--eap-cert", srv.CertFile, "--eap-key", srv.KeyFile, "--eap-ca", access.File, "--tokens", "hss",
			"--hss", c.hss.Cx, "--origin-host", paaHost, "--origin-realm", Domain, "--destination-realm", Domain)
		defer pp.Stop()
		pp.WaitHTTP("http://" + paaHTTP + "/readyz") // PANA served and the HSS connection open
		tokenFile := filepath.Join(t.TempDir(), "token")
		pac := StartProcess(t, "imsue-pana", bins.MustPath(t, "imsue"), "pana", "--paa", paaAddr, "--impi", alice.IMPI(),
			"--cert", ueCert.CertFile, "--key", ueCert.KeyFile, "--ca", access.File, "--server-name", "paa.ims.example",
			"--token-file", tokenFile)
		var hexToken []byte
		for range 400 {
			if b, err := os.ReadFile(tokenFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
				hexToken = bytes.TrimSpace(b)
				break
			}
			if pac.Exited() {
				t.Fatalf("imsue pana ended before it had a token:\n%s\nimspaa:\n%s", pac.Logs(), pp.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if hexToken == nil {
			t.Fatalf("no token from imsue pana:\n%s\nimspaa:\n%s", pac.Logs(), pp.Logs())
		}
		token, err := hex.DecodeString(string(hexToken))
		if err != nil {
			t.Fatalf("token %q: %v", hexToken, err)
		}
		cert, key := loadPair(t, ueCert.CertFile, ueCert.KeyFile)
		// The push runs when the PANA session opens; the UE registers once the token file is written, which is
		// after it: a push still in flight would show here as a fallback, so wait for the HSS to hold it.
		pushed := func(op string) bool {
			return metric(Metrics(t, paaHTTP), `paa_token_operations_total{operation="`+op+`",result="ok"}`) > 0
		}
		for i := 0; i < 200 && !pushed("push"); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		f0, c0, _, _, _, _ := counts()
		register(t, &ue.FastReg{Token: token, Cert: cert, Key: key})
		f1, c1, _, _, _, _ := counts()
		if f1-f0 != 1 || c1 != c0 {
			t.Fatalf("S-CSCF: %d fast registrations and %d challenges with the PAA's token, want 1 and 0\nimspaa:\n%s",
				f1-f0, c1-c0, pp.Logs())
		}
		pac.Stop() // PANA termination: the PAA drops the token at the HSS
		for i := 0; i < 200 && !pushed("drop"); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		tk := append([]byte(nil), token...)
		fallsBack(t, &ue.FastReg{Token: tk, Cert: cert, Key: key})
	})
}

// loadPair loads a certificate and its key from PEM files.
func loadPair(t *testing.T, certFile, keyFile string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return cert, pair.PrivateKey.(crypto.Signer)
}

// e2eCert issues a UE certificate naming impi from pki and loads it.
func e2eCert(t *testing.T, pki *testpki.PKI, impi string) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	certFile, keyFile := pki.Issue(impi)
	return loadPair(t, certFile, keyFile)
}

// metric reads one sample of Prometheus text (0 when absent).
func metric(text, name string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return int(f)
}
