package pcscf

// The P-CSCF as the edge of the trust domain (TS 24.229 §5.2.6, §5.2.7, RFC 3325 §4–§5, TS 33.203 §7).
//
// Every request other than REGISTER comes from one of two sides. The core side is a source inside the
// configured trusted networks that is not a registered UE (neither one of its SA flows nor the address and
// port it registered from): the S-CSCF, the I-CSCF, application servers. Everything else is the access side.
// The access side is served only from a registered UE; what it sends loses the header fields only the trust
// domain may send (trust.Strip, the UE's P-Access-Network-Info kept); its initial requests follow the stored
// Service-Route and its requests within a dialog only the route set of a dialog this P-CSCF record-routed for
// it. Only the core side may use our Path address and a registered contact, and send reg event NOTIFYs.

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
)

// fromCore reports whether a request from src is from the core side: inside the trust domain and not from a
// registered UE (its SA flows or its registered source), which is classified first: a UE on an address of the
// trusted networks (loopback in the default configuration) is still a UE.
func (n *Node) fromCore(src proxy.Source, now time.Time) bool {
	return !n.regs.isUEFlow(src.Remote, now) && n.trusted.Contains(src.Remote.Addr())
}

// accessStrip are the header fields removed from whatever the access side sends: every trust-domain field
// but P-Access-Network-Info, which the P-CSCF passes on from its UE (TS 24.229 §5.2.6.3.1, RFC 7315 §4.4).
func accessStrip() []string { return trust.Names(header.PAccessNetworkInfo) }

// logAccessFields logs the trust-domain header fields a request from the access side carried: they are
// removed from the copy the P-CSCF forwards (RFC 3325 §5: an identity asserted by a UE is never believed).
func (n *Node) logAccessFields(req *sip.Request, src proxy.Source) {
	var present []string
	for _, h := range accessStrip() {
		if header.Has(req, h) {
			present = append(present, h)
		}
	}
	if len(present) > 0 {
		n.log.Info("trust-domain header fields from the access side removed", logging.CallID(callID(req)),
			logging.Peer(src.Remote.String()), zap.Strings("fields", present))
	}
}

// stripAccessResponse removes the trust-domain fields from a response a UE sent (TS 24.229 §5.2.7, RFC 3325 §5).
func (n *Node) stripAccessResponse(res *sip.Response) {
	if removed := trust.Strip(res, header.PAccessNetworkInfo); len(removed) > 0 {
		n.log.Info("trust-domain header fields in a UE's response removed", logging.CallID(callID(res)),
			zap.Int("code", res.StatusCode), zap.Strings("fields", removed))
	}
}

// maxDialogsPerUE bounds the dialogs recorded for one registration; the oldest goes first.
const maxDialogsPerUE = 256

// dialogKey names a dialog as the UE's requests in it carry it: Call-ID, the UE's tag (their From tag) and the
// peer's (their To tag).
type dialogKey struct {
	callID, ueTag, peerTag string
}

// dialogRec is what the P-CSCF keeps of a dialog it record-routed for a UE (TS 24.229 §5.2.6.3.4, §5.2.7.2:
// the Record-Route of the dialog): the route the UE's requests in it must carry beyond this P-CSCF.
type dialogRec struct {
	binding bindingKey // the UE's binding
	route   []sip.Uri
	created time.Time
}

// dialogs are the dialog records, by key and by binding. The zero value is ready.
type dialogs struct {
	mu        sync.Mutex
	m         map[dialogKey]dialogRec
	byBinding map[bindingKey]map[dialogKey]struct{}
}

func (d *dialogs) add(k dialogKey, rec dialogRec) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m, d.byBinding = make(map[dialogKey]dialogRec), make(map[bindingKey]map[dialogKey]struct{})
	}
	set := d.byBinding[rec.binding]
	if set == nil {
		set = make(map[dialogKey]struct{})
		d.byBinding[rec.binding] = set
	}
	if _, ok := set[k]; !ok && len(set) >= maxDialogsPerUE {
		var oldest dialogKey
		first := true
		for o := range set {
			if first || d.m[o].created.Before(d.m[oldest].created) {
				oldest, first = o, false
			}
		}
		delete(set, oldest)
		delete(d.m, oldest)
	}
	set[k] = struct{}{}
	d.m[k] = rec
}

func (d *dialogs) get(k dialogKey) (dialogRec, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, ok := d.m[k]
	return rec, ok
}

func (d *dialogs) remove(k dialogKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, ok := d.m[k]
	if !ok {
		return
	}
	delete(d.m, k)
	if set := d.byBinding[rec.binding]; set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(d.byBinding, rec.binding)
		}
	}
}

// dropBinding forgets the dialogs of a binding that ended (the UE's other devices keep theirs).
func (d *dialogs) dropBinding(k bindingKey) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for dk := range d.byBinding[k] {
		delete(d.m, dk)
	}
	delete(d.byBinding, k)
}

func (d *dialogs) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m)
}

// createsDialog: the methods whose 1xx (with a To tag) and 2xx create a dialog (RFC 3261 §12.1, RFC 6665
// §4.1.2.4, RFC 3515 §2.4.4).
func createsDialog(m sip.RequestMethod) bool {
	return m == sip.INVITE || m == sip.SUBSCRIBE || m == sip.REFER
}

// dialogResponse records or ends the dialog a response to a dialog-creating request concerns, and ends one on
// the 2xx to a BYE. key is the dialog as the UE's requests will name it; route the route set beyond us.
func (n *Node) dialogResponse(method sip.RequestMethod, res *sip.Response, key dialogKey, binding bindingKey, route []sip.Uri) {
	switch {
	case key.ueTag == "" || key.peerTag == "":
	case method == sip.BYE && res.StatusCode >= 200 && res.StatusCode < 300:
		n.dialogs.remove(key)
	case !createsDialog(method):
	case res.StatusCode > 100 && res.StatusCode < 300:
		n.dialogs.add(key, dialogRec{binding: binding, route: route, created: time.Now()})
	case res.StatusCode >= 300:
		n.dialogs.remove(key) // an early dialog that ends with the transaction (RFC 3261 §12.3)
	}
}

func fromTag(m sip.Message) string {
	if f := m.From(); f != nil {
		t, _ := f.Params.Get("tag")
		return t
	}
	return ""
}

func toTag(m sip.Message) string {
	if t := m.To(); t != nil {
		v, _ := t.Params.Get("tag")
		return v
	}
	return ""
}

// routeSet parses every value of a Route or Record-Route header, in message order.
func routeSet(m sip.Message, name string) ([]sip.Uri, error) {
	nas, err := header.NameAddrs(m, name)
	if err != nil {
		return nil, err
	}
	out := make([]sip.Uri, 0, len(nas))
	for _, na := range nas {
		u, err := na.ParsedURI()
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// ownURI reports whether u names one of our listeners (the proxy's RFC 3261 §16.4 test, for our Record-Route).
func (n *Node) ownURI(u sip.Uri) bool {
	a, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return n.own[netip.AddrPortFrom(a.Unmap(), uint16(port))]
}

// dropOwn removes the leading entries naming us: what the proxy consumes of a route set before routing.
func (n *Node) dropOwn(route []sip.Uri) []sip.Uri {
	for len(route) > 0 && n.ownURI(route[0]) {
		route = route[1:]
	}
	return route
}

// sameRoute compares two route sets entry by entry (RFC 3261 §19.1.4 URI comparison, reduced to what a
// Record-Route carries: scheme, user, host, port, parameters in any order).
func sameRoute(a, b []sip.Uri) bool {
	return slices.EqualFunc(a, b, func(x, y sip.Uri) bool {
		return strings.EqualFold(uriScheme(x), uriScheme(y)) && x.User == y.User &&
			strings.EqualFold(strings.Trim(x.Host, "[]"), strings.Trim(y.Host, "[]")) &&
			portOr(x.Port) == portOr(y.Port) && slices.Equal(paramList(x.UriParams), paramList(y.UriParams))
	})
}

func uriScheme(u sip.Uri) string {
	if u.Scheme == "" {
		return "sip"
	}
	return u.Scheme
}

func portOr(p int) int {
	if p == 0 {
		return 5060
	}
	return p
}

func paramList(p sip.HeaderParams) []string {
	var out []string
	for _, kv := range p {
		out = append(out, strings.ToLower(kv.K)+"="+strings.ToLower(kv.V))
	}
	slices.Sort(out)
	return out
}
