// Package bgcf is the Breakout Gateway Control Function (TS 24.229 §5.6, TS 23.228 §5.19): for a telephone
// number that ENUM does not translate into a SIP URI (RFC 6116; the S-CSCF tried, TS 24.229 §5.4.3.2), it
// selects where the call breaks out to the PSTN: a PSTN gateway (an MGCF, TS 24.229 §5.6.2) or a SIP trunk,
// by the number's longest matching prefix in a configured table.
//
// It runs inside the S-CSCF (services/scscf/interconnect.go asks it per request), not as a node of its own:
// a table lookup needs no SIP hop, and the S-CSCF already holds the request's routing state. A separate BGCF
// node (for breaking out in another network, TS 24.229 §5.6.2's "forward to a BGCF in another network") is a
// table entry whose gateway is that network's BGCF address.
package bgcf
