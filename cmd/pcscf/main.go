// Command pcscf runs the P-CSCF. With no arguments it listens on 127.0.0.1:5060 (UDP and TCP),
// forwards REGISTER to the I-CSCF at 127.0.0.1:4060 and, on a kernel without ESP, serves UEs
// that do not ask for sec-agree (docs/pcscf.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/imscore/imscore/internal/version"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/pcscf"
	"github.com/imscore/imscore/sip/proxy"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg := pcscf.DefaultConfig()
	fs := flag.NewFlagSet("pcscf", flag.ContinueOnError)
	listen := fs.String("sip-listen", strings.Join(cfg.Listen, ","), "unprotected SIP addresses, comma-separated ip:port (UDP and TCP each)")
	fs.StringVar(&cfg.ICSCF, "icscf", cfg.ICSCF, "I-CSCF address ip:port, the static next hop of REGISTER")
	proxy.TLSFlags(fs, &cfg.SIP.TLS)
	ipsecMode := fs.String("ipsec", string(cfg.IPsec), "IMS-AKA IPsec: auto, required or off")
	trusted := fs.String("trusted-networks", strings.Join(cfg.TrustedNetworks, ","), "the core's networks, comma-separated CIDR prefixes or addresses (trusted_networks)")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "bindings store: sqlite://PATH, postgres://... or memory (default: pcscf.db next to state_file)")
	fs.DurationVar(&cfg.DBFlushInterval, "db-flush-interval", cfg.DBFlushInterval, "loss window: changed bindings reach the store at most this long after the change")
	fs.StringVar(&cfg.Admin.TokensFile, "admin-tokens-file", cfg.Admin.TokensFile,
		"bearer tokens file of the admin listener (admin.tokens_file): read scope for /admin/v1/bindings, admin for pprof")
	fs.StringVar(&cfg.NodeID, "node-id", cfg.NodeID, "this P-CSCF's name in the store (pools: one per P-CSCF; default the first listen address)")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "log level: debug, info, warn, error")
	dump := fs.Bool("dump-config", false, "print the effective configuration as YAML and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "pcscf:", err)
		return 2
	}
	// Flags bound to strings that differ from the file's types: apply when given.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "sip-listen":
			cfg.Listen = strings.Split(*listen, ",")
		case "ipsec":
			cfg.IPsec = pcscf.IPsecMode(*ipsecMode)
		case "trusted-networks":
			cfg.TrustedNetworks = nil
			if *trusted != "" {
				cfg.TrustedNetworks = strings.Split(*trusted, ",")
			}
		}
	})
	if *showVersion {
		fmt.Println("pcscf", version.String())
		return 0
	}
	if *dump {
		if err := config.Dump(os.Stdout, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "pcscf:", err)
			return 1
		}
		return 0
	}
	log, err := logging.New(cfg.Log, "pcscf")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pcscf:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	proxy.UseForLibrary(log) // sipgo's own log lines into ours
	log.Info("pcscf starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := pcscf.Run(ctx, cfg, log); err != nil {
		log.Sugar().Errorw("pcscf stopped", "error", err)
		return 1
	}
	return 0
}
