package proxy

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
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
