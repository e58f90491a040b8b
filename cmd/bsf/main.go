// Command bsf runs the imscore Bootstrapping Server Function of GBA (TS 33.220): Ub over HTTP towards UEs, Zh
// towards the HSS, Zn towards NAFs (the XDMS). Flags and an optional YAML file → bsf.Run; every setting and
// default is in docs/bsf.md.
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
	"github.com/imscore/imscore/services/bsf"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := bsf.DefaultConfig()
	fs := flag.NewFlagSet("bsf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dump, showVersion bool
	fs.StringVar(&cfg.Name, "name", cfg.Name, "the BSF's FQDN: domain of every B-TID and Diameter Origin-Host")
	fs.StringVar(&cfg.Realm, "realm", cfg.Realm, "Ub Digest realm and Diameter Origin-Realm")
	fs.StringVar(&cfg.UbListen, "ub-listen", cfg.UbListen, "Ub (HTTP) listen address")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "/metrics and /healthz listen address (empty: off)")
	fs.DurationVar(&cfg.KeyLifetime, "key-lifetime", cfg.KeyLifetime, "lifetime of Ks and of every Ks_NAF derived from it")
	fs.StringVar(&cfg.Zh.HSS, "hss", cfg.Zh.HSS, "HSS Diameter address (Zh), host:port")
	fs.StringVar(&cfg.Zh.HSSHost, "hss-host", cfg.Zh.HSSHost, "the HSS's Origin-Host")
	fs.StringVar(&cfg.Zn.Listen, "zn-listen", cfg.Zn.Listen, "Zn (Diameter) listen address for NAFs (empty: off; NAFs in the config file's zn.peers)")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bsf:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "bsf", version.String())
		return 0
	}
	cfg = cfg.WithDefaults()
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "bsf:", err)
			return 1
		}
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "bsf: config:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "bsf")
	if err != nil {
		fmt.Fprintln(stderr, "bsf: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	log.Info("bsf starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := bsf.Run(ctx, cfg, log); err != nil {
		log.Error("bsf stopped with error", zap.Error(err))
		return 1
	}
	return 0
}
