// Package proxy is the stateful SIP proxy core (RFC 3261 §16) the three CSCFs are built on. It owns the
// transport and transaction work, a CSCF supplies the routing: a Router decides, per request, to answer it
// locally or to forward it to one or several targets, and the proxy carries the decision out to the letter.
//
// # Plugging in a CSCF
//
//	p, err := proxy.New(proxy.Config{
//		Listen: []proxy.Listen{{Addr: "10.0.0.5:6060", Advertise: "scscf.ims.mnc001.mcc001.3gppnetwork.org"}},
//		Router: scscf, // implements proxy.Router, optionally proxy.OptionTagger
//	}, log)
//	go p.Run(ctx)              // serves until ctx ends; Close stops it too
//	res, err := p.Send(ctx, notify) // the node as UAC: NOTIFY, third-party REGISTER, BYE
//
//	func (s *SCSCF) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
//		switch {
//		case req.Method == sip.REGISTER: // registrar: answer locally
//			return proxy.Decision{Reply: &proxy.Reply{Code: 200, Headers: contacts}}, nil
//		case src.ConsumedRoute != nil: // in-dialog, or on our Service-Route: follow the Route set
//			return proxy.Decision{}, nil
//		default: // terminating: fork to every registered contact, along its Path
//			return proxy.Decision{RecordRoute: true, Targets: targets}, nil
//		}
//	}
//
// A P-CSCF uses Source.Local to tell its protected ports apart, Decision.RemoveHeaders and AddHeaders for
// Security-Client, Path and the P-headers, NextHop (with Local) to reach a UE's protected port, and
// Decision.OnResponse to edit the 401 and 200 of a registration on their way back. An I-CSCF returns
// Target{Route: []sip.Uri{scscf}} once its UAR is answered; if the HSS is slow, the router's context ends and
// the request is answered 504.
//
// # What the proxy does for every request
//
//  1. Read: UDP datagrams are read by the proxy (sipgo drops unparseable ones silently and refuses responses
//     over 1300 bytes); TCP streams by sipgo's transport, handed whole messages one at a time by the framer. An
//     unparseable request with a readable start line and top Via is answered 400 naming the problem (416 for a
//     Request-URI of an unknown scheme), over UDP where the Via says, over TCP on its connection: one whose start
//     line sipgo would refuse is passed over and the stream goes on, one sipgo refuses otherwise is answered as
//     sipgo closes the connection. Anything else unparseable is logged and dropped; an ACK is never answered. A
//     request whose top Via is unsound but names a sent-by is answered 400 along what can be read of it.
//     Methods keep the case the Request-Line gives them (sipgo upper-cases them; RFC 3261 §7.1).
//     Every TCP connection, accepted or dialled, is bounded by Config.Limits (limits.go): per-source and total
//     counts, idle, header and message timeouts, a maximum message size followed by a framer of our own
//     (frame.go); Accept errors (EMFILE) are retried after a back-off, never handed to sipgo.
//  2. Edge (inbound.go checkEdge), before any transaction or router: 505 for another SIP-Version (also when the
//     Via carries that version), 400 naming a
//     repeated singleton header; received and rport of the top Via set from the packet's source only (RFC 3261
//     §18.2.1, RFC 3581 §4); beyond Limits.MaxTransactions a new request outside a dialog gets 503 with
//     Retry-After (§21.5.4).
//  3. Match: retransmissions and hop-by-hop ACKs go to their server transaction (§17.2.3); a CANCEL is answered
//     200 and cancels the INVITE's branches (§16.10); an ACK for a 2xx is routed and forwarded statelessly.
//  4. Validate (§16.3): mandatory headers (400 naming the missing or malformed one), URI scheme (416),
//     Max-Forwards (483), loop detection with the branch hash of §16.6 step 8 (482), Proxy-Require and, when
//     this node answers, Require (420 with Unsupported). INVITE gets 100 Trying at once.
//  5. Route preprocessing (§16.4): strict-router Request-URI restored, our Route values removed.
//  6. Router.Route, then either the Reply, or one branch per Target (§16.6): copy, Request-URI, Max-Forwards,
//     pre-loaded Route, headers, strict-route fix-up, next hop resolution (RFC 3263 without NAPTR), transport
//     (over 1300 bytes: TCP, §18.1.1), Record-Route (double when interface or transport changes), Via with a
//     branch carrying the loop hash, Timer C (INVITE) or Timer F.
//  7. Responses (§16.7): provisional and 2xx forwarded at once, 6xx cancels the others, the best final response
//     chosen when all branches are done (503 never relayed: 500 when nothing else came back), 401/407 challenges
//     aggregated, pending branches cancelled after a final response.
//  8. Serial forwarding (Decision.OnFailure): when every branch failed with 3xx–5xx, the router may name the next
//     targets (an S-CSCF's next iFC after an AS failed, TS 24.229 §5.4.3.2); Target.NoResponseTimeout gives up on
//     a silent next hop long before Timer F, as a generated 408.
//  9. Failover (Target.Failover, failover.go): the addresses a resolver gave for one target are tried in order when
//     one fails at the transport, times out or answers 503 (RFC 3263 §4.3), each attempt a new client
//     transaction, the router not asked again; Target.HopFailed reports each failed address with a 503's
//     Retry-After, so that the resolver tries it last for that long.
//
// # TLS
//
// With Config.TLS (tls.go) the proxy also serves TLS listeners and sends to sips and transport=tls next hops
// (RFC 3261 §26.2, RFC 5630) over mutually authenticated TLS, with the certificate names of RFC 5922 §7
// (tlsname.go). TLS connections are read by sipgo's TLS transport exactly as TCP ones: the same Limits, the same
// framer, the same pool and reuse, plus a bounded handshake; the files are reloaded when they change.
//
// # Status codes the proxy makes itself
//
//   - 408 when a branch times out (Timer F, or Timer C without a provisional response, §16.8).
//   - 503 for a branch whose next hop cannot be reached (§16.9: TCP refused, unresolvable name), which §16.7
//     step 6 turns into 500 upstream when it is the only outcome: a 503 would tell the upstream that this
//     proxy is unavailable, when only one next hop is. OnResponse sees these as generated and may rewrite them
//     (a P-CSCF's S-CSCF restoration answer, TS 24.229 §5.2.6.3, is one such case).
//   - 504 when the router (or a DNS lookup for the next hop) did not get a timely answer from a server it
//     consulted (§21.5.5).
//   - 487 for an INVITE cancelled before any branch answered.
//
// # Adaptations to sipgo v1.7.2
//
// sipgo provides the message types, the parser, the TCP transport and the transaction state machines. Around
// them: the UDP transport is the proxy's own; a client transaction's responses are delivered in arrival order;
// a CANCEL is never handed to sipgo's server transaction (it answers 487 itself, where a proxy must wait for
// the downstream one); TCP connections are dialled by the proxy and handed to sipgo (its dialer looks
// connections up by local address alone); Timer C, Timer F and Timer K are the proxy's own (sipgo's timers are
// package globals); headers sipgo cannot parse are kept as text and judged by the proxy, and a response the
// proxy generates never copies one that sipgo could not read back. The white space RFC 3261 §25.1 allows around
// separators is removed before sipgo's header parsers see a value (they keep it inside parameter names and
// values); sipgo's TCP accept loop is fed by a listener that never fails it, and each connection it reads is
// wrapped to bound it in time and size (sipgo has no read timeout and reads with a 32 KiB buffer each).
package proxy
