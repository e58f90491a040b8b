// Package icscf is the Interrogating-CSCF of imscore: the entry point of the home network that asks the HSS
// which S-CSCF serves a user and forwards the request there (TS 24.229 §5.3, docs/design.md §4 step 3).
//
// REGISTER (TS 24.229 §5.3.1): User-Authorization-Request to the HSS (TS 29.228 §6.1.1), then the REGISTER
// goes to the S-CSCF the answer names, or to one chosen from the Server-Capabilities among the configured
// S-CSCFs. When the chosen S-CSCF does not answer, the HSS is asked again with REGISTRATION_AND_CAPABILITIES
// and another S-CSCF is tried (§5.3.1.3).
//
// Other initial requests (TS 24.229 §5.3.2, terminating): Location-Info-Request (TS 29.228 §6.1.4), then the
// request goes to the serving S-CSCF with a Route naming it and the Request-URI unchanged.
//
// The I-CSCF does not Record-Route (no topology hiding), so it sees no in-dialog requests; those that arrive
// anyway are forwarded by their Route set and Request-URI.
//
// The I-CSCF is the home network's entry point, so it stands at the edge of the trust domain (trusted_networks,
// sip/trust/boundary): a REGISTER (§5.3.1.2) or an "orig" request from outside is refused with 403, and any other
// message from outside loses P-Asserted-Identity and the other trust-domain header fields before it is read.
//
// Run starts the node: the SIP proxy (sip/proxy), the Cx client (diameter/peer) and the HTTP endpoints
// /metrics, /healthz and /readyz.
package icscf
