// Command hss runs the imscore HSS: the Cx server (TS 29.228 / TS 29.229), the provisioning API, metrics and
// health, over the embedded SQLite store or PostgreSQL. Flags and an optional YAML file → hsscx.Run; every
// setting and default is in docs/hss.md.
//
// With no arguments it serves Cx on 127.0.0.1:3868 (TCP) and HTTP on 127.0.0.1:8080, with the store in
// ./var/hss.db.
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

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/logging"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: exit status 0 on a clean stop, 1 when the node failed, 2 for a usage or
// configuration error.
func run(args []string, stdout, stderr io.Writer) int {
	cfg := hss.DefaultConfig()
	fs := flag.NewFlagSet("hss", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dump, showVersion bool
	fs.StringVar(&cfg.Store.DSN, "db", cfg.Store.DSN, "subscriber store: an SQLite file path (sqlite://PATH) or postgres://user:pass@host/db")
	fs.StringVar(&cfg.Diameter.Listen, "diameter-listen", cfg.Diameter.Listen, "Cx (Diameter over TCP) listen address")
	fs.StringVar(&cfg.API.Listen, "api-listen", cfg.API.Listen, "HTTP listen address: /api/v1/, /metrics, /healthz, /readyz")
	fs.StringVar(&cfg.API.Security.TokensFile, "api-tokens-file", cfg.API.Security.TokensFile,
		"bearer tokens of the provisioning API (hashes and scopes; imsctl token create); empty: every API request is refused")
	fs.StringVar(&cfg.Diameter.OriginHost, "origin-host", cfg.Diameter.OriginHost, "Diameter Origin-Host of the HSS")
	fs.StringVar(&cfg.Diameter.Realm, "realm", cfg.Diameter.Realm, "Diameter Origin-Realm, the home network domain")
	var peers peerFlag
	fs.Var(&peers, "diameter-peer", "allowed Cx peer ROLE:ORIGIN-HOST@SOURCE[,SOURCE...] (role icscf or scscf, sources IPs or\n"+
		"CIDR prefixes, realm the HSS's); repeatable, replaces diameter.peers (default: the loopback I-CSCF and S-CSCF)")
	fs.StringVar(&cfg.Diameter.TLS.CertFile, "diameter-tls-cert", cfg.Diameter.TLS.CertFile, "Cx over TLS: this HSS's certificate (PEM)")
	fs.StringVar(&cfg.Diameter.TLS.KeyFile, "diameter-tls-key", cfg.Diameter.TLS.KeyFile, "Cx over TLS: its private key (PEM)")
	fs.StringVar(&cfg.Diameter.TLS.CAFile, "diameter-tls-ca", cfg.Diameter.TLS.CAFile, "Cx over TLS: the CA certificates of the peers (PEM)")
	fs.StringVar(&cfg.Log.Level, "log-level", cfg.Log.Level, "debug, info, warn or error")
	fs.StringVar(&cfg.Log.Format, "log-format", cfg.Log.Format, "console or json")
	fs.BoolVar(&dump, "dump-config", false, "print the effective configuration as YAML and exit")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	err := config.Load(fs, args, &cfg)
	if err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "hss:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hss: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if len(peers) > 0 {
		if cfg.Diameter.Peers, err = peers.allowed(cfg.Diameter.Realm); err != nil {
			fmt.Fprintln(stderr, "hss:", err)
			return 2
		}
	}
	if showVersion {
		fmt.Fprintln(stdout, "hss", version.String())
		return 0
	}
	if dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "hss:", err)
			return 1
		}
		return 0
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(stderr, "hss:", err)
		return 2
	}
	log, err := logging.New(cfg.Log, "hss")
	if err != nil {
		fmt.Fprintln(stderr, "hss: logger:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("hss starting", zap.String("version", version.String()))
	if err := hsscx.Run(ctx, cfg, log); err != nil {
		log.Error("hss stopped with an error", zap.Error(err))
		fmt.Fprintln(stderr, "hss:", err)
		return 1
	}
	return 0
}

// peerFlag collects --diameter-peer values; duplicates (config.Load parses the flags twice) are dropped.
type peerFlag []string

func (p *peerFlag) String() string { return strings.Join(*p, " ") }
func (p *peerFlag) Set(v string) error {
	if !slices.Contains(*p, v) {
		*p = append(*p, v)
	}
	return nil
}

// allowed turns ROLE:ORIGIN-HOST@SOURCE[,SOURCE...] values into peers of realm.
func (p peerFlag) allowed(realm string) ([]peer.AllowedPeer, error) {
	var out []peer.AllowedPeer
	for _, v := range p {
		role, rest, ok1 := strings.Cut(v, ":")
		host, sources, ok2 := strings.Cut(rest, "@")
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("--diameter-peer %q: want ROLE:ORIGIN-HOST@SOURCE[,SOURCE...]", v)
		}
		out = append(out, peer.AllowedPeer{Host: host, Realm: realm, Sources: strings.Split(sources, ","), Roles: []string{role}})
	}
	return out, nil
}
