package scscf

// Request routing at the S-CSCF: TS 24.229 §5.4.3.2 (originating: iFCs, then towards the callee) and
// §5.4.3.3 (terminating: iFCs, then every registered contact through its Path), §5.4.3.4 for requests
// inside a dialog (they follow the route set), ISC towards application servers (TS 24.229 §5.4.3.2
// step 4, TS 23.218 §6).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// Route parameters of our own URIs.
const (
	// paramOrig marks the Service-Route entry: a request carrying it is originating (TS 24.229 §5.4.1.2.2 g).
	paramOrig = "orig"
	// paramODI carries the original-dialog identifier in the Route we give an AS (TS 24.229 §5.4.3.2 step 4).
	paramODI = "odi"
)

// iscState is what an original-dialog token stands for: where iFC evaluation resumes when the request
// comes back from the AS.
type iscState struct {
	impu        string
	sessionCase userdata.SessionCase
	next        int // index into the matching iFCs
	expires     time.Time
	// returned is set when the request came back from the AS with this token: the AS is alive and acted,
	// so a 408 or 5xx that reaches us through it later is the far end's answer, not the AS failing
	// (no default handling then).
	returned *atomic.Bool
}

// Route implements proxy.Router. The boundary of the trust domain (s.edge, which wraps the Router) has
// already removed the trust-domain header fields of a request from outside it.
func (s *Server) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	switch req.Method {
	case sip.REGISTER:
		if !s.edge.Trusts(src.Remote) {
			// TS 24.229 §5.3.1.2: a REGISTER enters the home network only from a trusted domain, checked by its
			// I-CSCF, which hands it to the S-CSCF. One reaching the S-CSCF from outside skipped that check, and
			// its integrity-protected (§5.4.1.2.2: no new authentication), Path and P-Visited-Network-ID would
			// be a stranger's word.
			return s.edge.Refuse(req, src.Remote, "register", "TS 24.229 §5.3.1.2: REGISTER only from the trust domain")
		}
		return s.handleRegister(ctx, req)
	case sip.SUBSCRIBE:
		if isRegEvent(req) && s.isRegEventTarget(ctx, req) {
			return s.handleSubscribe(ctx, req, src)
		}
	}
	if tag, ok := req.To().Params.Get("tag"); ok && tag != "" {
		if header.TopRoute(req) == nil && (s.isOwnURI(&req.Recipient) || s.isOurDomain(&req.Recipient)) {
			// A request inside a dialog this node is the endpoint of (a reg event subscription) that no
			// longer exists, or one without a route set aimed at a public identity rather than a contact:
			// no dialog we know (RFC 3261 §12.2.2).
			return proxy.Respond(481, "Call/Transaction Does Not Exist"), nil
		}
		// TS 24.229 §5.4.3.4 / RFC 3261 §16.12: in-dialog requests follow their route set.
		return proxy.Forward(), nil
	}
	if req.Method == sip.ACK {
		return proxy.Forward(), nil
	}
	var odi string
	orig := false
	if r := src.ConsumedRoute; r != nil && r.UriParams != nil {
		_, orig = r.UriParams.Get(paramOrig)
		odi, _ = r.UriParams.Get(paramODI)
	}
	if odi != "" {
		if st, ok := s.takeISC(odi); ok {
			if st.sessionCase == userdata.SessionOriginating || st.sessionCase == userdata.SessionOriginatingUnregistered {
				return s.originating(ctx, req, st.impu, st.next)
			}
			return s.terminating(ctx, req, st.next)
		}
		return proxy.Decision{}, &proxy.StatusError{Code: 403, Reason: "Forbidden", Err: errors.New("unknown original-dialog token")}
	}
	if orig {
		if !s.edge.Trusts(src.Remote) {
			// TS 24.229 §5.4.3.1: a request is originating when it uses what the S-CSCF put in the Service-Route
			// it handed to the served user (§5.4.1.2.2), and the UE's P-CSCF, inside the trust domain, is the only
			// one that follows it (§5.2.6.3.2). From outside it comes from a UE that bypassed its P-CSCF or from
			// another network: whatever identity it claims was removed at the boundary (RFC 3325 §5), so it has
			// no served user to originate for.
			return s.edge.Refuse(req, src.Remote, "originating", "TS 24.229 §5.4.3.1: orig only from the trust domain")
		}
		return s.originating(ctx, req, "", 0)
	}
	return s.terminating(ctx, req, 0)
}

// OptionTags implements proxy.OptionTagger: path (RFC 3327), sec-agree is the P-CSCF's, gruu and outbound
// are tolerated in Supported only.
func (s *Server) OptionTags(req *sip.Request) ([]string, bool) {
	uas := req.Method == sip.REGISTER || req.Method == sip.SUBSCRIBE && isRegEvent(req)
	return []string{"path", "sec-agree", "outbound", "gruu", "100rel", "timer", "precondition", "replaces"}, uas
}

// isRegEventTarget reports a SUBSCRIBE this node answers: an in-dialog refresh of one of our
// subscriptions, or a new one for a registered identity.
func (s *Server) isRegEventTarget(ctx context.Context, req *sip.Request) bool {
	if tag, ok := req.To().Params.Get("tag"); ok && tag != "" {
		from, _ := req.From().Params.Get("tag")
		_, err := s.reg.Subscription(ctx, subscriptionID(req.CallID().Value(), from, tag))
		return err == nil
	}
	_, err := s.reg.Registration(ctx, identity.URIKey(&req.Recipient))
	return err == nil
}

// servedUser is the originating user: the P-Asserted-Identity the P-CSCF set (TS 24.229 §5.4.3.2 step 1,
// its first entry), "" when there is none. Only an identity asserted from inside the trust domain is
// left in a request by the time the router reads it (the boundary removed any other, RFC 3325 §5); the
// From is the sender's word and never names the served user.
func servedUser(req *sip.Request) string {
	for _, v := range header.Values(req, header.PAssertedIdentity) {
		for _, id := range header.SplitList(v) {
			return identity.Key(id)
		}
	}
	return ""
}

// parseProfile is the registration's parsed User-Data: parsed once per SAA or PPR (applyProfile) or at load
// (registrar.Table), parsed here only for a registration that is not in the table (unregistered user).
func parseProfile(reg *registrar.Registration) *userdata.IMSSubscription {
	if reg == nil || len(reg.Profile) == 0 {
		return nil
	}
	if reg.Parsed != nil {
		return reg.Parsed
	}
	sub, err := userdata.Parse(reg.Profile)
	if err != nil {
		return nil
	}
	return sub
}

// originating handles a request from a served user (TS 24.229 §5.4.3.2).
func (s *Server) originating(ctx context.Context, req *sip.Request, impu string, next int) (proxy.Decision, error) {
	if impu == "" {
		impu = servedUser(req)
	}
	log := s.log.With(logging.IMPU(impu), logging.CallID(req.CallID().Value()))
	if impu == "" {
		// TS 24.229 §5.4.3.2 step 1: the served user is the asserted identity; without one there is none.
		log.Info("originating request without P-Asserted-Identity")
		return proxy.Respond(403, "Forbidden"), nil
	}
	reg, err := s.reg.Registration(ctx, impu)
	if errors.Is(err, registrar.ErrNotFound) {
		if reg, err = s.restoreOriginating(ctx, impu, log); reg == nil {
			log.Info("originating request from a user not registered here", zap.Error(err))
			return proxy.Respond(403, "Forbidden"), nil
		}
	}
	if err != nil {
		return proxy.Decision{}, fmt.Errorf("originating %s: %w", impu, err)
	}
	if isBarred(reg, impu) {
		// TS 24.229 §5.4.3.2 step 1: a barred identity may not originate.
		log.Info("originating request from a barred identity")
		return proxy.Respond(403, "Forbidden"), nil
	}
	sc := userdata.SessionOriginating
	if d, ok := s.toAS(req, reg, impu, sc, next); ok {
		return d, nil
	}
	return s.afterOriginatingServices(ctx, req, log)
}

// afterOriginatingServices routes an originating request once every iFC has been applied.
func (s *Server) afterOriginatingServices(ctx context.Context, req *sip.Request, log *zap.Logger) (proxy.Decision, error) {
	// TS 24.229 §5.4.3.2 step 10: the callee. Ours: terminating procedures here; another network's or a
	// telephone number: out of the network (interconnect.go, when configured); else the I-CSCF.
	callee := identity.URIKey(&req.Recipient)
	registered := false
	if _, err := s.reg.Registration(ctx, callee); err == nil {
		registered = true
	}
	if !registered && s.interconnect != nil {
		if d, handled, err := s.routeOut(ctx, req, log); handled {
			return d, err
		}
	}
	if registered || s.icscf == nil && s.isOurDomain(&req.Recipient) {
		log.Debug("callee served here", zap.String("callee", callee))
		return s.terminating(ctx, req, 0)
	}
	return s.towardsICSCF(ctx, req)
}

// towardsICSCF forwards a request for a callee this node does not serve (TS 24.229 §5.4.3.2 step 10), by
// Config.ICSCFRoute: as a pre-loaded Route, or to the I-CSCF's address as the next hop with the Request-URI
// and the Route set left as they are.
func (s *Server) towardsICSCF(ctx context.Context, req *sip.Request) (proxy.Decision, error) {
	if s.icscf == nil {
		return proxy.Respond(404, "Not Found"), nil
	}
	t := proxy.Target{Route: []sip.Uri{*s.icscf}}
	if s.cfg.ICSCFRoute == ICSCFRouteNextHop {
		nh, err := s.icscfNextHop(ctx)
		if err != nil {
			s.log.Warn("I-CSCF address not resolved", logging.CallID(req.CallID().Value()),
				zap.String("icscf", s.icscf.String()), zap.Error(err))
			// RFC 3261 §16.9: no next hop to send to is a 503 for the caller.
			return proxy.Decision{}, &proxy.StatusError{Code: 503, Reason: "Service Unavailable", Err: err}
		}
		t = proxy.Target{NextHop: nh}
	}
	d := proxy.Forward(t)
	d.RecordRoute = true
	return d, nil
}

// icscfNextHop is the address of the I-CSCF URI: its host (numeric, else A/AAAA with IPv4 first), its
// port (5060 when none, RFC 3263 §4.2 without SRV) and its transport parameter (UDP when none, §4.1).
func (s *Server) icscfNextHop(ctx context.Context) (*proxy.NextHop, error) {
	u := s.icscf
	transport := "UDP"
	if t, ok := u.UriParams.Get("transport"); ok {
		transport = strings.ToUpper(t)
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	host := strings.Trim(u.Host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		return &proxy.NextHop{Transport: transport, Addr: netip.AddrPortFrom(ip.Unmap(), uint16(port))}, nil
	}
	r := s.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve I-CSCF %s: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve I-CSCF %s: no address", host)
	}
	ip := ips[0].Unmap()
	for _, a := range ips {
		if a.Unmap().Is4() {
			ip = a.Unmap()
			break
		}
	}
	return &proxy.NextHop{Transport: transport, Addr: netip.AddrPortFrom(ip, uint16(port))}, nil
}

// terminating delivers a request to a served user (TS 24.229 §5.4.3.3).
func (s *Server) terminating(ctx context.Context, req *sip.Request, next int) (proxy.Decision, error) {
	callee := identity.URIKey(&req.Recipient)
	log := s.log.With(logging.IMPU(callee), logging.CallID(req.CallID().Value()))
	reg, err := s.reg.Registration(ctx, callee)
	if err != nil && !errors.Is(err, registrar.ErrNotFound) {
		return proxy.Decision{}, fmt.Errorf("terminating %s: %w", callee, err)
	}
	if reg == nil {
		return s.terminatingUnregistered(ctx, req, log, callee, next)
	}
	return s.terminatingRegistered(ctx, req, log, reg, callee, next)
}

// terminatingRegistered delivers a request to a user registered here: its terminating services, then its
// contacts (TS 24.229 §5.4.3.3).
func (s *Server) terminatingRegistered(ctx context.Context, req *sip.Request, log *zap.Logger, reg *registrar.Registration,
	callee string, next int) (proxy.Decision, error) {
	if isBarred(reg, callee) {
		// TS 24.229 §5.4.3.3 step 1: a barred identity cannot be reached.
		return proxy.Respond(404, "Not Found"), nil
	}
	if d, ok := s.toAS(req, reg, callee, userdata.SessionTerminatingRegistered, next); ok {
		return d, nil
	}
	now := time.Now()
	var targets []proxy.Target
	for _, c := range reg.Contacts {
		if !c.Expires.After(now) {
			continue
		}
		var u sip.Uri
		if err := sip.ParseUri(c.URI, &u); err != nil {
			continue
		}
		t := proxy.Target{URI: &u}
		for _, p := range c.Path {
			var pu sip.Uri
			if err := sip.ParseUri(strings.Trim(strings.TrimSpace(p), "<>"), &pu); err == nil {
				t.Route = append(t.Route, pu)
			}
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return proxy.Respond(480, "Temporarily Unavailable"), nil
	}
	log.Debug("to contacts", zap.Int("contacts", len(targets)))
	d := proxy.Forward(targets...)
	d.RecordRoute = true
	// TS 24.229 §5.4.3.3 step 8 / RFC 7315 §4.2: the UE learns which of its identities was called.
	d.RemoveHeaders = []string{"P-Called-Party-ID"}
	d.AddHeaders = []sip.Header{sip.NewHeader("P-Called-Party-ID", "<"+req.Recipient.String()+">")}
	return d, nil
}

// terminatingUnregistered handles a callee with no registration here: unknown to the HSS → 404; known,
// unregistered services through its iFCs; else 480 (TS 24.229 §5.4.3.3 step 1, TS 29.228 §6.1.2).
func (s *Server) terminatingUnregistered(ctx context.Context, req *sip.Request, log *zap.Logger, callee string, next int) (proxy.Decision, error) {
	if !s.isOurDomain(&req.Recipient) {
		return s.towardsICSCF(ctx, req)
	}
	saa, err := s.cx.serverAssignment(ctx, "", []string{callee}, cx.SATUnregisteredUser, false, "")
	switch {
	case errors.Is(err, ErrUserUnknown):
		return proxy.Respond(404, "Not Found"), nil
	case err != nil:
		log.Info("SAR UNREGISTERED_USER", zap.Error(err))
		return proxy.Respond(480, "Temporarily Unavailable"), nil
	}
	// TS 23.380 §5.2.2.2: the callee is registered at an S-CSCF that is gone; the HSS answered with its
	// restoration information. Served as registered from here on.
	switch restored, err := s.restore(ctx, callee, saa, log); {
	case err == nil:
		return s.terminatingRegistered(ctx, req, log, restored, callee, next)
	case !errors.Is(err, errNothingToRestore):
		log.Warn("restoration", zap.Error(err))
	}
	reg := &registrar.Registration{IMPU: callee, Profile: saa.UserData}
	if d, ok := s.toAS(req, reg, callee, userdata.SessionTerminatingUnregistered, next); ok {
		return d, nil
	}
	return proxy.Respond(480, "Temporarily Unavailable"), nil
}

func (s *Server) isOurDomain(u *sip.Uri) bool {
	if strings.EqualFold(u.Scheme, "tel") {
		return true
	}
	return strings.EqualFold(u.Host, s.cfg.Domain)
}

// toAS evaluates the iFCs from index next and, when one matches, forwards to its AS with our URI and an
// original-dialog token under it so that the request comes back here (TS 24.229 §5.4.3.2 step 4).
func (s *Server) toAS(req *sip.Request, reg *registrar.Registration, impu string, sc userdata.SessionCase, next int) (proxy.Decision, bool) {
	sp := ProfileFor(parseProfile(reg), impu)
	if sp == nil {
		return proxy.Decision{}, false
	}
	registered := sc == userdata.SessionOriginating || sc == userdata.SessionTerminatingRegistered
	ifcs := MatchingIFCs(sp, IFCRequest{Request: req, SessionCase: sc, Registered: registered})
	for i := next; i < len(ifcs); i++ {
		var as sip.Uri
		if err := sip.ParseUri(ifcs[i].ApplicationServer.ServerName, &as); err != nil {
			s.log.Warn("iFC with a bad ServerName", zap.String("as", ifcs[i].ApplicationServer.ServerName))
			continue
		}
		if as.UriParams == nil {
			as.UriParams = sip.NewParams()
		}
		as.UriParams.Add("lr", "")
		st := iscState{impu: impu, sessionCase: sc, next: i + 1, returned: new(atomic.Bool)}
		token := s.putISC(st)
		back := s.ownURI()
		back.UriParams.Add(paramODI, token)
		if sc == userdata.SessionOriginating {
			back.UriParams.Add(paramOrig, "")
		}
		s.log.Debug("to AS", logging.IMPU(impu), zap.String("as", as.String()), zap.Int("priority", ifcs[i].Priority))
		d := proxy.Forward(proxy.Target{Route: []sip.Uri{as, back}, NoResponseTimeout: s.cfg.ASTimeout})
		d.RecordRoute = true
		// TS 24.229 §5.4.3.2 step 4 and §5.4.3.3 step 3: the AS learns whom it serves, in which session case and
		// registration state (RFC 5502 §6), replacing what an earlier AS of the chain was given.
		d.RemoveHeaders = append(d.RemoveHeaders, "P-Served-User")
		d.AddHeaders = append(d.AddHeaders, servedUserHeader(impu, sc))
		d.OnFailure = s.defaultHandling(st, ifcs[i].ApplicationServer)
		return d, true
	}
	return proxy.Decision{}, false
}

// servedUserHeader is the P-Served-User of a request to an AS (RFC 5502 §6; orig-cdiv, RFC 8498 §3, for the
// originating case after a call diversion).
func servedUserHeader(impu string, sc userdata.SessionCase) sip.Header {
	v := "<" + impu + ">"
	switch sc {
	case userdata.SessionOriginating:
		v += ";sescase=orig;regstate=reg"
	case userdata.SessionOriginatingUnregistered:
		v += ";sescase=orig;regstate=unreg"
	case userdata.SessionTerminatingRegistered:
		v += ";sescase=term;regstate=reg"
	case userdata.SessionTerminatingUnregistered:
		v += ";sescase=term;regstate=unreg"
	case userdata.SessionOriginatingCDIV:
		v += ";orig-cdiv"
	}
	return sip.NewHeader("P-Served-User", v)
}

// defaultHandling applies an iFC's DefaultHandling when its AS fails (TS 24.229 §5.4.3.2 and §5.4.3.3,
// TS 23.218 §6.4.4, TS 29.228 Annex B.2.3): no answer within ASTimeout, a 408 or a 5xx, before the request
// came back from the AS. SESSION_CONTINUED (the default when absent) goes on with the next matching iFC,
// then the usual routing; SESSION_TERMINATED sends the failure to the caller.
func (s *Server) defaultHandling(st iscState, as userdata.ApplicationServer) func(context.Context, *sip.Request, *sip.Response, bool) (*proxy.Decision, error) {
	return func(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*proxy.Decision, error) {
		code := best.StatusCode
		if code != sip.StatusRequestTimeout && code < 500 || st.returned.Load() {
			return nil, nil // the AS's own answer, or the far end's through it
		}
		log := s.log.With(logging.IMPU(st.impu), logging.CallID(req.CallID().Value()), zap.String("as", as.ServerName),
			zap.Int("code", code), zap.Bool("no_answer", generated))
		if as.DefaultHandling != nil && *as.DefaultHandling == userdata.SessionTerminated {
			log.Warn("application server failed; default handling SESSION_TERMINATED ends the request")
			return nil, nil
		}
		log.Warn("application server failed; default handling SESSION_CONTINUED goes on without it")
		var (
			d   proxy.Decision
			err error
		)
		switch st.sessionCase {
		case userdata.SessionOriginating, userdata.SessionOriginatingUnregistered:
			d, err = s.originating(ctx, req, st.impu, st.next)
		default:
			d, err = s.terminating(ctx, req, st.next)
		}
		if err != nil {
			return nil, err
		}
		return &d, nil
	}
}

// isOwnURI reports a URI naming this node's SIP address.
func (s *Server) isOwnURI(u *sip.Uri) bool {
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return port == int(s.advertise.Port()) && (u.Host == s.advertise.Addr().String() || u.Host == s.cfg.SIP.Advertise)
}

// ownURI is a fresh copy of our loose-routing URI (advertised address).
func (s *Server) ownURI() sip.Uri {
	u := sip.Uri{Scheme: "sip", Host: s.advertise.Addr().String(), Port: int(s.advertise.Port()), UriParams: sip.NewParams()}
	u.UriParams.Add("lr", "")
	return u
}

func (s *Server) putISC(st iscState) string {
	st.expires = time.Now().Add(s.cfg.ISCTokenTTL)
	token := newTag()
	s.iscMu.Lock()
	defer s.iscMu.Unlock()
	s.isc[token] = st
	return token
}

// takeISC returns the state of a token; a token stays valid until it expires so that retransmissions
// and forks coming back from the AS find it too.
func (s *Server) takeISC(token string) (iscState, bool) {
	s.iscMu.Lock()
	defer s.iscMu.Unlock()
	st, ok := s.isc[token]
	if !ok || time.Now().After(st.expires) {
		return iscState{}, false
	}
	if st.returned != nil {
		st.returned.Store(true)
	}
	return st, true
}

func (s *Server) expireISC(now time.Time) {
	s.iscMu.Lock()
	defer s.iscMu.Unlock()
	for k, st := range s.isc {
		if now.After(st.expires) {
			delete(s.isc, k)
		}
	}
}

// serviceRouteURI is our Service-Route value: loose routing with the originating marker.
func serviceRouteURI(host string, port int) string {
	return "sip:" + host + ":" + strconv.Itoa(port) + ";lr;" + paramOrig
}

// isBarred reports whether impu is a barred identity of reg's implicit set (TS 29.228 §6.6.1 Barring-Indication).
func isBarred(reg *registrar.Registration, impu string) bool {
	for _, id := range reg.Identities {
		if id.URI == impu {
			return id.Barred
		}
	}
	return false
}
