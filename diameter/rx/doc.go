// Package rx is the Rx Diameter application between an Application Function (the P-CSCF) and
// the PCRF (3GPP TS 29.214 protocol, TS 29.213 QoS mapping): the dictionary go-diameter needs to
// decode it, and one typed Go struct per command with a byte codec (AppendBinary /
// UnmarshalBinary) and the go-diameter path (Marshal / Unmarshal), as diameter/cx has for Cx.
// It is a codec only: no sockets, no peers (those are diameter/peer's), no state.
//
// Specification baseline: TS 29.214 Release 17 (§5.6 commands, §5.3 AVPs, Table 5.3.1 flags,
// §5.5 result codes), RFC 6733 for the base protocol, RFC 4006/8506 for Subscription-Id,
// RFC 7155 for Framed-IP-Address and Framed-IPv6-Prefix, TS 29.212 for IP-CAN-Type and RAT-Type.
// Wireshark's TGPP.xml is the cross-check for codes, types and the 'M' bit.
//
//	Command (TS 29.214)       Code  Request  Answer  Clause
//	AA (Authorize-Authenticate) 265 AAR      AAA     §5.6.1, §5.6.2
//	Re-Auth                   258   RAR      RAA     §5.6.3, §5.6.4
//	Session-Termination       275   STR      STA     §5.6.5, §5.6.6
//	Abort-Session             274   ASR      ASA     §5.6.7, §5.6.8
//
// The AF sends AAR and STR; the PCRF sends RAR and ASR. Every struct keeps the AVPs it has no
// field for in Unknown, so decoding and encoding again loses nothing. UnmarshalBinary reports
// what breaks the command's ABNF as the *diameter.Error the answer needs (Result-Code and
// Failed-AVP, RFC 6733 §7.5) and never panics.
package rx
