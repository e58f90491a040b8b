package proxy

import (
	"context"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// Router is the routing logic a CSCF plugs into the proxy: the proxy validates a request (RFC 3261 §16.3),
// applies Route preprocessing (§16.4), asks the Router, then carries out the Decision statefully (§16.6–§16.10).
//
// Contract:
//   - Route is called once per new server transaction, from its own goroutine; it may block (Diameter, DNS)
//     until ctx ends. ctx is cancelled when the upstream CANCELs the INVITE, when Config.RouteTimeout passes
//     (the request is then answered 504 Server Time-out, RFC 3261 §21.5.5) and when the proxy closes.
//   - Route is also called for an ACK that matches no server transaction (the ACK for a 2xx, RFC 3261 §13.2.2.4):
//     the first Target is used and the ACK is forwarded statelessly; a Reply is ignored (ACK is never answered).
//   - Route is not called for retransmissions, for a CANCEL (the proxy handles it, §16.10) or for requests
//     rejected by validation (400, 416, 420, 482, 483).
//   - A returned error answers the request: a *StatusError with its code, context.DeadlineExceeded with 504,
//     anything else with 500. The router must not keep req after returning; the proxy owns it.
//   - req has already been through §16.4: a Route naming this proxy was removed (Source.ConsumedRoute) and a
//     strict-router Request-URI was restored. The router may read req but must express changes in the Decision.
type Router interface {
	Route(ctx context.Context, req *sip.Request, src Source) (Decision, error)
}

// RouterFunc adapts a function to Router.
type RouterFunc func(ctx context.Context, req *sip.Request, src Source) (Decision, error)

// Route calls f.
func (f RouterFunc) Route(ctx context.Context, req *sip.Request, src Source) (Decision, error) {
	return f(ctx, req, src)
}

// OptionTagger is an optional Router interface declaring the SIP extensions (option-tags, RFC 3261 §19.2) this
// node understands. Without it the proxy understands none: any Proxy-Require gets 420.
type OptionTagger interface {
	// OptionTags returns the option-tags understood for req. Proxy-Require is always checked against them
	// (RFC 3261 §16.3 step 5). When uas is true this node answers req itself (a registrar, a SUBSCRIBE to the
	// reg event) and Require is checked too (§8.2.2.3); a proxied request's Require is for the far UAS.
	// Unknown tags are answered 420 Bad Extension with an Unsupported header listing them.
	OptionTags(req *sip.Request) (tags []string, uas bool)
}

// Source says how and where a request reached the proxy.
type Source struct {
	// Transport is "UDP", "TCP" or "TLS".
	Transport string
	// Remote is the packet source (UDP) or the connection's peer (TCP).
	Remote netip.AddrPort
	// Local is the listener address the request arrived on: lets a P-CSCF tell its protected ports apart.
	Local netip.AddrPort
	// TLSPeer, over TLS, lists the SIP domain identities of the peer's verified certificate (RFC 5922 §7.1:
	// its sip URIs, else its DNS names): which network sent the request, for a border's trust decisions. nil
	// over UDP and TCP, and for a TLS client that presented no certificate (VerifyServer).
	TLSPeer []string
	// ConsumedRoute is the Route value naming this proxy that RFC 3261 §16.4 removed, nil if there was none: the
	// request is following a route set this node is on (a dialog's Record-Route, a Service-Route or Path), and
	// its parameters (e.g. an S-CSCF's "orig") tell the router which case it is.
	ConsumedRoute *sip.Uri
	// Headers indexes the request the router is given, after §16.4 preprocessing, and caches what the IMS
	// header parsers make of it (header.Parsed: digest.CredentialsOf, secagree.Of, header.NameAddrsOf), so
	// that each is parsed once per request however many steps read it. nil when the Source was not made by
	// the proxy (a test's): use Index.
	Headers *header.Index
}

// Index returns s.Headers, or a new index of req when the proxy did not make one.
func (s Source) Index(req *sip.Request) *header.Index {
	if s.Headers != nil && s.Headers.Message() == sip.Message(req) {
		return s.Headers
	}
	return header.NewIndex(req)
}

// Decision is what a Router wants done with one request. Either Reply is set (answer locally) or the request
// is forwarded: to each Target in parallel (forking, RFC 3261 §16.5–§16.6), or when Targets is empty to one
// target derived from the Route set and Request-URI as they are (the usual case for in-dialog requests).
type Decision struct {
	// Reply, when non-nil, answers the request from this node (a registrar's 200 or 401, a 403, a 404).
	Reply *Reply

	// Targets are the branches to fork to. All branches start in parallel; best-response selection follows
	// RFC 3261 §16.7 (6xx cancels the others, every 2xx to an INVITE is forwarded, else the lowest class wins,
	// 401/407 challenges are aggregated).
	Targets []Target
	// RecordRoute inserts this proxy's Record-Route (RFC 3261 §16.6 step 4) so that later requests in the
	// dialog come through it: "<sip:host:port;transport=x;lr>", one entry for the side the request goes out on
	// and, when the request changes transport or interface, a second for the side it came in on. Ignored for
	// REGISTER (Record-Route has no meaning there, §10.3) and ACK.
	RecordRoute bool
	// RemoveHeaders are header names (case-insensitive, compact forms understood) removed from every forwarded
	// copy, before AddHeaders are added. E.g. a P-CSCF strips Security-Client (RFC 3329).
	RemoveHeaders []string
	// AddHeaders are added to every forwarded copy (RFC 3261 §16.6 step 5), e.g. Path, P-Charging-Vector.
	AddHeaders []sip.Header
	// Body, when non-nil, replaces the body of every forwarded copy, Content-Length following (RFC 3261 §16.6
	// step 5 lets a proxy change what it forwards): an IMS-ALG's SDP with the media gateway's addresses
	// (TS 23.334 §6.2.10). Content-Type stays; an empty non-nil Body is kept as it came.
	Body []byte
	// OnResponse, when set, sees every response just before it is sent upstream: provisional and 2xx responses
	// as they are forwarded, and the final response chosen under §16.7. Our Via is already removed. generated
	// is true when the proxy made the response itself (408 on timeout, 500 when a next hop was unreachable,
	// 487 after CANCEL). It may edit res (a P-CSCF adds Security-Server to a 401, strips CK and IK). It runs
	// under the transaction's lock: keep it short, never call back into the Proxy for the same transaction.
	OnResponse func(res *sip.Response, generated bool)
	// OnFailure, when set, makes the forwarding serial (RFC 3261 §16.6: a proxy may try further targets once the
	// earlier ones failed). It is consulted when every branch of this Decision has a final response and the best
	// one (§16.7 step 6) is a failure the search may go on from: 3xx–5xx, never 2xx or 6xx (a 6xx ends the search,
	// §16.7 step 5), and never after the upstream's CANCEL (§16.10). best is that response, generated is true when
	// this proxy made it (408 on a NoResponseTimeout or Timer F, 503 for an unreachable next hop). OnFailure may
	// return a further Decision: its targets are tried next (a new round whose responses alone compete under
	// §16.7), or its Reply answers; nil sends best upstream. It runs on its own goroutine, outside the
	// transaction's lock, with req as the Router saw it and a context like Route's (cancelled by CANCEL, bounded by
	// Config.RouteTimeout); an error answers as a Router error does. An S-CSCF uses it for the default handling of
	// an AS that fails (TS 24.229 §5.4.3.2, TS 23.218 §6.4.4), an I-CSCF to try another S-CSCF (TS 24.229 §5.3.1.3).
	OnFailure func(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*Decision, error)
}

// Reply is a response generated by this node. To, From, Call-ID, CSeq and Via come from the request
// (RFC 3261 §8.2.6.2); a To tag is added; Record-Route is copied into 2xx and 18x to dialog-creating requests.
type Reply struct {
	Code   int
	Reason string // default: the RFC 3261 phrase for the codes the proxy knows, else required
	// Headers are appended (Contact, Service-Route, WWW-Authenticate, Content-Type ...).
	Headers []sip.Header
	Body    []byte
	// Sent, when set, is called once the reply has been handed to the server transaction: a notifier
	// starts its NOTIFY there, after the 2xx (RFC 6665 §4.2.1.2), so that a subscriber sees them in order.
	Sent func()
}

// Target is one branch of a forwarded request.
type Target struct {
	// URI, when non-nil, becomes the Request-URI of this copy (RFC 3261 §16.6 step 2): a registered contact, the
	// S-CSCF chosen by an I-CSCF. nil keeps the Request-URI.
	URI *sip.Uri
	// Route values are pushed on top of the copy's Route set, first value topmost (§16.6 step 3, a pre-loaded
	// route): the Path of a registration, a Service-Route, the S-CSCF an I-CSCF picked.
	Route []sip.Uri
	// NextHop, when non-nil, sends the copy to this address instead of the one derived from the top Route or the
	// Request-URI (§16.6 step 7). A P-CSCF uses it for a UE's protected port.
	NextHop *NextHop
	// AddHeaders are added to this copy only (after Decision.AddHeaders).
	AddHeaders []sip.Header
	// NoResponseTimeout, when positive, gives up on this branch as if it had received 408 (generated) when the
	// next hop does not answer in time: for an INVITE, with no response at all (any provisional, 100 included,
	// shows the next hop is alive, and Timer C takes over); for other methods, with no final response. Zero: only
	// Timer C or Timer F apply. With Decision.OnFailure this detects an application server that does not answer
	// well before the 32 s of Timer F (TS 24.229 §5.4.3.2: the S-CSCF's default handling).
	NoResponseTimeout time.Duration
	// Failover lists further next hops for this branch, tried one at a time and in order when the current one
	// fails (RFC 3263 §4.3, the addresses a resolver returned for the URI): a transport error or an unreachable
	// address, a timeout (Timer B or F, Timer C without a provisional response, NoResponseTimeout) or a 503.
	// The first attempt goes to NextHop (or to the hop the Route set and Request-URI give); each further one is
	// a new client transaction with a new Via branch (RFC 3261 §16.6), the router is not asked again, and only
	// the last attempt's response competes under §16.7. No further attempt is made once the upstream
	// cancelled, a 6xx arrived or a final response went upstream; an INVITE branch that had a provisional
	// response is cancelled by Timer C, not failed over.
	Failover []NextHop
	// HopFailed, when set, is told of each next hop of this branch that failed as Failover describes, the last
	// one included: retryAfter is the Retry-After of a 503 (RFC 3261 §21.5.4: the server is unavailable for
	// that long), 0 otherwise. A resolver moves the hop behind the others (sip/resolve MarkFailed). It may run
	// under the transaction's lock: keep it short, never call back into the Proxy.
	HopFailed func(hop NextHop, retryAfter time.Duration)
}

// NextHop is an explicit destination for one copy.
type NextHop struct {
	// Transport is "UDP", "TCP" or "TLS" (with Config.TLS). Empty: as the URI says (RFC 3263), UDP by default.
	// The RFC 3261 §18.1.1 switch of large requests to TCP applies to UDP either way.
	Transport string
	// ServerName is, over TLS, the identity the next hop's certificate must carry (RFC 5922 §7.3: the domain of
	// the URI resolved, not a name DNS gave). Empty: the host of the URI routed to.
	ServerName string
	// Addr is where to send.
	Addr netip.AddrPort
	// Local, when valid, is the local address to send from: for UDP one of the configured listeners, for TCP a
	// connection is dialled from it (SO_REUSEADDR), e.g. a P-CSCF's protected client port (TS 33.203 §7.1).
	Local netip.AddrPort
}

// Respond is a Decision that answers the request locally.
func Respond(code int, reason string, headers ...sip.Header) Decision {
	return Decision{Reply: &Reply{Code: code, Reason: reason, Headers: headers}}
}

// Forward is a Decision that forwards the request to the given targets (none: by Route and Request-URI).
func Forward(targets ...Target) Decision {
	return Decision{Targets: targets}
}
