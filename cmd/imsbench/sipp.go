package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// User is one load UE as the SIPp injection files carry it.
type User struct {
	MSISDN string // IMPU user part: sip:<MSISDN>@<domain> (the IMSI-based IMPU is barred)
	IMPI   string
	K, OP  string // 16 bytes of text each (bench/sipp/README.md)
}

// Users are count users whose IMSI and MSISDN count up from the given ones keeping their width, as
// `imsctl subscriber generate` numbers them, all with the same K and OP.
func Users(count int, imsiStart, msisdnStart, k, op string) ([]User, error) {
	imsi, ok1 := new(big.Int).SetString(imsiStart, 10)
	msisdn, ok2 := new(big.Int).SetString(msisdnStart, 10)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("imsi %q / msisdn %q: want digits", imsiStart, msisdnStart)
	}
	if len(k) != 16 || len(op) != 16 {
		return nil, fmt.Errorf("k and op: want 16 bytes of text each (got %d and %d)", len(k), len(op))
	}
	for _, c := range k + op {
		if c < 0x21 || c > 0x7e || c == ';' {
			return nil, errors.New("k and op: printable ASCII without ';' only (SIPp takes them as text)")
		}
	}
	users := make([]User, count)
	one := big.NewInt(1)
	for i := range users {
		is := fmt.Sprintf("%0*s", len(imsiStart), imsi.String())
		ms := fmt.Sprintf("%0*s", len(msisdnStart), msisdn.String())
		if len(is) > len(imsiStart) || len(ms) > len(msisdnStart) {
			return nil, fmt.Errorf("%d users overflow IMSI %s or MSISDN %s", count, imsiStart, msisdnStart)
		}
		users[i] = User{MSISDN: ms, IMPI: is + "@" + domain, K: k, OP: op}
		imsi.Add(imsi, one)
		msisdn.Add(msisdn, one)
	}
	return users, nil
}

// writeUsersCSV writes a SIPp injection file for register.xml and register_dereg.xml:
// MSISDN;IMPI;K;OP per line after the SEQUENTIAL header.
func writeUsersCSV(w io.Writer, users []User) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("SEQUENTIAL\n")
	for _, u := range users {
		fmt.Fprintf(bw, "%s;%s;%s;%s\n", u.MSISDN, u.IMPI, u.K, u.OP)
	}
	return bw.Flush()
}

// writePairsCSV writes caller;callee MSISDNs for call_uac.xml and message_uac.xml.
func writePairsCSV(w io.Writer, callers, callees []User) error {
	if len(callers) != len(callees) {
		return fmt.Errorf("%d callers for %d callees", len(callers), len(callees))
	}
	bw := bufio.NewWriter(w)
	bw.WriteString("SEQUENTIAL\n")
	for i := range callers {
		fmt.Fprintf(bw, "%s;%s\n", callers[i].MSISDN, callees[i].MSISDN)
	}
	return bw.Flush()
}

// csvSet is the injection files for count users: users.csv (all), callers.csv (first half),
// callees.csv (second half) and pairs.csv (caller i calls callee i).
func writeCSVSet(dir string, users []User) error {
	half := len(users) / 2
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{"users.csv", func(w io.Writer) error { return writeUsersCSV(w, users) }},
		{"callers.csv", func(w io.Writer) error { return writeUsersCSV(w, users[:half]) }},
		{"callees.csv", func(w io.Writer) error { return writeUsersCSV(w, users[half:2*half]) }},
		{"pairs.csv", func(w io.Writer) error { return writePairsCSV(w, users[:half], users[half:2*half]) }},
	}
	for _, f := range files {
		fh, err := os.Create(filepath.Join(dir, f.name))
		if err != nil {
			return err
		}
		if err := f.write(fh); err != nil {
			fh.Close()
			return fmt.Errorf("write %s: %w", f.name, err)
		}
		if err := fh.Close(); err != nil {
			return err
		}
	}
	return nil
}

// runSIPpCSV is `imsbench sipp-csv`: the injection files for the bench/sipp scenarios, and the NDJSON to
// provision the same users (`imsctl subscriber import`), for a run by hand or against another stack.
func runSIPpCSV(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imsbench sipp-csv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	count := fs.Int("count", 1000, "users")
	imsi := fs.String("imsi-start", "001010000500000", "first IMSI (IMPI <imsi>@"+domain+")")
	msisdn := fs.String("msisdn-start", "15570000000", "first MSISDN (IMPU sip:<msisdn>@"+domain+")")
	k := fs.String("k", keyText, "K as 16 bytes of text")
	op := fs.String("op", opText, "OP as 16 bytes of text")
	dir := fs.String("dir", ".", "where users.csv, callers.csv, callees.csv, pairs.csv and users.ndjson go")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *count < 2 {
		fmt.Fprintln(stderr, "imsbench sipp-csv: --count must be at least 2")
		return 2
	}
	users, err := Users(*count, *imsi, *msisdn, *k, *op)
	if err == nil {
		err = writeCSVSet(*dir, users)
	}
	if err == nil {
		err = writeNDJSON(filepath.Join(*dir, "users.ndjson"), users)
	}
	if err != nil {
		fmt.Fprintln(stderr, "imsbench sipp-csv:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d users in %s: users.csv callers.csv callees.csv pairs.csv users.ndjson (imsctl subscriber import users.ndjson)\n",
		len(users), *dir)
	return 0
}

// writeNDJSON writes the users as provisioning requests (docs/provisioning.md, bulk import), AMF 3030.
func writeNDJSON(path string, users []User) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for _, u := range users {
		imsi, _, _ := strings.Cut(u.IMPI, "@")
		fmt.Fprintf(bw, `{"imsi":%q,"msisdn":%q,"k":"%x","op":"%x","amf":%q}`+"\n", imsi, u.MSISDN, u.K, u.OP, amfHex)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SIPpStats is what a SIPp run ended with (its last statistics screen) and how long it ran (wall clock:
// SIPp's own "Elapsed Time" reads 0 on the final screen of a -m run).
type SIPpStats struct {
	Successful, Failed int
	Elapsed            time.Duration
}

var sippCounter = regexp.MustCompile(`^\s*(Successful call|Failed call)\s*\|\s*\d+\s*\|\s*(\d+)`)

// parseSIPpStats reads the cumulative counters of the last statistics screen SIPp printed.
func parseSIPpStats(out string) (SIPpStats, error) {
	var s SIPpStats
	found := false
	for _, l := range strings.Split(out, "\n") {
		if m := sippCounter.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[2])
			if m[1] == "Successful call" {
				s.Successful = n
				found = true
			} else {
				s.Failed = n
			}
		}
	}
	if !found {
		return s, errors.New("no SIPp statistics screen in its output")
	}
	return s, nil
}

// sippRun is one SIPp process of the bench.
type sippRun struct {
	scenario  string // file in bench/sipp
	remote    string
	port      int
	inf       string // injection file
	rate      float64
	calls     int
	limit     int // -l, 0: SIPp's default
	extra     []string
	timeout   time.Duration
	transport string
}

func (r sippRun) args(scenarioDir string) []string {
	transport := r.transport
	if transport == "" {
		transport = "u1"
	}
	args := []string{r.remote, "-sf", filepath.Join(scenarioDir, r.scenario), "-i", "127.0.0.1",
		"-p", strconv.Itoa(r.port), "-t", transport, "-nostdin", "-nd", "-key", "domain", domain,
		"-key", "expires", "3600", "-recv_timeout", "10000", "-max_recv_loops", "1000", "-max_sched_loops", "1000"}
	if r.inf != "" {
		args = append(args, "-inf", r.inf)
	}
	if r.rate > 0 {
		args = append(args, "-r", strconv.FormatFloat(r.rate, 'f', -1, 64), "-rp", "1000")
	}
	if r.calls > 0 {
		args = append(args, "-m", strconv.Itoa(r.calls))
	}
	if r.limit > 0 {
		args = append(args, "-l", strconv.Itoa(r.limit))
	}
	if r.timeout > 0 {
		args = append(args, "-timeout", fmt.Sprintf("%ds", int(r.timeout.Seconds())))
	}
	return append(args, r.extra...)
}

// command is the line the table shows for the run.
func (r sippRun) command() string {
	args := r.args("bench/sipp")
	for i, a := range args {
		if i > 0 && args[i-1] == "-inf" {
			args[i] = filepath.Base(a)
		}
	}
	return "sipp " + strings.Join(quoteArgs(args), " ")
}

// run runs SIPp to its end in dir and returns its statistics and output.
func (r sippRun) run(ctx context.Context, sippBin, scenarioDir, dir string) (SIPpStats, string, error) {
	cmd := exec.CommandContext(ctx, sippBin, r.args(scenarioDir)...)
	cmd.Dir = dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	stats, perr := parseSIPpStats(string(out))
	stats.Elapsed = time.Since(start)
	if perr != nil {
		if err == nil {
			err = perr
		}
		return stats, string(out), fmt.Errorf("sipp %s: %w: %s", r.scenario, err, lastLine(string(out)))
	}
	return stats, string(out), nil
}

// start runs SIPp in the background (a UAS); stop ends it with SIGUSR1-free SIGTERM and returns its output.
func (r sippRun) start(sippBin, scenarioDir, dir string) (*exec.Cmd, *strings.Builder, error) {
	cmd := exec.Command(sippBin, r.args(scenarioDir)...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start sipp %s: %w", r.scenario, err)
	}
	return cmd, &out, nil
}
