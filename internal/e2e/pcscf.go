package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// PCSCF is a running cmd/pcscf serving UEs that do not ask for sec-agree (SIPp): IPsec off.
type PCSCF struct {
	*Process
	SIP  string
	HTTP string
}

// PCSCFOptions configure StartPCSCF.
type PCSCFOptions struct {
	ICSCF string    // the I-CSCF's SIP address, next hop of REGISTER (or "dns", see Extra)
	NS    Namespace // network namespace to run in (nil: the test's own)
	// IP is the address to listen on ("": 127.0.0.1); another loopback address (127.0.0.2) plays another
	// network's node.
	IP string
	// Extra is YAML appended to the configuration file (dns:, visited_network_id:, a qos section ...).
	Extra string
}

// StartPCSCF writes a configuration file (cmd/pcscf has no flags for the HTTP address and protected ports)
// and starts cmd/pcscf with it on free loopback ports, then waits for /readyz.
func StartPCSCF(t testing.TB, b *Builder, o PCSCFOptions) *PCSCF {
	t.Helper()
	bin := b.MustPath(t, "pcscf")
	n := &PCSCF{SIP: Addr(FreePort(t)), HTTP: Addr(FreePort(t))}
	if o.IP != "" {
		n.SIP = net.JoinHostPort(o.IP, strconv.Itoa(FreePort(t)))
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`listen: [%q]
icscf: %q
ipsec: "off"
client_ports: {first: %d, count: 1}
server_ports: {first: %d, count: 1}
state_file: %q
http: %q
log: {level: debug}
`, n.SIP, o.ICSCF, FreePort(t), FreePort(t), filepath.Join(dir, "pcscf-state.json"), n.HTTP) + o.Extra
	path := filepath.Join(dir, "pcscf.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Process = StartProcessIn(t, o.NS, "pcscf", bin, "--config", path)
	n.WaitHTTP(fmt.Sprintf("http://%s/readyz", n.HTTP))
	return n
}
