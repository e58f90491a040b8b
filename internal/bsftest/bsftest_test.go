package bsftest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/imscore/imscore/services/pcscf/qos/n5"
)

// TestValidate: the schema takes a discovery answer as TS 29.521 defines it and rejects what breaks its presence
// rules or types.
func TestValidate(t *testing.T) {
	b := Start(t)
	for _, tt := range []struct {
		name string
		body string
		ok   bool
	}{
		{"by IP end point", `{"ipv4Addr":"10.45.0.7","dnn":"ims","snssai":{"sst":1},"pcfIpEndPoints":[{"ipv4Address":"10.10.0.7","port":7777}]}`, true},
		{"by FQDN, IPv6 prefix", `{"ipv6Prefix":"2001:db8::7/128","dnn":"ims","snssai":{"sst":1,"sd":"000001"},"pcfFqdn":"pcf.5gc.mnc001.mcc001.3gppnetwork.org"}`, true},
		{"by Diameter identity", `{"ipv4Addr":"10.45.0.7","dnn":"ims","snssai":{"sst":1},"pcfDiamHost":"pcrf.epc.mnc001.mcc001.3gppnetwork.org","pcfDiamRealm":"epc.mnc001.mcc001.3gppnetwork.org"}`, true},
		{"no dnn", `{"ipv4Addr":"10.45.0.7","snssai":{"sst":1},"pcfFqdn":"pcf.example"}`, false},
		{"no snssai", `{"ipv4Addr":"10.45.0.7","dnn":"ims","pcfFqdn":"pcf.example"}`, false},
		{"no PCF", `{"ipv4Addr":"10.45.0.7","dnn":"ims","snssai":{"sst":1}}`, false},
		{"Diameter host without realm", `{"ipv4Addr":"10.45.0.7","dnn":"ims","snssai":{"sst":1},"pcfDiamHost":"pcrf.epc.mnc001.mcc001.3gppnetwork.org"}`, false},
		{"no UE", `{"dnn":"ims","snssai":{"sst":1},"pcfFqdn":"pcf.example"}`, false},
		{"bad IPv4", `{"ipv4Addr":"10.45.0","dnn":"ims","snssai":{"sst":1},"pcfFqdn":"pcf.example"}`, false},
		{"sst out of range", `{"ipv4Addr":"10.45.0.7","dnn":"ims","snssai":{"sst":256},"pcfFqdn":"pcf.example"}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := b.Validate("PcfBinding", []byte(tt.body)); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%t", err, tt.ok)
			}
		})
	}
}

// TestDiscover: the n5 BSF client against the test BSF: 200 with the binding (and the PCF's API root from its
// end point, or from its FQDN with the scheme's port), 204 without; the same with answers shaped as Open5GS's.
func TestDiscover(t *testing.T) {
	for _, open5gs := range []bool{false, true} {
		t.Run(map[bool]string{false: "spec", true: "like Open5GS"}[open5gs], func(t *testing.T) { discover(t, open5gs) })
	}
}

func discover(t *testing.T, open5gs bool) {
	b := Start(t)
	b.LikeOpen5GS = open5gs
	defer b.Check(t)
	v4, v6, none := netip.MustParseAddr("10.45.0.7"), netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("10.45.0.9")
	b.Bind(t, v4, n5.PcfBinding{Ipv4Addr: v4.String(), Dnn: "ims", Snssai: &n5.Snssai{Sst: 1},
		PcfIPEndPoints: []n5.IPEndPoint{{Ipv4Address: "10.10.0.7", Port: 7777}}})
	b.Bind(t, v6, n5.PcfBinding{Ipv6Prefix: "2001:db8::7/128", Dnn: "ims", Snssai: &n5.Snssai{Sst: 1}, PcfFqdn: "pcf.example"})
	c, err := n5.NewBSF(b.Root, "http", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for ue, want := range map[netip.Addr]string{v4: "http://10.10.0.7:7777", v6: "http://pcf.example:80", none: ""} {
		got, err := c.PCFRoot(ctx, ue)
		if err != nil || got != want {
			t.Errorf("PCFRoot(%s) = %q, %v; want %q", ue, got, err, want)
		}
	}
	if q := b.Queries(); len(q) != 3 {
		t.Errorf("%d queries, want 3", len(q))
	}
}
