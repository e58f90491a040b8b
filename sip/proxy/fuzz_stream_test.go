package proxy

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzStream feeds arbitrary bytes through the TCP inbound path of a real proxy: sipgo's stream parser with the
// proxy's lenient header parsers (the one its TCP transport runs per connection), in two reads split at cut as
// TCP may deliver them, and every message it frames through receiveStream (validation, the 400s, transaction
// creation, routing). It must never panic, and the parser must never hand over a message whose body is not
// what its Content-Length says (RFC 3261 §18.3 frames stream messages by it).
// Seeds: testdata/*.sip, also back to back; corpus: testdata/fuzz/FuzzStream.
func FuzzStream(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data, uint16(len(data)/2))
		f.Add(append(append([]byte(nil), data...), data...), uint16(len(data)))
	}
	f.Add([]byte(rawOptions), uint16(3))
	f.Add([]byte("\r\n\r\n"+rawOptions), uint16(4))
	p := fuzzProxy(f)
	src := p.tcp[0].bound.String()

	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		par := p.parser.NewSIPStream()
		deliver := func(msg sip.Message) {
			if n := msg.ContentLength(); n != nil && int(*n) != len(msg.Body()) {
				t.Fatalf("stream parser framed a message with Content-Length %d and a body of %d octets", *n, len(msg.Body()))
			}
			msg.SetTransport(transportTCP)
			msg.SetSource(src)
			p.receiveStream(msg)
		}
		at := min(int(cut), len(data))
		for _, part := range [][]byte{data[:at], data[at:]} {
			if len(part) == 0 {
				continue
			}
			if err := par.ParseSIPStream(part, deliver); err != nil && err != sip.ErrParseSipPartial {
				return // a framing error: the transport closes the connection
			}
		}
	})
}
