package scscf

import (
	"github.com/imscore/imscore/services/bgcf"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/proxy"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "defaults", mutate: func(*Config) {}},
		{name: "max_expires alone pulls the default grant down", mutate: func(c *Config) { c.Registration.MaxExpires = 600 * time.Second }},
		{name: "bad listen", mutate: func(c *Config) { c.SIP.Listen = "nowhere" }, wantErr: "sip.listen"},
		{name: "server name not sip", mutate: func(c *Config) { c.ServerName = "http://x" }, wantErr: "server_name"},
		{name: "min above max", mutate: func(c *Config) {
			c.Registration.MinExpires, c.Registration.MaxExpires = time.Hour, time.Minute
		}, wantErr: "registration"},
		{name: "unknown scheme", mutate: func(c *Config) { c.Registration.Scheme = "Digest-SHA" }, wantErr: "registration.scheme"},
		{name: "bad icscf", mutate: func(c *Config) { c.ICSCF = "::" }, wantErr: "icscf"},
		{name: "icscf none", mutate: func(c *Config) { c.ICSCF = ICSCFNone }},
		{name: "icscf route", mutate: func(c *Config) { c.ICSCFRoute = ICSCFRouteRoute }},
		{name: "bad icscf_route", mutate: func(c *Config) { c.ICSCFRoute = "loose" }, wantErr: "icscf_route"},
		{name: "interconnect", mutate: func(c *Config) {
			c.Interconnect = InterconnectConfig{Enabled: true, Transit: "sip:ibcf.example.net", ENUMSuffix: "e164.example",
				BGCF: bgcf.Config{Routes: []bgcf.Route{{Prefix: "+44", Gateway: "sip:mgcf.example.net"}}}}
		}},
		{name: "bad interconnect transit", mutate: func(c *Config) {
			c.Interconnect = InterconnectConfig{Enabled: true, Transit: "tel:+1"}
		}, wantErr: "interconnect.transit"},
		{name: "bad bgcf route", mutate: func(c *Config) {
			c.Interconnect = InterconnectConfig{Enabled: true, BGCF: bgcf.Config{Routes: []bgcf.Route{{Prefix: "44", Gateway: "sip:gw"}}}}
		}, wantErr: "interconnect.bgcf"},
		{name: "bad icscf transport", mutate: func(c *Config) { c.ICSCF = "sip:127.0.0.1:4060;transport=sctp" }, wantErr: "icscf"},
		{name: "reconnect max below min", mutate: func(c *Config) {
			c.Diameter.ReconnectMin, c.Diameter.ReconnectMax = 5*time.Second, time.Second
		}, wantErr: "diameter.reconnect_max"},
		{name: "negative retry-after", mutate: func(c *Config) { c.Diameter.RetryAfter = -time.Second }, wantErr: "diameter.retry_after"},
		{name: "negative watchdog", mutate: func(c *Config) { c.Diameter.WatchdogInterval = -time.Second }, wantErr: "diameter.watchdog_interval"},
		{name: "sip limits", mutate: func(c *Config) { c.SIP.Limits = proxy.Limits{MaxTransactions: 100} }},
		{name: "bad sip limits", mutate: func(c *Config) { c.SIP.Limits.RetryAfter = time.Millisecond }, wantErr: "sip: limits.retry_after"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mutate(&c)
			err := c.WithDefaults().Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.wantErr)
			}
		})
	}
	if got := (Config{Registration: RegistrationConfig{MaxExpires: 600 * time.Second}}).WithDefaults().Registration.DefaultExpires; got != 600*time.Second {
		t.Fatalf("default grant with max_expires 600 s: %v", got)
	}
}
