package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var errHelp = errors.New("help requested")

// node is one binary of the core, the sockets it binds and how to tell it is ready.
type node struct {
	name  string
	args  []string
	ready string // URL answering 200 once the node is ready (its /readyz)
	// ports are the sockets the node binds with its defaults: checked free before anything starts.
	ports []portSpec
	// what is one line for the summary: what the node serves where.
	what string
}

// sockets lists a node's sockets: "tcp+udp:ADDR" stands for both.
func sockets(specs ...string) []portSpec {
	var out []portSpec
	for _, s := range specs {
		nets, addr, _ := strings.Cut(s, ":")
		for _, n := range strings.Split(nets, "+") {
			p, err := parsePortSpec(n + ":" + addr)
			if err != nil {
				panic(err) // the defaults below are constants
			}
			out = append(out, p)
		}
	}
	return out
}

// options are imsrun's flags; every default is what the nodes themselves default to.
type options struct {
	binDir       string
	apiAddr      string // the HSS provisioning API, for the demo subscribers
	readyTimeout time.Duration
	stopTimeout  time.Duration
	demo         bool
	tokensFile   string // the HSS's api.tokens_file, made on first start
	tokenFile    string // the admin token imsctl reads by default
	nodes        []*node
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	exe, _ := os.Executable()
	o := &options{nodes: []*node{
		// Each node's /readyz: 200 once it serves and reaches what it depends on (the HSS for the CSCFs).
		// The ports are the nodes' defaults (hss/config.go, services/*/config.go).
		{name: "hss", ready: "http://127.0.0.1:8080/readyz", ports: sockets("tcp:127.0.0.1:3868", "tcp:127.0.0.1:8080"),
			what: "Diameter Cx 127.0.0.1:3868, provisioning API http://127.0.0.1:8080"},
		{name: "scscf", ready: "http://127.0.0.1:9103/readyz", ports: sockets("tcp+udp:127.0.0.1:6060", "tcp:127.0.0.1:9103"),
			what: "SIP 127.0.0.1:6060, metrics http://127.0.0.1:9103"},
		{name: "icscf", ready: "http://127.0.0.1:9102/readyz", ports: sockets("tcp+udp:127.0.0.1:4060", "tcp:127.0.0.1:9102"),
			what: "SIP 127.0.0.1:4060, metrics http://127.0.0.1:9102"},
		{name: "pcscf", ready: "http://127.0.0.1:9101/readyz", ports: sockets("tcp+udp:127.0.0.1:5060", "tcp:127.0.0.1:9101"),
			what: "SIP 127.0.0.1:5060 (UEs register here), metrics http://127.0.0.1:9101"},
		// The presence server and its XDMS (docs/presence.md); users reach it once their profile has its iFCs.
		{name: "presence", ready: "http://127.0.0.1:8090/healthz", ports: sockets("tcp+udp:127.0.0.1:5065", "tcp:127.0.0.1:8090"),
			what: "presence server SIP 127.0.0.1:5065 (ISC), XDMS (XCAP) http://127.0.0.1:8090"},
	}}
	fs := flag.NewFlagSet("imsrun", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.binDir, "bin", filepath.Dir(exe), "directory holding the hss, scscf, icscf, pcscf and presence binaries")
	fs.StringVar(&o.apiAddr, "api", "127.0.0.1:8080", "HSS provisioning API address, used to provision the demo subscribers")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 30*time.Second, "how long each node may take to start serving")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 15*time.Second, "how long each node may take to stop after SIGTERM before it is killed")
	fs.BoolVar(&o.demo, "demo", true, "provision the two demo subscribers if they do not exist")
	fs.StringVar(&o.tokensFile, "tokens-file", defaultTokensFile, "the HSS's API tokens file (hashes), made on first start")
	fs.StringVar(&o.tokenFile, "token-file", defaultTokenFile, "the admin token for imsctl, made on first start (imsctl reads "+defaultTokenFile+" by default)")
	for _, n := range o.nodes {
		fs.StringVar(&n.ready, n.name+"-ready", n.ready, "URL that answers 200 once "+n.name+" is ready")
		fs.Func(n.name+"-ports", "sockets "+n.name+" binds, checked free before start (comma-separated tcp:ADDR:PORT or udp:ADDR:PORT; default "+joinPorts(n.ports)+")", func(v string) error {
			n.ports = nil
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				p, err := parsePortSpec(s)
				if err != nil {
					return err
				}
				n.ports = append(n.ports, p)
			}
			return nil
		})
		fs.Func(n.name+"-arg", "extra argument for "+n.name+" (repeatable), e.g. --"+n.name+"-arg=--log-level=debug", func(v string) error {
			n.args = append(n.args, v)
			return nil
		})
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: imsrun [flags]\n\nRuns hss, scscf, icscf, pcscf and presence on this host with their defaults.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, n := range o.nodes {
		if n.name == "hss" { // flags given with --hss-arg come later and win
			n.args = append([]string{"--api-tokens-file", o.tokensFile}, n.args...)
		}
		if n.name == "scscf" || n.name == "pcscf" { // imsctl contacts reads their admin routes with imsctl's token
			n.args = append([]string{"--admin-tokens-file", o.tokensFile}, n.args...)
		}
		if n.name == "presence" { // the XDMS is off by default
			n.args = append([]string{"--http-listen", "127.0.0.1:8090"}, n.args...)
		}
	}
	return o, nil
}

// process is a started node.
type process struct {
	node *node
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	out := &lineWriter{w: stdout}
	token, made, err := ensureToken(o.tokensFile, o.tokenFile)
	if err != nil {
		return fmt.Errorf("api token: %w", err)
	}
	if made {
		out.printf("imsrun", "made an API token (admin scope) for imsctl: %s; its hash is in %s (both 0600)", o.tokenFile, o.tokensFile)
	}
	// Every port first: a node that cannot bind must not leave the others half started, and a busy port
	// must never make another instance's node pass for ours.
	for _, n := range o.nodes {
		if err := checkFree(n.name, n.ports); err != nil {
			return err
		}
	}
	var started []*process
	exited := make(chan *process, len(o.nodes))
	defer func() { stopAll(started, o.stopTimeout, out) }()

	for _, n := range o.nodes {
		p, err := start(o.binDir, n, out, exited)
		if err != nil {
			return err
		}
		started = append(started, p)
		if err := waitReady(ctx, n, o.readyTimeout, exited); err != nil {
			return err
		}
		if err := checkIdentity(n, p.cmd.Process.Pid); err != nil {
			return err
		}
		out.printf("imsrun", "%s is serving (%s)", n.name, n.ready)
	}
	if o.demo {
		if err := provisionDemo(ctx, "http://"+o.apiAddr, token, out); err != nil {
			return fmt.Errorf("demo subscribers: %w", err)
		}
	}
	out.printf("imsrun", "the core is up:")
	for _, n := range o.nodes {
		out.printf("imsrun", "  %-6s %s", n.name, n.what)
	}
	d := demoSubscribers[0]
	out.printf("imsrun", "next: register the first demo subscriber from another terminal:")
	out.printf("imsrun", "  bin/imsue register --impi %s@%s --impu sip:%s@%s --k %s --op %s", d.IMSI, demoDomain, d.MSISDN, demoDomain, d.K, d.OP)
	out.printf("imsrun", "  bin/imsctl subscriber list   (token from %s, or IMSCTL_TOKEN / --token-file)", o.tokenFile)
	out.printf("imsrun", "Ctrl-C (or closing this terminal) stops every node")
	select {
	case <-ctx.Done():
		out.printf("imsrun", "stopping")
		return nil
	case p := <-exited:
		return fmt.Errorf("%s exited unexpectedly: %v", p.node.name, p.err)
	}
}

func start(binDir string, n *node, out *lineWriter, exited chan<- *process) (*process, error) {
	path := filepath.Join(binDir, n.name)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s binary: %w (run `make build` first)", n.name, err)
	}
	cmd := exec.Command(path, n.args...)
	// Setpgid: Ctrl-C and the terminal's SIGHUP reach imsrun only, which stops the nodes in order.
	// Pdeathsig: if imsrun itself dies (kill -9), the kernel sends each node SIGTERM, so no orphaned P-CSCF
	// keeps 5060. It fires when the thread that started the node exits; the Go runtime keeps its threads.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", n.name, err)
	}
	p := &process{node: n, cmd: cmd, done: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			out.line(n.name, sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr) // a line over 1 MiB: keep draining so the node never blocks
	}()
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		<-copied
		close(p.done)
		exited <- p
	}()
	return p, nil
}

// checkIdentity makes sure the node answering the readiness URL is the process imsrun started: the
// listener on the URL's port must belong to pid.
func checkIdentity(n *node, pid int) error {
	u, err := url.Parse(n.ready)
	if err != nil {
		return fmt.Errorf("%s ready URL %q: %w", n.name, n.ready, err)
	}
	port, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil {
		return nil // no explicit port: nothing to check against
	}
	if ok, why := ownedBy(uint16(port), pid); !ok {
		if why == "no visible process holds it" {
			return nil // /proc hides other users' sockets; the port was free before the start
		}
		return fmt.Errorf("%s answered %s, but not from the process imsrun started (pid %d): %s", n.name, n.ready, pid, why)
	}
	return nil
}

func joinPorts(ps []portSpec) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// waitReady polls the node's readiness URL until it answers 200.
func waitReady(ctx context.Context, n *node, timeout time.Duration, exited <-chan *process) error {
	deadline := time.Now().Add(timeout)
	client := http.Client{Timeout: 500 * time.Millisecond}
	for {
		res, err := client.Get(n.ready)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", n.ready, res.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s was not ready (%s) within %v: %w", n.name, n.ready, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case p := <-exited:
			return fmt.Errorf("%s exited during start-up: %v (see its log above)", p.node.name, p.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopAll stops the nodes in reverse order of start: SIGTERM, then SIGKILL after timeout.
func stopAll(ps []*process, timeout time.Duration, out *lineWriter) {
	for i := len(ps) - 1; i >= 0; i-- {
		p := ps[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			if p.err != nil {
				out.printf("imsrun", "%s stopped: %v", p.node.name, p.err)
			} else {
				out.printf("imsrun", "%s stopped", p.node.name)
			}
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			<-p.done
			out.printf("imsrun", "%s did not stop within %v and was killed", p.node.name, timeout)
		}
	}
}

// lineWriter interleaves whole lines from several nodes, each prefixed with its node's name.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) line(prefix, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%-6s| %s\n", prefix, text)
}

func (l *lineWriter) printf(prefix, format string, args ...any) {
	l.line(prefix, fmt.Sprintf(format, args...))
}
