package e2e

import "fmt"

// Test subscribers. SIPp's AKA (sipp/*.xml) has K, OP and AMF written into the scenarios, and every test
// subscriber uses them. They are given to SIPp as text, not as 0x-hex: SIPp 3.6.1 turns a hex value into
// bytes without a terminating NUL and then scans them as scenario text for [keywords], so a key byte 00, 0A,
// 0D, 5B or 5C, or whatever follows the key in memory, breaks the run at random ("Syntax error or invalid
// [keyword] in scenario while parsing '…'"). A text value is used byte for byte and ends where the XML says.
// So K is the 16 ASCII bytes "imscore-e2e-K-01", OP "imscore-e2e-OP01" and AMF "00" (0x3030).
const (
	Domain = "ims.mnc001.mcc001.3gppnetwork.org"
	AKAK   = "696d73636f72652d6532652d4b2d3031"
	AKAOP  = "696d73636f72652d6532652d4f503031"
	AKAAMF = "3030"
)

// Subscriber is one provisioned test user (docs/design.md §2 identities).
type Subscriber struct {
	IMSI   string
	MSISDN string
}

// IMPI is <IMSI>@<domain>.
func (s Subscriber) IMPI() string { return s.IMSI + "@" + Domain }

// IMPU is sip:<IMSI>@<domain>.
func (s Subscriber) IMPU() string { return "sip:" + s.IMSI + "@" + Domain }

// NthSubscriber is the n-th test subscriber (n from 1): IMSI 00101000000000n, MSISDN 1555000000n.
func NthSubscriber(n int) Subscriber {
	return Subscriber{IMSI: fmt.Sprintf("00101%010d", n), MSISDN: fmt.Sprintf("1555%07d", n)}
}
