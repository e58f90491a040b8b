package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/imscore/imscore/internal/interop/kamcfg"
)

// The kamailio step: Debian's Kamailio 5.6 IMS P-, I- and S-CSCF (the interop lab's configurations,
// internal/interop/testdata, rendered by kamcfg) in front of imscore's HSS, under the same bench/sipp
// scenarios, users and step-up as imscore's CSCFs in the load step of the same run; then the ratios, and the
// resident memory per registered UE of each Kamailio node.

// kamailioSuffix names the Kamailio rows.
const kamailioSuffix = ", Kamailio 5.6 IMS P/I/S-CSCF + imscore HSS"

// Origin-Hosts of the Kamailio CSCFs; the HSS accepts them through --diameter-peer.
const (
	kamailioICSCFHost = "kamailio-icscf." + domain
	kamailioSCSCFHost = "kamailio-scscf." + domain
)

// kamailioShmMB is each Kamailio node's shared memory (-m): its registrations, dialogs and transactions
// live there. 256 MB holds the memory step's UEs with room.
const kamailioShmMB, kamailioPkgMB = 256, 16

func kamailioRatioNames() []string {
	return []string{"imscore ÷ Kamailio, AKA registrations/s (SIPp)", "imscore ÷ Kamailio, calls/s (SIPp)",
		"imscore ÷ Kamailio, MESSAGEs/s (SIPp)"}
}

func kamailioMemoryNames() []string {
	var out []string
	for _, n := range []string{"P-CSCF", "I-CSCF", "S-CSCF"} {
		out = append(out, fmt.Sprintf("memory per registered UE, %s, Kamailio, PSS", n))
	}
	return out
}

// kamailioLab is the Kamailio CSCFs and imscore's HSS of one step.
type kamailioLab struct {
	core                    *core // the HSS only; the Kamailio nodes are in core.nodes too, so core.stop ends them
	pcscf, icscf, scscf     *node
	pcscfSIP                string
	icscfSIPPort, scscfPort int
}

// startKamailioLab starts imscore's HSS with the Kamailio I- and S-CSCF as its Diameter peers, then the
// Kamailio S-, I- and P-CSCF, and waits until both Diameter peers are up.
func (b *bench) startKamailioLab(ctx context.Context, dir string) (*kamailioLab, error) {
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		return nil, errors.New("kamailio not installed (" + kamcfg.Install + ")")
	}
	modules, err := kamcfg.ModuleDir()
	if err != nil {
		return nil, err
	}
	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	l := &kamailioLab{scscfPort: ports[0], icscfSIPPort: ports[1], pcscfSIP: fmt.Sprintf("127.0.0.1:%d", ports[2])}
	serverName := fmt.Sprintf("sip:127.0.0.1:%d", l.scscfPort)
	c, err := b.startCoreWith(ctx, dir, coreOptions{hssOnly: true, scscfName: serverName, hssArgs: []string{
		"--diameter-peer", "icscf:" + kamailioICSCFHost + "@127.0.0.1",
		"--diameter-peer", "scscf:" + kamailioSCSCFHost + "@127.0.0.1",
	}})
	if err != nil {
		return nil, err
	}
	l.core = c
	hssHost := "hss." + domain // cmd/hss's default Origin-Host (hss.DefaultOriginHost)
	hp, _ := strconv.Atoi(portOf(c.ports.hssCx))
	templates := filepath.Join(b.root, "internal", "interop", "testdata")
	specs := []kamcfg.Node{
		{Role: "scscf", Port: l.scscfPort, Alias: "scscf." + domain, OriginHost: kamailioSCSCFHost, ServerName: serverName,
			ICSCF: fmt.Sprintf("127.0.0.1:%d", l.icscfSIPPort)},
		{Role: "icscf", Port: l.icscfSIPPort, Alias: domain, OriginHost: kamailioICSCFHost, SCSCFs: []string{serverName}},
		{Role: "pcscf", Port: ports[2], Alias: "pcscf." + domain, ICSCF: fmt.Sprintf("127.0.0.1:%d", l.icscfSIPPort)},
	}
	for _, n := range specs {
		n.ModulePath, n.Realm, n.HSSAddr = modules, domain, "127.0.0.1"
		if n.OriginHost != "" {
			n.HSSHost, n.HSSPort = hssHost, hp
		}
		n.Dir = filepath.Join(dir, "kamailio-"+n.Role)
		if err := os.MkdirAll(n.Dir, 0o700); err != nil {
			c.stop()
			return nil, err
		}
		cfg, err := n.Render(templates)
		if err == nil {
			err = kamcfg.Check(bin, n.Args(cfg, kamailioShmMB, kamailioPkgMB))
		}
		var k *node
		if err == nil {
			k, err = startNode(bin, "kamailio-"+n.Role, "", dir, n.Args(cfg, kamailioShmMB, kamailioPkgMB))
		}
		if err == nil {
			c.nodes = append(c.nodes, k)
			err = waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", n.Port), 30*time.Second)
			if err != nil {
				err = fmt.Errorf("%w; its log: %s", err, errorLines(k.tailLog(20000)))
			}
		}
		if err != nil {
			c.stop()
			return nil, fmt.Errorf("Kamailio %s: %w", n.Role, err)
		}
		switch n.Role {
		case "scscf":
			l.scscf = k
		case "icscf":
			l.icscf = k
		case "pcscf":
			l.pcscf = k
		}
	}
	if err := waitMetric(ctx, c.ports.hssAPI, c.token, "diameter_peers_up 2", 30*time.Second); err != nil {
		err = fmt.Errorf("the Kamailio I- and S-CSCF did not connect to the HSS: %w; S-CSCF log: %s; HSS log: %s", err,
			errorLines(l.scscf.tailLog(20000)), lastLine(c.node("hss").tailLog(600)))
		c.stop()
		return nil, err
	}
	return l, nil
}

// waitTCP waits (bounded) until addr accepts a TCP connection.
func waitTCP(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s does not accept TCP after %v: %w", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// errorLines keeps the ERROR and CRITICAL lines of a Kamailio log, on one line, at most 600 bytes: what a
// "not measured" reason can carry.
func errorLines(log string) string {
	var keep []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "ERROR") || (strings.Contains(l, "CRITICAL") && !strings.Contains(l, "Bye Bye")) {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	s := strings.Join(keep, " | ")
	if s == "" {
		s = "no ERROR line"
	}
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// waitMetric waits (bounded) until the /metrics of the HTTP server at addr (bearer token, if any) holds the
// sample want ("name value"; the name with or without the node's namespace prefix).
func waitMetric(ctx context.Context, addr, token, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		last := ""
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			name, value, _ := strings.Cut(want, " ")
			for _, l := range strings.Split(string(body), "\n") {
				// The node's namespace prefixes the name (imscore_hss_diameter_peers_up).
				if f := strings.Fields(l); len(f) == 2 && (f[0] == name || strings.HasSuffix(f[0], "_"+name)) {
					if f[1] == value {
						return nil
					}
					last = l
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no %q on http://%s/metrics after %v (last: %q, %v)", want, addr, timeout, last, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runKamailio is the kamailio step.
func (b *bench) runKamailio(ctx context.Context) {
	names := append(append(sippMetricNames(kamailioSuffix), kamailioRatioNames()...), kamailioMemoryNames()...)
	dir, err := os.MkdirTemp("", "imsbench-kamailio-")
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	defer os.RemoveAll(dir)
	l, err := b.startKamailioLab(ctx, dir)
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	defer l.core.stop()
	b.logf("kamailio: P-CSCF %s, I-CSCF 127.0.0.1:%d, S-CSCF 127.0.0.1:%d, imscore HSS %s", l.pcscfSIP,
		l.icscfSIPPort, l.scscfPort, l.core.ports.hssCx)
	best := b.runSIPpLoad(ctx, l.core, dir, l.pcscfSIP, kamailioSuffix, false)
	b.kamailioRatios(best)
	b.kamailioMemory(ctx, l, dir)
	// The Kamailio nodes' logs (their ends), for a flow that failed.
	for _, n := range []*node{l.pcscf, l.icscf, l.scscf} {
		b.keep(n.name+".log", []byte(n.tailLog(256<<10)))
	}
}

// kamailioRatios adds imscore's SIPp rate over Kamailio's, per flow, from the same run.
func (b *bench) kamailioRatios(k sippBest) {
	im := b.imscoreSIPp
	cmd := "the two SIPp rows above, same scenario, users and step-up"
	for i, p := range [][2]float64{{im.register, k.register}, {im.call, k.call}, {im.message, k.message}} {
		name := kamailioRatioNames()[i]
		switch {
		case p[0] == 0 && !b.cfg.steps["load"]:
			b.res.failed(errors.New("the load step (imscore's CSCFs) did not run (BENCH_STEPS)"), cmd, name)
		case p[0] == 0 || p[1] == 0:
			b.res.failed(errors.New("one of the two rates is missing (see its row)"), cmd, name)
		default:
			b.res.add(Metric{Name: name, Value: p[0] / p[1], Unit: "×", Command: cmd,
				Note: fmt.Sprintf("imscore %.0f/s, Kamailio %.0f/s; the issue's target is ≥ 3×", p[0], p[1])})
		}
	}
}

// kamailioMemory registers BENCH_UES UEs through the Kamailio P-CSCF (bench/sipp/register.xml, staying
// registered) and divides each Kamailio node's growth in PSS (summed over its processes: Kamailio's workers
// share its shared memory, which RSS would count once per worker) by the number registered.
func (b *bench) kamailioMemory(ctx context.Context, l *kamailioLab, dir string) {
	names := kamailioMemoryNames()
	sippBin, err := lookSIPp()
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	const firstIMSI, firstMSISDN = "001010500000000", "15700000000"
	users, err := Users(b.cfg.ues, firstIMSI, firstMSISDN, keyText, opText)
	mdir := filepath.Join(dir, "memory")
	if err == nil {
		err = os.MkdirAll(mdir, 0o700)
	}
	if err == nil {
		err = writeCSVSet(mdir, users)
	}
	if err == nil {
		_, _, err = b.provisionUEs(ctx, l.core, len(users), firstIMSI, firstMSISDN)
	}
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	nodes := []*node{l.pcscf, l.icscf, l.scscf}
	before := make([]float64, len(nodes))
	for i, n := range nodes {
		if before[i], err = treePSS(n.cmd.Process.Pid); err != nil {
			b.res.failed(err, "", names...)
			return
		}
	}
	port, err := freePort()
	if err != nil {
		b.res.failed(err, "", names...)
		return
	}
	reg := sippRun{scenario: "register.xml", remote: l.pcscfSIP, port: port, inf: filepath.Join(mdir, "users.csv"),
		rate: 100, calls: len(users), limit: 200, timeout: time.Duration(len(users)/50+60) * time.Second}
	cmdline := reg.command()
	b.logf("kamailio memory: registering %d UEs: %s", len(users), cmdline)
	stats, out, err := reg.run(ctx, sippBin, b.scenarioDir(), mdir)
	b.keep("memory_sipp_kamailio.txt", []byte(lastScreen(out)))
	if err != nil && stats.Successful == 0 {
		b.res.failed(err, cmdline, names...)
		return
	}
	select {
	case <-time.After(b.cfg.settle):
	case <-ctx.Done():
		return
	}
	for i, n := range nodes {
		after, err := treePSS(n.cmd.Process.Pid)
		if err != nil {
			b.res.failed(err, cmdline, names[i])
			continue
		}
		b.res.add(Metric{Name: names[i], Value: (after - before[i]) / float64(stats.Successful), Unit: "bytes/UE",
			Command: cmdline + "; /proc/<pid>/smaps_rollup Pss summed over the node's processes, before and after",
			Note: fmt.Sprintf("%d UEs registered (%d failed), read %v later; -m %d MB shared memory is mapped at start, "+
				"only the pages touched count", stats.Successful, stats.Failed, b.cfg.settle, kamailioShmMB)})
	}
}

// treePSS is the proportional set size of pid and its descendants, in bytes (/proc/<pid>/smaps_rollup).
func treePSS(pid int) (float64, error) {
	pids := append([]int{pid}, descendants(pid)...)
	total := 0.0
	for _, p := range pids {
		v, err := pss(p)
		if err != nil {
			if p == pid {
				return 0, err
			}
			continue // a worker that ended meanwhile
		}
		total += v
	}
	return total, nil
}

func pss(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return smapsPss(f)
}

// smapsPss reads the Pss line (kB) of smaps_rollup, in bytes.
func smapsPss(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "Pss:" {
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return 0, fmt.Errorf("smaps_rollup Pss %q: %w", f[1], err)
			}
			return v * 1024, nil
		}
	}
	return 0, errors.New("smaps_rollup has no Pss line")
}

// descendants are the processes under pid (Kamailio forks its workers from the main process).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if pp, ok := statPPID(string(b)); ok {
			parent[p] = pp
		}
	}
	var out []int
	for p := range parent {
		for q, hops := p, 0; hops < 64; hops++ {
			pp, ok := parent[q]
			if !ok || pp == 0 {
				break
			}
			if pp == pid {
				out = append(out, p)
				break
			}
			q = pp
		}
	}
	return out
}

// statPPID is the fourth field of /proc/<pid>/stat (after the parenthesized command, which may hold spaces).
func statPPID(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}
