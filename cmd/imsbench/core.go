package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/imscore/imscore/internal/httpauth"
)

const domain = "ims.mnc001.mcc001.3gppnetwork.org"

// The load and memory UEs' keys. They are text on purpose: SIPp's AKA keyword takes K and OP as text
// (bench/sipp/README.md says why hex is unusable in SIPp 3.6.1), and imsue takes the same bytes in hex,
// so one provisioned population serves both. The AMF is the text "00" (0x3030) for the same reason.
const (
	keyText  = "imscore-bench-K1" // 16 bytes
	opText   = "imscore-bench-OP" // 16 bytes
	amfText  = "00"
	keyHex   = "696d73636f72652d62656e63682d4b31"
	opHex    = "696d73636f72652d62656e63682d4f50"
	amfHex   = "3030"
	nodeStop = 15 * time.Second
)

// node is one running binary of the core.
type node struct {
	name  string
	admin string // host:port of its HTTP server: /metrics, /readyz, /debug/pprof/
	token string // bearer token with the admin scope, for /debug/pprof/
	cmd   *exec.Cmd
	logf  *os.File
	done  chan struct{}
	err   error
}

// corePorts are the addresses of one core. The defaults are the nodes' own (docs/design.md §2).
type corePorts struct {
	hssCx, hssAPI         string
	scscfSIP, scscfHTTP   string
	icscfSIP, icscfHTTP   string
	pcscfSIP, pcscfHTTP   string
	pcscfClient, pcscfSrv int
}

func defaultPorts() corePorts {
	return corePorts{hssCx: "127.0.0.1:3868", hssAPI: "127.0.0.1:8080", scscfSIP: "127.0.0.1:6060",
		scscfHTTP: "127.0.0.1:9103", icscfSIP: "127.0.0.1:4060", icscfHTTP: "127.0.0.1:9102",
		pcscfSIP: "127.0.0.1:5060", pcscfHTTP: "127.0.0.1:9101", pcscfClient: 5100, pcscfSrv: 6100}
}

// freePorts picks loopback ports free for UDP and TCP below the ephemeral range (as internal/e2e does), so
// the bench never collides with a core another user runs on the defaults.
func freePorts() (corePorts, error) {
	var ps []int
	seen := map[int]bool{}
	for tries := 0; len(ps) < 10 && tries < 1000; tries++ {
		p := 20000 + rand.IntN(12000)
		if seen[p] || !portFree(p) {
			continue
		}
		seen[p] = true
		ps = append(ps, p)
	}
	if len(ps) < 10 {
		return corePorts{}, errors.New("no free loopback ports")
	}
	a := func(p int) string { return fmt.Sprintf("127.0.0.1:%d", p) }
	return corePorts{hssCx: a(ps[0]), hssAPI: a(ps[1]), scscfSIP: a(ps[2]), scscfHTTP: a(ps[3]),
		icscfSIP: a(ps[4]), icscfHTTP: a(ps[5]), pcscfSIP: a(ps[6]), pcscfHTTP: a(ps[7]),
		pcscfClient: ps[8], pcscfSrv: ps[9]}, nil
}

func portFree(p int) bool {
	tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	defer tl.Close()
	ul, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	ul.Close()
	return true
}

// freePort is one more free port (SIPp's local ports).
func freePort() (int, error) {
	for range 1000 {
		if p := 20000 + rand.IntN(12000); portFree(p) {
			return p, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

// core is the four nodes as processes, each with its own directory and SQLite store.
type core struct {
	ports corePorts
	nodes []*node // start order: hss, scscf, icscf, pcscf
	dir   string
	// keepLogs is where stop copies each node's log (the results directory's logs/<step>), so that a failure
	// measured in a run can be explained after the run's temporary directory is gone.
	keepLogs string
	// tokensFile is every node's tokens file; token (in tokenFile, for imsctl and imsue) has the admin scope.
	tokensFile, tokenFile, token string
}

// makeTokens gives c an admin token "imsbench": its hash in dir/api-tokens.yaml, itself in dir/imsctl.token.
func (c *core) makeTokens() error {
	c.tokensFile, c.tokenFile = filepath.Join(c.dir, "api-tokens.yaml"), filepath.Join(c.dir, "imsctl.token")
	var err error
	if c.token, err = httpauth.AddToken(c.tokensFile, "imsbench", []httpauth.Scope{httpauth.ScopeAdmin}); err != nil {
		return err
	}
	return httpauth.WriteSecretFile(c.tokenFile, []byte(c.token+"\n"))
}

func (c *core) node(name string) *node {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// apiURL is the HSS provisioning API.
func (c *core) apiURL() string { return "http://" + c.ports.hssAPI }

// coreOptions change what startCoreWith starts.
type coreOptions struct {
	hssOnly   bool     // only the HSS (the Kamailio CSCFs take the others' places)
	scscfName string   // the S-CSCF name the HSS assigns ("": imscore's S-CSCF)
	hssArgs   []string // more HSS flags (--diameter-peer for other CSCFs)
}

// startCore starts HSS, S-CSCF, I-CSCF and P-CSCF (no IPsec: the host kernel has no ESP, docs/design.md §5)
// with the embedded store in dir, at log level warn, and waits for each /readyz.
func (b *bench) startCore(ctx context.Context, dir string) (*core, error) {
	return b.startCoreWith(ctx, dir, coreOptions{})
}

func (b *bench) startCoreWith(ctx context.Context, dir string, o coreOptions) (*core, error) {
	ports := defaultPorts()
	if !b.cfg.defaultPorts {
		var err error
		if ports, err = freePorts(); err != nil {
			return nil, err
		}
	}
	c := &core{ports: ports, dir: dir, keepLogs: filepath.Join(b.dir, "logs", stepOfTempDir(dir))}
	if err := c.makeTokens(); err != nil {
		return nil, err
	}
	scscfName := fmt.Sprintf("sip:scscf.%s:%s", domain, portOf(ports.scscfSIP))
	if o.scscfName != "" {
		scscfName = o.scscfName
	}
	hssCfg := filepath.Join(dir, "hss.yaml")
	// The runtime profiles (CPU profiles, forced GC before memory samples) are on, for the admin token.
	if err := os.WriteFile(hssCfg, fmt.Appendf(nil, "scscfs:\n  - name: %q\napi: {tokens_file: %q, pprof: true}\n", scscfName,
		c.tokensFile), 0o600); err != nil {
		return nil, err
	}
	adminCfg := filepath.Join(dir, "admin.yaml")
	if err := os.WriteFile(adminCfg, fmt.Appendf(nil, "admin: {tokens_file: %q, pprof: true}\n", c.tokensFile), 0o600); err != nil {
		return nil, err
	}
	pcscfCfg := filepath.Join(dir, "pcscf.yaml")
	if err := os.WriteFile(pcscfCfg, fmt.Appendf(nil, `listen: [%q]
icscf: %q
ipsec: "off"
client_ports: {first: %d, count: 1}
server_ports: {first: %d, count: 1}
state_file: %q
http: %q
log: {level: warn}
admin: {tokens_file: %q, pprof: true}
`, ports.pcscfSIP, ports.icscfSIP, ports.pcscfClient, ports.pcscfSrv, filepath.Join(dir, "pcscf-state.json"), ports.pcscfHTTP, c.tokensFile), 0o600); err != nil {
		return nil, err
	}
	specs := []struct {
		name, admin string
		args        []string
	}{
		{"hss", ports.hssAPI, append([]string{"--config", hssCfg, "--db", "sqlite://" + filepath.Join(dir, "hss.db"),
			"--diameter-listen", ports.hssCx, "--api-listen", ports.hssAPI, "--log-level", "warn"}, o.hssArgs...)},
		{"scscf", ports.scscfHTTP, []string{"--config", adminCfg, "--sip-listen", ports.scscfSIP, "--http-listen", ports.scscfHTTP,
			"--diameter-listen", "", "--hss", ports.hssCx, "--server-name", scscfName,
			"--db", "sqlite://" + filepath.Join(dir, "scscf.db"), "--icscf", "sip:" + ports.icscfSIP + ";lr", "--log-level", "warn"}},
		{"icscf", ports.icscfHTTP, []string{"--config", adminCfg, "--sip-listen", ports.icscfSIP, "--http-listen", ports.icscfHTTP,
			"--diameter-listen", "", "--hss", ports.hssCx, "--scscf", scscfName + "=" + ports.scscfSIP, "--log-level", "warn"}},
		{"pcscf", ports.pcscfHTTP, []string{"--config", pcscfCfg}},
	}
	if o.hssOnly {
		specs = specs[:1]
	}
	for _, s := range specs {
		n, err := startNode(b.binPath(s.name), s.name, s.admin, dir, s.args)
		if err != nil {
			c.stop()
			return nil, err
		}
		n.token = c.token
		c.nodes = append(c.nodes, n)
		if err := n.waitReady(ctx, 30*time.Second); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func startNode(bin, name, admin, dir string, args []string) (*node, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	n := &node{name: name, admin: admin, cmd: cmd, logf: logf, done: make(chan struct{})}
	go func() {
		n.err = cmd.Wait()
		close(n.done)
	}()
	return n, nil
}

func (n *node) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		res, err := client.Get("http://" + n.admin + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-n.done:
			return fmt.Errorf("%s exited while starting: %v (log: %s)", n.name, n.err, n.logf.Name())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v (log: %s)", n.name, timeout, n.logf.Name())
		}
	}
}

// stop sends SIGTERM to every node in reverse order and waits (SIGKILL after nodeStop).
func (c *core) stop() {
	for i := len(c.nodes) - 1; i >= 0; i-- {
		n := c.nodes[i]
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.done:
			case <-time.After(nodeStop):
				_ = n.cmd.Process.Kill()
				<-n.done
			}
		}
		n.logf.Close()
		if c.keepLogs != "" {
			_ = keepLog(n.logf.Name(), filepath.Join(c.keepLogs, n.name+".log"), maxKeptLog)
		}
	}
}

// maxKeptLog bounds each node log copied into the results: the end of the log is kept.
const maxKeptLog = 4 << 20

// stepOfTempDir names the step a core's temporary directory belongs to: /tmp/imsbench-load-123 → "load".
func stepOfTempDir(dir string) string {
	base := strings.TrimPrefix(filepath.Base(dir), "imsbench-")
	if i := strings.LastIndexByte(base, '-'); i > 0 {
		base = base[:i]
	}
	return base
}

// keepLog copies the last max bytes of the log at src to dst.
func keepLog(src, dst string, max int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("keep log: %w", err)
	}
	defer in.Close()
	if st, err := in.Stat(); err == nil && st.Size() > max {
		if _, err := in.Seek(st.Size()-max, io.SeekStart); err != nil {
			return fmt.Errorf("keep log %s: %w", src, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("keep log: %w", err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("keep log: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("keep log %s: %w", src, err)
	}
	return out.Close()
}

// tailLog is the end of a node's log, for an error message.
func (n *node) tailLog(max int) string {
	b, err := os.ReadFile(n.logf.Name())
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}
