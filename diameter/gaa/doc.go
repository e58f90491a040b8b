// Package gaa is the Diameter side of the Generic Authentication Architecture (3GPP TS 29.109): the Zh
// application between a BSF and the HSS and the Zn application between a NAF and the BSF. It is a codec
// only, as diameter/cx and diameter/rx are: one typed struct per command with a byte codec
// (AppendBinary / UnmarshalBinary) and the go-diameter dictionary the peer layer checks requests with.
//
// Specification baseline: TS 29.109 Release 17 (§6.1 commands, §6.3 AVPs), TS 29.229 §6.3 for the SIP
// AVPs Zh borrows from Cx, RFC 6733 for the base protocol. Wireshark's dictionary.xml is the cross-check for
// codes, types and flags (TestDictionaryMatchesWireshark, TestTshark).
//
//	Reference point  Application-Id  Command                       Code  Request  Answer
//	Zh (BSF → HSS)   16777221        Multimedia-Auth               303   MAR      MAA      TS 29.109 §6.1.1, §6.1.2
//	Zn (NAF → BSF)   16777220        Bootstrapping-Info            310   BIR      BIA      TS 29.109 §6.1.3, §6.1.4
//
// Every struct keeps the AVPs it has no field for in Unknown (raw, padded), so decoding and encoding again
// loses nothing. UnmarshalBinary reports what breaks the command's ABNF as the *diameter.Error the answer
// needs (Result-Code and Failed-AVP, RFC 6733 §7.5) and never panics.
package gaa
