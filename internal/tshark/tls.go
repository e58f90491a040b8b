package tshark

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// KeyLog creates a TLS key log file (NSS format) in t.TempDir() for a tls.Config's KeyLogWriter, so that
// DissectTLS can decrypt what the test captured. It is closed at cleanup.
func KeyLog(t testing.TB) (path string, w io.Writer) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "tls-keys.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return path, f
}

// DissectTLS runs tshark over a capture of TLS on port, decrypted with keyLog and handed to the app dissector
// ("sip", "diameter") inside, and returns every value of the fields asked (tshark -T fields, occurrences split),
// plus "Malformed" when a packet was.
func DissectTLS(t testing.TB, bin, capture string, port uint16, keyLog, app string, fields ...string) []string {
	t.Helper()
	p := strconv.Itoa(int(port))
	// RDP's multitransport heuristic claims TLS application data whose first bytes look like its header (a
	// Diameter CER does) before the dissector named by -d: off.
	args := []string{"-r", capture, "--disable-protocol", "rdpmt", "-o", "tls.keylog_file:" + keyLog, "-d", "tcp.port==" + p + ",tls",
		"-d", "tls.port==" + p + "," + app, "-T", "fields", "-e", "_ws.malformed"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out := Run(t, bin, args...)
	var vals []string
	for _, line := range strings.Split(out, "\n") {
		vals = append(vals, strings.FieldsFunc(line, func(r rune) bool { return r == '\t' || r == ',' })...)
	}
	if strings.Contains(out, "Malformed") {
		vals = append(vals, "Malformed")
	}
	return vals
}
