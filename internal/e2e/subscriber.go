package e2e

import "fmt"

// Test subscribers. SIPp's AKA (sipp/*.xml) has K, OP and AMF written into the scenarios: every test subscriber
// uses them. SIPp cannot take key bytes 00, 0A, 0D, 5B or 5C (its keyword parser treats them as text), and none
// of these contain one; AMF is not 8000 for the same reason.
const (
	Domain = "ims.mnc001.mcc001.3gppnetwork.org"
	AKAK   = "11223344556677889911223344556677"
	AKAOP  = "12345678123456781234567812345678"
	AKAAMF = "80ff"
)

// Subscriber is one provisioned test user (DESIGN.md §2 identities).
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
