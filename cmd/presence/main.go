// Command presence runs the imscore presence server (an ISC application server, TS 24.141) and its
// XDMS (XCAP, RFC 4825) in one process: flags and an optional YAML file → presence.Run. Every setting
// and default is in docs/presence.md.
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

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/version"
	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg := presence.DefaultConfig()
	fs := flag.NewFlagSet("presence", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dump, showVersion bool
	fs.StringVar(&cfg.SIP.Listen, "sip-listen", cfg.SIP.Listen, "SIP listen address, UDP and TCP")
	fs.StringVar(&cfg.SIP.Advertise, "sip-advertise", cfg.SIP.Advertise, "host advertised in Contact (default: the bound IP)")
	proxy.TLSFlags(fs, &cfg.SIP.TLS)
	fs.StringVar(&cfg.HTTPListen, "http-listen", cfg.HTTPListen, "XCAP (XDMS) and /healthz listen address (empty: no XDMS)")
	fs.StringVar(&cfg.XCAPRoot, "xcap-root", cfg.XCAPRoot, "path of the XCAP root")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "storage: sqlite://PATH, postgres://... or memory")
	fs.Var(config.ListValue(func(l []string) { cfg.TrustedNetworks = l }), "trusted-networks",
		"networks of the S-CSCFs (CIDR or address), comma-separated; a request from elsewhere gets 403 (default "+
			strings.Join(trust.DefaultNetworks(), ",")+")")
	fs.Var(config.ListValue(func(l []string) { cfg.XCAPTrustedProxies = l }), "xcap-trusted-proxies",
		"networks of the authentication proxies whose X-3GPP-Asserted-Identity the XDMS believes (default "+
			strings.Join(trust.DefaultNetworks(), ",")+")")
	fs.StringVar(&cfg.XCAPAuth, "xcap-auth", cfg.XCAPAuth, "how the XDMS authenticates users: proxy (asserted identity) or gba (NAF, HTTP Digest with the GBA key)")
	fs.StringVar(&cfg.GBA.FQDN, "gba-naf-fqdn", cfg.GBA.FQDN, "with --xcap-auth gba: the XDMS's FQDN (realm 3GPP-bootstrapping@FQDN, NAF_Id, Zn Origin-Host)")
	fs.StringVar(&cfg.GBA.BSF, "gba-bsf", cfg.GBA.BSF, "with --xcap-auth gba: the BSF's Zn address, host:port")
	fs.StringVar(&cfg.GBA.BSFHost, "gba-bsf-host", cfg.GBA.BSFHost, "with --xcap-auth gba: the BSF's Origin-Host")
	fs.StringVar((*string)(&cfg.DefaultSubHandling), "default-sub-handling", string(cfg.DefaultSubHandling),
		"watchers no pres-rules rule matches: block, confirm, polite-block or allow")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "presence:", err)
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "presence", version.String())
		return 0
	}
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "presence:", err)
			return 1
		}
		return 0
	}
	if err := cfg.WithDefaults().Validate(); err != nil {
		fmt.Fprintln(stderr, "presence: config:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "presence")
	if err != nil {
		fmt.Fprintln(stderr, "presence: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	proxy.UseForLibrary(log) // sipgo's own log lines into ours
	log.Info("presence starting", zap.String("version", version.String()))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := presence.Run(ctx, cfg, log); err != nil {
		log.Error("presence stopped with error", zap.Error(err))
		return 1
	}
	return 0
}
