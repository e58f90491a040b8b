// Package paa is the PANA Authentication Agent (RFC 5191) of the access-bound fast registration (issue 18,
// docs/fastreg.md): UEs authenticate over PANA with EAP-TLS (RFC 5216, RFC 9190), to an EAP-TLS server
// local to the PAA or to the HSS through the Diameter EAP application (RFC 4072); on success the PAA
// hands the UE's IMPI, the token exported from the TLS session and the session lifetime to a TokenPusher,
// and calls its Drop when the PANA session terminates or expires.
//
// The flow on one screen: agent.go reads datagrams and hands each to its session's goroutine
// (session.go, the PAA state machine of RFC 5609 §5 as far as this PAA needs it); the session asks its
// EAPSession (backend.go: local eaptls, or relay.go: DER/DEA) for the next EAP request; run.go starts the
// listeners, the HTTP endpoints and the backends.
package paa
