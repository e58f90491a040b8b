package deploy

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"gopkg.in/yaml.v3"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/config"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/services/icscf"
	"github.com/imscore/imscore/services/pcscf"
	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/services/scscf"
	"github.com/imscore/imscore/sip/trust"
)

// repoRoot is the repository root seen from this package's directory (go test runs in deploy/).
const repoRoot = ".."

// k8sDir holds the Kubernetes manifests (k8s_test.go checks them; they are not node configurations).
const k8sDir = "k8s"

// k8sConfigDir holds the node configurations of the Kubernetes ConfigMaps.
const k8sConfigDir = k8sDir + "/config"

// nodes returns the four node names: the file names under deploy/compose and deploy/hosts, the compose services
// and the binaries.
func nodes() []string { return []string{"hss", "icscf", "scscf", "pcscf"} }

// deployment is the four node configurations of one deployment directory, each loaded as its binary loads it.
type deployment struct {
	hss      hss.Config
	icscf    icscf.Config
	scscf    scscf.Config
	pcscf    pcscf.Config
	presence presence.Config // compose only
}

// loadNode decodes path over the node's defaults with the strict loader the binaries use (config.DecodeFile:
// unknown keys are errors) and validates it as cmd/<node> does before running. It fills the node's field of d.
func loadNode(node, path string, d *deployment) error {
	switch node {
	case "hss":
		d.hss = hss.DefaultConfig()
		if err := config.DecodeFile(path, &d.hss); err != nil {
			return err
		}
		return d.hss.Validate()
	case "icscf":
		d.icscf = icscf.DefaultConfig()
		if err := config.DecodeFile(path, &d.icscf); err != nil {
			return err
		}
		d.icscf = d.icscf.WithDefaults() // as icscf.Run sees it (origin_realm: the domain)
		return d.icscf.Validate()
	case "scscf":
		d.scscf = scscf.DefaultConfig()
		if err := config.DecodeFile(path, &d.scscf); err != nil {
			return err
		}
		d.scscf = d.scscf.WithDefaults()
		return d.scscf.Validate()
	case "pcscf":
		d.pcscf = pcscf.DefaultConfig()
		if err := config.DecodeFile(path, &d.pcscf); err != nil {
			return err
		}
		return d.pcscf.Validate()
	case "presence":
		d.presence = presence.DefaultConfig()
		if err := config.DecodeFile(path, &d.presence); err != nil {
			return err
		}
		return d.presence.WithDefaults().Validate()
	}
	return fmt.Errorf("%s: no node is called %q: name a node configuration <node>.yaml after one of %v", path, node, append(nodes(), "presence"))
}

// loadDeployment loads dir/<node>.yaml for the four nodes.
func loadDeployment(t *testing.T, dir string) deployment {
	t.Helper()
	var d deployment
	for _, n := range nodes() {
		if err := loadNode(n, filepath.Join(dir, n+".yaml"), &d); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestEveryConfigLoads: every YAML file under deploy/ is a node configuration that the node's loader accepts, or
// a tokens file (*tokens.yaml) that the nodes' token loader accepts. A file whose name is neither fails, so
// that no configuration escapes the check.
func TestEveryConfigLoads(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if filepath.Dir(p) == k8sDir {
			return nil // Kubernetes manifests (k8s_test.go); their node configurations are in k8s/config
		}
		if ext := filepath.Ext(p); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"compose", "hosts", k8sConfigDir} {
		for _, n := range nodes() {
			if p := filepath.Join(dir, n+".yaml"); !slices.Contains(files, p) {
				t.Errorf("%s is missing", p)
			}
		}
	}
	for _, p := range files {
		t.Run(p, func(t *testing.T) {
			node := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
			if strings.HasSuffix(node, "tokens") {
				if _, err := httpauth.LoadTokens(p); err != nil {
					t.Fatal(err)
				}
				return
			}
			var d deployment
			if err := loadNode(node, p, &d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestLoaderCatchesMistakes shows that the check above can fail: a misspelt key and an invalid value in a copy
// of each compose configuration are refused, naming the culprit.
func TestLoaderCatchesMistakes(t *testing.T) {
	tests := []struct {
		name    string
		node    string
		edit    func(string) string
		wantErr string
	}{
		{"hss misspelt key", "hss", appendText("\nstore_dsn: x\n"), "store_dsn"},
		{"hss misspelt nested key", "hss", replaceOnce("  listen: 0.0.0.0:3868", "  lisen: 0.0.0.0:3868"), "lisen"},
		{"hss bad value", "hss", replaceOnce("dsn: sqlite:///var/lib/imscore/hss.db", `dsn: ""`), "store.dsn"},
		{"icscf misspelt key", "icscf", replaceOnce("http_listen:", "http-listen:"), "http-listen"},
		{"icscf S-CSCF address by name", "icscf", replaceOnce("address: 172.22.0.12:6060", "address: scscf:6060"), "scscfs[0].address"},
		{"scscf misspelt key", "scscf", replaceOnce("db:", "dsn:"), "dsn"},
		{"scscf SIP listen by name", "scscf", replaceOnce("listen: 172.22.0.12:6060", "listen: scscf:6060"), "sip.listen"},
		{"pcscf misspelt key", "pcscf", replaceOnce("state_file:", "statefile:"), "statefile"},
		{"pcscf wildcard listen", "pcscf", replaceOnce("- 172.22.0.13:5060", "- 0.0.0.0:5060"), "wildcard"},
		{"hss TLS certificate without key", "hss", replaceOnce("  listen: 0.0.0.0:8080", "  listen: 0.0.0.0:8080\n  tls_cert: /etc/hss.crt"), "tls_key"},
		{"pcscf pprof without tokens", "pcscf", appendText("admin: {pprof: true}\n"), "pprof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("compose", tt.node+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			edited := tt.edit(string(b))
			if edited == string(b) {
				t.Fatalf("the edit changed nothing in compose/%s.yaml: update the test", tt.node)
			}
			p := filepath.Join(t.TempDir(), tt.node+".yaml")
			if err := os.WriteFile(p, []byte(edited), 0o600); err != nil {
				t.Fatal(err)
			}
			var d deployment
			err = loadNode(tt.node, p, &d)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want an error naming %q, got %v", tt.wantErr, err)
			}
		})
	}
}

func appendText(s string) func(string) string { return func(in string) string { return in + s } }

func replaceOnce(old, new string) func(string) string {
	return func(in string) string { return strings.Replace(in, old, new, 1) }
}

// hostPort splits a host:port the test expects to be well formed.
func hostPort(t *testing.T, field, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", field, addr, err)
	}
	return h, p
}

// checkTopology checks that the four configurations of one deployment point at each other: every next hop is
// where the node it names listens, and the S-CSCF's name is the one the HSS and the I-CSCF know. hssHost is the
// host the CSCFs must dial the HSS at.
func checkTopology(t *testing.T, d deployment, hssHost string) {
	t.Helper()
	// P-CSCF → I-CSCF (REGISTER next hop).
	if len(d.icscf.SIP.Listen) != 1 {
		t.Fatalf("icscf sip.listen: want one address, got %v", d.icscf.SIP.Listen)
	}
	icscfSIP := d.icscf.SIP.Listen[0].Addr
	if d.pcscf.ICSCF != icscfSIP {
		t.Errorf("pcscf icscf %s, but the I-CSCF listens on %s", d.pcscf.ICSCF, icscfSIP)
	}
	// S-CSCF → I-CSCF (requests for users not registered there).
	var route sip.Uri
	if err := sip.ParseUri(d.scscf.ICSCF, &route); err != nil {
		t.Fatalf("scscf icscf %q: %v", d.scscf.ICSCF, err)
	}
	if got := net.JoinHostPort(route.Host, fmt.Sprint(route.Port)); got != icscfSIP || !route.UriParams.Has("lr") {
		t.Errorf("scscf icscf %s: want a loose route to the I-CSCF's %s", d.scscf.ICSCF, icscfSIP)
	}
	// I-CSCF → S-CSCF: the S-CSCF's Server-Name at its SIP address.
	var found bool
	for _, s := range d.icscf.SCSCFs {
		if s.Name == d.scscf.ServerName {
			found = true
			if s.Address != d.scscf.SIP.Listen {
				t.Errorf("icscf scscfs: %s at %s, but the S-CSCF listens on %s", s.Name, s.Address, d.scscf.SIP.Listen)
			}
		}
	}
	if !found {
		t.Errorf("icscf scscfs %v: the S-CSCF %s is missing", d.icscf.SCSCFs, d.scscf.ServerName)
	}
	// The trust domains of the I-CSCF and the S-CSCF hold the SIP nodes that send them REGISTERs and asserted
	// identities (TS 24.229 §5.3.1.2, §4.4): else every REGISTER of the deployment is answered 403.
	for _, td := range []struct {
		node string
		nets []string
	}{{"icscf", d.icscf.TrustedNetworks}, {"scscf", d.scscf.TrustedNetworks}} {
		domain, err := trust.ParseDomain(td.nets)
		if err != nil {
			t.Errorf("%s trusted_networks: %v", td.node, err)
			continue
		}
		for peer, addr := range map[string]string{"pcscf": d.pcscf.Listen[0], "icscf": icscfSIP, "scscf": d.scscf.SIP.Listen} {
			if ap, err := netip.ParseAddrPort(addr); err != nil || !domain.Contains(ap.Addr()) {
				t.Errorf("%s trusted_networks %v: the %s at %s is outside", td.node, td.nets, peer, addr)
			}
		}
	}
	// The HSS seeds the same Server-Name, so its UAA points the I-CSCF to a configured S-CSCF.
	if !slices.ContainsFunc(d.hss.SCSCFs, func(s hss.SCSCFConfig) bool { return s.Name == d.scscf.ServerName }) {
		t.Errorf("hss scscfs %v: the S-CSCF %s is missing", d.hss.SCSCFs, d.scscf.ServerName)
	}
	// CSCFs → HSS (Cx): its host and listening port, and its Origin-Host where they check it.
	_, hssPort := hostPort(t, "hss diameter.listen", d.hss.Diameter.Listen)
	want := net.JoinHostPort(hssHost, hssPort)
	if d.scscf.Diameter.HSS != want {
		t.Errorf("scscf diameter.hss %s: want %s", d.scscf.Diameter.HSS, want)
	}
	if !slices.Equal(d.icscf.Diameter.HSS, []string{want}) {
		t.Errorf("icscf diameter.hss %v: want [%s]", d.icscf.Diameter.HSS, want)
	}
	for field, host := range map[string]string{"scscf diameter.hss_host": d.scscf.Diameter.HSSHost, "icscf diameter.hss_host": d.icscf.Diameter.HSSHost} {
		if host != "" && host != d.hss.Diameter.OriginHost {
			t.Errorf("%s %s: the HSS announces %s", field, host, d.hss.Diameter.OriginHost)
		}
	}
	// HSS ← CSCFs: the HSS accepts each CSCF's CER (its Origin-Host and realm, from the host its SIP listener
	// is on, with the role its Cx requests need), and nothing else.
	icscfIP, _ := hostPort(t, "icscf sip.listen", d.icscf.SIP.Listen[0].Addr)
	scscfIP, _ := hostPort(t, "scscf sip.listen", d.scscf.SIP.Listen)
	for _, c := range []struct{ node, host, realm, ip, role string }{
		{"icscf", d.icscf.Diameter.OriginHost, d.icscf.Diameter.OriginRealm, icscfIP, hss.RoleICSCF},
		{"scscf", d.scscf.Diameter.OriginHost, d.scscf.Diameter.OriginRealm, scscfIP, hss.RoleSCSCF},
	} {
		ip, err := netip.ParseAddr(c.ip)
		if err != nil {
			t.Fatalf("%s: %v", c.node, err)
		}
		if c.realm == "" {
			c.realm = d.icscf.Domain
		}
		if !hssAllows(d.hss, c.host, c.realm, c.role, ip) {
			t.Errorf("hss diameter.peers %+v: the %s (%s, realm %s, role %s) from %s is not allowed", d.hss.Diameter.Peers,
				c.node, c.host, c.realm, c.role, ip)
		}
	}
	for i, p := range d.hss.Diameter.Peers {
		for _, src := range p.Sources {
			if pfx, _ := peer.ParseSource(src); pfx.Bits() == 0 {
				t.Errorf("hss diameter.peers[%d] (%s) accepts any address (%s)", i, p.Host, src)
			}
		}
	}
}

// checkPostgres: both storing nodes on PostgreSQL, each in a database of its own (docs/operations.md explains
// why), no password in a file.
func checkPostgres(t *testing.T, d deployment) {
	t.Helper()
	hssDB, scscfDB := pgDatabase(t, "hss store.dsn", d.hss.Store.DSN), pgDatabase(t, "scscf db", d.scscf.DB)
	if hssDB == scscfDB {
		t.Errorf("the HSS and the S-CSCF share the database %q: each needs its own", hssDB)
	}
	for field, dsn := range map[string]string{"hss store.dsn": d.hss.Store.DSN, "scscf db": d.scscf.DB} {
		if u, _ := url.Parse(dsn); u != nil {
			if _, has := u.User.Password(); has {
				t.Errorf("%s: the password belongs in PGPASSWORD or ~/.pgpass, not in the file", field)
			}
		}
	}
}

// hssAllows reports whether the HSS accepts the CER of a peer with this Origin-Host and realm from ip, in role.
func hssAllows(h hss.Config, host, realm, role string, ip netip.Addr) bool {
	return slices.ContainsFunc(h.Diameter.Peers, func(p peer.AllowedPeer) bool {
		return strings.EqualFold(p.Host, host) && strings.EqualFold(p.Realm, realm) && slices.Contains(p.Roles, role) &&
			slices.ContainsFunc(p.Sources, func(src string) bool { pfx, err := peer.ParseSource(src); return err == nil && pfx.Contains(ip) })
	})
}

// pgDatabase returns the database a postgres:// DSN names.
func pgDatabase(t *testing.T, field, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || strings.Trim(u.Path, "/") == "" {
		t.Fatalf("%s %q: want postgres://user@host:port/database", field, dsn)
	}
	return strings.Trim(u.Path, "/")
}

func TestHostsTopology(t *testing.T) {
	d := loadDeployment(t, "hosts")
	hssHost, _ := hostPort(t, "hss diameter.listen", d.hss.Diameter.Listen)
	checkTopology(t, d, hssHost)
	checkPostgres(t, d)
	// Every address is a documentation address (RFC 5737 TEST-NET-1): an example never points at a real host.
	testNet := netip.MustParsePrefix("192.0.2.0/24")
	addrs := map[string]string{
		"hss diameter.listen": d.hss.Diameter.Listen, "hss api.listen": d.hss.API.Listen,
		"icscf sip.listen": d.icscf.SIP.Listen[0].Addr, "icscf http_listen": d.icscf.HTTPListen,
		"scscf sip.listen": d.scscf.SIP.Listen, "scscf http_listen": d.scscf.HTTPListen,
		"pcscf listen": d.pcscf.Listen[0], "pcscf http": d.pcscf.HTTP,
	}
	for _, dsn := range []string{d.hss.Store.DSN, d.scscf.DB} {
		u, _ := url.Parse(dsn)
		addrs["postgres in "+dsn] = u.Host
	}
	for field, a := range addrs {
		h, _ := hostPort(t, field, a)
		ip, err := netip.ParseAddr(h)
		if err != nil || !testNet.Contains(ip) {
			t.Errorf("%s %s: want an address of %s", field, a, testNet)
		}
	}
}

// adminListener is one node's admin HTTP listener and its security.
type adminListener struct {
	node, listen string
	sec          adminhttp.Config
}

func adminListeners(d deployment) []adminListener {
	return []adminListener{
		{"hss", d.hss.API.Listen, d.hss.API.Security},
		{"icscf", d.icscf.HTTPListen, d.icscf.Admin},
		{"scscf", d.scscf.HTTPListen, d.scscf.Admin},
		{"pcscf", d.pcscf.HTTP, d.pcscf.Admin},
	}
}

// TestHostsAdminProtected: the example for separate hosts binds every admin listener to a host address, so each
// serves HTTPS and protects /metrics with a token; the HSS has API tokens; nobody's runtime profiles are on.
func TestHostsAdminProtected(t *testing.T) {
	d := loadDeployment(t, "hosts")
	for _, a := range adminListeners(d) {
		h, _ := hostPort(t, a.node+" admin listen", a.listen)
		if ip, err := netip.ParseAddr(h); err == nil && ip.IsLoopback() {
			continue
		}
		if a.sec.TLSCert == "" || a.sec.TLSKey == "" {
			t.Errorf("%s: admin listener %s without TLS: tokens would cross the network in clear", a.node, a.listen)
		}
		if !a.sec.MetricsAuth || a.sec.TokensFile == "" {
			t.Errorf("%s: admin listener %s with /metrics open: set metrics_auth and tokens_file", a.node, a.listen)
		}
		if a.sec.Pprof {
			t.Errorf("%s: pprof on in an example: enable it only while profiling", a.node)
		}
	}
	if d.hss.API.Security.TokensFile == "" {
		t.Error("hss: no api.tokens_file: the API would refuse every request")
	}
}

// compose is the part of docker-compose.yml the tests look at.
type compose struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]struct {
		IPAM struct {
			Config []struct {
				Subnet string `yaml:"subnet"`
			} `yaml:"config"`
		} `yaml:"ipam"`
	} `yaml:"networks"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	User        string            `yaml:"user"`
	Command     []string          `yaml:"command"`
	CapAdd      []string          `yaml:"cap_add"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Environment map[string]string `yaml:"environment"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Networks map[string]struct {
		IPv4Address string `yaml:"ipv4_address"`
	} `yaml:"networks"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// The compose files at the repository root: the stack, and the override that moves the HSS and the S-CSCF to
// PostgreSQL.
const (
	composeFile         = repoRoot + "/docker-compose.yml"
	composePostgresFile = repoRoot + "/docker-compose.postgres.yml"
)

func readCompose(t *testing.T) compose { return readComposeFile(t, composeFile) }

func readComposeFile(t *testing.T, path string) compose {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// dataDir is the image's data directory (Dockerfile: owned by the nodes' user), where each storing node's
// named volume is mounted.
const dataDir = "/var/lib/imscore"

// publishPrefix is how every published port starts: the host's loopback unless IMSCORE_PUBLISH_IP says otherwise.
const publishPrefix = "${IMSCORE_PUBLISH_IP:-127.0.0.1}:"

// imageBinaries returns the binaries the Dockerfile copies from bin/ (its `COPY bin/… /usr/local/bin/` line).
func imageBinaries(t *testing.T) []string {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^COPY ((?:bin/[a-z]+ )+)/usr/local/bin/$`).FindSubmatch(df)
	if m == nil {
		t.Fatal("Dockerfile: no `COPY bin/… /usr/local/bin/` line")
	}
	var bins []string
	for _, f := range strings.Fields(string(m[1])) {
		bins = append(bins, strings.TrimPrefix(f, "bin/"))
	}
	return bins
}

// sqlitePath returns the file of a sqlite:// DSN (or of a bare path, as the HSS accepts), "" for anything else.
func sqlitePath(dsn string) string {
	if p, ok := strings.CutPrefix(dsn, "sqlite://"); ok {
		return p
	}
	if strings.Contains(dsn, "://") || dsn == "memory" {
		return ""
	}
	return dsn
}

// TestComposeFile checks docker-compose.yml against the configurations it mounts and the image: the services,
// NET_ADMIN for the P-CSCF, a health check with the image's own `imsctl health` on each node's admin port, the
// mounted files, the fixed addresses, the published ports, and every store on a named volume.
func TestComposeFile(t *testing.T) {
	c := readCompose(t)
	d := loadDeployment(t, "compose")
	checkTopology(t, d, "hss")
	if err := loadNode("presence", filepath.Join("compose", "presence.yaml"), &d); err != nil {
		t.Fatal(err)
	}

	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"hss", "icscf", "pcscf", "presence", "scscf"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v (PostgreSQL is in %s only: it needs a registry)", names, want, composePostgresFile)
	}
	if !slices.Contains(c.Services["pcscf"].CapAdd, "NET_ADMIN") {
		t.Errorf("pcscf cap_add %v: NET_ADMIN is needed for XFRM", c.Services["pcscf"].CapAdd)
	}
	for n, s := range c.Services {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) < 3 || s.Healthcheck.Test[0] != "CMD" || s.Healthcheck.Test[1] != "imsctl" ||
			s.Healthcheck.Test[2] != "health" {
			t.Errorf("%s: health check %v: want [CMD imsctl health …] (the image has no shell, wget or curl)", n, s.Healthcheck)
		}
		if s.Image != "${IMSCORE_IMAGE:-imscore:latest}" {
			t.Errorf("%s: image %q: want the locally built ${IMSCORE_IMAGE:-imscore:latest}", n, s.Image)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s: volume %s is not declared", n, src)
				}
				continue
			}
			if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
				t.Errorf("%s: mounted %s does not exist: %v", n, src, err)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, publishPrefix) {
				t.Errorf("%s: port %s: want it published on %s…", n, p, publishPrefix)
			}
		}
	}
	// The HSS's tokens file is mounted where its configuration names it.
	if tf := d.hss.API.Security.TokensFile; tf == "" || !slices.ContainsFunc(c.Services["hss"].Volumes, func(v string) bool {
		parts := strings.Split(v, ":")
		return len(parts) >= 2 && parts[1] == tf
	}) {
		t.Errorf("hss: api.tokens_file %q is not a mounted file (volumes %v)", tf, c.Services["hss"].Volumes)
	}
	for _, a := range adminListeners(d) {
		if a.sec.Pprof {
			t.Errorf("%s: pprof on in compose: enable it only while profiling", a.node)
		}
	}
	// Every store in SQLite on the node's own named volume, mounted on the image's data directory: what
	// survives `docker-compose restart` and a recreated container, and goes with `down -v`.
	for node, dsn := range map[string]string{"hss": d.hss.Store.DSN, "scscf": d.scscf.DB, "pcscf": d.pcscf.DB, "presence": d.presence.DB} {
		p := sqlitePath(dsn)
		if !strings.HasPrefix(p, dataDir+"/") {
			t.Errorf("%s: store %q: want an SQLite file under %s", node, dsn, dataDir)
		}
		if !slices.ContainsFunc(c.Services[node].Volumes, func(v string) bool {
			src, dst, _ := strings.Cut(v, ":")
			return !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") && dst == dataDir
		}) {
			t.Errorf("%s: no named volume on %s (volumes %v): its store would go with the container", node, dataDir, c.Services[node].Volumes)
		}
	}

	var subnet netip.Prefix
	if cfgs := c.Networks["ims"].IPAM.Config; len(cfgs) == 1 {
		subnet, _ = netip.ParsePrefix(cfgs[0].Subnet)
	}
	if !subnet.IsValid() {
		t.Fatalf("network ims: want one fixed subnet, got %+v", c.Networks["ims"])
	}
	// For each node: the address its SIP listener binds (none for the HSS), its admin address.
	nodeAddrs := map[string]struct{ sip, admin string }{
		"hss":      {"", d.hss.API.Listen},
		"icscf":    {d.icscf.SIP.Listen[0].Addr, d.icscf.HTTPListen},
		"scscf":    {d.scscf.SIP.Listen, d.scscf.HTTPListen},
		"pcscf":    {d.pcscf.Listen[0], d.pcscf.HTTP},
		"presence": {d.presence.SIP.Listen, d.presence.HTTPListen},
	}
	for _, n := range append(nodes(), "presence") {
		s := c.Services[n]
		t.Run(n, func(t *testing.T) {
			// The node runs its binary with the configuration mounted at the path it names.
			if len(s.Command) != 3 || s.Command[0] != n || s.Command[1] != "--config" {
				t.Fatalf("command %v: want [%s --config /etc/imscore/%s.yaml]", s.Command, n, n)
			}
			mount := "./deploy/compose/" + n + ".yaml:" + s.Command[2] + ":ro"
			if !slices.Contains(s.Volumes, mount) {
				t.Errorf("volumes %v: want %s", s.Volumes, mount)
			}
			ip, err := netip.ParseAddr(s.Networks["ims"].IPv4Address)
			if err != nil || !subnet.Contains(ip) {
				t.Fatalf("networks.ims.ipv4_address %q: want a fixed address in %s", s.Networks["ims"].IPv4Address, subnet)
			}
			if a := nodeAddrs[n].sip; a != "" {
				if h, _ := hostPort(t, "sip listen", a); h != ip.String() {
					t.Errorf("the configuration listens on %s, the container's address is %s", a, ip)
				}
			}
			// The health check asks /readyz on the port the node's admin server listens on (the presence server
			// has /healthz only).
			_, port := hostPort(t, "admin listen", nodeAddrs[n].admin)
			probe := "http://127.0.0.1:" + port + "/readyz"
			if n == "presence" {
				probe = "http://127.0.0.1:" + port + "/healthz"
			}
			if s.Healthcheck == nil || !slices.Contains(s.Healthcheck.Test, probe) {
				t.Errorf("health check %v: want a probe of %s", s.Healthcheck, probe)
			}
		})
	}
	// The presence server is an AS the S-CSCF trusts, and it trusts the S-CSCF alone.
	scscfDomain, err := trust.ParseDomain(d.scscf.TrustedNetworks)
	if err != nil {
		t.Fatal(err)
	}
	presenceDomain, err := trust.ParseDomain(d.presence.TrustedNetworks)
	if err != nil {
		t.Fatal(err)
	}
	presenceAP, _ := netip.ParseAddrPort(d.presence.SIP.Listen)
	scscfAP, _ := netip.ParseAddrPort(d.scscf.SIP.Listen)
	if !scscfDomain.Contains(presenceAP.Addr()) || !presenceDomain.Contains(scscfAP.Addr()) {
		t.Errorf("scscf trusted_networks %v, presence trusted_networks %v: each must hold the other", d.scscf.TrustedNetworks, d.presence.TrustedNetworks)
	}
	// The image holds every binary the services and their health checks run.
	for _, n := range append(nodes(), "presence", "imsctl") {
		if !slices.Contains(imageBinaries(t), n) {
			t.Errorf("the Dockerfile does not copy bin/%s", n)
		}
	}
}

// TestComposePostgres checks the PostgreSQL override: it replaces the configurations of the HSS and the S-CSCF
// (same container path) with copies of the SQLite ones that differ in the store only, and makes both wait for a
// healthy PostgreSQL.
func TestComposePostgres(t *testing.T) {
	c := readComposeFile(t, composePostgresFile)
	d := loadDeployment(t, "compose")
	var pg deployment
	for _, n := range []string{"hss", "scscf"} {
		if err := loadNode(n, filepath.Join("compose", "postgres", n+".yaml"), &pg); err != nil {
			t.Fatal(err)
		}
		mount := "./deploy/compose/postgres/" + n + ".yaml:/etc/imscore/" + n + ".yaml:ro"
		if !slices.Contains(c.Services[n].Volumes, mount) {
			t.Errorf("%s volumes %v: want %s", n, c.Services[n].Volumes, mount)
		}
		if dep, ok := c.Services[n].DependsOn["postgres"]; !ok || dep.Condition != "service_healthy" {
			t.Errorf("%s depends_on: want postgres service_healthy (it migrates at start)", n)
		}
		if c.Services[n].Environment["PGPASSWORD"] == "" {
			t.Errorf("%s: no PGPASSWORD: the DSN has no password", n)
		}
	}
	pg.icscf, pg.pcscf = d.icscf, d.pcscf
	checkTopology(t, pg, "hss")
	checkPostgres(t, pg)
	// Only the store differs from the SQLite files.
	sameHSS, sameSCSCF := pg.hss, pg.scscf
	sameHSS.Store.DSN, sameSCSCF.DB = d.hss.Store.DSN, d.scscf.DB
	if !reflect.DeepEqual(sameHSS, d.hss) {
		t.Error("compose/postgres/hss.yaml differs from compose/hss.yaml beyond store.dsn")
	}
	if !reflect.DeepEqual(sameSCSCF, d.scscf) {
		t.Error("compose/postgres/scscf.yaml differs from compose/scscf.yaml beyond db")
	}
	if _, err := os.Stat(filepath.Join("compose", "postgres", "init.sh")); err != nil {
		t.Error(err)
	}
}

// TestMakeBuildIsStatic: the image is FROM scratch, so `make build` must link without cgo (no libc, no loader
// there). The compose stack test checks the binaries themselves.
func TestMakeBuildIsStatic(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	recipe := regexp.MustCompile(`(?m)^build:\n((?:\t.*\n)+)`).FindSubmatch(mk)
	if recipe == nil || !strings.Contains(string(recipe[1]), "CGO_ENABLED=0 $(GO) build") {
		t.Fatalf("Makefile: the build recipe does not build with CGO_ENABLED=0:\n%s", recipe)
	}
}

// dockerCompose returns the docker-compose binary, or skips (fails under CI=true, where CI installs it).
func dockerCompose(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker-compose is not installed (CI installs Debian's docker-compose package): %v", err)
		}
		t.Skip("docker-compose not installed (apt-get install docker-compose): the compose file is not validated")
	}
	return p
}

// TestDockerComposeConfig validates docker-compose.yml with docker-compose itself (no Docker engine needed), and
// checks on a broken copy that it would notice a mistake.
func TestDockerComposeConfig(t *testing.T) {
	bin := dockerCompose(t)
	good, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		text         string
		wantErr      bool
		withPostgres bool // -f docker-compose.postgres.yml too
	}{
		{"docker-compose.yml", string(good), false, false},
		{"with docker-compose.postgres.yml", string(good), false, true},
		{"misspelt service key", strings.Replace(string(good), "    cap_add:", "    cap_addd:", 1), true, false},
		{"healthcheck without test", strings.Replace(string(good), `      test: ["CMD", "imsctl"`, `      tset: ["CMD", "imsctl"`, 1), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := composeFile
			if tt.wantErr {
				if tt.text == string(good) {
					t.Fatal("the edit changed nothing: update the test")
				}
				path = filepath.Join(t.TempDir(), "docker-compose.yml")
				if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bin, "--project-directory", repoRoot, "-f", path, "config", "-q")
			if tt.withPostgres {
				cmd.Args = append(cmd.Args[:len(cmd.Args)-2], "-f", composePostgresFile, "config", "-q")
			}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case err != nil && !errors.As(err, &exit):
				t.Fatalf("docker-compose: %v", err)
			case tt.wantErr && err == nil:
				t.Fatalf("docker-compose config -q accepted the broken file")
			case !tt.wantErr && err != nil:
				t.Fatalf("docker-compose config -q: %v\n%s", err, out)
			}
		})
	}
}
