// Package ipsectest builds the throwaway network namespaces that the IPsec tests of sip/ipsec
// and of the P-CSCF run in: never the host's own namespace, so a test can neither break the
// machine's networking nor send traffic anywhere but between its own namespaces.
package ipsectest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EnvRequireESP, set to "1", makes tests that need kernel ESP fail instead of skip. The VM
// harness (internal/vmtest) sets it, so that a run there cannot silently skip them.
const EnvRequireESP = "IMSCORE_REQUIRE_ESP"

// RequireRoot skips the test unless it runs as root (namespaces and XFRM need CAP_SYS_ADMIN
// and CAP_NET_ADMIN); with CI=true it fails instead, as CI runs everything.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root for network namespaces and XFRM (CI=true, so not skipping)")
	}
	t.Skip("needs root for network namespaces and XFRM")
}

// RequireESP skips the test when the kernel lacks ESP (reason says why), unless EnvRequireESP
// is "1", in which case it fails.
func RequireESP(t testing.TB, supported bool, reason string) {
	t.Helper()
	if supported {
		return
	}
	if os.Getenv(EnvRequireESP) == "1" {
		t.Fatalf("kernel ESP is required here (%s=1) but missing: %s", EnvRequireESP, reason)
	}
	t.Skipf("kernel has no ESP (%s); run it in the VM: make test-ipsec", reason)
}

// NS is an anonymous network namespace that lives until the test ends.
type NS struct {
	Name    string
	Handle  netns.NsHandle
	Netlink *netlink.Handle // ROUTE and XFRM families only
}

// NewNS creates a network namespace with its loopback up. The calling thread is moved into the
// new namespace only for the instant of its creation and moved back at once.
func NewNS(t testing.TB, name string) *NS {
	t.Helper()
	ns, err := newNS()
	if errors.Is(err, unix.EPERM) && os.Getenv("CI") != "true" {
		t.Skipf("netns %s: %v (root without CAP_SYS_ADMIN, e.g. in a container)", name, err)
	}
	if err != nil {
		t.Fatalf("netns %s: %v", name, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		ns.Close()
		t.Fatalf("netns %s: netlink handle: %v", name, err)
	}
	n := &NS{Name: name, Handle: ns, Netlink: h}
	t.Cleanup(func() {
		h.Close()
		ns.Close()
	})
	lo, err := h.LinkByName("lo")
	if err != nil {
		t.Fatalf("netns %s: lo: %v", name, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatalf("netns %s: lo up: %v", name, err)
	}
	return n
}

// newNS creates the namespace on a goroutine of its own, so that a thread that cannot be moved
// back to the original namespace is discarded with it instead of being reused.
func newNS() (netns.NsHandle, error) {
	type result struct {
		ns  netns.NsHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{netns.None(), err}
			return
		}
		defer orig.Close()
		ns, err := netns.New()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{netns.None(), fmt.Errorf("unshare: %w", err)}
			return
		}
		if err := netns.Set(orig); err != nil {
			ns.Close()
			done <- result{netns.None(), fmt.Errorf("back to the original namespace: %w", err)} // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		done <- result{ns, nil}
	}()
	r := <-done
	return r.ns, r.err
}

// Do runs fn on an OS thread inside the namespace. Sockets that fn creates belong to the
// namespace for good, and may be used from any goroutine afterwards.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	// A fresh goroutine, so that a thread that cannot be moved back dies with it.
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(n.Handle); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave netns %s: %w", n.Name, err) // thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Link is two namespaces, "ue" and "pcscf", joined by a veth pair with an IPv4 and an IPv6
// address on each end.
type Link struct {
	UE, PCSCF             *NS
	UE4, PCSCF4           netip.Addr
	UE6, PCSCF6           netip.Addr
	UEIfindex             int
	PCSCFIfindex          int // of the P-CSCF's veth end, for a packet sniffer
	UEIfname, PCSCFIfname string
}

// NewLink creates the two namespaces and the veth pair. The IPv6 addresses are added with
// IFA_F_NODAD so that they are usable at once, without waiting for duplicate address detection.
func NewLink(t testing.TB) *Link {
	t.Helper()
	l := &Link{
		UE:          NewNS(t, "ue"),
		PCSCF:       NewNS(t, "pcscf"),
		UE4:         netip.MustParseAddr("10.99.0.1"),
		PCSCF4:      netip.MustParseAddr("10.99.0.2"),
		UE6:         netip.MustParseAddr("fd00:99::1"),
		PCSCF6:      netip.MustParseAddr("fd00:99::2"),
		UEIfname:    "veth-ue",
		PCSCFIfname: "veth-pcscf",
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: l.UEIfname},
		PeerName:      l.PCSCFIfname,
		PeerNamespace: netlink.NsFd(int(l.PCSCF.Handle)),
	}
	if err := l.UE.Netlink.LinkAdd(veth); err != nil {
		t.Fatalf("veth: %v", err)
	}
	l.UEIfindex = setupEnd(t, l.UE, l.UEIfname, l.UE4, l.UE6)
	l.PCSCFIfindex = setupEnd(t, l.PCSCF, l.PCSCFIfname, l.PCSCF4, l.PCSCF6)
	// Static neighbour entries: no ARP or neighbour discovery on the wire, so the first packet
	// of a test leaves at once (IPv6 neighbour discovery right after link-up cost 2 s), and a
	// capture holds only the test's own traffic.
	ueMAC := linkMAC(t, l.UE, l.UEIfname)
	pcMAC := linkMAC(t, l.PCSCF, l.PCSCFIfname)
	for _, n := range []struct {
		ns      *NS
		ifindex int
		peers   []netip.Addr
		mac     net.HardwareAddr
	}{{l.UE, l.UEIfindex, []netip.Addr{l.PCSCF4, l.PCSCF6}, pcMAC}, {l.PCSCF, l.PCSCFIfindex, []netip.Addr{l.UE4, l.UE6}, ueMAC}} {
		for _, peer := range n.peers {
			neigh := &netlink.Neigh{
				LinkIndex:    n.ifindex,
				Family:       family(peer),
				State:        netlink.NUD_PERMANENT,
				IP:           net.IP(peer.AsSlice()),
				HardwareAddr: n.mac,
			}
			if err := n.ns.Netlink.NeighAdd(neigh); err != nil {
				t.Fatalf("%s: neighbour %v: %v", n.ns.Name, peer, err)
			}
		}
	}
	return l
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func linkMAC(t testing.TB, n *NS, ifname string) net.HardwareAddr {
	t.Helper()
	link, err := n.Netlink.LinkByName(ifname)
	if err != nil {
		t.Fatalf("%s: %s: %v", n.Name, ifname, err)
	}
	return link.Attrs().HardwareAddr
}

func setupEnd(t testing.TB, n *NS, ifname string, a4, a6 netip.Addr) int {
	t.Helper()
	link, err := n.Netlink.LinkByName(ifname)
	if err != nil {
		t.Fatalf("%s: %s: %v", n.Name, ifname, err)
	}
	for _, a := range []struct {
		addr  netip.Addr
		bits  int
		flags int
	}{{a4, 24, 0}, {a6, 64, unix.IFA_F_NODAD}} {
		addr := &netlink.Addr{
			IPNet: &net.IPNet{IP: net.IP(a.addr.AsSlice()), Mask: net.CIDRMask(a.bits, a.addr.BitLen())},
			Flags: a.flags,
		}
		if err := n.Netlink.AddrAdd(link, addr); err != nil {
			t.Fatalf("%s: address %v on %s: %v", n.Name, a.addr, ifname, err)
		}
	}
	if err := n.Netlink.LinkSetUp(link); err != nil {
		t.Fatalf("%s: %s up: %v", n.Name, ifname, err)
	}
	return link.Attrs().Index
}
