// Command icscf runs the imscore I-CSCF (TS 24.229 §5.3): flags and an optional YAML file → icscf.Run.
// Defaults and every setting are in docs/icscf.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/imscore/imscore/internal/version"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/icscf"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// appendValue collects a repeatable flag; duplicates (from the second parse in config.Load) are dropped.
type appendValue struct{ vals *[]string }

func (v appendValue) String() string { return "" }
func (v appendValue) Set(s string) error {
	if !slices.Contains(*v.vals, s) {
		*v.vals = append(*v.vals, s)
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := icscf.DefaultConfig()
	fs := flag.NewFlagSet("icscf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var scscfArgs []string
	var dump, showVersion bool
	fs.Var(config.ListValue(func(l []string) {
		cfg.SIP.Listen = nil
		for _, a := range l {
			cfg.SIP.Listen = append(cfg.SIP.Listen, proxy.Listen{Addr: a})
		}
	}), "sip-listen", "SIP listen address(es), UDP and TCP, comma-separated (default "+icscf.DefaultSIPListen+")")
	proxy.TLSFlags(fs, &cfg.SIP.TLS)
	fs.Var(config.ListValue(func(l []string) { cfg.Diameter.HSS = l }), "hss",
		"HSS Diameter address(es), comma-separated (default "+icscf.DefaultHSSAddress+")")
	fs.Var(appendValue{&scscfArgs}, "scscf",
		"S-CSCF as name=address, repeatable; replaces the configured list (default "+icscf.DefaultSCSCFName+"="+icscf.DefaultSCSCFAddress+")")
	fs.Var(config.ListValue(func(l []string) { cfg.TrustedNetworks = l }), "trusted-networks",
		"networks of the trust domain (CIDR or address), comma-separated; REGISTER and orig from outside get 403, "+
			"P-Asserted-Identity and the other trust-domain header fields from outside are removed (default "+
			strings.Join(trust.DefaultNetworks(), ",")+")")
	fs.StringVar(&cfg.Domain, "domain", cfg.Domain, "home network domain")
	fs.StringVar(&cfg.Diameter.OriginHost, "origin-host", cfg.Diameter.OriginHost, "Diameter Origin-Host")
	fs.StringVar(&cfg.Diameter.Listen, "diameter-listen", cfg.Diameter.Listen,
		"Diameter listen address, for the peers of diameter.peers only (default \"\": off)")
	fs.StringVar(&cfg.Diameter.TLS.CertFile, "diameter-tls-cert", cfg.Diameter.TLS.CertFile, "Cx over TLS: this node's certificate (PEM)")
	fs.StringVar(&cfg.Diameter.TLS.KeyFile, "diameter-tls-key", cfg.Diameter.TLS.KeyFile, "Cx over TLS: its private key (PEM)")
	fs.StringVar(&cfg.Diameter.TLS.CAFile, "diameter-tls-ca", cfg.Diameter.TLS.CAFile, "Cx over TLS: the CA certificates of the HSS (PEM)")
	fs.DurationVar(&cfg.AttemptTimeout, "attempt-timeout", cfg.AttemptTimeout, "wait for an S-CSCF's answer to a REGISTER before trying another")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "icscf:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "icscf", version.String())
		return 0
	}
	if len(scscfArgs) > 0 {
		cfg.SCSCFs = nil
		for _, a := range scscfArgs {
			s, err := icscf.ParseSCSCFFlag(a)
			if err != nil {
				fmt.Fprintln(stderr, "icscf: --scscf:", err)
				return 2
			}
			cfg.SCSCFs = append(cfg.SCSCFs, s)
		}
	}
	cfg = cfg.WithDefaults() // what Run uses, and what --dump-config shows
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "icscf:", err)
			return 1
		}
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "icscf: invalid configuration:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "icscf")
	if err != nil {
		fmt.Fprintln(stderr, "icscf: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	proxy.UseForLibrary(log) // sipgo's own log lines into ours
	log.Info("icscf starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := icscf.Run(ctx, cfg, log); err != nil {
		log.Error("icscf stopped with error", zap.Error(err))
		return 1
	}
	return 0
}
