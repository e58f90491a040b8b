package pcscf

// Requests other than REGISTER, TS 24.229 §5.2.6 (originating: from the UE) and §5.2.7
// (terminating: to the UE). Which is which is decided by where the request came in: over a
// UE's SAs or from a registered UE without sec-agree (the access side), or from the core side
// (edge.go) through our Path ("term" user part), our Record-Route or to a registered contact.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// pathUser marks our Path URI, so that requests the S-CSCF routes along it are known as
// terminating whatever their source.
const pathUser = "term"

// Route is the P-CSCF's routing decision for every new request (proxy.Router).
func (n *Node) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	now := time.Now()
	if n.isProtectedServer(src.Local) {
		// TS 33.203 §7.1: the protected server port takes only what came over an SA set
		// (source address and port-c of the UE). In the kernel, policies already drop
		// plaintext on the SA's own port pair; this catches every other source.
		reg, sa, idx, ok := n.regs.bySA(src.Remote, src.Local.Port())
		if !ok {
			return n.reject(403, "Forbidden", fmt.Errorf("%s from %v on protected port %d: no security association", req.Method, src.Remote, src.Local.Port()))
		}
		if req.Method == sip.REGISTER {
			return n.registerProtected(ctx, req, src, reg, sa)
		}
		if !reg.Registered(now) || !sa.Confirmed {
			return n.reject(403, "Forbidden", fmt.Errorf("%s over an SA set of an unregistered UE: %w", req.Method, ErrNotRegistered))
		}
		if _, err := n.checkVerify(req, reg); err != nil {
			return proxy.Decision{}, err
		}
		if idx == 0 && len(reg.SAs) > 1 {
			n.dropOlderSets(keyOf(reg.IMPU, reg.Contact), sa)
		}
		if src.ConsumedRoute != nil && src.ConsumedRoute.User == pathUser {
			return n.reject(403, "Forbidden", fmt.Errorf("%s from UE %s to our Path address: %w", req.Method, reg.IMPU, ErrAccessSide))
		}
		return n.originating(req, src, reg)
	}
	if n.isProtectedPort(src.Local.Port()) {
		return n.reject(403, "Forbidden", fmt.Errorf("%s on protected client port %d", req.Method, src.Local.Port()))
	}
	if req.Method == sip.REGISTER {
		return n.registerUnprotected(ctx, req, src)
	}
	core := n.fromCore(src, now)
	if n.isRegNotify(req) {
		return n.regNotify(req, src, core)
	}
	if src.ConsumedRoute != nil && src.ConsumedRoute.User == pathUser {
		// TS 24.229 §5.2.7: our Path address is for the S-CSCF's terminating requests; from the access side
		// it would deliver to a UE with any identity, past the S-CSCF.
		if !core {
			return n.reject(403, "Forbidden", fmt.Errorf("%s from %v to our Path address: %w", req.Method, src.Remote, ErrAccessSide))
		}
		return n.terminating(req, now)
	}
	if hasToTag(req) {
		if core {
			// Within a dialog we record-routed (RFC 3261 §16.4 consumed our entry), or to a UE's contact.
			if _, ok := n.contactOf(req, now); ok || src.ConsumedRoute != nil {
				return n.towardsTarget(req, now)
			}
			return n.reject(403, "Forbidden", fmt.Errorf("%s in a dialog from %v: neither on our Record-Route nor to a registered contact", req.Method, src.Remote))
		}
		if reg, ok := n.regs.bySource(src.Remote, identityOf(req), now); ok {
			return n.originating(req, src, reg)
		}
		// TS 24.229 §5.2.6.3.5: a request in a dialog from the access side comes from a registered UE.
		return n.reject(403, "Forbidden", fmt.Errorf("%s in a dialog from %v: %w", req.Method, src.Remote, ErrNotRegistered))
	}
	if reg, ok := n.regs.bySource(src.Remote, identityOf(req), now); ok {
		return n.originating(req, src, reg)
	}
	if core {
		// A terminating request addressed to a registered contact (TS 24.229 §5.2.7.1).
		if _, ok := n.contactOf(req, now); ok {
			return n.terminating(req, now)
		}
		return n.reject(403, "Forbidden", fmt.Errorf("%s from %v (core side): not to our Path address nor to a registered contact", req.Method, src.Remote))
	}
	// TS 24.229 §5.2.6.3.1 (TS 33.203 §7.1): an initial request from the access side is served only from a
	// registered UE, over its SAs or from its registered address and port. Never forwarded otherwise: the
	// Route it names is not followed.
	return n.reject(403, "Forbidden", fmt.Errorf("%s from %v: %w", req.Method, src.Remote, ErrNotRegistered))
}

// originating handles a request from a registered UE (TS 24.229 §5.2.6.3).
func (n *Node) originating(req *sip.Request, src proxy.Source, reg Registration) (proxy.Decision, error) {
	n.logAccessFields(req, src)
	if hasToTag(req) {
		return n.ueInDialog(req, reg)
	}
	d := proxy.Decision{RecordRoute: true}
	// TS 24.229 §5.2.6.3.1: P-Asserted-Identity is the P-Preferred-Identity when it is one of the
	// UE's registered public identities, else the default public identity; whatever the UE put
	// in P-Asserted-Identity or P-Preferred-Identity goes (RFC 3325 §5: never trust the UE), with every
	// other field only the trust domain may send.
	d.RemoveHeaders = append(accessStrip(), header.PPreferredIdentity, header.Route)
	withoutSecAgree(req, &d)
	d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.PAssertedIdentity, "<"+assertedIdentity(req, reg)+">"),
		// TS 24.229 §5.2.6.3.1 (RFC 7315 §4.6): every initial request from the UE gets a P-Charging-Vector with an
		// icid we generate; whatever the UE wrote went with the trust-domain fields.
		n.chargingVector())
	// TS 24.229 §5.2.6.3.2 (RFC 3608): the route is the stored Service-Route, whatever the UE wrote.
	var routes []sip.Uri
	for _, sr := range reg.ServiceRoute {
		nas, err := header.ParseNameAddrs(header.ServiceRoute, sr)
		if err != nil || len(nas) == 0 {
			continue
		}
		u, err := nas[0].ParsedURI()
		if err != nil {
			continue
		}
		routes = append(routes, u)
	}
	if len(routes) == 0 {
		return n.reject(403, "Forbidden", errors.New("no Service-Route stored for this registration"))
	}
	// The Route lines the UE wrote go (RemoveHeaders runs after a Target's Route push, so the
	// stored route is added as headers, top first).
	for i := range routes {
		d.AddHeaders = append(d.AddHeaders, &sip.RouteHeader{Address: routes[i]})
	}
	if t, ok := n.serviceRouteTarget(routes[0]); ok { // homenet.go: the home network's I-CSCFs with failover
		d.Targets = []proxy.Target{t}
	}
	if createsDialog(req.Method) {
		// TS 24.229 §5.2.6.3.4: the Record-Route of the responses is the dialog's route set; the UE's later
		// requests must carry it (reversed, RFC 3261 §12.1.2), beyond our own entries.
		bk, method, cid, ueTag := keyOf(reg.IMPU, reg.Contact), req.Method, callID(req), fromTag(req)
		d.OnResponse = func(res *sip.Response, generated bool) {
			if generated {
				return
			}
			rr, err := routeSet(res, header.RecordRoute)
			if err != nil {
				return
			}
			slices.Reverse(rr)
			n.dialogResponse(method, res, dialogKey{cid, ueTag, toTag(res)}, bk, n.dropOwn(rr))
		}
	}
	if err := n.algRequest(req, reg, true, &d); err != nil { // imsalg.go: IMS-ALG, TS 23.334 §6.2.10
		return proxy.Decision{}, err
	}
	if err := n.qosRequest(req, reg, true, &d); err != nil { // qos.go: policy control, TS 29.214
		return proxy.Decision{}, err
	}
	return d, nil
}

// ueInDialog handles a request from a registered UE within a dialog (TS 24.229 §5.2.6.3.5 and the
// subsequent requests after it): only in a dialog this P-CSCF record-routed for that UE, and only along the
// dialog's route set; anything else is 403 and never forwarded.
func (n *Node) ueInDialog(req *sip.Request, reg Registration) (proxy.Decision, error) {
	key := dialogKey{callID(req), fromTag(req), toTag(req)}
	rec, ok := n.dialogs.get(key)
	if !ok || rec.binding != keyOf(reg.IMPU, reg.Contact) {
		return n.reject(403, "Forbidden", fmt.Errorf("%s from %s: %w", req.Method, reg.IMPU, ErrNoDialog))
	}
	route, err := routeSet(req, header.Route)
	if err != nil {
		return n.reject(400, "Bad Route", err)
	}
	if got := n.dropOwn(route); !sameRoute(got, rec.route) {
		return n.reject(403, "Forbidden", fmt.Errorf("%s from %s: Route %v is not the dialog's %v: %w", req.Method, reg.IMPU, got, rec.route, ErrNoDialog))
	}
	d := proxy.Forward()
	d.RemoveHeaders = append(accessStrip(), header.PPreferredIdentity)
	withoutSecAgree(req, &d)
	d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.PAssertedIdentity, "<"+assertedIdentity(req, reg)+">"))
	if req.Method == sip.BYE {
		d.OnResponse = func(res *sip.Response, generated bool) {
			if !generated {
				n.dialogResponse(sip.BYE, res, key, keyOf(reg.IMPU, reg.Contact), nil)
			}
		}
	}
	if err := n.algRequest(req, reg, true, &d); err != nil { // imsalg.go: IMS-ALG, TS 23.334 §6.2.10
		return proxy.Decision{}, err
	}
	if err := n.qosRequest(req, reg, true, &d); err != nil { // qos.go: policy control, TS 29.214
		return proxy.Decision{}, err
	}
	return d, nil
}

// assertedIdentity applies the P-Preferred-Identity rule of TS 24.229 §5.2.6.3.1: a P-Preferred-Identity
// (RFC 3325 §9.2: up to two, a SIP and a tel URI) that is one of the UE's registered public identities, as
// the S-CSCF listed them in P-Associated-URI (the implicit set, TS 24.229 §5.2.2.1), else the default public
// identity, the first of them. The identity written is the registered one, never the UE's spelling of it.
func assertedIdentity(req *sip.Request, reg Registration) string {
	// The registered IMPU itself may be barred (docs/design.md §2: sip:<IMSI>@domain), and barred
	// identities are not in P-Associated-URI (TS 24.229 §5.4.1.2.2): only the associated URIs
	// count once the S-CSCF has sent them.
	set := reg.Associated
	if len(set) == 0 {
		set = []string{reg.IMPU}
	}
	ppis, err := header.NameAddrs(req, header.PPreferredIdentity)
	if err != nil {
		return set[0]
	}
	for _, p := range ppis {
		want, err := identity.String(p.URI)
		if err != nil {
			continue
		}
		for _, id := range set {
			if k, err := identity.String(id); err == nil && k == want {
				return id
			}
		}
	}
	return set[0]
}

// terminating handles a request towards a UE (TS 24.229 §5.2.7): it leaves over the UE's SAs
// to its protected server port, or to the address a UE without sec-agree registered from.
func (n *Node) terminating(req *sip.Request, now time.Time) (proxy.Decision, error) {
	if len(req.GetHeaders("Route")) > 0 {
		return n.towardsTarget(req, now)
	}
	reg, ok := n.contactOf(req, now)
	if !ok {
		n.metrics.rejected.WithLabelValues("480").Inc()
		return proxy.Decision{}, &proxy.StatusError{Code: 480, Reason: "Temporarily Unavailable",
			Err: fmt.Errorf("%s for %s: %w", req.Method, req.Recipient.String(), ErrNotRegistered)}
	}
	t := n.ueTarget(reg)
	d := proxy.Decision{Targets: []proxy.Target{t}}
	// The UE's responses come from the access side: trust-domain fields go (RFC 3325 §5). A dialog it
	// accepts is recorded with the route set beyond us, the Record-Route the core sent (TS 24.229 §5.2.7.2),
	// which the UE's requests in it must carry; a UE cannot widen it by editing its response.
	received, _ := routeSet(req, header.RecordRoute)
	method, cid, peerTag := req.Method, callID(req), fromTag(req)
	d.OnResponse = func(res *sip.Response, generated bool) {
		if generated {
			return
		}
		n.stripAccessResponse(res)
		n.dialogResponse(method, res, dialogKey{cid, toTag(res), peerTag}, keyOf(reg.IMPU, reg.Contact), received)
	}
	if !hasToTag(req) {
		if reg.SecAgree() {
			// Our Record-Route towards the UE names our protected server port, so that the UE's
			// requests in the dialog come back over its SAs (TS 24.229 §5.2.7.2, TS 33.203 §7.1);
			// below it our core address for the other side. The proxy would name the sending
			// port (our client port), so the values are written here, above the ones received.
			sa := reg.SAs[0]
			ue := fmt.Sprintf("<sip:%s;lr%s>", hostPort(addrPort(sa.Pair.PCSCF.Addr, sa.Pair.PCSCF.PortS)), transportParam(reg.Transport))
			core := fmt.Sprintf("<sip:%s;lr>", hostPort(n.coreFor(sa.Pair.PCSCF.Addr)))
			d.RemoveHeaders = []string{header.RecordRoute}
			d.AddHeaders = []sip.Header{sip.NewHeader(header.RecordRoute, ue), sip.NewHeader(header.RecordRoute, core)}
			for _, v := range header.Values(req, header.RecordRoute) {
				d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.RecordRoute, v))
			}
		} else {
			d.RecordRoute = true
		}
	}
	if err := n.algRequest(req, reg, false, &d); err != nil { // imsalg.go: IMS-ALG, TS 23.334 §6.2.10
		return proxy.Decision{}, err
	}
	if err := n.qosRequest(req, reg, false, &d); err != nil { // qos.go: policy control, TS 29.214
		return proxy.Decision{}, err
	}
	return d, nil
}

// towardsTarget forwards a request from the core side by the remaining Route set, or straight to a UE when
// the Request-URI is its registered contact and no Route is left; the UE's responses lose the trust-domain
// fields.
func (n *Node) towardsTarget(req *sip.Request, now time.Time) (proxy.Decision, error) {
	if len(req.GetHeaders("Route")) == 0 {
		if reg, ok := n.contactOf(req, now); ok {
			d := proxy.Forward(n.ueTarget(reg))
			key := dialogKey{callID(req), toTag(req), fromTag(req)}
			method := req.Method
			d.OnResponse = func(res *sip.Response, generated bool) {
				if generated {
					return
				}
				n.stripAccessResponse(res)
				n.dialogResponse(method, res, key, keyOf(reg.IMPU, reg.Contact), nil)
			}
			if err := n.algRequest(req, reg, false, &d); err != nil { // imsalg.go
				return proxy.Decision{}, err
			}
			if err := n.qosRequest(req, reg, false, &d); err != nil { // qos.go
				return proxy.Decision{}, err
			}
			return d, nil
		}
	}
	return proxy.Forward(), nil
}

// ueTarget is where a request to reg's UE goes.
func (n *Node) ueTarget(reg Registration) proxy.Target {
	if reg.SecAgree() {
		sa := reg.SAs[0]
		for _, s := range reg.SAs {
			if s.Confirmed {
				sa = s
				break
			}
		}
		// TS 33.203 §7.1 (SA 3): from our protected client port to the UE's protected server
		// port. Over TCP this is the third connection, which we open: the UE's own connection
		// to our port-s carries what the UE sends. sip/proxy binds its TCP sockets with
		// SO_REUSEPORT so that our port-c can both listen and dial.
		return proxy.Target{NextHop: &proxy.NextHop{
			Transport: reg.Transport,
			Addr:      addrPort(sa.Pair.UE.Addr, sa.Pair.UE.PortS),
			Local:     addrPort(sa.Pair.PCSCF.Addr, sa.Pair.PCSCF.PortC),
		}}
	}
	return proxy.Target{NextHop: &proxy.NextHop{Transport: reg.Transport, Addr: reg.Source}}
}

func (n *Node) contactOf(req *sip.Request, now time.Time) (Registration, bool) {
	port := req.Recipient.Port
	if port == 0 {
		port = 5060
	}
	return n.regs.byContact(req.Recipient.Host, uint16(port), now)
}

// dropOlderSets removes the SA sets older than the one the UE now uses (TS 33.203 §7.4.1).
func (n *Node) dropOlderSets(bk bindingKey, current SASet) {
	var gone []SASet
	n.regs.update(bk, "", func(r *Registration) bool {
		var keep []SASet
		for _, s := range r.SAs {
			if s.Pair.PCSCF.SPIS == current.Pair.PCSCF.SPIS {
				keep = append(keep, s)
			} else {
				gone = append(gone, s)
			}
		}
		r.SAs = keep
		return true
	})
	n.removeSAs(gone)
	n.persist()
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	_, ok := to.Params.Get("tag")
	return ok
}

// identityOf is the identity a UE claims: P-Preferred-Identity, else From.
func identityOf(req *sip.Request) string {
	if ppis, err := header.NameAddrs(req, header.PPreferredIdentity); err == nil && len(ppis) > 0 {
		return ppis[0].URI
	}
	if f := req.From(); f != nil {
		return identity.URIKey(&f.Address)
	}
	return ""
}

func transportParam(t string) string {
	if strings.EqualFold(t, "TCP") {
		return ";transport=tcp"
	}
	return ""
}
