package resolve

import (
	"net/netip"
	"time"

	"github.com/imscore/imscore/sip/proxy"
)

// Into fills the next hops of one proxy branch from Resolve's answer: the first target as NextHop, the others as
// Failover in order (RFC 3263 §4.3), and HopFailed reporting each failed hop to r (MarkFailedFor, with a 503's
// Retry-After). Targets of a transport the proxy does not speak are left out; false when none is left.
//
// A TLS target (Config.Transports lists tls: NAPTR "SIPS+D2T", _sips._tcp SRV, a sips URI) leaves
// NextHop.ServerName empty: the proxy then checks the server's certificate against the host of the URI it routes
// by, the domain that was resolved, never the SRV target or any other name DNS gave (RFC 5922 §4, §7.3).
func (r *Resolver) Into(t *proxy.Target, ts []Target) bool {
	hops := make([]proxy.NextHop, 0, len(ts))
	byHop := make(map[proxy.NextHop]Target, len(ts))
	for _, x := range ts {
		if x.Transport != UDP && x.Transport != TCP && x.Transport != TLS {
			continue
		}
		h := proxy.NextHop{Transport: string(x.Transport), Addr: x.Addr}
		if _, dup := byHop[h]; dup {
			continue
		}
		byHop[h] = x
		hops = append(hops, h)
	}
	if len(hops) == 0 {
		return false
	}
	t.NextHop, t.Failover = &hops[0], hops[1:]
	t.HopFailed = func(h proxy.NextHop, retryAfter time.Duration) {
		h.Local = netip.AddrPort{} // the hop as Into made it, whatever the proxy sent from
		if x, ok := byHop[h]; ok {
			r.MarkFailedFor(x, retryAfter)
		}
	}
	return true
}
