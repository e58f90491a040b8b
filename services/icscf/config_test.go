package icscf

import (
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/config"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "defaults"},
		{name: "two S-CSCFs", yaml: "scscfs:\n  - {name: 'sip:a.example:6060', address: '127.0.0.1:6060', capabilities: [1]}\n  - {name: 'sip:b.example:6060', address: '127.0.0.1:6061'}\n"},
		{name: "bad S-CSCF name", yaml: "scscfs:\n  - {name: 'tel:+1'}\n", wantErr: "scscfs[0].name"},
		{name: "duplicate S-CSCF", yaml: "scscfs:\n  - {name: 'sip:a.example'}\n  - {name: 'sip:A.example:5060'}\n", wantErr: "listed twice"},
		{name: "bad address", yaml: "scscfs:\n  - {name: 'sip:a.example', address: 'a.example:1'}\n", wantErr: "scscfs[0].address"},
		{name: "no HSS", yaml: "diameter:\n  hss: []\n", wantErr: "diameter.hss"},
		{name: "bad HSS", yaml: "diameter:\n  hss: ['nocolon']\n", wantErr: "diameter.hss[0]"},
		{name: "no listener", yaml: "sip:\n  listen: []\n", wantErr: "sip.listen"},
		{name: "thig", yaml: "thig:\n  keys: {1: 'abababababababababababababababababababababababababababababababab'}\n  current_key: 1\n  networks: [192.0.2.0/24]\n"},
		{name: "thig short key", yaml: "thig:\n  keys: {1: 'abcd'}\n  current_key: 1\n  networks: [192.0.2.0/24]\n", wantErr: "thig: keys"},
		{name: "thig unknown current key", yaml: "thig:\n  keys: {1: 'abababababababababababababababababababababababababababababababab'}\n  current_key: 2\n  networks: [192.0.2.0/24]\n", wantErr: "thig"},
		{name: "thig without networks", yaml: "thig:\n  keys: {1: 'abababababababababababababababababababababababababababababababab'}\n  current_key: 1\n", wantErr: "thig: networks"},
		{name: "bad http", yaml: "http_listen: x\n", wantErr: "http_listen"},
		{name: "outage keys", yaml: "diameter:\n  reconnect_min: 500ms\n  reconnect_max: 3s\n  max_consecutive_timeouts: 5\n  unresponsive_probe: 1s\n  retry_after: 10s\n"},
		{name: "reconnect max below min", yaml: "diameter:\n  reconnect_min: 5s\n  reconnect_max: 1s\n", wantErr: "diameter.reconnect_max"},
		{name: "negative probe", yaml: "diameter:\n  unresponsive_probe: -1s\n", wantErr: "diameter.unresponsive_probe"},
		{name: "negative retry-after", yaml: "diameter:\n  retry_after: -1s\n", wantErr: "diameter.retry_after"},
		{name: "sip limits", yaml: "sip:\n  limits: {max_connections: 5000, retry_after: 10s}\n"},
		{name: "bad sip limits", yaml: "sip:\n  limits: {header_timeout: -1s}\n", wantErr: "sip: limits.header_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if err := config.Decode([]byte(tt.yaml), &cfg); err != nil {
				t.Fatal(err)
			}
			err := cfg.WithDefaults().Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultRouteTimeoutCoversAttempts(t *testing.T) {
	cfg := DefaultConfig()
	need := cfg.Diameter.RequestTimeout + cfg.AttemptTimeout*2 + cfg.Diameter.RequestTimeout
	if cfg.SIP.RouteTimeout < need {
		t.Fatalf("route timeout %v < %v: failover would be cut short", cfg.SIP.RouteTimeout, need)
	}
	if cfg.SIP.RouteTimeout >= cfg.SIP.TimerF {
		t.Fatalf("route timeout %v not under Timer F %v: the UE would give up first", cfg.SIP.RouteTimeout, cfg.SIP.TimerF)
	}
}

func TestParseSCSCFFlag(t *testing.T) {
	tests := []struct {
		in, name, addr string
		wantErr        bool
	}{
		{in: "sip:scscf.example:6060=127.0.0.1:6060", name: "sip:scscf.example:6060", addr: "127.0.0.1:6060"},
		{in: "scscf.example:6060=127.0.0.1:6060", name: "sip:scscf.example:6060", addr: "127.0.0.1:6060"},
		{in: "scscf.example", name: "sip:scscf.example"},
		{in: "=127.0.0.1:1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSCSCFFlag(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if !tt.wantErr && (s.Name != tt.name || s.Address != tt.addr) {
				t.Fatalf("got %+v", s)
			}
		})
	}
}

func TestRouteTimeoutMustCoverAttempts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AttemptTimeout = 10 * time.Second
	err := cfg.WithDefaults().Validate()
	if err == nil || !strings.Contains(err.Error(), "sip.route_timeout") {
		t.Fatalf("error %v, want one about sip.route_timeout", err)
	}
	cfg.SIP.RouteTimeout = 0 // recomputed
	if err := cfg.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

// docs/icscf.md: diameter.origin_realm defaults to the domain, also when the domain is not the default one
// (before, DefaultConfig set it to the default domain, so --domain left the Origin-Realm behind).
func TestOriginRealmFollowsDomain(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Domain = "home.test"
	if got := cfg.WithDefaults().Diameter.OriginRealm; got != "home.test" {
		t.Fatalf("Origin-Realm %q with domain home.test", got)
	}
	cfg.Diameter.OriginRealm = "other.test"
	if got := cfg.WithDefaults().Diameter.OriginRealm; got != "other.test" {
		t.Fatalf("configured Origin-Realm %q, want other.test", got)
	}
}
