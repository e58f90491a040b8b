// Package identitytest holds the cases every node's identity handling is tested with, so that a test of the
// I-CSCF, the S-CSCF and the P-CSCF each proves its own path gives the keys package identity gives.
package identitytest

// Vector is one URI and its key; Key is empty when the URI is no public identity.
type Vector struct {
	Name, URI, Key string
}

// Vectors are the cases, among them those on which the nodes' former copies of the rule disagreed
// (tel visual separators, host and scheme case, user=phone, user case, escapes).
func Vectors() []Vector {
	return []Vector{
		{"sip", "sip:alice@ims.example", "sip:alice@ims.example"},
		{"sip host and scheme case", "SIP:alice@IMS.Example", "sip:alice@ims.example"},
		{"sip user case kept (RFC 3261 §19.1.4)", "sip:Alice@ims.example", "sip:Alice@ims.example"},
		{"sip port and parameters dropped", "sip:alice@ims.example:5060;transport=tcp;lr", "sip:alice@ims.example"},
		{"sip headers dropped", "sip:alice@ims.example?subject=x", "sip:alice@ims.example"},
		{"sip password dropped", "sip:alice:secret@ims.example", "sip:alice@ims.example"},
		{"sip escaped unreserved", "sip:%61lice@ims.example", "sip:alice@ims.example"},
		{"sip escaped reserved kept, upper hex", "sip:a%3bb@ims.example", "sip:a%3Bb@ims.example"},
		{"sips is not sip", "sips:alice@ims.example", "sips:alice@ims.example"},
		{"sip without user", "sip:IMS.example", "sip:ims.example"},
		{"sip without host", "sip:alice@", ""},
		{"tel global", "tel:+15550100", "tel:+15550100"},
		{"tel visual separators (RFC 3966 §3)", "tel:+1-555-0100", "tel:+15550100"},
		{"tel dots and parentheses", "tel:+1.(555).0100", "tel:+15550100"},
		{"tel global parameters dropped", "tel:+1-555-0100;phone-context=ims.example;ext=1", "tel:+15550100"},
		{"tel scheme case", "TEL:+15550100", "tel:+15550100"},
		{"tel local with domain context", "tel:555-0100;phone-context=IMS.Example", "tel:5550100;phone-context=ims.example"},
		{"tel local with number context", "tel:0100;phone-context=+1-555", "tel:0100;phone-context=+1555"},
		{"tel local hex lower case", "tel:*12AB#;phone-context=ims.example", "tel:*12ab#;phone-context=ims.example"},
		{"tel local without context (as provisioned: tel:<MSISDN>)", "tel:555-0100", "tel:5550100"},
		{"tel local with a bad context", "tel:5550100;phone-context=a b", ""},
		{"tel global with a letter", "tel:+1555abc", ""},
		{"tel empty", "tel:", ""},
		{"tel only separators", "tel:+--", ""},
		{"sip user=phone is the tel URI (RFC 3261 §19.1.6)", "sip:+1-555-0100@ims.example;user=phone", "tel:+15550100"},
		{"sip user=phone any case", "sip:+15550100;isub=7@IMS.example;USER=Phone", "tel:+15550100"},
		{"sip user=phone local", "sip:0100;phone-context=ims.example@ims.example;user=phone", "tel:0100;phone-context=ims.example"},
		{"sip user=phone not a number keeps the SIP form", "sip:alice@ims.example;user=phone", "sip:alice@ims.example"},
		{"sip number without user=phone is a SIP URI", "sip:+1-555-0100@ims.example", "sip:+1-555-0100@ims.example"},
		{"sip IPv6 host", "sip:alice@[2001:DB8::1]:5060", "sip:alice@[2001:db8::1]"},
		{"sip host with a space", "sip:alice@ims example", ""},
		{"sip user with a space", "sip:al ice@ims.example", ""},
		{"other scheme", "urn:service:sos", ""},
		{"not a URI", "garbage", ""},
	}
}
