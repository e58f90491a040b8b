// Command scscf runs the imscore S-CSCF (TS 24.229 §5.4): flags and an optional YAML file → scscf.Run.
// Defaults and every setting are in docs/scscf.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/imscore/imscore/internal/version"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := scscf.DefaultConfig()
	fs := flag.NewFlagSet("scscf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dump, showVersion bool
	fs.StringVar(&cfg.SIP.Listen, "sip-listen", cfg.SIP.Listen, "SIP listen address, UDP and TCP")
	fs.StringVar(&cfg.SIP.Advertise, "sip-advertise", cfg.SIP.Advertise, "host advertised in Via, Record-Route and Service-Route (default: the bound IP)")
	proxy.TLSFlags(fs, &cfg.SIP.TLS)
	fs.StringVar(&cfg.Diameter.HSS, "hss", cfg.Diameter.HSS, "HSS Diameter address")
	fs.StringVar(&cfg.Diameter.HSSHost, "hss-host", cfg.Diameter.HSSHost, "HSS Origin-Host expected in its CEA (empty: any; required over TLS)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "registrar storage: sqlite://PATH, postgres://... or memory")
	fs.DurationVar(&cfg.StoreFlushInterval, "store-flush-interval", cfg.StoreFlushInterval,
		"how often registrar changes are written behind to the store: the most a crash loses")
	fs.StringVar(&cfg.Domain, "domain", cfg.Domain, "home network domain")
	fs.StringVar(&cfg.ServerName, "server-name", cfg.ServerName, "this S-CSCF's SIP URI (Server-Name in MAR/SAR)")
	fs.StringVar(&cfg.Diameter.OriginHost, "origin-host", cfg.Diameter.OriginHost, "Diameter Origin-Host")
	fs.StringVar(&cfg.Diameter.OriginRealm, "origin-realm", cfg.Diameter.OriginRealm, "Diameter Origin-Realm")
	fs.StringVar(&cfg.Diameter.Listen, "diameter-listen", cfg.Diameter.Listen,
		"Diameter listen address, for the peers of diameter.peers only (default \"\": off)")
	fs.StringVar(&cfg.Diameter.TLS.CertFile, "diameter-tls-cert", cfg.Diameter.TLS.CertFile, "Cx over TLS: this node's certificate (PEM)")
	fs.StringVar(&cfg.Diameter.TLS.KeyFile, "diameter-tls-key", cfg.Diameter.TLS.KeyFile, "Cx over TLS: its private key (PEM)")
	fs.StringVar(&cfg.Diameter.TLS.CAFile, "diameter-tls-ca", cfg.Diameter.TLS.CAFile, "Cx over TLS: the CA certificates of the HSS (PEM)")
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "address of /metrics, /healthz, /readyz (empty: off)")
	fs.StringVar(&cfg.Admin.TokensFile, "admin-tokens-file", cfg.Admin.TokensFile,
		"bearer tokens file of the admin listener (admin.tokens_file): read scope for /admin/v1/registrations, admin for pprof")
	fs.StringVar(&cfg.ICSCF, "icscf", cfg.ICSCF, "I-CSCF URI for callees not served here (none: serve the whole domain)")
	fs.StringVar(&cfg.ICSCFRoute, "icscf-route", cfg.ICSCFRoute,
		"how requests reach the I-CSCF: next_hop (sent to its address, no Route added) or route (a pre-loaded Route with ;lr)")
	fs.Var(config.ListValue(func(l []string) { cfg.TrustedNetworks = l }), "trusted-networks",
		"networks of the trust domain (CIDR or address), comma-separated; REGISTER and orig from outside get 403, "+
			"P-Asserted-Identity and the other trust-domain header fields from outside are removed (default "+
			strings.Join(trust.DefaultNetworks(), ",")+")")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "scscf:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "scscf", version.String())
		return 0
	}
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "scscf:", err)
			return 1
		}
		return 0
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		fmt.Fprintln(stderr, "scscf: config:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "scscf")
	if err != nil {
		fmt.Fprintln(stderr, "scscf: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	proxy.UseForLibrary(log) // sipgo's own log lines into ours
	log.Info("scscf starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := scscf.Run(ctx, cfg, log); err != nil {
		log.Error("scscf stopped with error", zap.Error(err))
		return 1
	}
	return 0
}

// buildVersion is the package version and, when built from a module, the VCS revision.
