package pcscf

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/imscore/imscore/sip/proxy"
)

// pathFor is the Path entry (without lr) of a REGISTER sent to next (RFC 3327 §5.2, TS 24.229 §5.2.2.1). A
// REGISTER that reaches the home network over TLS (sip.tls, a sips or SIPS+D2T I-CSCF, icscf_transport tls) gets
// a Path naming our TLS listener with transport=tls, so that the home network's terminating requests come back
// over TLS too (RFC 5630 §3.1.3: the parameter keeps one hop on TLS without making the request sips); else the
// Path of pathURI.
func (n *Node) pathFor(next proxy.NextHop) string {
	core := n.coreFor(next.Addr.Addr())
	if !strings.EqualFold(next.Transport, "TLS") {
		return n.pathURI(core)
	}
	is4 := next.Addr.Addr().Unmap().Is4()
	for _, l := range n.proxy.Listeners() {
		if l.Transport != "TLS" || l.Addr.Addr().Unmap().Is4() != is4 {
			continue
		}
		host := l.Advertise
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && a.Is6() && !a.Is4In6() {
			host = "[" + a.String() + "]"
		}
		return "sip:" + pathUser + "@" + host + ":" + strconv.Itoa(int(l.Addr.Port())) + ";transport=tls"
	}
	return n.pathURI(core) // dialled over TLS but no TLS listener: the home network comes back the plain way
}
