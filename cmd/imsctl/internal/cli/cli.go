// Package cli is imsctl, the operator's command line for the HSS provisioning API (hss/provision):
// subscribers, identities, keys, profiles, iFC sets, S-CSCFs, registration state, network-initiated
// de-registration and profile push, bulk import and generation of test subscribers, and database
// migration. cmd/imsctl/main.go only calls Main; everything here writes to the io.Writers it is given, so
// tests run it as a function.
package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/httpauth"
)

// DefaultAPI is where the HSS serves the provisioning API unless --api or IMSCTL_API says otherwise.
const DefaultAPI = "http://127.0.0.1:8080"

// EnvAPI names the environment variable with the API's base URL.
const EnvAPI = "IMSCTL_API"

// EnvToken names the environment variable with the API's bearer token, EnvTokenFile the one with the path of
// a file holding it (as --token-file), EnvCAFile the one with a PEM file of the CAs an https:// API's
// certificate is checked against (as --ca-file).
const (
	EnvToken     = httpauth.EnvToken
	EnvTokenFile = "IMSCTL_TOKEN_FILE"
	EnvCAFile    = "IMSCTL_CA_FILE"
)

// DefaultTokenFile is where imsctl looks for its token when neither --token-file nor IMSCTL_TOKEN gives one:
// the file `make run` (imsrun) writes on first start, relative to the working directory as the HSS's
// ./var/hss.db is.
const DefaultTokenFile = httpauth.DefaultClientTokenFile

// Env is what a run of imsctl reads and writes.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (os.Getenv in main; a map in tests).
	Getenv func(string) string
	// HTTP is the client used to reach the API; nil means a default one.
	HTTP *http.Client
}

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the command failed (the API's error message is on stderr)
	ExitUsage = 2 // the command line is wrong
)

// errUsage marks a command-line mistake: exit code 2, and the command's usage is shown.
var errUsage = errors.New("usage")

// usageError is a command-line mistake with its explanation.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errUsage)
}

// globals are the options every command accepts, before or after the command words.
type globals struct {
	api       string
	json      bool
	timeout   time.Duration
	tokenFile string // --token-file or IMSCTL_TOKEN_FILE; "" means IMSCTL_TOKEN, then DefaultTokenFile
	caFile    string // --ca-file or IMSCTL_CA_FILE
}

// run is one invocation: the environment, the global options and the API client made from them.
type run struct {
	env Env
	g   globals
}

// command is one leaf of the command tree.
type command struct {
	path  string // "subscriber add"
	args  string // synopsis of its own flags
	help  string
	fn    func(ctx context.Context, r *run, args []string) error
	local bool // does not talk to the API (generate, migrate)
}

func commands() []command {
	return []command{
		{path: "subscriber add", args: "--imsi IMSI --msisdn MSISDN --k HEX (--op HEX | --opc HEX) [--amf HEX] [--password P] [--profile ID] [--store-opc] [--sqn N]",
			help: "create a subscriber with the conventional IMPI and IMPUs", fn: subscriberAdd},
		{path: "subscriber show", args: "(--imsi IMSI | --impi IMPI)", help: "show a subscriber (keys are never shown)", fn: subscriberShow},
		{path: "subscriber delete", args: "(--imsi IMSI | --impi IMPI)", help: "delete a subscriber (de-registering it first)", fn: subscriberDelete},
		{path: "subscriber list", args: "[--prefix IMSI-PREFIX] [--msisdn M] [--impu U] [--limit N] [--cursor C] [--all]", help: "list subscribers", fn: subscriberList},
		{path: "subscriber set-keys", args: "(--imsi | --impi) --k HEX (--op HEX | --opc HEX) [--amf HEX] [--sqn N] [--store-opc]", help: "replace K, OP/OPc, AMF (and SQN)", fn: subscriberSetKeys},
		{path: "subscriber update", args: "(--imsi | --impi) [--msisdn M] [--password P] [--schemes S,S]", help: "change attributes of a subscriber", fn: subscriberUpdate},
		{path: "subscriber import", args: "[--batch N] FILE.ndjson|-", help: "bulk import NDJSON (one subscriber per line), streamed", fn: subscriberImport},
		{path: "subscriber generate", args: "--count N --imsi-start IMSI --msisdn-start MSISDN --k HEX (--op HEX | --opc HEX) [--amf HEX] [--profile ID]",
			help: "write N test subscribers as NDJSON to stdout", fn: subscriberGenerate, local: true},
		{path: "impu add", args: "(--imsi | --impi) --impu URI [--barred] [--display-name N] [--profile ID] [--type T] [--implicit-set S]", help: "add a public identity", fn: impuAdd},
		{path: "impu update", args: "(--imsi | --impi) --impu URI [--barred] [--display-name N] [--profile ID] [--type T]", help: "replace a public identity's attributes", fn: impuUpdate},
		{path: "impu delete", args: "(--imsi | --impi) --impu URI", help: "delete a public identity", fn: impuDelete},
		{path: "impu link", args: "(--imsi | --impi) --impu URI", help: "share an existing public identity with a subscriber", fn: impuLink},
		{path: "impu unlink", args: "(--imsi | --impi) --impu URI", help: "remove a shared identity from a subscriber", fn: impuUnlink},
		{path: "registration show", args: "(--imsi | --impi)", help: "registration state of each IMPU and the S-CSCF", fn: registrationShow},
		{path: "fastreg show", args: "(--imsi | --impi)", help: "fast registration switch and token (docs/fastreg.md)", fn: fastregShow},
		{path: "fastreg on", args: "(--imsi | --impi)", help: "allow the access-bound fast registration", fn: fastregOn},
		{path: "fastreg off", args: "(--imsi | --impi)", help: "forbid it and drop the token", fn: fastregOff},
		{path: "registration list", args: "[--impu S] [--impi S] [--scscf S] [--state REGISTERED|UNREGISTERED|NOT_REGISTERED|any] [--prefix IMSI-PREFIX]",
			help: "every registered identity (the HSS's state), filtered", fn: registrationList},
		{path: "contacts", args: "--impu URI [--scscf-admin URL]... [--pcscf-admin URL]...",
			help: "the bindings of an IMPU: contacts at the S-CSCF, UE address and SA sets at the P-CSCF", fn: contacts},
		{path: "deregister", args: "(--imsi | --impi) [--reason PERMANENT_TERMINATION] [--info TEXT] [--impu URI]... [--wait=false]", help: "network-initiated de-registration (Cx RTR); waits for the S-CSCF unless --wait=false", fn: deregister},
		{path: "profile push", args: "(--imsi | --impi) [--wait=false]", help: "push the user profile to the S-CSCF (Cx PPR); waits for the S-CSCF unless --wait=false", fn: profilePush},
		{path: "operation show", args: "--id ID [--wait]", help: "state and outcome of an RTR or PPR the API started", fn: operationShow},
		{path: "operation list", args: "[--impi IMPI] [--state pending|succeeded|failed] [--limit N]", help: "the RTRs and PPRs the HSS keeps, newest first", fn: operationList},
		{path: "profile list", help: "list service profiles", fn: profileList},
		{path: "profile show", args: "--id ID", help: "show a service profile and its iFCs", fn: profileShow},
		{path: "profile create", args: "--file PROFILE.json|-", help: "create a service profile", fn: profileCreate},
		{path: "profile update", args: "--file PROFILE.json|-", help: "replace a service profile (registered users get a PPR)", fn: profileUpdate},
		{path: "profile delete", args: "--id ID", help: "delete an unused service profile", fn: profileDelete},
		{path: "ifc list", help: "list shared iFC sets", fn: ifcList},
		{path: "ifc show", args: "--id N", help: "show a shared iFC set", fn: ifcShow},
		{path: "ifc create", args: "--file SET.json|-", help: "create a shared iFC set", fn: ifcCreate},
		{path: "ifc update", args: "--file SET.json|-", help: "replace a shared iFC set", fn: ifcUpdate},
		{path: "ifc delete", args: "--id N", help: "delete an unused shared iFC set", fn: ifcDelete},
		{path: "presence setup", args: "--as SIP-URI [--profile default] [--domain D] [--rls-psi URI|none] [--rls-profile presence-rls]",
			help: "add the presence server's iFCs to a profile and create the resource lists' PSI (docs/presence.md)", fn: presenceSetup},
		{path: "scscf list", help: "list S-CSCFs and capabilities", fn: scscfList},
		{path: "scscf add", args: "--name SIP-URI [--mandatory 1,2] [--optional 3]", help: "create or replace an S-CSCF", fn: scscfAdd},
		{path: "scscf delete", args: "--name SIP-URI", help: "delete an S-CSCF", fn: scscfDelete},
		{path: "charging set-default", args: "[--primary-ccf URI] [--secondary-ccf URI] [--primary-ecf URI] [--secondary-ecf URI]", help: "set the default charging addresses", fn: chargingSetDefault},
		{path: "migrate", args: "--db DSN", help: "apply database migrations directly (no HSS needed)", fn: migrate, local: true},
		{path: "token create", args: "--tokens-file FILE --name NAME --scopes read|provision|admin|metrics[,…] [--out FILE]",
			help: "make an API token: its hash goes into the HSS's tokens file, the token to stdout or --out (0600)", fn: tokenCreate, local: true},
		{path: "token hash", args: "< TOKEN", help: "print the SHA-256 of the token on stdin, as a tokens file holds it", fn: tokenHash, local: true},
		{path: "health", args: "URL...", help: "probe a node's /healthz or /readyz: exit 0 when each URL answers 2xx, else 1 (container health checks)",
			fn: healthCmd, local: true},
		{path: "version", help: "print the version of imsctl (also --version)", fn: versionCmd, local: true},
	}
}

// Main runs imsctl with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	r := &run{env: env, g: globals{api: DefaultAPI, timeout: 30 * time.Second}}
	if v := env.Getenv(EnvAPI); v != "" {
		r.g.api = v
	}
	r.g.tokenFile, r.g.caFile = env.Getenv(EnvTokenFile), env.Getenv(EnvCAFile)
	// Global options may come first: imsctl --api URL --json subscriber show …
	gfs := r.flagSet("imsctl")
	showVersion := gfs.Bool("version", false, "print the version and exit")
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			r.usage(env.Stdout)
			return ExitOK
		}
		return ExitUsage
	}
	if *showVersion {
		fmt.Fprintln(env.Stdout, versionLine())
		return ExitOK
	}
	rest := gfs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		r.usage(env.Stdout)
		if len(rest) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	cmd, args, ok := find(rest)
	if !ok {
		fmt.Fprintf(env.Stderr, "imsctl: unknown command %q\n\n", strings.Join(rest, " "))
		r.usage(env.Stderr)
		return ExitUsage
	}
	err := cmd.fn(ctx, r, args)
	var apiErr *provision.Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized {
		err = fmt.Errorf("%w (give a token: --token-file FILE, $%s, or %s as make run writes it; imsctl token create makes one)",
			err, EnvToken, DefaultTokenFile)
	}
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(env.Stderr, "imsctl %s: %s\nusage: imsctl %s %s\n", cmd.path,
			strings.TrimSuffix(err.Error(), ": "+errUsage.Error()), cmd.path, cmd.args)
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "imsctl %s: %v\n", cmd.path, err)
	return ExitError
}

// find picks the command whose words start args (the longest match).
func find(args []string) (command, []string, bool) {
	var best command
	n := 0
	for _, c := range commands() {
		words := strings.Fields(c.path)
		if len(words) > len(args) || len(words) <= n {
			continue
		}
		match := true
		for i, w := range words {
			match = match && args[i] == w
		}
		if match {
			best, n = c, len(words)
		}
	}
	return best, args[n:], n > 0
}

func (r *run) usage(w io.Writer) {
	fmt.Fprintf(w, "imsctl: operator CLI of the imscore HSS (provisioning API at $%s or --api, default %s)\n\n", EnvAPI, DefaultAPI)
	fmt.Fprintf(w, "usage: imsctl [--api URL] [--token-file FILE] [--ca-file PEM] [--json] [--timeout D] COMMAND [FLAGS]\n       imsctl --version\n\n")
	fmt.Fprintf(w, "The API's bearer token comes from --token-file ($%s), else $%s, else %s (written by make run).\n\ncommands:\n",
		EnvTokenFile, EnvToken, DefaultTokenFile)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-22s %s\n", c.path, c.help)
		if c.args != "" {
			fmt.Fprintf(w, "  %-22s   %s\n", "", c.args)
		}
	}
}

// flagSet returns a FlagSet for a command with the global options bound to r.g, so that they are
// accepted after the command words too.
func (r *run) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(r.env.Stderr)
	fs.StringVar(&r.g.api, "api", r.g.api, "base URL of the provisioning API (env "+EnvAPI+")")
	fs.BoolVar(&r.g.json, "json", r.g.json, "print the API's JSON instead of text")
	fs.DurationVar(&r.g.timeout, "timeout", r.g.timeout, "time limit of each API call (import: none unless given)")
	fs.StringVar(&r.g.tokenFile, "token-file", r.g.tokenFile, "file holding the API's bearer token (env "+EnvTokenFile+
		"; else env "+EnvToken+", else "+DefaultTokenFile+")")
	fs.StringVar(&r.g.caFile, "ca-file", r.g.caFile, "PEM CA certificates that an https:// API's certificate must chain to (env "+EnvCAFile+")")
	return fs
}

// parse parses args into fs, allowing flags after positional arguments, and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseNoArgs parses flags and refuses positional arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	return nil
}

// httpClient is the HTTP client of the API calls, the health probes and the nodes' admin listeners: env.HTTP
// (or a default one), trusting the CAs of --ca-file instead of the system's when it is given.
func (r *run) httpClient() (*http.Client, error) {
	hc := r.env.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	if r.g.caFile != "" {
		pem, err := os.ReadFile(r.g.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", r.g.caFile)
		}
		hc = &http.Client{Timeout: hc.Timeout, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	return hc, nil
}

func (r *run) client() (*provision.Client, error) {
	hc, err := r.httpClient()
	if err != nil {
		return nil, err
	}
	token, err := r.token()
	if err != nil {
		return nil, err
	}
	c, err := provision.NewClient(r.g.api, hc, provision.WithToken(token))
	if err != nil {
		return nil, usageError("--api: %v", err)
	}
	return c, nil
}

// token finds the API's bearer token: the file named by --token-file (or IMSCTL_TOKEN_FILE), else
// IMSCTL_TOKEN, else DefaultTokenFile when it exists. There is no flag with the token itself: a command line
// is visible to every user of the host (ps). "" (no token anywhere) lets the API answer 401.
func (r *run) token() (string, error) {
	t, err := httpauth.FindToken(r.g.tokenFile, r.env.Getenv(EnvToken))
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	return t, nil
}

// callCtx bounds one API call by --timeout.
func (r *run) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.g.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, r.g.timeout)
}

// printJSON writes v indented.
func (r *run) printJSON(v any) error {
	enc := json.NewEncoder(r.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// identity flags: --imsi or --impi.
type identity struct{ imsi, impi string }

// forAPI is the API client and a context bounded by --timeout; on success the caller defers cancel.
func (r *run) forAPI(ctx context.Context) (context.Context, context.CancelFunc, *provision.Client, error) {
	c, err := r.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := r.callCtx(ctx)
	return ctx, cancel, c, nil
}

// forSubscriber is how every command about one subscriber starts: the API client, a context bounded
// by --timeout, and the IMPI named by --imsi or --impi. On success the caller defers cancel.
func (r *run) forSubscriber(ctx context.Context, id *identity) (context.Context, context.CancelFunc, *provision.Client, string, error) {
	ctx, cancel, c, err := r.forAPI(ctx)
	if err != nil {
		return nil, nil, nil, "", err
	}
	impi, err := id.resolve(ctx, c)
	if err != nil {
		cancel()
		return nil, nil, nil, "", err
	}
	return ctx, cancel, c, impi, nil
}

func (id *identity) bind(fs *flag.FlagSet) {
	fs.StringVar(&id.imsi, "imsi", "", "IMSI of the subscriber")
	fs.StringVar(&id.impi, "impi", "", "IMPI of the subscriber")
}

// resolve returns the IMPI: --impi as given, or the subscriber whose IMSI is --imsi.
func (id *identity) resolve(ctx context.Context, c *provision.Client) (string, error) {
	switch {
	case id.impi != "" && id.imsi != "":
		return "", usageError("give --imsi or --impi, not both")
	case id.impi != "":
		return id.impi, nil
	case id.imsi == "":
		return "", usageError("--imsi or --impi is required")
	}
	list, err := c.ListSubscribers(ctx, provision.ListQuery{IMSI: id.imsi, Limit: 2})
	if err != nil {
		return "", err
	}
	switch len(list.Subscribers) {
	case 0:
		return "", fmt.Errorf("no subscriber with IMSI %s", id.imsi)
	case 1:
		return list.Subscribers[0].IMPI, nil
	}
	return "", fmt.Errorf("several subscribers with IMSI %s: use --impi", id.imsi)
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// splitList splits a comma-separated flag value; empty gives nil.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// openInput opens FILE, or stdin for "-".
func (r *run) openInput(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(r.env.Stdin), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}
