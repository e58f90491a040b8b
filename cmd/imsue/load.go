package main

// imsue load: the load generator of sip/ue/load behind the flags of the contract with `make
// bench` (README "Load test"): text report on stdout, JSON with --json, exit 0 when the run (or
// its best step) is under the failure limit, 1 when not, 2 on a usage error.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/version"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ue/load"
)

const loadUsage = `usage: imsue load [flags]
  N simulated UEs (IMSI --first-imsi + i) drive --scenario at --rate operations per second for
  --duration through the P-CSCF; with --step-up the rate rises by --step-factor per step until a
  step's failure ratio reaches --max-failure-ratio. The text report goes to stdout, the JSON one
  to --json. Exit 0: under the failure limit; 1: not; 2: usage error.
  Scenarios: register, reregister, deregister, message, call, presence, mix (--mix).
flags:`

// loadFlags are the parsed flags of imsue load.
type loadFlags struct {
	pcscf, transport, firstIMSI, domain      string
	k, op, opc, amf                          string
	provisionURL, scenario, mix, jsonPath    string
	provisionTokenFile                       string
	ues, maxSteps, setupConcurrency          int
	rate, stepFactor, maxFailureRatio        float64
	duration, hold, timeout, expires         time.Duration
	stepUp, secAgree, withIPsec, showVersion bool
	level                                    string
}

func parseLoadFlags(args []string, stderr io.Writer) (*loadFlags, error) {
	f := &loadFlags{}
	fs := flag.NewFlagSet("imsue load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.pcscf, "pcscf", "127.0.0.1:5060", "P-CSCF address ip:port")
	fs.StringVar(&f.transport, "transport", "udp", "udp or tcp")
	fs.IntVar(&f.ues, "ues", load.DefaultUEs, "simulated UEs")
	fs.StringVar(&f.firstIMSI, "first-imsi", load.DefaultFirstIMSI, "IMSI of the first UE (15 digits); UE i has first+i")
	fs.StringVar(&f.domain, "domain", load.DefaultDomain, "home domain: IMPI <imsi>@domain, IMPU sip:<imsi>@domain")
	fs.StringVar(&f.k, "k", "", "K of every load UE, 32 hex digits")
	fs.StringVar(&f.op, "op", "", "OP, 32 hex digits (or --opc)")
	fs.StringVar(&f.opc, "opc", "", "OPc, 32 hex digits (or --op)")
	fs.StringVar(&f.amf, "amf", "8000", "AMF, 4 hex digits")
	fs.StringVar(&f.provisionURL, "provision", "", "HSS provisioning API (e.g. http://127.0.0.1:8080): bulk-provision the UEs first (existing ones are kept)")
	fs.StringVar(&f.provisionTokenFile, "provision-token-file", "", "file with the API token for --provision (provision scope); "+
		"default $"+httpauth.EnvToken+", else "+httpauth.DefaultClientTokenFile+" as make run writes it")
	fs.StringVar(&f.scenario, "scenario", string(load.ScenarioRegister), "register, reregister, deregister, message, call, presence or mix")
	fs.StringVar(&f.mix, "mix", load.DefaultMix().String(), "weights of the mix scenario, name=weight,…")
	fs.Float64Var(&f.rate, "rate", load.DefaultRate, "target operations per second (of the first step)")
	fs.DurationVar(&f.duration, "duration", load.DefaultDuration, "length of the run, or of each step")
	fs.BoolVar(&f.stepUp, "step-up", false, "raise the rate by --step-factor after each step under the failure limit")
	fs.Float64Var(&f.stepFactor, "step-factor", load.DefaultStepFactor, "rate factor between steps")
	fs.Float64Var(&f.maxFailureRatio, "max-failure-ratio", load.DefaultMaxFailureRatio, "failure limit of a step (0.001 = 0.1 %)")
	fs.IntVar(&f.maxSteps, "max-steps", 0, "stop stepping up after this many steps (0: no limit)")
	fs.DurationVar(&f.hold, "hold", 0, "call scenario: time between the 200 and the BYE")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "one SIP transaction's time limit (then the operation fails as timeout)")
	fs.DurationVar(&f.expires, "expires", 600*time.Second, "registration expiry asked for")
	fs.IntVar(&f.setupConcurrency, "setup-concurrency", load.DefaultSetupConcurrency, "registrations in flight while the pool registers before the first step, and de-registrations at the end")
	fs.StringVar(&f.jsonPath, "json", "", `write the JSON report to this file ("-": stdout)`)
	fs.BoolVar(&f.secAgree, "sec-agree", false, "offer ipsec-3gpp security agreement (RFC 3329)")
	fs.BoolVar(&f.withIPsec, "ipsec", false, "install the UEs' SAs in the kernel (needs ESP and CAP_NET_ADMIN); implies --sec-agree")
	fs.StringVar(&f.level, "log-level", "warn", "log level (the report is not a log)")
	fs.BoolVar(&f.showVersion, "version", false, "print the version and exit")
	fs.Usage = func() { fmt.Fprintln(stderr, loadUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.withIPsec {
		f.secAgree = true
	}
	return f, nil
}

// loadConfig turns the flags into the engine's configuration (no network use).
func loadConfig(f *loadFlags) (load.Config, error) {
	ucfg, err := buildConfig("load@"+f.domain, "", f.pcscf, "", f.transport, f.k, f.op, f.opc, f.secAgree, f.expires)
	if err != nil {
		return load.Config{}, err
	}
	amf, err := parseAMF(f.amf)
	if err != nil {
		return load.Config{}, err
	}
	ucfg.Keys.AMF = amf
	ucfg.IMPI, ucfg.IMPU = "", ""
	ucfg.Timeout = f.timeout
	sc, err := load.ParseScenario(f.scenario)
	if err != nil {
		return load.Config{}, err
	}
	cfg := load.Config{UE: ucfg, UEs: f.ues, FirstIMSI: f.firstIMSI, Domain: f.domain, Scenario: sc, Rate: f.rate,
		Duration: f.duration, StepUp: f.stepUp, StepFactor: f.stepFactor, MaxFailureRatio: f.maxFailureRatio,
		MaxSteps: f.maxSteps, Hold: f.hold, SetupConcurrency: f.setupConcurrency, Version: version.String()}
	if sc == load.ScenarioMix {
		if cfg.Mix, err = load.ParseMix(f.mix); err != nil {
			return load.Config{}, err
		}
	}
	if f.ues < 1 || f.rate <= 0 || f.duration <= 0 {
		return load.Config{}, fmt.Errorf("--ues, --rate and --duration must be positive")
	}
	if err := cfg.Validate(); err != nil {
		return load.Config{}, err
	}
	return cfg, nil
}

func parseAMF(s string) ([2]byte, error) {
	var amf [2]byte
	if len(s) != 4 {
		return amf, fmt.Errorf("--amf %q: want 4 hex digits", s)
	}
	if _, err := fmt.Sscanf(s, "%02x%02x", &amf[0], &amf[1]); err != nil {
		return amf, fmt.Errorf("--amf %q: %w", s, err)
	}
	return amf, nil
}

// runLoad is imsue load: the exit status of the contract.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseLoadFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "imsue load:", err)
		return 2
	}
	if f.showVersion {
		fmt.Fprintln(stdout, "imsue", version.String())
		return 0
	}
	cfg, err := loadConfig(f)
	if err != nil {
		fmt.Fprintln(stderr, "imsue load:", err)
		return 2
	}
	log, err := logging.New(logging.Config{Level: f.level, Format: "console"}, "imsue")
	if err != nil {
		fmt.Fprintln(stderr, "imsue load:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	rep, err := loadRun(ctx, f, cfg, log, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "imsue load:", err)
	}
	if rep == nil {
		return 1
	}
	textOut := stdout
	if f.jsonPath == "-" {
		textOut = stderr // stdout carries the JSON
	}
	if werr := rep.WriteText(textOut); werr != nil {
		fmt.Fprintln(stderr, "imsue load:", werr)
	}
	if f.jsonPath != "" {
		if werr := writeJSON(f.jsonPath, rep, stdout); werr != nil {
			fmt.Fprintln(stderr, "imsue load:", werr)
			return 1
		}
	}
	if err != nil || !rep.Passed() {
		return 1
	}
	return 0
}

// loadRun provisions (when asked), builds the pool, runs it and de-registers what it registered.
func loadRun(ctx context.Context, f *loadFlags, cfg load.Config, log *zap.Logger, stderr io.Writer) (*load.Report, error) {
	var (
		client   *provision.Client
		existing int
	)
	if f.provisionURL != "" {
		token, err := httpauth.FindToken(f.provisionTokenFile, os.Getenv(httpauth.EnvToken))
		if err != nil {
			return nil, fmt.Errorf("--provision-token-file: %w", err)
		}
		client, err = provision.NewClient(f.provisionURL, &http.Client{}, provision.WithToken(token))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "imsue load: provisioning %d subscribers from IMSI %s through %s\n", cfg.UEs, cfg.FirstIMSI, f.provisionURL)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		res, err := load.Provision(pctx, client, load.Population{FirstIMSI: cfg.FirstIMSI, Count: cfg.UEs, Domain: cfg.Domain,
			K: strings.ToLower(f.k), OP: strings.ToLower(f.op), OPc: strings.ToLower(f.opc), AMF: f.amf})
		cancel()
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "imsue load: provisioned %d subscribers (%d existed already)\n", res.Imported, res.Existing)
		existing = res.Existing
	}
	perUE := uint64(2)
	if cfg.UE.SecAgree {
		perUE = 6
	}
	if err := load.RaiseFileLimit(uint64(cfg.UEs)*perUE + 256); err != nil {
		return nil, err
	}
	if f.withIPsec {
		m, err := ipsec.NewManager(netns.None(), ipsec.Config{ReqIDBase: 0x55460000, ReqIDCount: 0x10000}, log)
		if err != nil {
			return nil, err
		}
		defer m.Close()
		cfg.UE.SAs = m
	}
	if existing > 0 {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := checkPopulation(cctx, client, cfg, f.amf, log)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	eng, err := load.New(cfg, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if n := eng.Close(); n > 0 {
			fmt.Fprintf(stderr, "imsue load: %d UEs could not be de-registered\n", n)
		}
	}()
	stop := showProgress(stderr, eng)
	rep, err := eng.Run(ctx)
	stop()
	return rep, err
}

func writeJSON(path string, rep *load.Report, stdout io.Writer) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}

// signalContext ends on Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
