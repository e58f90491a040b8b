package ipsec

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func TestBuildState(t *testing.T) {
	for _, fam := range []struct{ name, ue, pcscf string }{{"ipv4", "10.0.0.1", "10.0.0.2"}, {"ipv6", "fd00::1", "fd00::2"}} {
		t.Run(fam.name, func(t *testing.T) {
			p := testPair(fam.ue, fam.pcscf)
			k, err := deriveKeys(p)
			if err != nil {
				t.Fatal(err)
			}
			f := p.Flows()[0]
			st := buildState(f, p.Proto, 0x494d0007, k, lifetimeSeconds(90*time.Second))
			if st.Proto != netlink.XFRM_PROTO_ESP || st.Mode != netlink.XFRM_MODE_TRANSPORT {
				t.Errorf("proto %v mode %v, want esp transport", st.Proto, st.Mode)
			}
			if st.Spi != 0x2002 || st.Reqid != 0x494d0007 || st.ReplayWindow != replayWindow {
				t.Errorf("spi 0x%x reqid 0x%x window %d", st.Spi, st.Reqid, st.ReplayWindow)
			}
			if !st.Src.Equal(net.ParseIP(fam.ue)) || !st.Dst.Equal(net.ParseIP(fam.pcscf)) {
				t.Errorf("src %v dst %v", st.Src, st.Dst)
			}
			if st.Auth.Name != "hmac(sha1)" || st.Auth.TruncateLen != 96 || !bytes.Equal(st.Auth.Key, append(testIK[:], 0, 0, 0, 0)) {
				t.Errorf("auth %s trunc %d", st.Auth.Name, st.Auth.TruncateLen)
			}
			if st.Crypt.Name != "cbc(aes)" || !bytes.Equal(st.Crypt.Key, testCK[:]) {
				t.Errorf("crypt %s", st.Crypt.Name)
			}
			if st.Limits.TimeHard != 90 {
				t.Errorf("hard lifetime %d, want 90", st.Limits.TimeHard)
			}
			sel := st.Selector
			ones, bits := sel.Dst.Mask.Size()
			if sel.Src == nil || sel.Dst == nil || ones != bits || sel.SrcPort != 31800 || sel.DstPort != 6100 || sel.Proto != 0 {
				t.Errorf("selector %v:%d -> %v:%d proto %d", sel.Src, sel.SrcPort, sel.Dst, sel.DstPort, sel.Proto)
			}
		})
	}
}

func TestBuildPolicy(t *testing.T) {
	p := testPair("fd00::1", "fd00::2")
	f := p.Flows()[2] // P-CSCF port-c -> UE port-s
	pol := buildPolicy(f, ProtoTCP, policyDir(f, SidePCSCF), 0x494d0002)
	if pol.Dir != netlink.XFRM_DIR_OUT || pol.Proto != netlink.Proto(6) || pol.SrcPort != 5100 || pol.DstPort != 31900 {
		t.Fatalf("policy dir %v proto %v ports %d->%d", pol.Dir, pol.Proto, pol.SrcPort, pol.DstPort)
	}
	if len(pol.Tmpls) != 1 {
		t.Fatalf("%d templates", len(pol.Tmpls))
	}
	tm := pol.Tmpls[0]
	if tm.Spi != 0x1002 || tm.Reqid != 0x494d0002 || tm.Proto != netlink.XFRM_PROTO_ESP || tm.Mode != netlink.XFRM_MODE_TRANSPORT {
		t.Fatalf("template spi 0x%x reqid 0x%x proto %v mode %v", tm.Spi, tm.Reqid, tm.Proto, tm.Mode)
	}
	if !tm.Src.Equal(net.ParseIP("fd00::2")) || !tm.Dst.Equal(net.ParseIP("fd00::1")) {
		t.Fatalf("template %v -> %v", tm.Src, tm.Dst)
	}
}

func TestLifetimeSeconds(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want uint64
	}{{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {3630 * time.Second, 3630}}
	for _, tc := range tests {
		if got := lifetimeSeconds(tc.in); got != tc.want {
			t.Errorf("lifetimeSeconds(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"zero base", Config{ReqIDBase: 0, ReqIDCount: 4}, false},
		{"count not multiple of 4", Config{ReqIDBase: 1, ReqIDCount: 6}, false},
		{"overflow", Config{ReqIDBase: 0xfffffff0, ReqIDCount: 0x20}, false},
		{"top of range", Config{ReqIDBase: 0xfffffff0, ReqIDCount: 0x10}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestAllocReqIDsStayInRange(t *testing.T) {
	m := &Manager{cfg: Config{ReqIDBase: 100, ReqIDCount: 8}}
	seen := map[uint32]int{}
	for range 5 {
		for _, id := range m.allocReqIDs() {
			if !m.cfg.owns(int(id)) {
				t.Fatalf("reqid %d outside [100,108)", id)
			}
			seen[id]++
		}
	}
	if len(seen) != 8 {
		t.Fatalf("used %d distinct reqids, want all 8 of the range", len(seen))
	}
}
