// Package cx is the Cx/Dx Diameter application of the IMS (3GPP TS 29.228 procedures,
// TS 29.229 protocol): the dictionary go-diameter needs to decode it, and one typed Go struct
// per command with Marshal / Unmarshal. It is a codec only: no sockets, no peers (those are
// diameter/peer's), no state.
//
// Specification baseline: TS 29.229 Release 17 content (AVP codes 600–667, the Rel-16/17
// RTR-Flags, P-CSCF-Subscription-Info, Registration-Time-Out, Failed-PCSCF), RFC 6733 for the
// base protocol, RFC 7683/8581 (overload), RFC 8583 (load), RFC 7944 (DRMP), RFC 4740 (Digest
// AVPs). Wireshark's TGPP.xml is the cross-check for codes and types.
//
//	Command (TS 29.229)              Code  Request  Answer  Clause
//	User-Authorization               300   UAR      UAA     §6.1.1, §6.1.2
//	Server-Assignment                301   SAR      SAA     §6.1.3, §6.1.4
//	Location-Info                    302   LIR      LIA     §6.1.5, §6.1.6
//	Multimedia-Auth                  303   MAR      MAA     §6.1.7, §6.1.8
//	Registration-Termination         304   RTR      RTA     §6.1.9, §6.1.10
//	Push-Profile                     305   PPR      PPA     §6.1.11, §6.1.12
//
// Use:
//
//	d, err := cx.NewDictionary()               // once per process; read-only afterwards
//	msg, err := cx.ReadMessage(conn, d)        // or diam.ReadMessage; see DecodeMessage
//	mar, err := cx.ParseMAR(msg)               // err is a *diameter.Error for the answer
//	maa := cx.NewMAA(mar)
//	maa.SetExperimentalResult(cx.Vendor3GPP, cx.ErrorUserUnknown) // or maa.SetError(err)
//	out, err := maa.Marshal(d)                 // the peer layer sets the identifiers
//
// Every struct keeps the AVPs it has no field for in Unknown, so that decoding and encoding
// again loses nothing. Unmarshal reports what breaks the command's ABNF as the
// *diameter.Error the answer needs (Result-Code and Failed-AVP, RFC 6733 §7.5) and never panics.
package cx
