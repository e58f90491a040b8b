package resolve

import (
	"context"
	"fmt"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/proxy"
)

// Branch resolves u (RFC 3263 §4: NAPTR, SRV, A/AAAA as the URI asks) into one proxy branch to every address
// found, in order, with failover and failure reports (Into). The error wraps ErrTimeout when DNS did not
// answer (a caller answers 504) and ErrNotFound when u's host has no SIP server of a transport the proxy speaks
// (404). A TLS server's certificate is checked by the proxy against u's domain (Into, RFC 5922 §4).
func (r *Resolver) Branch(ctx context.Context, u sip.Uri) (proxy.Target, error) {
	q, err := QueryFromURI(u)
	if err != nil {
		return proxy.Target{}, err
	}
	targets, err := r.Resolve(ctx, q)
	if err != nil {
		return proxy.Target{}, err
	}
	var t proxy.Target
	if !r.Into(&t, targets) {
		return proxy.Target{}, fmt.Errorf("%s: no server of a transport the proxy speaks: %w", q.Host, ErrNotFound)
	}
	return t, nil
}
