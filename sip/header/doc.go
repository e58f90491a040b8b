// Package header parses and writes the IMS SIP header fields that sipgo keeps as raw text, and
// reads and edits any header of a sipgo message whatever its case or compact form.
//
// sipgo v1.7.2 parses a handful of headers (Via, From, To, Call-ID, CSeq, Contact, Route,
// Record-Route, Content-Type, Content-Length, Max-Forwards) and keeps every other one as a
// generic name/value pair, spelt as it came off the wire. It expands only the compact forms it
// parses (v, f, t, i, m, c, l), so "k: path" stays a header named "k"; its GetHeaders is
// case-insensitive but not compact-aware, and its RemoveHeader is case-sensitive and removes one
// line. Values, Has, Remove, Set, Add and Prepend below close those gaps without touching sipgo.
//
// The typed values are:
//   - name-addr lists: Path (RFC 3327), Service-Route (RFC 3608), P-Asserted-Identity and
//     P-Preferred-Identity (RFC 3325), P-Associated-URI (RFC 7315 §4.1);
//   - P-Visited-Network-ID (RFC 7315 §4.3), P-Access-Network-Info (RFC 7315 §4.4),
//     P-Charging-Function-Addresses (RFC 7315 §4.5), P-Charging-Vector (RFC 7315 §4.6).
//
// Parsers never panic and report a *ParseError naming the header, the parameter when there is
// one, and the byte offset in the value. Writers always produce text that the parsers accept:
// quoted-strings are escaped, and CR, LF and NUL, which no header value may hold, become spaces.
package header
