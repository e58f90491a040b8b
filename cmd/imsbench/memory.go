package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// promValue is the value of an unlabelled sample of the Prometheus text format (go_memstats_heap_inuse_bytes,
// process_resident_memory_bytes); ok is false when the metric is absent.
func promValue(text, name string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			i := strings.IndexByte(rest, '}')
			if i < 0 {
				continue
			}
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			return v, true
		}
	}
	return 0, false
}

// vmRSS is VmRSS of /proc/<pid>/status in bytes.
func vmRSS(r io.Reader) (float64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}

// memSample is one node's memory at one moment.
type memSample struct {
	heap      float64 // go_memstats_heap_inuse_bytes: spans in use, free slots of partly used spans included
	live      float64 // go_memstats_heap_alloc_bytes after the forced GC: the bytes of live objects
	liveOK    bool
	profile   []byte  // the heap profile the forced GC came with (pprof format)
	rss       float64 // process_resident_memory_bytes, else /proc VmRSS
	heapOK    bool
	gcForced  bool
	rssSource string
}

// sampleMemory forces two GCs through /debug/pprof/heap?gc=1 (net/http/pprof runs runtime.GC before it writes
// the profile), then reads the node's /metrics; RSS comes from /proc when the node has no process collector.
func sampleMemory(ctx context.Context, n *node) (memSample, error) {
	var s memSample
	client := &http.Client{Timeout: 30 * time.Second}
	get := func(path string) (string, int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.admin+path, nil)
		if err != nil {
			return "", 0, err
		}
		if n.token != "" {
			req.Header.Set("Authorization", "Bearer "+n.token)
		}
		res, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), res.StatusCode, err
	}
	// Twice: objects in a sync.Pool survive one GC in its victim cache (free buffers, not state), the second
	// GC frees them.
	for range 2 {
		if body, code, err := get("/debug/pprof/heap?gc=1"); err == nil && code == http.StatusOK {
			s.gcForced, s.profile = true, []byte(body)
		}
	}
	text, code, err := get("/metrics")
	if err != nil {
		return s, fmt.Errorf("%s /metrics: %w", n.name, err)
	}
	if code != http.StatusOK {
		return s, fmt.Errorf("%s /metrics: HTTP %d", n.name, code)
	}
	s.heap, s.heapOK = promValue(text, "go_memstats_heap_inuse_bytes")
	s.live, s.liveOK = promValue(text, "go_memstats_heap_alloc_bytes")
	if v, ok := promValue(text, "process_resident_memory_bytes"); ok {
		s.rss, s.rssSource = v, "process_resident_memory_bytes"
	} else if f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid)); err == nil {
		v, ok := vmRSS(f)
		f.Close()
		if ok {
			s.rss, s.rssSource = v, "/proc VmRSS"
		}
	}
	if !s.heapOK && s.rssSource == "" {
		return s, errors.New(n.name + ": neither go_memstats_heap_inuse_bytes nor RSS readable")
	}
	return s, nil
}

// runMemory registers BENCH_UES UEs through the whole core with SIPp (bench/sipp/register.xml, one distinct
// user per call, staying registered) and divides each node's growth in heap and RSS by the number registered
// (step 6).
func (b *bench) runMemory(ctx context.Context) {
	names := []string{"P-CSCF", "I-CSCF", "S-CSCF", "HSS"}
	nodesOf := map[string]string{"P-CSCF": "pcscf", "I-CSCF": "icscf", "S-CSCF": "scscf", "HSS": "hss"}
	rowNames := func(kind string) []string {
		var out []string
		for _, n := range names {
			out = append(out, fmt.Sprintf("memory per registered UE, %s, %s", n, kind))
		}
		return out
	}
	fail := func(err error, cmd string) {
		b.res.failed(err, cmd, append(rowNames("heap in use"), rowNames("RSS")...)...)
	}
	sippBin, err := lookSIPp()
	if err != nil {
		fail(err, "")
		return
	}
	dir, err := os.MkdirTemp("", "imsbench-memory-")
	if err != nil {
		fail(err, "")
		return
	}
	defer os.RemoveAll(dir)
	c, err := b.startCore(ctx, dir)
	if err != nil {
		fail(err, "")
		return
	}
	defer c.stop()
	users, err := Users(b.cfg.ues, "001010200000000", "15580000000", keyText, opText)
	if err == nil {
		err = writeCSVSet(dir, users)
	}
	if err != nil {
		fail(err, "")
		return
	}
	if _, _, err := b.provisionUEs(ctx, c, b.cfg.ues, "001010200000000", "15580000000"); err != nil {
		fail(err, "")
		return
	}
	before := map[string]memSample{}
	for _, n := range c.nodes {
		if before[n.name], err = sampleMemory(ctx, n); err != nil {
			fail(err, "")
			return
		}
	}
	port, err := freePort()
	if err != nil {
		fail(err, "")
		return
	}
	reg := sippRun{scenario: "register.xml", remote: c.ports.pcscfSIP, port: port, inf: filepath.Join(dir, "users.csv"),
		rate: 100, calls: len(users), limit: 200, timeout: time.Duration(len(users)/50+60) * time.Second}
	cmdline := reg.command()
	b.logf("memory: registering %d UEs: %s", len(users), cmdline)
	stats, out, err := reg.run(ctx, sippBin, b.scenarioDir(), dir)
	b.keep("memory_sipp.txt", []byte(lastScreen(out)))
	if err != nil && stats.Successful == 0 {
		fail(err, cmdline)
		return
	}
	registered := stats.Successful
	// Wait until the registrations' SIP transactions have ended (Timer J and K, 64*T1 = 32 s over UDP,
	// RFC 3261 §17.2.2) so that what is left is the registration state, not transactions in flight.
	b.logf("memory: %d registered, waiting %v for their transactions to end", stats.Successful, b.cfg.settle)
	select {
	case <-time.After(b.cfg.settle):
	case <-ctx.Done():
		return
	}
	for _, label := range names {
		n := c.node(nodesOf[label])
		after, err := sampleMemory(ctx, n)
		if err != nil {
			b.res.failed(err, cmdline, fmt.Sprintf("memory per registered UE, %s, heap in use", label),
				fmt.Sprintf("memory per registered UE, %s, RSS", label))
			continue
		}
		pre := before[n.name]
		note := fmt.Sprintf("%d UEs registered (%d failed) through P-, I- and S-CSCF, read %v later", registered, stats.Failed, b.cfg.settle)
		heapNote := note
		if !after.gcForced {
			heapNote += "; no /debug/pprof on this node, so no GC was forced before reading"
		}
		name := fmt.Sprintf("memory per registered UE, %s, heap in use", label)
		if after.heapOK && pre.heapOK {
			b.res.add(Metric{Name: name, Value: (after.heap - pre.heap) / float64(registered), Unit: "bytes/UE",
				Command: cmdline + "; GET /debug/pprof/heap?gc=1, /metrics go_memstats_heap_inuse_bytes before and after", Note: heapNote})
		} else {
			b.res.failed(errors.New(n.name+" exposes no go_memstats_heap_inuse_bytes"), cmdline, name)
		}
		if after.liveOK && pre.liveOK && after.gcForced {
			b.res.add(Metric{Name: fmt.Sprintf("memory per registered UE, %s, live heap", label), Value: (after.live - pre.live) / float64(registered),
				Unit: "bytes/UE", Command: cmdline + "; GET /debug/pprof/heap?gc=1, /metrics go_memstats_heap_alloc_bytes before and after",
				Note: note + "; live objects only (heap in use also counts the free slots of partly used spans); what holds them: profiles/memory-" + n.name + ".heap"})
		}
		if len(after.profile) > 0 {
			_ = os.MkdirAll(filepath.Join(b.dir, "profiles"), 0o755)
			b.keep("profiles/memory-"+n.name+".heap", after.profile)
		}
		b.res.add(Metric{Name: fmt.Sprintf("memory per registered UE, %s, RSS", label), Value: (after.rss - pre.rss) / float64(registered),
			Unit: "bytes/UE", Command: cmdline + "; " + after.rssSource + " before and after", Note: note})
	}
}

// lookSIPp finds the sipp binary (Debian: sip-tester).
func lookSIPp() (string, error) {
	p, err := exec.LookPath("sipp")
	if err != nil {
		return "", errors.New("sipp not installed (apt-get install sip-tester)")
	}
	return p, nil
}

// scenarioDir is bench/sipp of the tree.
func (b *bench) scenarioDir() string { return filepath.Join(b.root, "bench", "sipp") }

// lastScreen keeps SIPp's final statistics screens (its output repeats the screen; the raw output of a long
// run is large and says nothing more).
func lastScreen(out string) string {
	const keep = 6000
	if len(out) > keep {
		return "…\n" + out[len(out)-keep:]
	}
	return out
}
