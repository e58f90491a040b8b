package pcscf

// Kernel IPsec end to end: runs in the VM (make test-ipsec, scripts/vmtest.sh ./services/pcscf),
// skips on a kernel without ESP unless IMSCORE_REQUIRE_ESP=1. Two UE simulators, in namespaces
// "ue" and "ue2", each with its own SA manager, register with sec-agree through a
// P-CSCF in the "pcscf" namespace to the fake core on that namespace's loopback, which issues
// real AKA challenges with ck/ik.

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/sip/ue"
)

func TestKernelIPsec(t *testing.T) {
	ipsectest.RequireRoot(t)
	type tcase struct {
		name      string
		transport string
		v6        bool
		algs      ipsec.Algorithms
		restart   bool
	}
	var cases []tcase
	for _, tp := range []string{"udp", "tcp"} {
		for i, a := range []ipsec.Algorithms{
			{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC},
			{Integrity: ipsec.HMACMD596, Encryption: ipsec.EncryptionDES3},
			{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionNull},
			{Integrity: ipsec.HMACMD596, Encryption: ipsec.EncryptionAESCBC},
		} {
			cases = append(cases, tcase{name: "ipv4/" + tp + "/" + strings.ReplaceAll(a.String(), "/", "+"), transport: tp, algs: a, restart: i == 0 && tp == "udp"})
		}
	}
	for _, tp := range []string{"udp", "tcp"} {
		cases = append(cases, tcase{name: "ipv6/" + tp + "/hmac-sha-1-96+aes-cbc", transport: tp, v6: true,
			algs: ipsec.Algorithms{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runKernelIPsec(t, tc.transport, tc.v6, tc.algs, tc.restart)
		})
	}
}

func runKernelIPsec(t *testing.T, transport string, v6 bool, algs ipsec.Algorithms, restart bool) {
	link := ipsectest.NewLink(t)
	pcMgr := pcscfManager(t, link)

	ueA, pcAddr := link.UE4, link.PCSCF4
	if v6 {
		ueA, pcAddr = link.UE6, link.PCSCF6
	}
	// The second UE in a namespace of its own, on a second veth into the P-CSCF's namespace.
	ue2 := addUENamespace(t, link.PCSCF, v6, pcAddr)
	ueB := ue2.addr
	alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
	var core *fakeCore
	coreAddr := "127.0.0.1:0"
	if v6 {
		coreAddr = "[::1]:0"
	}
	if err := link.PCSCF.Do(func() error { core = startFakeCore(t, coreAddr, alice, bob); return nil }); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir() + "/pcscf-state.json"
	startNode := func(ctx context.Context) (*Node, chan error) {
		cfg := DefaultConfig()
		cfg.Listen = []string{netip.AddrPortFrom(pcAddr, 5060).String()}
		cfg.ICSCF = core.addr.String()
		cfg.HTTP = ""
		cfg.StateFile = state
		cfg.DeregDelay = 100 * time.Millisecond
		cfg.IPsec = IPsecRequired
		cfg.InNamespace = link.PCSCF.Do // our port-c → the UE's port-s connections start in the namespace
		// The fake core shares the P-CSCF's namespace on loopback; over TCP to our address its source is that
		// address. The UEs, on their own veths, stay the access side.
		cfg.TrustedNetworks = append(trust.DefaultNetworks(), pcAddr.String())
		var n *Node
		if err := link.PCSCF.Do(func() error {
			var err error
			n, err = New(cfg, testLogger(t).Named("pcscf"))
			return err
		}); err != nil {
			t.Fatalf("pcscf: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx) }()
		<-n.Ready()
		return n, done
	}
	type running struct {
		stop context.CancelFunc
		done chan error
	}
	var cur running
	var n *Node
	start := func() {
		ctx, stop := context.WithCancel(context.Background())
		var done chan error
		n, done = startNode(ctx)
		cur = running{stop, done}
	}
	start()
	t.Cleanup(func() { cur.stop(); <-cur.done })

	ueMgrs := map[string]*ipsec.Manager{} // by IMPU: each UE's own SAs, in its namespace
	mkUE := func(sub subscriber, ns *ipsectest.NS, local netip.Addr, reqBase uint32) *ue.UE {
		mgr, err := ipsec.NewManager(ns.Handle, ipsec.Config{ReqIDBase: reqBase, ReqIDCount: 0x100}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(mgr.Close)
		ueMgrs[sub.impu] = mgr
		return newUE(t, sub, netip.AddrPortFrom(pcAddr, 5060), transport, true, func(c *ue.Config) {
			c.Local = local
			c.InNamespace = ns.Do
			c.SAs = mgr
			c.Offer = []ipsec.Algorithms{algs}
		})
	}
	ua := mkUE(alice, link.UE, ueA, 0x55000000)
	ub := mkUE(bob, ue2.ns, ueB, 0x55100000)
	// Software crypto under TCG is slow: one generous deadline for the whole case (a hang
	// guard, not a speed assertion).
	tctx, cancelT := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancelT)
	for _, u := range []*ue.UE{ua, ub} {
		reg, err := u.Register(tctx)
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		if !reg.SecAgree || reg.Algorithms != algs {
			t.Fatalf("registration: sec-agree %v with %v, want %v", reg.SecAgree, reg.Algorithms, algs)
		}
	}
	exchange := func() {
		t.Helper()
		for _, c := range []struct {
			from, to *ue.UE
			target   string
		}{{ua, ub, bob.impu}, {ub, ua, alice.impu}} {
			text := "over ESP to " + c.target
			if _, err := c.from.Message(tctx, c.target, text); err != nil {
				t.Fatalf("MESSAGE: %v", err)
			}
			// Skipping what an earlier call left (its ACK may come after its BYE).
			if got := nextRequest(t, tctx, c.to, sip.MESSAGE); string(got.Body()) != text {
				t.Fatalf("got %q", got.Body())
			}
		}
	}
	exchange()
	largeRequests(t, tctx, core, []largeLeg{{ua, ub, bob.impu}, {ub, ua, alice.impu}})

	// Counters on the P-CSCF side: over UDP and TCP alike all four SAs carried traffic (REGISTER
	// and MESSAGE from the UE on 1, their answers on 2, MESSAGE to the UE on 3 — over TCP the
	// connection we open from our port-c to its port-s — its answer on 4), see ueTarget.
	reg, ok := n.Registration(alice.impu)
	if !ok || len(reg.SAs) != 1 {
		t.Fatalf("P-CSCF registration: %+v", reg)
	}
	pair := reg.SAs[0].Pair
	counters, err := pcMgr.Counters(pair)
	if err != nil {
		t.Fatalf("counters: %v", err)
	}
	for _, f := range pair.Flows() {
		st := counters[f.SPI]
		if st.Bytes == 0 {
			t.Errorf("SA %v (spi %#x) carried no bytes", f.ID, f.SPI)
		}
		if st.IntegrityFailed != 0 {
			t.Errorf("SA %v: %d integrity failures", f.ID, st.IntegrityFailed)
		}
	}

	// A plaintext request to the protected server port, from a port with no SA: refused.
	before := len(core.requests(sip.MESSAGE))
	var raw *rawUA
	if err := link.UE.Do(func() error {
		raw = newRawUA(t, netip.AddrPortFrom(pcAddr, pair.PCSCF.PortS), netip.AddrPortFrom(ueA, 0).String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res := raw.do("MESSAGE " + bob.impu + " SIP/2.0\nVia: SIP/2.0/UDP " + hostPort(netip.AddrPortFrom(ueA, 1)) +
		";branch=z9hG4bKplain;rport\nMax-Forwards: 70\nFrom: <" + alice.impu + ">;tag=1\nTo: <" + bob.impu +
		">\nCall-ID: plain\nCSeq: 1 MESSAGE\nContent-Length: 0\n\n")
	if !strings.HasPrefix(res, "SIP/2.0 403 ") {
		t.Errorf("plaintext request to port-s answered:\n%s", res)
	}
	if got := len(core.requests(sip.MESSAGE)); got != before {
		t.Errorf("plaintext request reached the core")
	}

	if restart {
		cur.stop()
		if err := <-cur.done; err != nil {
			t.Fatalf("pcscf stop: %v", err)
		}
		if sas, _ := pcMgr.List(); len(sas) != 0 {
			t.Fatalf("%d SAs left after stop", len(sas))
		}
		cur.done <- nil // Cleanup reads it once more
		start()
		if sas, _ := pcMgr.List(); len(sas) != 8 {
			t.Fatalf("SAs after restart = %d, want 8 (two UEs)", len(sas))
		}
		if transport == "udp" {
			// Over TCP the UE's protected connection died with the old process; a UE
			// registers again then (its FIN's answer met no SA while the P-CSCF was down).
			exchange()
			// The restored SAs continue their outbound sequence numbers: nothing the P-CSCF sent after the
			// restart fell into a UE's anti-replay window (RFC 4303 §3.4.3), and our outbound SAs are past
			// the numbers used before it.
			for _, impu := range []string{alice.impu, bob.impu} {
				reg, ok := n.Registration(impu)
				if !ok || len(reg.SAs) != 1 {
					t.Fatalf("%s after restart: %+v", impu, reg)
				}
				pair := reg.SAs[0].Pair
				ueStats, err := ueMgrs[impu].Counters(pair)
				if err != nil {
					t.Fatalf("UE counters: %v", err)
				}
				pcStats, err := pcMgr.Counters(pair)
				if err != nil {
					t.Fatalf("P-CSCF counters: %v", err)
				}
				for _, f := range pair.Flows() {
					if r := ueStats[f.SPI].ReplayFailed; r != 0 {
						t.Errorf("%s: UE SA %v dropped %d packets as replays after the P-CSCF restarted", impu, f.ID, r)
					}
					if f.Outbound(ipsec.SidePCSCF) {
						if s := pcStats[f.SPI].OutboundSeq; s <= restoreSeqMargin {
							t.Errorf("%s: P-CSCF SA %v outbound sequence %d, want past the restore margin %d", impu, f.ID, s, restoreSeqMargin)
						}
					}
				}
			}
		}
	}

	for _, u := range []*ue.UE{ua, ub} {
		if err := u.Deregister(tctx); err != nil {
			t.Fatalf("de-register: %v", err)
		}
	}
	deadline := time.Now().Add(waitLong)
	for {
		sas, err := pcMgr.List()
		pols, perr := link.PCSCF.Netlink.XfrmPolicyList(netlink.FAMILY_ALL)
		if err == nil && perr == nil && len(sas) == 0 && len(pols) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after de-registration: %d SAs, %d policies left (%v %v)", len(sas), len(pols), err, perr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, ns := range []*ipsectest.NS{link.UE, ue2.ns} {
		if pols, _ := ns.Netlink.XfrmPolicyList(netlink.FAMILY_ALL); len(pols) != 0 {
			t.Errorf("UE namespace %s: %d policies left", ns.Name, len(pols))
		}
	}
	_ = fmt.Sprint
}

type ueNS struct {
	ns   *ipsectest.NS
	addr netip.Addr
}

// addUENamespace makes namespace "ue2" joined to the P-CSCF's by a veth pair
// (10.99.1.1/24 – 10.99.1.2/24, fd00:98::1/64 – fd00:98::2/64) with a route to the P-CSCF's
// address pc through the P-CSCF's end.
func addUENamespace(t *testing.T, pcscf *ipsectest.NS, v6 bool, pc netip.Addr) ueNS {
	t.Helper()
	ns := ipsectest.NewNS(t, "ue2")
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth-ue2"}, PeerName: "veth-pc2", PeerNamespace: netlink.NsFd(int(pcscf.Handle))}
	if err := ns.Netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth ue2: %v", err)
	}
	ends := []struct {
		ns     *ipsectest.NS
		ifname string
		a4, a6 string
	}{{ns, "veth-ue2", "10.99.1.1", "fd00:98::1"}, {pcscf, "veth-pc2", "10.99.1.2", "fd00:98::2"}}
	for _, e := range ends {
		l, err := e.ns.Netlink.LinkByName(e.ifname)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []struct {
			ip   string
			bits int
		}{{e.a4, 24}, {e.a6, 64}} {
			ip := netip.MustParseAddr(a.ip)
			if err := e.ns.Netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(a.bits, ip.BitLen())}, Flags: unix.IFA_F_NODAD}); err != nil {
				t.Fatalf("%s: %v", a.ip, err)
			}
		}
		if err := e.ns.Netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := ns.Netlink.LinkByName("veth-ue2")
	gw, bits, addr := netip.MustParseAddr("10.99.1.2"), 32, netip.MustParseAddr("10.99.1.1")
	if v6 {
		gw, bits, addr = netip.MustParseAddr("fd00:98::2"), 128, netip.MustParseAddr("fd00:98::1")
	}
	route := &netlink.Route{LinkIndex: l.Attrs().Index, Dst: &net.IPNet{IP: pc.AsSlice(), Mask: net.CIDRMask(bits, pc.BitLen())}, Gw: gw.AsSlice()}
	if err := ns.Netlink.RouteAdd(route); err != nil {
		t.Fatalf("route to %v: %v", pc, err)
	}
	return ueNS{ns: ns, addr: addr}
}

// pcscfManager is an SA manager in the P-CSCF namespace of link; the test skips (fails under CI) when that
// kernel has no ESP.
func pcscfManager(t *testing.T, link *ipsectest.Link) *ipsec.Manager {
	t.Helper()
	m, err := ipsec.NewManager(link.PCSCF.Handle, ipsec.Config{}, testLogger(t))
	if err != nil {
		t.Fatalf("manager: %v", err)
	}
	t.Cleanup(m.Close)
	sup, err := m.Probe()
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	ipsectest.RequireESP(t, sup.ESP, sup.Reason)
	return m
}

// largeLeg is one direction of largeRequests: from calls and messages to's target.
type largeLeg struct {
	from, to *ue.UE
	target   string
}

// largeRequests sends requests over 1300 bytes both ways over the SAs (issue 11): a 2 kB MESSAGE from the UE
// (over UDP a fragmented ESP datagram to our port-s) and a 2 kB INVITE to it (the core pads it; the UE simulator's
// own INVITE has no room for more). Towards the UE both leave over TCP, from our protected client port to its
// protected server port, whatever transport it registered with (RFC 3261 §18.1.1, TS 24.229 §5.2.2); the call is
// answered, acknowledged and hung up over the same SAs.
func largeRequests(t *testing.T, ctx context.Context, core *fakeCore, legs []largeLeg) {
	t.Helper()
	const size = 2048
	core.mu.Lock()
	core.pad = size
	core.mu.Unlock()
	defer func() {
		core.mu.Lock()
		core.pad = 0
		core.mu.Unlock()
	}()
	next := func(u *ue.UE, method sip.RequestMethod) *sip.Request {
		t.Helper()
		return nextRequest(t, ctx, u, method)
	}
	overTCP := func(r *sip.Request) {
		t.Helper()
		if len(r.String()) <= size {
			t.Errorf("%s at the UE is %d bytes, want over %d", r.Method, len(r.String()), size)
		}
		if via := r.Via(); via == nil || !strings.EqualFold(via.Transport, "TCP") {
			t.Errorf("%s of %d bytes reached the UE with Via %v, want TCP", r.Method, len(r.String()), via)
		}
	}
	for _, l := range legs {
		text := strings.Repeat("m", size)
		if _, err := l.from.Message(ctx, l.target, text); err != nil {
			t.Fatalf("2 kB MESSAGE to %s: %v", l.target, err)
		}
		got := next(l.to, sip.MESSAGE)
		if string(got.Body()) != text {
			t.Fatalf("2 kB MESSAGE to %s: got %d bytes of body", l.target, len(got.Body()))
		}
		overTCP(got)
		call, err := l.from.Invite(ctx, l.target)
		if err != nil {
			t.Fatalf("2 kB INVITE to %s: %v", l.target, err)
		}
		overTCP(next(l.to, sip.INVITE))
		if err := call.Hangup(ctx); err != nil {
			t.Fatalf("BYE to %s: %v", l.target, err)
		}
		next(l.to, sip.BYE)
	}
	core.mu.Lock()
	core.pad = 0
	core.mu.Unlock()
	largeInvitesFromUE(t, ctx, legs, size)
}

// largeInvitesFromUE places a call from each leg's UE with an INVITE it pads to over size bytes with a header field
// of its own: the INVITE reaches the callee whole, over TCP from the P-CSCF's protected client port (TS 24.229
// §5.2.2). RFC 3261 §18.1.1 has the UE send it over TCP too, through its protected client port to our protected
// server port, whatever transport it registered with (TS 33.203 §7.1: the SAs cover UDP and TCP alike); the
// caller's own Via, the last one, says which. The call is hung up over the same SAs.
func largeInvitesFromUE(t *testing.T, ctx context.Context, legs []largeLeg, size int) {
	t.Helper()
	for _, l := range legs {
		pad := strings.Repeat("u", size)
		call, err := l.from.InviteWith(ctx, l.target, ue.InviteOptions{Headers: []sip.Header{sip.NewHeader("X-UE-Pad", pad)}})
		if err != nil {
			t.Fatalf("2 kB INVITE from the UE to %s: %v", l.target, err)
		}
		got := nextOfCall(t, ctx, l.to, sip.INVITE, call.CallID())
		if h := got.GetHeader("X-UE-Pad"); h == nil || h.Value() != pad {
			t.Errorf("2 kB INVITE from the UE to %s arrived without its %d-byte X-UE-Pad", l.target, size)
		}
		if via := got.Via(); via == nil || !strings.EqualFold(via.Transport, "TCP") {
			t.Errorf("INVITE of %d bytes from the UE reached %s with Via %v, want TCP", len(got.String()), l.target, via)
		}
		vias := got.GetHeaders("Via")
		t.Run("the UE sends it over TCP", func(t *testing.T) {
			if last := lastVia(vias); !strings.EqualFold(last, "TCP") {
				t.Errorf("the UE sent a %d-byte INVITE over %s, want TCP (RFC 3261 §18.1.1); Via %v", len(got.String()), last, vias)
			}
		})
		if err := call.Hangup(ctx); err != nil {
			t.Fatalf("BYE to %s: %v", l.target, err)
		}
		nextOfCall(t, ctx, l.to, sip.BYE, call.CallID())
	}
}

// nextOfCall is nextRequest of the dialog callID: what earlier calls left at the UE is skipped.
func nextOfCall(t *testing.T, ctx context.Context, u *ue.UE, method sip.RequestMethod, callID string) *sip.Request {
	t.Helper()
	for {
		if r := nextRequest(t, ctx, u, method); r.CallID() != nil && r.CallID().Value() == callID {
			return r
		}
	}
}

// lastVia is the transport of the last Via (the UA's own, RFC 3261 §8.1.1.7) of a request's Via header fields.
func lastVia(vias []sip.Header) string {
	if len(vias) == 0 {
		return ""
	}
	if v, ok := vias[len(vias)-1].(*sip.ViaHeader); ok {
		return v.Transport
	}
	return vias[len(vias)-1].Value()
}

// nextRequest returns the next request of method the UE received, skipping others; it fails the test when ctx ends.
func nextRequest(t *testing.T, ctx context.Context, u *ue.UE, method sip.RequestMethod) *sip.Request {
	t.Helper()
	for {
		select {
		case r := <-u.Incoming():
			if r.Method == method {
				return r
			}
		case <-ctx.Done():
			t.Fatalf("no %s", method)
			return nil
		}
	}
}
