package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/imscore/imscore/sip/ipsec/ipsectest"
)

// The topology of TestThreeNetworks (docs/interconnect.md, "Three networks"): an IPX namespace holding a
// bridge and the DNS server every operator's nodes ask (an IPX provider's DNS, GSMA IR.67), and one namespace
// per network joined to the bridge by a veth pair. Each network has
//   - its border, the only addresses the IPX routes: 10.16.0.<n>/24 on its veth end ("ipx0"), where its
//     I-CSCFs (and, for the networks that host visitors, the P-CSCF) listen;
//   - its core, 172.16.<n>.0/24 on its loopback: S-CSCF, home P-CSCF, PSTN gateway. No other namespace has a
//     route to it, so a node that sends across the border from a core address gets no answer;
//   - its access network, 192.168.<n>.0/24 on its loopback, where its UEs (SIPp) are.
//
// All traffic stays in namespaces the test created.

// ipxDNS is the DNS server's address on the IPX bridge.
var ipxDNS = netip.MustParseAddr("10.16.0.53")

// ipxNetwork is the IPX's subnet: the networks' border addresses.
const ipxNetwork = "10.16.0.0/24"

// labNet is one network's namespace and addresses.
type labNet struct {
	Name   string // "home", "visited", "third"
	Domain string // home.test ...
	N      int    // 1, 2, 3: the last octet of the border, the third of core and access
	NS     *ipsectest.NS
	// VethIPX is the name of the network's veth end in the IPX namespace (where its border link is captured).
	VethIPX string
}

// Border is the network's n-th border address: 10.16.0.<N> for i 0, 10.16.0.<N+100> for i 1 (a second I-CSCF).
func (l *labNet) Border(i int) string { return fmt.Sprintf("10.16.0.%d", l.N+100*i) }

// Core is the core address 172.16.<N>.<host>.
func (l *labNet) Core(host int) string { return fmt.Sprintf("172.16.%d.%d", l.N, host) }

// CorePrefix is the core network's prefix as text ("172.16.1."), for searching captures.
func (l *labNet) CorePrefix() string { return fmt.Sprintf("172.16.%d.", l.N) }

// Access is the access-network address 192.168.<N>.<host> of a UE.
func (l *labNet) Access(host int) string { return fmt.Sprintf("192.168.%d.%d", l.N, host) }

// newIPX creates the IPX namespace with its bridge and DNS address.
func newIPX(t *testing.T) *ipsectest.NS {
	t.Helper()
	ipx := ipsectest.NewNS(t, "ipx")
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "ipx"}}
	if err := ipx.Netlink.LinkAdd(br); err != nil {
		t.Fatalf("ipx bridge: %v", err)
	}
	addAddr(t, ipx, "ipx", ipxDNS.String()+"/24")
	if err := ipx.Netlink.LinkSetUp(br); err != nil {
		t.Fatalf("ipx bridge up: %v", err)
	}
	return ipx
}

// newLabNet creates a network's namespace, its veth pair to the IPX bridge and its addresses: borders
// border addresses (1 or 2), core hosts 1..cores, access hosts 10..10+ues-1.
func newLabNet(t *testing.T, ipx *ipsectest.NS, name, domain string, n, borders, cores, ues int) *labNet {
	t.Helper()
	l := &labNet{Name: name, Domain: domain, N: n, NS: ipsectest.NewNS(t, name), VethIPX: "to-" + name}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: l.VethIPX}, PeerName: "ipx0",
		PeerNamespace: netlink.NsFd(int(l.NS.Handle))}
	if err := ipx.Netlink.LinkAdd(veth); err != nil {
		t.Fatalf("%s: veth: %v", name, err)
	}
	br, err := ipx.Netlink.LinkByName("ipx")
	if err != nil {
		t.Fatal(err)
	}
	end, err := ipx.Netlink.LinkByName(l.VethIPX)
	if err != nil {
		t.Fatal(err)
	}
	if err := ipx.Netlink.LinkSetMaster(end, br); err != nil {
		t.Fatalf("%s: veth into the bridge: %v", name, err)
	}
	if err := ipx.Netlink.LinkSetUp(end); err != nil {
		t.Fatal(err)
	}
	for i := range borders {
		addAddr(t, l.NS, "ipx0", l.Border(i)+"/24")
	}
	for h := 1; h <= cores; h++ {
		addAddr(t, l.NS, "lo", l.Core(h)+"/32")
	}
	for h := 10; h < 10+ues; h++ {
		addAddr(t, l.NS, "lo", l.Access(h)+"/32")
	}
	inner, err := l.NS.Netlink.LinkByName("ipx0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.NS.Netlink.LinkSetUp(inner); err != nil {
		t.Fatal(err)
	}
	return l
}

func addAddr(t *testing.T, ns *ipsectest.NS, ifname, cidr string) {
	t.Helper()
	link, err := ns.Netlink.LinkByName(ifname)
	if err != nil {
		t.Fatalf("%s: %s: %v", ns.Name, ifname, err)
	}
	p := netip.MustParsePrefix(cidr)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := ns.Netlink.AddrAdd(link, a); err != nil {
		t.Fatalf("%s: address %s on %s: %v", ns.Name, cidr, ifname, err)
	}
}

// soa starts every zone the test writes.
const soa = "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 60\n@ IN NS ns\nns IN A 10.16.0.53\n"

// labInterconnect is how the networks reach each other: the NAPTR service and SRV name their zones publish
// (RFC 3263 §4.1) and the transports the nodes' resolvers pick. Switching the test to TLS between networks is a
// second value ("SIPS+D2T", "_sips._tcp", [tls]) plus a certificate per network (docs/interconnect.md, "TLS
// between networks"), once the nodes listen on TLS.
type labInterconnect struct {
	NAPTRService string // SIP+D2U
	SRVName      string // _sip._udp
	Transports   string // the resolvers' transports, YAML: [udp]
}

// labUDP is SIP over UDP between the networks.
var labUDP = labInterconnect{NAPTRService: "SIP+D2U", SRVName: "_sip._udp", Transports: "[udp]"}

// sipZone is a network's zone (RFC 3263): NAPTR → SRV → A, one SRV record per I-CSCF in the order given
// (priorities 10, 20, ...), each I-CSCF on port.
func sipZone(ic labInterconnect, domain string, port int, icscfs ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n%s", domain, soa)
	fmt.Fprintf(&b, "@ IN NAPTR 10 50 \"s\" %q \"\" %s\n", ic.NAPTRService, ic.SRVName)
	for i, a := range icscfs {
		fmt.Fprintf(&b, "%s IN SRV %d 0 %d icscf%d\nicscf%d IN A %s\n", ic.SRVName, 10*(i+1), port, i+1, i+1, a)
	}
	return b.String()
}

// enumName is the ENUM domain of an E.164 number under e164.arpa, relative to it (RFC 6116 §2.4):
// "+15550000073" → "3.7.0.0.0.0.0.5.5.5.1".
func enumName(number string) string {
	d := strings.TrimPrefix(number, "+")
	out := make([]string, 0, len(d))
	for i := len(d) - 1; i >= 0; i-- {
		out = append(out, d[i:i+1])
	}
	return strings.Join(out, ".")
}
