// Package eaptls is EAP-TLS (RFC 5216; TLS 1.3 per RFC 9190) for both ends: Server authenticates a peer by
// its client certificate and Peer is the handset's side. Go's crypto/tls runs the handshake over an in-memory
// connection (driver.go) that EAP packets feed and drain one flight at a time; the EAP-TLS framing with its
// L, M and S flags and the fragment acknowledgements is in frame.go.
//
// On success both ends hold the MSK and EMSK (RFC 9190 §2.3 for TLS 1.3, RFC 5216 §2.3 for TLS 1.2 with the
// extended master secret) and the IMS access token (token.go).
package eaptls
