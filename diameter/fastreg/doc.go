// Package fastreg is the PAA → HSS token application of the access-bound fast registration (issue 18,
// docs/fastreg.md "Core side"): the access agent (PAA) pushes the token it derived from the UE's EAP-TLS
// session (RFC 5705 exporter) to the HSS with the user's IMPI and a lifetime (Token-Push), and drops it when
// the access session ends (Token-Drop). The HSS returns a stored, unexpired token beside the vector in the
// MAA (AVPToken at the MAA's top level, in its *[ AVP ]).
//
// Nothing here is registered with IANA; the codes are chosen so that they cannot collide with a registered
// application (docs/fastreg.md "Codes"):
//
//	Vendor-Id       32473       RFC 5612: the Private Enterprise Number reserved for documentation; no
//	                            vendor owns it, so our vendor AVPs cannot be mistaken for a real vendor's
//	Application-Id  4294967294  0xfffffffe, the last vendor-specific value (RFC 6733 §11.3, 0xffffffff is
//	                            Relay); IANA assigns upwards from 16777216, so it is the value furthest from
//	                            any assigned one. RFC 6733 has no experimental application range.
//	Command-Code    16777214    Token-Push (TPR/TPA), 0xfffffe: experimental (RFC 6733 §11.2.1)
//	Command-Code    16777215    Token-Drop (TDR/TDA), 0xffffff: experimental (RFC 6733 §11.2.1)
//	AVP 100 (V)     Token       OctetString, vendor 32473: the code the 2010 prototype used
//	AVP 101 (V)     Token-Lifetime  Unsigned32, seconds, vendor 32473
//
// The messages are built as go-diameter messages (the peer layer's Request and Handler take them) with the
// dictionary of NewDictionary, and decoded from them; UnmarshalBinary decodes a wire frame for fuzzing and the
// vectors in testdata/.
package fastreg
