package hss_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *hss.Config)
		field  string // "" = valid
	}{
		{name: "defaults", mutate: func(*hss.Config) {}},
		{name: "port 0", mutate: func(c *hss.Config) { c.Diameter.Listen, c.API.Listen = "127.0.0.1:0", "[::1]:0" }},
		{name: "listen without port", mutate: func(c *hss.Config) { c.Diameter.Listen = "127.0.0.1" }, field: "diameter.listen"},
		{name: "origin host with space", mutate: func(c *hss.Config) { c.Diameter.OriginHost = "hss example" }, field: "diameter.origin_host"},
		{name: "empty realm", mutate: func(c *hss.Config) { c.Diameter.Realm = "" }, field: "diameter.realm"},
		{name: "realm with empty label", mutate: func(c *hss.Config) { c.Diameter.Realm = "ims..example" }, field: "diameter.realm"},
		{name: "watchdog too short", mutate: func(c *hss.Config) { c.Diameter.WatchdogInterval = time.Millisecond }, field: "diameter.watchdog_interval"},
		{name: "request timeout zero", mutate: func(c *hss.Config) { c.Diameter.RequestTimeout = 0 }, field: "diameter.request_timeout"},
		{name: "no concurrency", mutate: func(c *hss.Config) { c.Diameter.MaxConcurrentRequests = 0 }, field: "diameter.max_concurrent_requests"},
		{name: "api listen", mutate: func(c *hss.Config) { c.API.Listen = "nowhere" }, field: "api.listen"},
		{name: "shutdown timeout", mutate: func(c *hss.Config) { c.API.ShutdownTimeout = 0 }, field: "api.shutdown_timeout"},
		{name: "empty DSN", mutate: func(c *hss.Config) { c.Store.DSN = " " }, field: "store.dsn"},
		{name: "empty home network", mutate: func(c *hss.Config) { c.Cx.HomeNetworks = []string{"a", ""} }, field: "cx.home_networks[1]"},
		{name: "no auth items", mutate: func(c *hss.Config) { c.Cx.MaxAuthItems = 0 }, field: "cx.max_auth_items"},
		{name: "too many auth items", mutate: func(c *hss.Config) { c.Cx.MaxAuthItems = 5000 }, field: "cx.max_auth_items"},
		{name: "IND bits", mutate: func(c *hss.Config) { c.Cx.SQN.IndBits = 0 }, field: "cx.sqn"},
		{name: "delta", mutate: func(c *hss.Config) { c.Cx.SQN.Delta = 0 }, field: "cx.sqn"},
		{name: "no SQN block", mutate: func(c *hss.Config) { c.Cx.SQN.Block = 0 }, field: "cx.sqn"},
		{name: "SQN block over delta", mutate: func(c *hss.Config) { c.Cx.SQN.Delta, c.Cx.SQN.Block = 8, 9 }, field: "cx.sqn"},
		{name: "SQN block cache", mutate: func(c *hss.Config) { c.Cx.SQN.BlockCache = 0 }, field: "cx.sqn"},
		{name: "user data limit", mutate: func(c *hss.Config) { c.Cx.MaxUserDataBytes = 100 }, field: "cx.max_user_data_bytes"},
		{name: "no operations kept", mutate: func(c *hss.Config) { c.Cx.Operations.Max = 0 }, field: "cx.operations.max"},
		{name: "operations retention", mutate: func(c *hss.Config) { c.Cx.Operations.Retention = -time.Second }, field: "cx.operations.retention"},
		{name: "operations concurrency", mutate: func(c *hss.Config) { c.Cx.Operations.Concurrency = 0 }, field: "cx.operations.concurrency"},
		{name: "S-CSCF not a SIP URI", mutate: func(c *hss.Config) { c.SCSCFs[0].Name = "scscf.example" }, field: "scscfs[0].name"},
		{name: "S-CSCF twice", mutate: func(c *hss.Config) { c.SCSCFs = append(c.SCSCFs, c.SCSCFs[0]) }, field: "scscfs[1].name"},
		{name: "log level", mutate: func(c *hss.Config) { c.Log.Level = "loud" }, field: "log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := hss.DefaultConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if !errors.Is(err, hss.ErrInvalidConfig) || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("Validate() = %v, want ErrInvalidConfig naming %s", err, tc.field)
			}
		})
	}
}
