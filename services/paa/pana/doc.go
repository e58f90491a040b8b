// Package pana is the message and AVP codec of PANA, the Protocol for carrying Authentication for Network
// Access (RFC 5191), and its key derivation (RFC 5191 §5.3): a PANA message is a 16-byte header and AVPs,
// carried in one UDP datagram (port 716, RFC 5191 §10.2).
//
// Supported: the four message types (PCI, PANA-Auth, PANA-Termination, PANA-Notification) with their flags,
// the nine AVPs of RFC 5191 §8, PRF_HMAC_SHA1 and AUTH_HMAC_SHA1_160 (mandatory, RFC 5191 §5.3), and
// PRF_HMAC_SHA2_256 with AUTH_HMAC_SHA2_256_128 (RFC 7296 / RFC 4868 transform numbers). Unknown AVPs are kept
// in Message.AVPs so that a message re-encodes byte for byte (AUTH covers the whole PDU).
package pana
