package proxy

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// FuzzHandleRaw feeds raw datagrams through the whole inbound path of a real proxy: sipgo's parser with the
// lenient header parsers, validation (RFC 3261 §16.3), the raw 400 builder, transaction creation and routing. It
// must never panic (panics inside goroutines are recovered and logged, so the target also checks the pieces it
// can call directly), and any 400 built from raw text must itself parse as a 400.
// Seeds: testdata/*.sip; corpus: testdata/fuzz/FuzzHandleRaw.
func FuzzHandleRaw(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Add([]byte(rawOptions))
	f.Add([]byte("\r\n\r\n"))

	// Answers go to a loopback socket whose reader checks that everything the proxy sends parses with sipgo's
	// strict parser (a response a UA cannot parse is as good as none).
	p := fuzzProxy(f)
	sink := newStrictSink(f)
	src := sink.addr
	l := p.udp[0]
	parser := newParser()

	f.Fuzz(func(t *testing.T, data []byte) {
		if bad := sink.bad.Load(); bad != nil {
			t.Fatalf("proxy sent a message sipgo cannot parse (from an earlier input): %q", *bad)
		}
		p.receiveDatagram(data, l, src)

		msg, err := parser.ParseSIP(data)
		if err != nil {
			if raw, rerr := readRawRequest(data); rerr == nil {
				res, perr := sip.ParseMessage(raw.response())
				if perr != nil {
					t.Fatalf("raw 400 does not parse: %v\n%q", perr, raw.response())
				}
				if r, ok := res.(*sip.Response); !ok || r.StatusCode != 400 {
					t.Fatalf("raw 400 parsed as %s", res.String())
				}
				_ = raw.destination(netip.MustParseAddrPort("127.0.0.1:5060"))
			}
			return
		}
		if req, ok := msg.(*sip.Request); ok && len(header.Fields(req, "via")) > 0 {
			_ = p.checkRequest(req)
			if req.Via() != nil {
				_ = loopHash(req, req.Via())
				_ = serverTxKey(req, req.Method)
			}
			_ = p.preprocessRoute(req)
			_ = nextHopURI(req)
		}
	})
}

// fuzzSeeds are the messages of testdata/*.sip.
func fuzzSeeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob("testdata/*.sip")
	var seeds [][]byte
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return seeds
}

// fuzzProxy is a proxy on loopback that answers as UAS and knows the sec-agree option tag, closed when the
// fuzz target ends.
func fuzzProxy(f *testing.F) *Proxy {
	p, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0"}}, Router: localRouter{tags: []string{"sec-agree"}, uas: true}}, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = p.Close() })
	return p
}

// strictSink reads what the proxy sends and remembers the first message that does not parse.
type strictSink struct {
	conn *net.UDPConn
	addr netip.AddrPort
	bad  atomic.Pointer[string]
	done chan struct{}
}

func newStrictSink(tb testing.TB) *strictSink {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	s := &strictSink{conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 65535)
		parser := sip.NewParser()
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if _, err := parser.ParseSIP(buf[:n]); err != nil {
				msg := string(buf[:n]) + "\n-- " + err.Error()
				s.bad.CompareAndSwap(nil, &msg)
			}
		}
	}()
	tb.Cleanup(func() { _ = c.Close(); <-s.done })
	return s
}

// FuzzFramer feeds a byte stream to the TCP framer whole and cut in two: the outcome must not depend on where TCP
// cut it, and wherever sipgo's stream parser reads the stream without an error the framer counts the same number
// of messages (the two must agree on the boundaries, RFC 3261 §18.3). Seeds: testdata/*.sip, keep-alives, pipelined
// and folded messages; corpus: testdata/fuzz/FuzzFramer.
func FuzzFramer(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.sip")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint16(len(data)/2))
	}
	opt := []byte(strings.NewReplacer("{VIA}", "127.0.0.1:5060", "{N}", "1").Replace(rawOptions))
	f.Add(opt, uint16(3))
	f.Add(append(append([]byte("\r\n\r\n"), opt...), opt...), uint16(40))
	f.Add([]byte(strings.Replace(string(opt), "Content-Length: 0", "l:\r\n 4", 1)+"body"), uint16(7))
	f.Add([]byte(strings.Replace(string(opt), "Content-Length: 0", "Content-Length: 99999999999999999999", 1)), uint16(0))

	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		whole := newFramer(limit)
		errW := whole.feed(data)
		k := int(cut) % (len(data) + 1)
		split := newFramer(limit)
		errS := split.feed(data[:k])
		if errS == nil {
			errS = split.feed(data[k:])
		}
		if (errW == nil) != (errS == nil) || whole.completed != split.completed || whole.state != split.state ||
			whole.head != split.head || whole.bodyLeft != split.bodyLeft {
			t.Fatalf("cut at %d changes the framing: whole %v %+v, split %v %+v", k, errW, *whole, errS, *split)
		}
		if errW != nil {
			return
		}
		parser := sip.NewParser()
		parser.MaxMessageLength = limit
		stream := parser.NewSIPStream()
		n := 0
		if err := stream.ParseSIPStream(data, func(sip.Message) { n++ }); err != nil && !errors.Is(err, sip.ErrParseSipPartial) {
			return // sipgo closes such a stream: nothing to agree on
		}
		if n != whole.completed {
			t.Fatalf("sipgo read %d messages, the framer %d", n, whole.completed)
		}
	})
}

// FuzzCompactLWS checks the white space compaction in front of sipgo's header parsers: the result only drops or
// narrows white space, its index map points at the byte each output byte came from (in order), and compacting
// twice changes nothing.
func FuzzCompactLWS(f *testing.F) {
	for _, s := range []string{
		`SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw`,
		`"J Rosenberg \\\""       <sip:jdrosen@example.com> ;   tag = 98asjd8`,
		`SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP / 2.0 / UDP x;branch= y`,
		`"Quoted string \"\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33`,
		`<sip:a@b;lr>, <sip:c@d;lr>`, `"unterminated`, `<sip:unterminated`, "\t", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, idx := compactLWS(s)
		if idx == nil {
			if out != s {
				t.Fatalf("unchanged result differs: %q", out)
			}
			return
		}
		if len(idx) != len(out) {
			t.Fatalf("index map of %d for %d bytes", len(idx), len(out))
		}
		for i := range len(out) {
			j := idx[i]
			if j < 0 || j >= len(s) || (i > 0 && j <= idx[i-1]) {
				t.Fatalf("index %d -> %d out of order", i, j)
			}
			if out[i] != s[j] && !(out[i] == ' ' && isLWSByte(s[j])) {
				t.Fatalf("byte %d %q comes from %q", i, out[i], s[j])
			}
		}
		if again, _ := compactLWS(out); again != out {
			t.Fatalf("not stable: %q -> %q", out, again)
		}
	})
}
