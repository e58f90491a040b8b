package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The benchmark scenarios of bench/sipp (make bench, docs/benchmarks.md) run once each, at a low rate, through
// the whole core, so that they cannot rot: several distinct users per SIPp process from an injection file,
// the [authentication] keyword taking username, K and OP from it.

// benchUser is one line of a bench/sipp users file: MSISDN;IMPI;K;OP, keys as the text SIPp uses.
func benchUser(s Subscriber) string {
	return strings.Join([]string{s.MSISDN, s.IMPI(), "imscore-e2e-K-01", "imscore-e2e-OP01"}, ";")
}

// benchSIPp is one run of a bench/sipp scenario.
type benchSIPp struct {
	scenario string
	remote   string
	port     int
	inf      string // injection file, "" for none
	calls    int    // -m
	rate     int    // -r
}

// start starts SIPp; the returned function waits for it and fails the test unless every call succeeded.
func (r benchSIPp) start(t *testing.T) func() {
	t.Helper()
	bin := NeedSIPp(t)
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	args := []string{r.remote, "-sf", filepath.Join(root, "bench", "sipp", r.scenario), "-i", "127.0.0.1",
		"-p", strconv.Itoa(r.port), "-t", "u1", "-nostdin", "-nd", "-key", "domain", Domain, "-key", "expires", "600",
		"-m", strconv.Itoa(r.calls), "-timeout", "30s", "-timeout_error", "-recv_timeout", "10000",
		"-trace_err", "-error_file", filepath.Join(work, "errors.log"),
		"-trace_msg", "-message_file", filepath.Join(work, "messages.log")}
	if r.inf != "" {
		args = append(args, "-inf", r.inf)
	}
	if r.rate > 0 {
		args = append(args, "-r", strconv.Itoa(r.rate))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = work
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start sipp %s: %v", r.scenario, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waited bool
	var result error
	wait := func() {
		t.Helper()
		if !waited {
			result = <-done
			waited = true
			cancel()
		}
		if result != nil {
			errs, _ := os.ReadFile(filepath.Join(work, "errors.log"))
			msgs, _ := os.ReadFile(filepath.Join(work, "messages.log"))
			if len(msgs) > 8192 {
				msgs = msgs[len(msgs)-8192:]
			}
			t.Fatalf("sipp %s failed: %v\n---- errors ----\n%s\n---- messages (end) ----\n%s\n---- output (end) ----\n%s",
				r.scenario, result, errs, msgs, tail(out.String(), 3000))
		}
	}
	t.Cleanup(func() {
		cancel()
		if !waited {
			<-done
		}
	})
	return wait
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func writeLines(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("SEQUENTIAL\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBenchSIPpScenarios(t *testing.T) {
	NeedSIPp(t)
	users := []Subscriber{NthSubscriber(91), NthSubscriber(92), NthSubscriber(93), NthSubscriber(94)}
	c := startCoreWith(t, coreOptions{pcscf: true}, users...)

	t.Run("register_dereg.xml: three distinct users from one SIPp", func(t *testing.T) {
		inf := writeLines(t, "users.csv", benchUser(users[0]), benchUser(users[1]), benchUser(users[2]))
		benchSIPp{scenario: "register_dereg.xml", remote: c.entry, port: FreePort(t), inf: inf, calls: 3, rate: 5}.start(t)()
		// Each user authenticated with its own IMPI: the HSS generated vectors (advanced the SQN) for each of
		// the three and not for the fourth, and none is left registered.
		for i, u := range users {
			sqn := subscriberSQN(t, c.hss, u)
			if used := i < 3; used != (sqn > 0) {
				t.Errorf("%s: SQN %d after register_dereg.xml (user in the injection file: %v)", u.IMSI, sqn, used)
			}
			if reg := Imsctl(t, bins, c.hss, "registration", "show", "--imsi", u.IMSI); !strings.Contains(reg, ": not registered") {
				t.Errorf("%s registered after register_dereg.xml:\n%s", u.IMSI, reg)
			}
		}
	})

	// Callers register from the UAC's port, callees from the port the UAS scenarios then listen on.
	callerPort, calleePort := FreePort(t), FreePort(t)
	callers := writeLines(t, "callers.csv", benchUser(users[0]), benchUser(users[1]))
	callees := writeLines(t, "callees.csv", benchUser(users[2]), benchUser(users[3]))
	pairs := writeLines(t, "pairs.csv", users[0].MSISDN+";"+users[2].MSISDN, users[1].MSISDN+";"+users[3].MSISDN)
	t.Run("register.xml: callers and callees stay registered", func(t *testing.T) {
		benchSIPp{scenario: "register.xml", remote: c.entry, port: calleePort, inf: callees, calls: 2, rate: 5}.start(t)()
		benchSIPp{scenario: "register.xml", remote: c.entry, port: callerPort, inf: callers, calls: 2, rate: 5}.start(t)()
		for _, u := range users {
			reg := Imsctl(t, bins, c.hss, "registration", "show", "--imsi", u.IMSI)
			if strings.Contains(reg, ": not registered") || !strings.Contains(reg, " REGISTERED ") {
				t.Errorf("%s not registered:\n%s", u.IMSI, reg)
			}
		}
	})
	for _, flow := range []struct{ uac, uas string }{
		{"call_uac.xml", "call_uas.xml"},
		{"message_uac.xml", "message_uas.xml"},
	} {
		t.Run(fmt.Sprintf("%s → %s: two pairs", flow.uac, flow.uas), func(t *testing.T) {
			uasDone := benchSIPp{scenario: flow.uas, remote: c.entry, port: calleePort, calls: 2}.start(t)
			waitUDPBound(t, calleePort)
			benchSIPp{scenario: flow.uac, remote: c.entry, port: callerPort, inf: pairs, calls: 2, rate: 5}.start(t)()
			uasDone()
		})
	}
}

// subscriberSQN is the subscriber's current SQN from the provisioning API.
func subscriberSQN(t *testing.T, h *HSS, s Subscriber) uint64 {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.API+"/api/v1/subscribers/"+url.PathEscape(s.IMPI()), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sub struct {
		SQN uint64 `json:"sqn"`
	}
	if err := json.NewDecoder(res.Body).Decode(&sub); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET subscriber %s: HTTP %d, %v", s.IMPI(), res.StatusCode, err)
	}
	return sub.SQN
}

// udpFree tells whether the loopback UDP port can be bound.
func udpFree(port int) bool {
	c, err := net.ListenPacket("udp", Addr(port))
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// waitUDPBound waits until something holds the UDP port (the UAS SIPp).
func waitUDPBound(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !udpFree(port) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing bound UDP port %d within 5 s", port)
}
