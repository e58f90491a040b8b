package icscf

// Topology hiding at the border (TS 24.229 §5.10.4, the IBCF's THIG function, TS 29.165 §5.2.1), by the
// I-CSCF of the home network when Config.THIG configures it: a request or response that crosses into one of
// the configured other networks carries no Via, Record-Route, Path or Service-Route entry of the home network
// in the clear. Each such set of entries is sealed into one token (sip/thig: AES-256-GCM, bound to the header
// field and this border's domain) and restored when it comes back.
//
//   - A request leaving (its next hop is in THIG.Networks: a terminating request along a roaming UE's Path
//     towards the visited network's P-CSCF, or any request routed out): its Vias become one Via whose branch is
//     the token, restored from it in every response; its Record-Route entries one
//     "sip:TOKEN@domain;lr;tokenized-by=domain", restored in the responses; this node Record-Routes so that the
//     dialog's later requests from the other network come back through it.
//   - A request arriving from the other network: the Record-Route entries the home network added above ours
//     are hidden in every response sent back (and this node Record-Routes); a REGISTER's 200 has its
//     Service-Route hidden, and the REGISTER gets our Path on top, so that the S-CSCF's terminating requests
//     leave through this border.
//   - A Route naming a token of ours (the hidden Service-Route or Record-Route coming back) is replaced by the
//     entries it holds before the request is routed. A token that does not open (tampered, another border's
//     key) is answered 400 (RFC 3261 §21.4.1).
//
// P-Asserted-Identity and the other trust-domain header fields (RFC 3325 §4) follow TrustedNetworks, not
// THIG: a network listed there is trusted (a roaming partner's P-CSCF), others lose them both ways
// (sip/trust/boundary).

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/thig"
	"github.com/imscore/imscore/sip/trust"
)

// THIGConfig configures topology hiding. Without Keys it is off.
type THIGConfig struct {
	// Keys are the AES-256 keys by id (0–255): 64 hexadecimal characters each. Keep a retired key as long as
	// dialogs that used it may last (tokens in their route sets).
	Keys map[int]string `yaml:"keys"`
	// CurrentKey is the id of the key new tokens are sealed with.
	CurrentKey int `yaml:"current_key"`
	// Domain is the name the other networks see in tokens (sip:TOKEN@domain, tokenized-by=domain); it must
	// resolve to this I-CSCF in DNS (RFC 3263), since the other network sends the hidden Service-Route's
	// requests there. Default: Config.Domain.
	Domain string `yaml:"domain"`
	// Networks are the other networks' address prefixes (CIDR or address): a message to or from them crosses
	// the border and is hidden.
	Networks []string `yaml:"networks"`
}

func (c THIGConfig) enabled() bool { return len(c.Keys) > 0 }

// validate reports the section's bad fields.
func (c THIGConfig) validate() []error {
	if !c.enabled() {
		return nil
	}
	var errs []error
	if _, err := c.codec("x"); err != nil {
		errs = append(errs, fmt.Errorf("thig: %w", err))
	}
	if len(c.Networks) == 0 {
		errs = append(errs, errors.New("thig: networks: at least one other network is needed"))
	} else if _, err := trust.ParseDomain(c.Networks); err != nil {
		errs = append(errs, fmt.Errorf("thig: networks: %w", err))
	}
	return errs
}

func (c THIGConfig) codec(domain string) (*thig.Codec, error) {
	if c.Domain != "" {
		domain = c.Domain
	}
	keys := make(map[byte][]byte, len(c.Keys))
	for id, k := range c.Keys {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("keys: id %d: want 0 to 255", id)
		}
		b, err := hex.DecodeString(k)
		if err != nil || len(b) != thig.KeySize {
			return nil, fmt.Errorf("keys: %d: want %d hexadecimal characters", id, 2*thig.KeySize)
		}
		keys[byte(id)] = b
	}
	if c.CurrentKey < 0 || c.CurrentKey > 255 {
		return nil, fmt.Errorf("current_key %d: want 0 to 255", c.CurrentKey)
	}
	return thig.New(domain, byte(c.CurrentKey), keys)
}

// kindContact is the token kind of a hidden Contact: a home node's or a home UE's address, which the other
// network then uses as the Request-URI of its requests in the dialog (RFC 3261 §12.2.1.1).
const kindContact thig.Kind = "contact"

// viaBranchPrefix starts the branch of a Via holding a token (RFC 3261 §8.1.1.7 magic cookie, then ours).
const viaBranchPrefix = "z9hG4bK-thig-"

// hider wraps the I-CSCF's Router with topology hiding.
type hider struct {
	next     proxy.Router
	codec    *thig.Codec
	networks trust.Domain
	// self is this node's loose-routing URI for a Path entry, set once the listeners are bound.
	self func() (sip.Uri, bool)
	log  *zap.Logger
}

var statusBadToken = &proxy.StatusError{Code: sip.StatusBadRequest, Reason: "Bad Request"}

func newHider(cfg THIGConfig, domain string, next proxy.Router, self func() (sip.Uri, bool), log *zap.Logger) (*hider, error) {
	codec, err := cfg.codec(domain)
	if err != nil {
		return nil, fmt.Errorf("thig: %w", err)
	}
	networks, err := trust.ParseDomain(cfg.Networks)
	if err != nil {
		return nil, fmt.Errorf("thig: networks: %w", err)
	}
	return &hider{next: next, codec: codec, networks: networks, self: self, log: log}, nil
}

// OptionTags passes the wrapped router's option-tags on.
func (h *hider) OptionTags(req *sip.Request) ([]string, bool) {
	if t, ok := h.next.(proxy.OptionTagger); ok {
		return t.OptionTags(req)
	}
	return nil, false
}

// Route restores tokens in the Route set, asks the wrapped router, and hides what the Decision sends out.
func (h *hider) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	log := h.log.With(logging.CallID(callID(req)), zap.String("method", string(req.Method)))
	restored, err := h.restoreRoutes(req, src)
	if err != nil {
		log.Info("THIG token refused", zap.Stringer("from", src.Remote), zap.Error(err))
		return proxy.Decision{}, withCause(statusBadToken, err)
	}
	if es, ok, err := h.codec.RestoreURI(kindContact, req.Recipient.String()); ok {
		// A Request-URI that is a hidden Contact of ours (a request in a dialog the other network has with a
		// home node or UE): the address it stands for.
		var u sip.Uri
		if err == nil {
			err = sip.ParseUri(es[0], &u)
		}
		if err != nil {
			log.Info("THIG Request-URI token refused", zap.Stringer("from", src.Remote), zap.Error(err))
			return proxy.Decision{}, withCause(statusBadToken, err)
		}
		req.Recipient = u
		restored = true
	}
	if restored {
		src.Headers = nil // the Route set or Request-URI changed: the router indexes req again
	}
	fromOutside := h.networks.Contains(src.Remote.Addr().Unmap())
	d, err := h.next.Route(ctx, req, src)
	if err != nil {
		return d, err
	}
	if err := h.hide(&d, req, fromOutside, log); err != nil {
		return proxy.Decision{}, err
	}
	return d, nil
}

// hide applies the border to a Decision, and to every further Decision its OnFailure gives (the I-CSCF's next
// S-CSCF for a REGISTER, TS 24.229 §5.3.1.3): each round of branches is a new set of copies.
func (h *hider) hide(d *proxy.Decision, req *sip.Request, fromOutside bool, log *zap.Logger) error {
	if d.Reply != nil {
		return nil
	}
	switch {
	case req.Method == sip.ACK && !fromOutside && h.leaving(req, d):
		// An ACK for a 2xx, forwarded statelessly: nothing comes back, but its Vias would show the home network.
		if err := h.hideVias(d, req); err != nil {
			return fmt.Errorf("thig: %w", err)
		}
		h.hideChargingOutbound(d, req)
	case req.Method == sip.ACK:
	case fromOutside:
		h.hideInbound(d, req, log)
	case h.leaving(req, d):
		if err := h.hideOutbound(d, req, log); err != nil {
			return fmt.Errorf("thig: %w", err)
		}
	}
	if f := d.OnFailure; f != nil {
		d.OnFailure = func(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*proxy.Decision, error) {
			next, err := f(ctx, req, best, generated)
			if err != nil || next == nil {
				return next, err
			}
			n := *next
			if err := h.hide(&n, req, fromOutside, log); err != nil {
				return nil, err
			}
			return &n, nil
		}
	}
	return nil
}

// restoreRoutes replaces a top Route that is one of our tokens (a hidden Service-Route or Record-Route coming
// back) by the entries it holds. The Route consumed as ours by RFC 3261 §16.4 is restored too (Domain
// configured as an alias). It edits req, as the boundary does, before the router reads it: the copies the
// proxy forwards are made from it.
func (h *hider) restoreRoutes(req *sip.Request, src proxy.Source) (bool, error) {
	var restored []string
	if src.ConsumedRoute != nil {
		es, ok, err := h.openRoute(src.ConsumedRoute.String())
		if err != nil {
			return false, err
		}
		if ok {
			restored = es
		}
	}
	routes := header.Values(req, "Route")
	if len(routes) > 0 {
		es, ok, err := h.openRoute(routes[0])
		if err != nil {
			return false, err
		}
		if ok {
			restored = append(restored, es...)
			routes = routes[1:]
		}
	}
	if restored == nil {
		return false, nil
	}
	header.Remove(req, "Route")
	for _, v := range append(restored, routes...) {
		if err := appendParsed(req, "Route", v); err != nil {
			return false, err
		}
	}
	return true, nil
}

// openRoute opens a Route value holding a Record-Route or a Service-Route token of ours.
func (h *hider) openRoute(v string) ([]string, bool, error) {
	for _, kind := range []thig.Kind{thig.RecordRoute, thig.ServiceRoute} {
		es, ok, err := h.codec.RestoreURI(kind, v)
		if !ok {
			return nil, false, nil
		}
		if err == nil {
			return es, true, nil
		}
	}
	return nil, true, fmt.Errorf("route %q: %w", v, thig.ErrToken)
}

// leaving reports whether the Decision's first copy goes to one of the other networks, by the address its
// next hop names (an explicit next hop, the top Route, the Request-URI).
func (h *hider) leaving(req *sip.Request, d *proxy.Decision) bool {
	t := proxy.Target{}
	if len(d.Targets) > 0 {
		t = d.Targets[0]
	}
	var u *sip.Uri
	switch {
	case t.NextHop != nil && t.NextHop.Addr.IsValid():
		return h.networks.Contains(t.NextHop.Addr.Addr().Unmap())
	case len(t.Route) > 0:
		u = &t.Route[0]
	case header.TopRoute(req) != nil:
		u = &req.Route().Address
	case t.URI != nil:
		u = t.URI
	default:
		u = &req.Recipient
	}
	a, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	return err == nil && h.networks.Contains(a.Unmap())
}

// hideOutbound hides the home network's Vias and Record-Routes of a request leaving it, and restores them in
// the responses.
func (h *hider) hideOutbound(d *proxy.Decision, req *sip.Request, log *zap.Logger) error {
	if err := h.hideVias(d, req); err != nil {
		return err
	}
	if rrs := header.Values(req, "Record-Route"); len(rrs) > 0 {
		u, err := h.codec.HideURI(thig.RecordRoute, rrs)
		if err != nil {
			return err
		}
		d.RemoveHeaders = append(d.RemoveHeaders, "Record-Route")
		d.AddHeaders = append(d.AddHeaders, sip.NewHeader("Record-Route", "<"+u+">"))
	}
	if req.Method != sip.REGISTER {
		if cs, changed := h.hideContacts(header.Values(req, "Contact"), log); changed {
			d.RemoveHeaders = append(d.RemoveHeaders, "Contact")
			for _, c := range cs {
				d.AddHeaders = append(d.AddHeaders, sip.NewHeader("Contact", c))
			}
		}
	}
	h.hideChargingOutbound(d, req)
	d.RecordRoute = true
	log.Debug("THIG: home network hidden in a request leaving it")
	inner := d.OnResponse
	d.OnResponse = func(res *sip.Response, generated bool) {
		if !generated {
			h.restoreResponse(res, log)
		}
		if inner != nil {
			inner(res, generated)
		}
	}
	return nil
}

// hideVias replaces the Vias of a request leaving the home network by one whose branch is their token.
func (h *hider) hideVias(d *proxy.Decision, req *sip.Request) error {
	tok, err := h.codec.Seal(thig.Via, header.Values(req, "Via"))
	if err != nil {
		return err
	}
	d.RemoveHeaders = append(d.RemoveHeaders, "Via")
	d.AddHeaders = append(d.AddHeaders, sip.NewHeader("Via", "SIP/2.0/UDP "+h.codec.Domain()+";branch="+viaBranchPrefix+tok))
	return nil
}

// restoreResponse puts back the Vias and Record-Routes a response from the other network carries as tokens.
// Our own Via is already removed; a response whose Via token does not open keeps the Vias it has (sipgo's
// server transaction still answers on the connection the request came on) and is logged.
func (h *hider) restoreResponse(res *sip.Response, log *zap.Logger) {
	var vias []string
	for _, v := range header.Values(res, "Via") {
		_, after, found := strings.Cut(v, "branch="+viaBranchPrefix)
		if !found {
			vias = append(vias, v)
			continue
		}
		tok, _, _ := strings.Cut(after, ";")
		es, err := h.codec.Open(thig.Via, strings.TrimSpace(tok))
		if err != nil {
			log.Warn("THIG: Via token in a response does not open", zap.Error(err))
			return
		}
		vias = append(vias, es...)
	}
	replaceAll(res, "Via", vias, log)
	h.restoreList(res, "Record-Route", thig.RecordRoute, log)
}

// restoreList replaces the tokens of ours among a route header field's entries by what they hold.
func (h *hider) restoreList(msg sip.Message, name string, kind thig.Kind, log *zap.Logger) {
	vals := header.Values(msg, name)
	var out []string
	changed := false
	for _, v := range vals {
		es, ok, err := h.codec.RestoreURI(kind, v)
		switch {
		case ok && err == nil:
			out = append(out, es...)
			changed = true
		case ok:
			log.Warn("THIG: token does not open", zap.String("header", name), zap.Error(err))
			out = append(out, v)
		default:
			out = append(out, v)
		}
	}
	if changed {
		replaceAll(msg, name, out, log)
	}
}

// hideInbound handles a request from the other network: this node Record-Routes, a REGISTER gets our Path on
// top, and every response sent back hides the Record-Route entries the home network added above ours and a
// Service-Route.
func (h *hider) hideInbound(d *proxy.Decision, req *sip.Request, log *zap.Logger) {
	self, ok := h.self()
	if req.Method == sip.REGISTER && ok {
		// Our Path on top (RFC 3327 §5.2: a proxy adds its Path above the others), so that the S-CSCF's
		// terminating requests to the visiting UE leave through this border (TS 24.229 §5.10.3.1).
		paths := header.Values(req, header.Path)
		d.RemoveHeaders = append(d.RemoveHeaders, header.Path)
		d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.Path, "<"+self.String()+">"))
		for _, p := range paths {
			d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.Path, p))
		}
	} else {
		d.RecordRoute = true
	}
	inner := d.OnResponse
	d.OnResponse = func(res *sip.Response, generated bool) {
		if inner != nil {
			inner(res, generated)
		}
		if generated {
			return
		}
		h.hideResponse(res, log)
	}
}

// hideResponse hides, in a response going to the other network, the Record-Route entries above our own (the
// home network's nodes) and every Service-Route entry.
func (h *hider) hideResponse(res *sip.Response, log *zap.Logger) {
	if srs := header.Values(res, header.ServiceRoute); len(srs) > 0 {
		if u, err := h.codec.HideURI(thig.ServiceRoute, srs); err == nil {
			replaceAll(res, header.ServiceRoute, []string{"<" + u + ">"}, log)
		} else {
			log.Warn("THIG: Service-Route not hidden", zap.Error(err))
		}
	}
	if cseq := res.CSeq(); cseq != nil && cseq.MethodName != sip.REGISTER {
		// A REGISTER's 200 lists the visitor's own bindings; any other Contact is a home node's or UE's.
		if cs, changed := h.hideContacts(header.Values(res, "Contact"), log); changed {
			replaceAll(res, "Contact", cs, log)
		}
	}
	if pcv, changed := h.hideChargingVector(header.Values(res, header.PChargingVector)); changed {
		replaceAll(res, header.PChargingVector, pcv, log)
	}
	rrs := header.Values(res, "Record-Route")
	self, ok := h.self()
	if len(rrs) == 0 || !ok {
		return
	}
	ours := -1
	for i, v := range rrs {
		if sameHostPort(v, self) {
			ours = i
			break
		}
	}
	if ours <= 0 {
		return // nothing of the home network above us
	}
	// The other network is the dialog's caller here: its route set is the Record-Route in reverse
	// (RFC 3261 §12.1.2), so the token holds the entries in that order, and a Route naming it is restored
	// to the route the caller's requests take.
	hidden := slices.Clone(rrs[:ours])
	slices.Reverse(hidden)
	u, err := h.codec.HideURI(thig.RecordRoute, hidden)
	if err != nil {
		log.Warn("THIG: Record-Route not hidden", zap.Error(err))
		return
	}
	replaceAll(res, "Record-Route", append([]string{"<" + u + ">"}, rrs[ours:]...), log)
}

// hideContacts replaces the URI of each Contact value by a token URI standing for it (its header parameters,
// expires or +sip.instance, stay); "*" and unreadable values stay as they are.
func (h *hider) hideContacts(values []string, log *zap.Logger) ([]string, bool) {
	changed := false
	out := make([]string, 0, len(values))
	for _, v := range values {
		i, j := strings.IndexByte(v, '<'), strings.IndexByte(v, '>')
		if i < 0 || j < i {
			out = append(out, v) // "*" or a bare URI (RFC 3261 §20.10 makes <> optional): left alone
			continue
		}
		u, err := h.codec.HideURI(kindContact, []string{v[i+1 : j]})
		if err != nil {
			log.Warn("THIG: Contact not hidden", zap.Error(err))
			out = append(out, v)
			continue
		}
		// HideURI's loose-routing form names a proxy; as a remote target the token URI needs no lr.
		u = strings.Replace(u, ";lr;", ";", 1)
		out = append(out, v[:i+1]+u+v[j:])
		changed = true
	}
	return out, changed
}

// sameHostPort reports whether a route value names self's host and port.
func sameHostPort(v string, self sip.Uri) bool {
	nas, err := header.ParseNameAddrs("Record-Route", v)
	if err != nil || len(nas) == 0 {
		return false
	}
	u, err := nas[0].ParsedURI()
	if err != nil {
		return false
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return strings.EqualFold(strings.Trim(u.Host, "[]"), strings.Trim(self.Host, "[]")) && port == self.Port
}

var headersParser = sip.HeadersParser(sip.DefaultHeadersParser())

// appendParsed appends one header field value as sipgo's typed header, so that sipgo's accessors (Via(),
// Route()) see it.
func appendParsed(msg sip.Message, name, value string) error {
	hs, err := headersParser.ParseHeader(nil, []byte(name+": "+value))
	if err != nil {
		return fmt.Errorf("%s %q: %w", name, value, err)
	}
	for _, h := range hs {
		msg.AppendHeader(h)
	}
	return nil
}

// replaceAll replaces every line of the header named name by values, in order (typed where sipgo types it).
// Headers of other names keep their positions; the replaced ones go at the end, which changes no meaning
// (RFC 3261 §7.3.1: only the order among fields of one name matters).
func replaceAll(msg sip.Message, name string, values []string, log *zap.Logger) {
	header.Remove(msg, name)
	for _, v := range values {
		if err := appendParsed(msg, name, v); err != nil {
			log.Warn("THIG: restored header field unparseable", zap.Error(err))
			msg.AppendHeader(sip.NewHeader(name, v))
		}
	}
}

var (
	_ proxy.Router       = (*hider)(nil)
	_ proxy.OptionTagger = (*hider)(nil)
)
