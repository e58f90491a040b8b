// Package peer is the Diameter peer layer of imscore: transport, capabilities exchange, watchdog,
// disconnection, request/answer correlation, routing to peers and failover, as RFC 6733 §2, §3,
// §5 and RFC 3539 §3.4 describe them. go-diameter v4.3.0 is used as the message codec only; its
// server, state machine and client are not used (they drop a peer on an unknown command, panic
// on malformed bytes and on a duplicate CEA, and have no answer correlation, redial or DPR).
//
// A Node is one Diameter node (an HSS, an I-CSCF, an S-CSCF). It accepts peers with Serve,
// dials configured peers with Connect (keeping them up with backoff), sends requests with
// Request and hands incoming requests to one Handler. A connection is used in both directions:
// the HSS reaches an S-CSCF over the connection the S-CSCF opened.
//
// Trust is configured, never assumed (RFC 6733 §5.6.1, TS 33.210): Serve accepts a connection only
// when its CER names an AllowedPeer of Config.Peers from one of that peer's source addresses (else
// CEA DIAMETER_UNKNOWN_PEER, then close); Config.Permissions lets each peer send only the requests of
// its roles (else DIAMETER_AUTHORIZATION_REJECTED, before the Handler); Config.TLS runs every
// connection over mutually authenticated TLS from its first byte (RFC 6733 §2.1 TLS/TCP), the peer's
// certificate naming its Origin-Host.
//
// Everything read from the wire goes through one boundary: frames are read by length (never
// by go-diameter's ReadMessage), AVPs are walked and checked before anything is decoded, and
// decoding runs under recover. Bad input gets the answer RFC 6733 §7.1 prescribes, and the
// peer stays up unless framing itself is lost.
package peer
