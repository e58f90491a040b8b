package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/ipsec/ipsectest"
)

// The SIP torture suite: every message of RFC 4475 §3, byte for byte (testdata/torture/<name>.sip are the files
// of the RFC's Appendix A archive, CRLFs and all), sent to the real P-CSCF, I-CSCF and S-CSCF, each answer held
// against what the RFC says an element receiving the message does. Afterwards every node must still be running,
// must not have logged a panic, and must still answer an ordinary OPTIONS.
//
// The nodes run in a network namespace of their own with nothing but loopback: the messages name hosts under
// example.com, and a node that forwards one must not reach the Internet (its name lookups fail at once there).
// Needs root for the namespace (skips without, fails under CI=true).
//
// A valid message may be answered in whatever way the node's role calls for (a CSCF refuses a stranger with 403,
// routes to an unknown user with 404, cannot reach example.com and says 500, as RFC 3261 §16.7 step 6 turns an
// unreachable next hop's 503 into) or forwarded onward (no answer here), but never refused as malformed (400)
// or for its version (505); an internal error shows as a panic in the log, which the suite checks. An invalid
// message gets the status code the RFC names.
func TestTortureRFC4475(t *testing.T) {
	ipsectest.RequireRoot(t)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			// A core per transport: the same message sent twice to one node would be a retransmission of the
			// first (RFC 3261 §17.2.3 matches by the Via branch), and its answer would go where the first went.
			ns := ipsectest.NewNS(t, "torture-"+transport)
			c := StartCoreIn(t, bins, ns)
			nodes := c.SIPNodes()
			// Everything is sent to every node first and the answers collected afterwards, so that a message
			// that rightly gets no answer costs tortureWait once, not once per message.
			batches := make([][]tortureSent, len(nodes))
			for i, node := range nodes {
				batches[i] = sendTorture(t, ns, node.SIP, transport)
			}
			deadline := time.Now().Add(tortureWait)
			for i, node := range nodes {
				t.Run(node.Name, func(t *testing.T) {
					checkTorture(t, batches[i], deadline, transport)
					CheckServing(t, ns, node.Process, node.SIP)
				})
			}
		})
	}
}

// tortureWait bounds how long the suite waits for the answers: a node answers at once or forwards (and then
// fails to reach example.com at once in the namespace, or waits for a timer far longer than this).
const tortureWait = 3 * time.Second

// tortureSent is one message on its way: over UDP from a probe of its own (which the answer comes back to),
// over TCP on a connection of its own.
type tortureSent struct {
	c      tortureCase
	probe  *SIPProbe
	stream *SIPStream
}

// sendTorture sends every message that suits transport to addr.
func sendTorture(t *testing.T, ns Namespace, addr, transport string) []tortureSent {
	t.Helper()
	var batch []tortureSent
	for _, c := range tortureCases {
		if transport == "tcp" && c.udpOnly {
			continue
		}
		msg, err := os.ReadFile(filepath.Join("testdata", "torture", c.name+".sip"))
		if err != nil {
			t.Fatal(err)
		}
		s := tortureSent{c: c}
		if transport == "udp" {
			s.probe = NewSIPProbeFor(t, ns, msg)
			s.probe.Send(addr, msg)
		} else {
			s.stream = DialSIPStream(t, ns, addr)
			s.stream.Send(msg)
		}
		batch = append(batch, s)
	}
	return batch
}

// checkTorture holds each answer against the RFC's outcome.
func checkTorture(t *testing.T, batch []tortureSent, deadline time.Time, transport string) {
	for _, s := range batch {
		t.Run(s.c.name, func(t *testing.T) {
			var (
				res    *sip.Response
				closed bool
			)
			if s.probe != nil {
				res = s.probe.Final(time.Until(deadline))
			} else {
				res, closed = s.stream.Final(time.Until(deadline))
			}
			if err := s.c.expect.check(res, closed); err != nil {
				t.Errorf("RFC 4475 §%s (%s) over %s: %v", s.c.clause, s.c.name, transport, err)
			}
		})
	}
}

// tortureCase is one RFC 4475 message and what the RFC expects of a proxy or registrar receiving it.
type tortureCase struct {
	name    string // testdata/torture/<name>.sip, the RFC's own file name
	clause  string // RFC 4475 section
	expect  expectation
	udpOnly bool // the RFC's outcome depends on the message being one datagram (or it has no Content-Length)
}

// expectation is what may come back for one message.
type expectation struct {
	codes   []int // the answer must carry one of these (an invalid message)
	valid   bool  // a well-formed message: forwarded, or any answer but 400 and 505
	liberal bool  // the RFC allows both: a 400, or handling the message as valid
	drop    bool  // a response no transaction waits for (RFC 3261 §18.1.2): nothing comes back
	framing bool  // over TCP, a framing error (RFC 3261 §18.3): closing the connection is right too
	// unsupported are option tags at least one set of which the 420's Unsupported must list (RFC 3261 §8.2.2.3,
	// §16.3 step 5: the Require tags when the node answers as UAS, the Proxy-Require ones as a proxy).
	unsupported [][]string
}

var (
	valid   = expectation{valid: true}
	liberal = expectation{liberal: true}
	drop    = expectation{drop: true}
)

func reject(codes ...int) expectation { return expectation{codes: codes} }

// refusedAsMalformed are the answers a valid message must never get. (A 500 it may get: RFC 3261 §16.7 step 6
// makes it the answer of a proxy whose only branch got 503, as the namespace makes every example.com hop.)
var refusedAsMalformed = []int{sip.StatusBadRequest, 505}

func (e expectation) check(res *sip.Response, closed bool) error {
	got := "no answer"
	switch {
	case closed:
		got = "the connection closed without an answer"
	case res != nil:
		got = fmt.Sprintf("%d %s", res.StatusCode, res.Reason)
	}
	switch {
	case e.drop:
		if res != nil {
			return fmt.Errorf("a response nobody waits for must be dropped; the node answered %s", got)
		}
	case e.valid, e.liberal:
		if closed {
			return fmt.Errorf("a valid message must not cost the connection: %s", got)
		}
		if res != nil && slices.Contains(refusedAsMalformed, res.StatusCode) &&
			!(e.liberal && res.StatusCode == sip.StatusBadRequest) {
			return fmt.Errorf("a valid message was refused: %s", got)
		}
	default:
		if closed && e.framing {
			return nil
		}
		if res == nil || !slices.Contains(e.codes, res.StatusCode) {
			return fmt.Errorf("want %v, got %s", e.codes, got)
		}
		if len(e.unsupported) > 0 {
			listed := strings.ToLower(strings.Join(headerValues(res, "Unsupported"), ","))
			if !slices.ContainsFunc(e.unsupported, func(tags []string) bool {
				return !slices.ContainsFunc(tags, func(tag string) bool { return !strings.Contains(listed, strings.ToLower(tag)) })
			}) {
				return fmt.Errorf("420 Unsupported lists %q, want all of one of %v", listed, e.unsupported)
			}
		}
	}
	return nil
}

func headerValues(m sip.Message, name string) []string {
	var out []string
	for _, h := range m.GetHeaders(name) {
		out = append(out, h.Value())
	}
	return out
}

// tortureCases are RFC 4475 §3 in the RFC's order, with the outcome its text gives for each.
var tortureCases = []tortureCase{
	// §3.1.1 Valid messages: "all elements should treat this as a well-formed request" (or response).
	{name: "wsinv", clause: "3.1.1.1", expect: valid},
	{name: "intmeth", clause: "3.1.1.2", expect: valid},
	{name: "esc01", clause: "3.1.1.3", expect: valid},
	{name: "escnull", clause: "3.1.1.4", expect: valid},
	{name: "esc02", clause: "3.1.1.5", expect: valid},
	{name: "lwsdisp", clause: "3.1.1.6", expect: valid},
	{name: "longreq", clause: "3.1.1.7", expect: valid},
	// The octets after the REGISTER are noise in the same datagram (RFC 3261 §18.3); over TCP they would be
	// a request of their own.
	{name: "dblreq", clause: "3.1.1.8", expect: valid, udpOnly: true},
	{name: "semiuri", clause: "3.1.1.9", expect: valid},
	{name: "transports", clause: "3.1.1.10", expect: valid},
	{name: "mpart01", clause: "3.1.1.11", expect: valid},
	// Two valid responses, but to no request of ours: §18.1.2 discards them.
	{name: "unreason", clause: "3.1.1.12", expect: drop},
	{name: "noreason", clause: "3.1.1.13", expect: drop},

	// §3.1.2 Invalid messages.
	{name: "badinv01", clause: "3.1.2.1", expect: reject(400)},
	// Over TCP the node can only wait for the rest (the idle timeout's business), so UDP only.
	{name: "clerr", clause: "3.1.2.2", expect: reject(400), udpOnly: true},
	{name: "ncl", clause: "3.1.2.3", expect: expectation{codes: []int{400}, framing: true}},
	{name: "scalar02", clause: "3.1.2.4", expect: reject(400)},
	{name: "scalarlg", clause: "3.1.2.5", expect: drop},
	{name: "quotbal", clause: "3.1.2.6", expect: reject(400)},
	// "reasonable always to reject … may choose to ignore the brackets"
	{name: "ltgtruri", clause: "3.1.2.7", expect: liberal},
	{name: "lwsruri", clause: "3.1.2.8", expect: reject(400)},
	// §3.1.2.9 to §3.1.2.15: "acceptable to reject … an element that is liberal … may ignore".
	{name: "lwsstart", clause: "3.1.2.9", expect: liberal},
	{name: "trws", clause: "3.1.2.10", expect: liberal},
	{name: "escruri", clause: "3.1.2.11", expect: liberal},
	{name: "baddate", clause: "3.1.2.12", expect: liberal},
	{name: "regbadct", clause: "3.1.2.13", expect: liberal},
	{name: "badaspec", clause: "3.1.2.14", expect: liberal},
	{name: "baddn", clause: "3.1.2.15", expect: liberal},
	{name: "badvers", clause: "3.1.2.16", expect: reject(505)},
	{name: "mismatch01", clause: "3.1.2.17", expect: reject(400)},
	{name: "mismatch02", clause: "3.1.2.18", expect: reject(501, 400)},
	{name: "bigcode", clause: "3.1.2.19", expect: drop},

	// §3.2 Transaction layer: reject with 400, or fall back to RFC 2543 matching.
	{name: "badbranch", clause: "3.2.1", expect: liberal},

	// §3.3 Application layer.
	{name: "insuf", clause: "3.3.1", expect: reject(400)},
	{name: "unkscm", clause: "3.3.2", expect: reject(416)},
	// "appropriate to treat it as unknown and return a 416 … a 404 Not Found is appropriate for those URIs it
	// doesn't accept"
	{name: "novelsc", clause: "3.3.3", expect: reject(416, 404)},
	// Well formed; "a registrar would reject this request with a 400", a proxy handles it as any other.
	{name: "unksm2", clause: "3.3.4", expect: liberal},
	{name: "bext01", clause: "3.3.5", expect: expectation{codes: []int{420}, unsupported: [][]string{
		{"noProxiesSupportThis", "norDoAnyProxiesSupportThis"}, {"nothingSupportsThis", "nothingSupportsThisEither"}}}},
	{name: "invut", clause: "3.3.6", expect: valid},
	{name: "regaut01", clause: "3.3.7", expect: valid},
	{name: "multi01", clause: "3.3.8", expect: reject(400)},
	{name: "mcl01", clause: "3.3.9", expect: expectation{codes: []int{400}, framing: true}},
	// A response whose second Via is the broadcast address: proxies drop it (and certainly do not send it there).
	{name: "bcast", clause: "3.3.10", expect: drop},
	// "A proxy should not forward the request and should respond 483".
	{name: "zeromf", clause: "3.3.11", expect: reject(483)},
	{name: "cparam01", clause: "3.3.12", expect: valid},
	{name: "cparam02", clause: "3.3.13", expect: valid},
	{name: "regescrt", clause: "3.3.14", expect: valid},
	{name: "sdp01", clause: "3.3.15", expect: valid},

	// §3.4 Backward compatibility: no branch, no From tag, no Content-Length (the body is the rest of the
	// datagram), no Max-Forwards. Only meaningful as one datagram.
	{name: "inv2543", clause: "3.4.1", expect: valid, udpOnly: true},
}
