// Command imsagw runs the imscore IMS Access Gateway (TS 23.334, TS 29.334): flags and an optional YAML file →
// imsagw.Run. Defaults and every setting are in docs/imsagw.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/version"
	"github.com/imscore/imscore/services/imsagw"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := imsagw.DefaultConfig()
	fs := flag.NewFlagSet("imsagw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dump, showVersion bool
	fs.StringVar(&cfg.Iq.Listen, "iq-listen", cfg.Iq.Listen, "Iq (H.248 text over UDP) listen address")
	fs.StringVar(&cfg.Iq.MID, "iq-mid", cfg.Iq.MID, "H.248 mId of this AGW (default \"[address]:port\" of iq-listen)")
	fs.Var(config.ListValue(func(l []string) { cfg.Iq.Peers = l }), "iq-peers",
		"IMS-ALG (P-CSCF) addresses whose Iq requests are served, comma-separated (default "+imsagw.DefaultIqPeer+")")
	fs.StringVar(&cfg.AccessAddress, "access-address", cfg.AccessAddress, "local address of the terminations towards the UEs (access realm)")
	fs.StringVar(&cfg.CoreAddress, "core-address", cfg.CoreAddress, "local address of the terminations towards the core (core realm)")
	fs.StringVar(&cfg.TLS.CertFile, "tls-cert", cfg.TLS.CertFile, "certificate towards the UEs (PEM); empty: self-signed at start")
	fs.StringVar(&cfg.TLS.KeyFile, "tls-key", cfg.TLS.KeyFile, "its private key (PEM)")
	fs.IntVar(&cfg.MaxContexts, "max-contexts", cfg.MaxContexts, "contexts at once; beyond it a new context gets error 412")
	fs.DurationVar(&cfg.SetupTimeout, "setup-timeout", cfg.SetupTimeout, "remove a context without bearer and without Iq command for this long")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "release a relayed bearer that carried nothing for this long")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "imsagw:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "imsagw", version.String())
		return 0
	}
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "imsagw:", err)
			return 1
		}
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "imsagw: invalid configuration:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "imsagw")
	if err != nil {
		fmt.Fprintln(stderr, "imsagw: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	log.Info("imsagw starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := imsagw.Run(ctx, cfg, log); err != nil {
		log.Error("imsagw stopped with error", zap.Error(err))
		return 1
	}
	return 0
}
