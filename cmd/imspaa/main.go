// Command imspaa runs the imscore PANA Authentication Agent (RFC 5191) of the access-bound fast registration:
// UEs authenticate with EAP-TLS (RFC 5216, RFC 9190) to a local EAP-TLS server or to the HSS (Diameter EAP,
// RFC 4072), and the token exported from the TLS session goes with the IMPI to the core. Flags and an
// optional YAML file → paa.Run; defaults and every setting are in docs/fastreg.md.
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
	"github.com/imscore/imscore/services/paa"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := paa.DefaultConfig()
	fs := flag.NewFlagSet("imspaa", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dump, showVersion bool
	fs.Var(config.ListValue(func(l []string) { cfg.Listen = l }), "listen",
		"PANA UDP listen address(es), comma-separated (default "+paa.DefaultListen+": IPv4 and IPv6)")
	fs.DurationVar(&cfg.SessionLifetime, "session-lifetime", cfg.SessionLifetime, "PANA Session-Lifetime granted, and the token's validity")
	fs.StringVar(&cfg.EAP.Server, "eap-server", cfg.EAP.Server, "where EAP-TLS runs: local (in the PAA) or hss (Diameter EAP, RFC 4072)")
	fs.StringVar(&cfg.Tokens, "tokens", cfg.Tokens, "where the local EAP server's tokens go: memory (kept here, labs) or hss (Token-Push to --hss)")
	fs.StringVar(&cfg.EAP.CertFile, "eap-cert", cfg.EAP.CertFile, "local EAP-TLS server certificate (PEM)")
	fs.StringVar(&cfg.EAP.KeyFile, "eap-key", cfg.EAP.KeyFile, "its private key (PEM)")
	fs.StringVar(&cfg.EAP.CAFile, "eap-ca", cfg.EAP.CAFile, "operator CA the UE certificates chain to (PEM)")
	fs.StringVar(&cfg.EAP.MinTLSVersion, "min-tls-version", cfg.EAP.MinTLSVersion, "lowest TLS version of EAP-TLS: 1.3 (RFC 9190) or 1.2 (RFC 5216)")
	fs.Var(config.ListValue(func(l []string) { cfg.Diameter.HSS = l }), "hss",
		"HSS Diameter address(es) for --eap-server hss or --tokens hss, comma-separated (default 127.0.0.1:3868)")
	fs.StringVar(&cfg.Diameter.OriginHost, "origin-host", cfg.Diameter.OriginHost, "Diameter Origin-Host")
	fs.StringVar(&cfg.Diameter.OriginRealm, "origin-realm", cfg.Diameter.OriginRealm, "Diameter Origin-Realm")
	fs.StringVar(&cfg.Diameter.DestinationRealm, "destination-realm", cfg.Diameter.DestinationRealm, "Diameter Destination-Realm of the HSS")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "imspaa:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "imspaa", version.String())
		return 0
	}
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "imspaa:", err)
			return 1
		}
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "imspaa: invalid configuration:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "imspaa")
	if err != nil {
		fmt.Fprintln(stderr, "imspaa: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	log.Info("imspaa starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := paa.Run(ctx, cfg, log); err != nil {
		log.Error("imspaa stopped with error", zap.Error(err))
		return 1
	}
	return 0
}
