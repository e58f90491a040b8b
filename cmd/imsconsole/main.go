// Command imsconsole serves imscore's web console (hss/console) beside the HSS: it calls the HSS's
// provisioning API with its own token and logs people in with the accounts of the API's tokens file.
//
//	imsconsole [--config FILE] [--dump-config] [--version] [--listen 127.0.0.1:8081] [--api http://127.0.0.1:8080] [--accounts-file ./var/api-tokens.yaml]
//	           [--token-file FILE] [--node NAME=URL ...] [--tls-cert FILE --tls-key FILE]
//	imsconsole account add --name NAME --role read-only|operator|admin [--accounts-file FILE] [--replace]
//	           (the password is read from the first line of standard input)
//
// docs/console.md describes every flag and default.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/console"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/internal/version"
)

// Defaults.
const (
	DefaultListen       = "127.0.0.1:8081"
	DefaultAPI          = "http://127.0.0.1:8080"
	DefaultAccountsFile = "./var/api-tokens.yaml"
	// EnvAPI is imsctl's: the API's base URL.
	EnvAPI = "IMSCTL_API"
)

// defaultNodes are the admin listeners of `make run`'s nodes (docs/hss.md, pcscf.md, icscf.md, scscf.md).
var defaultNodes = []string{"hss=http://127.0.0.1:8080", "pcscf=http://127.0.0.1:9101", "icscf=http://127.0.0.1:9102",
	"scscf=http://127.0.0.1:9103"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// Config is the console's configuration: --config FILE (YAML, unknown keys refused), then the flags.
type Config struct {
	Listen       string        `yaml:"listen"`
	API          string        `yaml:"api"` // "": $IMSCTL_API, else DefaultAPI
	AccountsFile string        `yaml:"accounts_file"`
	TokenFile    string        `yaml:"token_file"`
	TLSCert      string        `yaml:"tls_cert"`
	TLSKey       string        `yaml:"tls_key"`
	SessionTTL   time.Duration `yaml:"session_ttl"`
	LogLevel     string        `yaml:"log_level"`
	// Nodes are the health page's nodes, NAME=URL of each admin listener.
	Nodes []string `yaml:"nodes"`
}

// DefaultConfig is the configuration without a file or flags.
func DefaultConfig() Config {
	return Config{Listen: DefaultListen, AccountsFile: DefaultAccountsFile, SessionTTL: httpauth.DefaultSessionTTL,
		LogLevel: "info", Nodes: slices.Clone(defaultNodes)}
}

// run is main without the process: 0 on a clean stop, 1 on a failure, 2 on a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) >= 2 && args[0] == "account" && args[1] == "add" {
		return accountAdd(args[2:], stdin, stdout, stderr)
	}
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("imsconsole", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address of the console (HTTP, or HTTPS with --tls-cert and --tls-key)")
	fs.StringVar(&cfg.API, "api", cfg.API, "base URL of the HSS provisioning API (default $"+EnvAPI+", else "+DefaultAPI+")")
	fs.StringVar(&cfg.AccountsFile, "accounts-file", cfg.AccountsFile, "the tokens file with the console's accounts (the HSS's api.tokens_file)")
	fs.StringVar(&cfg.TokenFile, "token-file", cfg.TokenFile, "file with the console's API token (default $"+httpauth.EnvToken+", else "+httpauth.DefaultClientTokenFile+")")
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "HTTPS certificate chain (PEM); the session cookie is then Secure")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "HTTPS private key (PEM)")
	fs.DurationVar(&cfg.SessionTTL, "session-ttl", cfg.SessionTTL, "an idle session ends after this long")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	var flagNodes []string
	fs.Func("node", "a node of the health page, NAME=URL of its admin listener; repeatable, replaces the configured list (default "+
		strings.Join(defaultNodes, " ")+")", func(v string) error {
		if !slices.Contains(flagNodes, v) { // config.Load parses the flags twice
			flagNodes = append(flagNodes, v)
		}
		return nil
	})
	dump := fs.Bool("dump-config", false, "print the effective configuration as YAML and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := config.Load(fs, args, &cfg); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "imsconsole:", err)
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "imsconsole", version.String())
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "imsconsole: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if len(flagNodes) > 0 {
		cfg.Nodes = flagNodes
	}
	var nodes nodeFlag
	for _, n := range cfg.Nodes {
		if err := nodes.Set(n); err != nil {
			fmt.Fprintln(stderr, "imsconsole: node", err)
			return 2
		}
	}
	if *dump {
		if err := config.Dump(stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "imsconsole:", err)
			return 1
		}
		return 0
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		fmt.Fprintln(stderr, "imsconsole: --tls-cert and --tls-key: set both or neither")
		return 2
	}
	if cfg.API == "" {
		cfg.API = getenv(EnvAPI)
	}
	if cfg.API == "" {
		cfg.API = DefaultAPI
	}
	log, err := logging.New(logging.Config{Level: cfg.LogLevel, Format: "console"}, "imsconsole")
	if err != nil {
		fmt.Fprintln(stderr, "imsconsole:", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	if err := serve(ctx, log, cfg.Listen, cfg.API, cfg.AccountsFile, cfg.TokenFile, cfg.TLSCert, cfg.TLSKey, cfg.SessionTTL, nodes, getenv); err != nil {
		log.Error("imsconsole stopped with an error", zap.Error(err))
		fmt.Fprintln(stderr, "imsconsole:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, log *zap.Logger, listen, api, accountsFile, tokenFile, tlsCert, tlsKey string,
	ttl time.Duration, nodes nodeFlag, getenv func(string) string) error {
	accounts, err := httpauth.WatchTokens(accountsFile, httpauth.ReloadInterval, log.Named("accounts"))
	if err != nil {
		return fmt.Errorf("accounts file: %w", err)
	}
	token, err := httpauth.FindToken(tokenFile, getenv(httpauth.EnvToken))
	if err != nil {
		return fmt.Errorf("API token: %w", err)
	}
	if token == "" {
		return fmt.Errorf("no API token: give --token-file, $%s or %s (imsctl token create --scope admin)", httpauth.EnvToken, httpauth.DefaultClientTokenFile)
	}
	if p, ok := accounts.Lookup(token); !ok {
		log.Warn("the console's API token is not in the accounts file: the API may refuse it", zap.String("file", accountsFile))
	} else if !p.Has(httpauth.ScopeAdmin) {
		log.Warn("the console's API token lacks the admin scope: admin pages will fail", zap.String("token", p.Name))
	}
	client, err := provision.NewClient(api, &http.Client{Timeout: 2 * time.Minute}, provision.WithToken(token))
	if err != nil {
		return err
	}
	// The same token reads the S-CSCF's and the P-CSCF's registration state (admin.tokens_file, read scope).
	c, err := console.New(console.Options{API: client, Accounts: accounts, Nodes: nodes.nodes(), NodeToken: token, Secure: tlsCert != "",
		SessionTTL: ttl, Log: log})
	if err != nil {
		return err
	}
	defer c.Close()
	if accounts.Accounts() == 0 {
		log.Warn("no console accounts in the accounts file: nobody can log in (imsconsole account add)", zap.String("file", accountsFile))
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	if tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(tlsCert, tlsKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("tls: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}})
	} else if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("the console listens beyond loopback without TLS: passwords and session cookies cross the network in clear")
	}
	srv := adminhttp.NewServer(c, log.Named("http"))
	log.Info("console serving", zap.Stringer("listen", ln.Addr()), zap.String("api", api), zap.Bool("tls", tlsCert != ""),
		zap.Int("accounts", accounts.Accounts()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-errc
	return err
}

// accountAdd adds a console account; the password comes from stdin's first line (never a flag: every user
// of the host sees the command lines).
func accountAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("imsconsole account add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("accounts-file", DefaultAccountsFile, "the tokens file to add the account to (created 0600 when missing)")
	name := fs.String("name", "", "login name")
	role := fs.String("role", string(httpauth.RoleReadOnly), "read-only, operator or admin")
	replace := fs.Bool("replace", false, "replace the password and role of an existing account")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	r, err := httpauth.ParseRole(*role)
	if err != nil || *name == "" {
		fmt.Fprintln(stderr, "imsconsole account add: want --name and --role read-only|operator|admin")
		return 2
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(stderr, "imsconsole account add: read the password:", err)
		return 1
	}
	password := strings.TrimRight(line, "\r\n")
	if err := httpauth.AddAccount(*path, *name, r, password, *replace); err != nil {
		fmt.Fprintln(stderr, "imsconsole account add:", err)
		return 1
	}
	fmt.Fprintf(stdout, "account %s (%s) saved in %s; the HSS and the console read it within a second\n", *name, r, *path)
	return 0
}

// nodeFlag collects --node NAME=URL.
type nodeFlag []console.Node

func (n *nodeFlag) String() string { return fmt.Sprint(*n) }
func (n *nodeFlag) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return fmt.Errorf("%q: want NAME=http://HOST:PORT", v)
	}
	if slices.ContainsFunc(*n, func(x console.Node) bool { return x.Name == name }) {
		return fmt.Errorf("%q: node %s given twice", v, name)
	}
	*n = append(*n, console.Node{Name: name, URL: strings.TrimSuffix(url, "/")})
	return nil
}

func (n nodeFlag) nodes() []console.Node { return n }
