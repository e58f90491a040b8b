package ipsec

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/ipsec/ipsectest"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
)

// These tests run against the real kernel, each in a network namespace of its own: as root on
// the host (which has XFRM policies but no ESP) and in the VM (internal/vmtest), which has ESP.
// The parts that need ESP check for it with an oracle independent of Probe.

// foreignReqID is a reqid outside our range, standing for another program's SAs.
const foreignReqID = 7

func newTestManager(t *testing.T, ns *ipsectest.NS) *Manager {
	t.Helper()
	m, err := NewManager(ns.Handle, DefaultConfig(), zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// kernelHasESP asks the kernel directly, without Probe: it adds and deletes one ESP state.
func kernelHasESP(t *testing.T, h *netlink.Handle) (bool, string) {
	t.Helper()
	st := &netlink.XfrmState{
		Src: probeSrc4.AsSlice(), Dst: probeDst4.AsSlice(), Proto: netlink.XFRM_PROTO_ESP, Mode: netlink.XFRM_MODE_TRANSPORT,
		Spi: 0x7777, Reqid: foreignReqID,
		Auth:  &netlink.XfrmStateAlgo{Name: "hmac(sha1)", Key: make([]byte, 20), TruncateLen: 96},
		Crypt: &netlink.XfrmStateAlgo{Name: "cbc(aes)", Key: make([]byte, 16)},
	}
	err := h.XfrmStateAdd(st)
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		return false, err.Error()
	}
	if err != nil {
		t.Fatalf("oracle ESP state add: %v", err)
	}
	if err := h.XfrmStateDel(st); err != nil {
		t.Fatalf("oracle ESP state delete: %v", err)
	}
	return true, ""
}

type xfrmCounts struct{ ourStates, ourPolicies, allStates, allPolicies int }

func countXFRM(t *testing.T, m *Manager) xfrmCounts {
	t.Helper()
	var c xfrmCounts
	states, err := m.h.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		c.allStates++
		if m.cfg.owns(st.Reqid) {
			c.ourStates++
		}
	}
	policies, err := m.h.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for i := range policies {
		c.allPolicies++
		if m.ownsPolicy(&policies[i]) {
			c.ourPolicies++
		}
	}
	return c
}

func TestProbeMatchesKernel(t *testing.T) {
	ipsectest.RequireRoot(t)
	ns := ipsectest.NewNS(t, "probe")
	m := newTestManager(t, ns)
	has, why := kernelHasESP(t, ns.Netlink)
	s, err := m.Probe()
	if err != nil {
		t.Fatal(err)
	}
	t.Log(s.String())
	if s.ESP != has {
		t.Fatalf("Probe says ESP=%v, the kernel says %v (%s)", s.ESP, has, why)
	}
	if has {
		// Debian's kernel (the VM) has every algorithm of TS 33.203 and esp6.
		for _, a := range AllAlgorithms() {
			if !s.Supports(a) {
				t.Errorf("Probe misses %v", a)
			}
		}
		if !s.IPv6 {
			t.Error("Probe says no ESP over IPv6")
		}
	} else if s.Reason == "" || len(s.Algorithms) != 0 {
		t.Fatalf("no ESP, but Reason %q and algorithms %v", s.Reason, s.Algorithms)
	}
	if c := countXFRM(t, m); c.allStates != 0 {
		t.Fatalf("Probe left %d states behind", c.allStates)
	}
}

func TestPoliciesInstallAndRemove(t *testing.T) {
	ipsectest.RequireRoot(t)
	for _, tc := range []struct {
		name      string
		side      Side
		proto     Proto
		ue, pcscf string
		policies  int
	}{
		{"pcscf ipv4 udp+tcp", SidePCSCF, ProtoAny, "10.0.0.1", "10.0.0.2", 8},
		{"ue ipv6 udp+tcp", SideUE, ProtoAny, "fd00::1", "fd00::2", 8},
		{"pcscf ipv6 udp only", SidePCSCF, ProtoUDP, "fd00::1", "fd00::2", 4},
		{"ue ipv4 tcp only", SideUE, ProtoTCP, "10.0.0.1", "10.0.0.2", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestManager(t, ipsectest.NewNS(t, "pol"))
			p := testPair(tc.ue, tc.pcscf)
			p.Proto = tc.proto
			var undo undoStack
			if err := m.addPolicies(context.Background(), tc.side, p, m.allocReqIDs(), &undo); err != nil {
				t.Fatal(err)
			}
			policies, err := m.h.XfrmPolicyList(netlink.FAMILY_ALL)
			if err != nil {
				t.Fatal(err)
			}
			if len(policies) != tc.policies {
				t.Fatalf("%d policies, want %d", len(policies), tc.policies)
			}
			// Each policy is in the direction the table of FlowID gives this side, and names its SA.
			bySPI := map[int]Flow{}
			for _, f := range p.Flows() {
				bySPI[int(f.SPI)] = f
			}
			for _, pol := range policies {
				if len(pol.Tmpls) != 1 {
					t.Fatalf("policy with %d templates", len(pol.Tmpls))
				}
				f, ok := bySPI[pol.Tmpls[0].Spi]
				if !ok {
					t.Fatalf("policy for unknown spi 0x%x", pol.Tmpls[0].Spi)
				}
				if pol.Dir != policyDir(f, tc.side) || pol.SrcPort != int(f.Src.Port()) || pol.DstPort != int(f.Dst.Port()) {
					t.Errorf("spi 0x%x: dir %v ports %d->%d, want %v %v->%v", f.SPI, pol.Dir, pol.SrcPort, pol.DstPort, policyDir(f, tc.side), f.Src, f.Dst)
				}
				if netAddr(pol.Src) != f.Src.Addr() || netAddr(pol.Dst) != f.Dst.Addr() {
					t.Errorf("spi 0x%x: selector %v -> %v, want %v -> %v", f.SPI, pol.Src, pol.Dst, f.Src, f.Dst)
				}
			}
			if err := m.Remove(p); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if c := countXFRM(t, m); c.allPolicies != 0 || c.allStates != 0 {
				t.Fatalf("after Remove: %+v", c)
			}
			if err := m.Remove(p); err != nil {
				t.Fatalf("second Remove is not idempotent: %v", err)
			}
		})
	}
}

func TestInstallRollback(t *testing.T) {
	ipsectest.RequireRoot(t)
	ctx := context.Background()

	t.Run("foreign policy on the third flow", func(t *testing.T) {
		m := newTestManager(t, ipsectest.NewNS(t, "rb"))
		p := testPair("10.0.0.1", "10.0.0.2")
		f := p.Flows()[2]
		foreign := buildPolicy(f, ProtoUDP, policyDir(f, SidePCSCF), foreignReqID)
		if err := m.h.XfrmPolicyAdd(foreign); err != nil {
			t.Fatal(err)
		}
		err := m.Install(ctx, SidePCSCF, p, time.Minute)
		var op *OpError
		if !errors.Is(err, ErrExists) || !errors.As(err, &op) || op.SPI != f.SPI {
			t.Fatalf("Install = %v, want ErrExists naming spi 0x%x", err, f.SPI)
		}
		if c := countXFRM(t, m); c.ourPolicies != 0 || c.ourStates != 0 || c.allPolicies != 1 {
			t.Fatalf("after rollback: %+v, want only the foreign policy", c)
		}
		// Remove must leave the foreign policy alone, and say so.
		if err := m.Remove(p); !errors.Is(err, ErrNotOurs) {
			t.Fatalf("Remove = %v, want ErrNotOurs", err)
		}
		if c := countXFRM(t, m); c.allPolicies != 1 {
			t.Fatalf("Remove deleted the foreign policy: %+v", c)
		}
	})

	has, why := kernelHasESP(t, ipsectest.NewNS(t, "oracle").Netlink)
	if !has {
		t.Run("kernel without ESP", func(t *testing.T) {
			m := newTestManager(t, ipsectest.NewNS(t, "rb"))
			p := testPair("fd00::1", "fd00::2")
			err := m.Install(ctx, SideUE, p, time.Minute)
			var op *OpError
			if !errors.Is(err, ErrESPUnsupported) || !errors.Is(err, unix.EPROTONOSUPPORT) || !errors.As(err, &op) {
				t.Fatalf("Install = %v, want ErrESPUnsupported", err)
			}
			if op.SPI != p.Flows()[0].SPI || op.Op != "add state" {
				t.Fatalf("error names %q spi 0x%x, want the first state", op.Op, op.SPI)
			}
			// The eight policies went in first and must all be gone again.
			if c := countXFRM(t, m); c.allPolicies != 0 || c.allStates != 0 {
				t.Fatalf("after rollback: %+v", c)
			}
		})
		return
	}

	t.Run("foreign state on the fourth flow", func(t *testing.T) {
		m := newTestManager(t, ipsectest.NewNS(t, "rb"))
		p := testPair("fd00::1", "fd00::2")
		keys, err := deriveKeys(p)
		if err != nil {
			t.Fatal(err)
		}
		f := p.Flows()[3]
		if err := m.h.XfrmStateAdd(buildState(f, ProtoAny, foreignReqID, keys, 0)); err != nil {
			t.Fatalf("foreign state (%s): %v", why, err)
		}
		err = m.Install(ctx, SideUE, p, time.Minute)
		var op *OpError
		if !errors.Is(err, ErrExists) || !errors.As(err, &op) || op.SPI != f.SPI || op.Op != "add state" {
			t.Fatalf("Install = %v, want ErrExists on the state with spi 0x%x", err, f.SPI)
		}
		if c := countXFRM(t, m); c.ourStates != 0 || c.ourPolicies != 0 || c.allStates != 1 || c.allPolicies != 0 {
			t.Fatalf("after rollback: %+v, want only the foreign state", c)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		m := newTestManager(t, ipsectest.NewNS(t, "rb"))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := m.Install(cctx, SidePCSCF, testPair("10.0.0.1", "10.0.0.2"), 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Install = %v, want context.Canceled", err)
		}
		if c := countXFRM(t, m); c.allStates != 0 || c.allPolicies != 0 {
			t.Fatalf("after cancelled Install: %+v", c)
		}
	})
}

func TestFlushOnlyOurs(t *testing.T) {
	ipsectest.RequireRoot(t)
	ns := ipsectest.NewNS(t, "flush")
	m := newTestManager(t, ns)
	has, _ := kernelHasESP(t, ns.Netlink)

	p1 := testPair("10.0.0.1", "10.0.0.2")
	p2 := testPair("10.0.0.3", "10.0.0.2")
	p2.UE.SPIC, p2.UE.SPIS, p2.PCSCF.SPIC, p2.PCSCF.SPIS = 0x3001, 0x3002, 0x3003, 0x3004
	install := func(p Pair) {
		t.Helper()
		if has {
			if err := m.Install(context.Background(), SidePCSCF, p, time.Minute); err != nil {
				t.Fatal(err)
			}
			return
		}
		var undo undoStack // no ESP here: policies only
		if err := m.addPolicies(context.Background(), SidePCSCF, p, m.allocReqIDs(), &undo); err != nil {
			t.Fatal(err)
		}
	}
	install(p1)
	install(p2)
	other := testPair("10.0.0.9", "10.0.0.2") // someone else's, reqid outside our range
	other.UE.SPIC, other.UE.SPIS, other.PCSCF.SPIC, other.PCSCF.SPIS = 0x4001, 0x4002, 0x4003, 0x4004
	f := other.Flows()[0]
	if err := m.h.XfrmPolicyAdd(buildPolicy(f, ProtoUDP, netlink.XFRM_DIR_IN, foreignReqID)); err != nil {
		t.Fatal(err)
	}
	statesPerSet := 0
	if has {
		statesPerSet = 4
		keys, err := deriveKeys(other)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.h.XfrmStateAdd(buildState(f, ProtoAny, foreignReqID, keys, 0)); err != nil {
			t.Fatal(err)
		}
	}

	got, err := m.Flush(Filter{Addr: p1.UE.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if got.Policies != 8 || got.States != statesPerSet {
		t.Fatalf("Flush(UE 1) removed %+v, want 8 policies and %d states", got, statesPerSet)
	}
	got, err = m.Flush(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Policies != 8 || got.States != statesPerSet {
		t.Fatalf("Flush(all) removed %+v, want 8 policies and %d states", got, statesPerSet)
	}
	c := countXFRM(t, m)
	if c.ourPolicies != 0 || c.ourStates != 0 || c.allPolicies != 1 || c.allStates != statesPerSet/4 {
		t.Fatalf("after Flush: %+v, want only the foreign policy (and state)", c)
	}
}

// TestConcurrentSets installs and removes many SA sets at once through one Manager, as a busy
// P-CSCF does; run with -race on the host (policies only) and for real in the VM.
func TestConcurrentSets(t *testing.T) {
	ipsectest.RequireRoot(t)
	ns := ipsectest.NewNS(t, "conc")
	m := newTestManager(t, ns)
	has, _ := kernelHasESP(t, ns.Netlink)
	const sets = 16
	pairs := make([]Pair, sets)
	for i := range pairs {
		p := testPair("10.1.0.1", "10.2.0.1")
		p.UE.Addr = netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(1 + i%250)})
		base := uint32(0x5000 + 8*i)
		p.UE.SPIC, p.UE.SPIS, p.PCSCF.SPIC, p.PCSCF.SPIS = base, base+1, base+2, base+3
		pairs[i] = p
	}
	run := func(fn func(p Pair) error) {
		t.Helper()
		errs := make(chan error, sets)
		var wg sync.WaitGroup
		for _, p := range pairs {
			wg.Go(func() { errs <- fn(p) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	run(func(p Pair) error {
		if has {
			return m.Install(context.Background(), SidePCSCF, p, time.Minute)
		}
		var undo undoStack
		return m.addPolicies(context.Background(), SidePCSCF, p, m.allocReqIDs(), &undo)
	})
	c := countXFRM(t, m)
	wantStates := 0
	if has {
		wantStates = 4 * sets
	}
	if c.ourPolicies != 8*sets || c.ourStates != wantStates {
		t.Fatalf("after concurrent installs: %+v, want %d policies and %d states", c, 8*sets, wantStates)
	}
	if has {
		sas, err := m.List()
		if err != nil || len(sas) != 4*sets {
			t.Fatalf("List: %d SAs, %v", len(sas), err)
		}
		reqids := map[uint32]bool{}
		for _, sa := range sas {
			reqids[sa.ReqID] = true
		}
		if len(reqids) != 4*sets {
			t.Fatalf("%d distinct reqids for %d SAs", len(reqids), 4*sets)
		}
	}
	run(m.Remove)
	if c := countXFRM(t, m); c.allPolicies != 0 || c.allStates != 0 {
		t.Fatalf("after concurrent removes: %+v", c)
	}
}
