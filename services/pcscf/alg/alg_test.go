package alg

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/services/imsagw"
	"github.com/imscore/imscore/services/imsagw/h248"
	"github.com/imscore/imscore/services/imsagw/msrp"
)

const wait = 20 * time.Second

// lab is an AGW and this ALG's endpoint on loopback.
type lab struct {
	agw      *imsagw.Node
	alg      *Client
	notified chan string
}

func newLab(t testing.TB) *lab {
	t.Helper()
	cfg := imsagw.DefaultConfig()
	cfg.Iq.Listen, cfg.HTTPListen = "127.0.0.1:0", ""
	ctx, cancel := context.WithCancel(context.Background())
	agw, err := imsagw.Start(ctx, cfg, zaptest.NewLogger(t).Named("agw"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	l := &lab{agw: agw, notified: make(chan string, 8)}
	ep, err := h248.Listen(h248.EndpointConfig{Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		Peers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}},
		NotifyHandler(func(_, term, cause string) { l.notified <- term + " " + cause }), zaptest.NewLogger(t).Named("alg"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	epCtx, stopEp := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ep.Run(epCtx) }()
	t.Cleanup(func() {
		stopEp()
		<-done
		cancel()
		_ = agw.Wait()
	})
	l.alg = New(ep, agw.IqAddr())
	return l
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

type ue struct {
	cert        tls.Certificate
	fingerprint string
}

func newUE(t testing.TB) ue {
	t.Helper()
	cert, err := imsagw.SelfSigned("ue")
	if err != nil {
		t.Fatal(err)
	}
	return ue{cert: cert, fingerprint: imsagw.Fingerprint(cert.Certificate[0])}
}

// dial connects to the MSRP stream of sdp (what the UE received) and checks the certificate against its
// a=fingerprint, as a UE does (RFC 8122).
func (u ue) dial(t *testing.T, sdp []byte) *tls.Conn {
	t.Helper()
	s, err := parseSession(sdp)
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.read(s.msrpIndex())
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{u.cert}, InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || imsagw.Fingerprint(raw[0]) != st.fingerprint {
				return errors.New("the AGW's certificate does not match the SDP's a=fingerprint")
			}
			return nil
		}}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: wait}, "tcp", net.JoinHostPort(st.addr, st.port), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	return c
}

func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func accept(t *testing.T, ln *net.TCPListener) net.Conn {
	t.Helper()
	_ = ln.SetDeadline(time.Now().Add(wait))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("no connection from the AGW: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	return c
}

func send(t *testing.T, from, to net.Conn, text string) {
	t.Helper()
	m := &msrp.Message{TransactionID: "t" + fmt.Sprint(time.Now().UnixNano()%1e9), Method: "SEND",
		Headers: []msrp.Header{{Name: "Content-Type", Value: "text/plain"}}, Body: []byte(text)}
	if _, err := from.Write(msrp.Encode(m)); err != nil {
		t.Fatal(err)
	}
	got, err := msrp.NewReader(to).Read()
	if err != nil || string(got.Body) != text {
		t.Fatalf("SEND arrived as %+v, %v", got, err)
	}
}

func ueOffer(u ue, setup string) []byte {
	return []byte("v=0\r\no=ue 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=message 9 TCP/TLS/MSRP *\r\na=accept-types:message/cpim text/plain\r\na=path:msrps://127.0.0.1:9/ue1;tcp\r\n" +
		"a=setup:" + setup + "\r\na=fingerprint:" + u.fingerprint + "\r\na=3ge2ae:requested\r\n")
}

func coreSDP(port int, setup string) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=message %d TCP/MSRP *\r\na=accept-types:text/plain\r\na=path:msrp://127.0.0.1:%d/b1;tcp\r\na=setup:%s\r\n", port, port, setup))
}

func has(t *testing.T, sdp []byte, want []string, absent []string) {
	t.Helper()
	for _, w := range want {
		if !bytes.Contains(sdp, []byte(w)) {
			t.Errorf("SDP lacks %q:\n%s", w, sdp)
		}
	}
	for _, a := range absent {
		if bytes.Contains(sdp, []byte(a)) {
			t.Errorf("SDP has %q:\n%s", a, sdp)
		}
	}
}

// TS 23.334 §6.2.10.3.1.1, both variants: the offer and answer rewritten on each side, then MSRP through the
// AGW with TLS towards the UE.
func TestOriginating(t *testing.T) {
	for _, est := range []Establish{Interlinked, OnAnswer} {
		t.Run(fmt.Sprint(est), func(t *testing.T) {
			l, u, core := newLab(t), newUE(t), listen(t)
			st, toCore, err := l.alg.OriginatingOffer(ctx(t), ueOffer(u, "active"), est)
			if err != nil {
				t.Fatal(err)
			}
			has(t, toCore, []string{"m=message ", " TCP/MSRP *", "a=setup:actpass", "a=path:msrp://127.0.0.1:9/ue1;tcp", "a=accept-types"},
				[]string{"fingerprint", "3ge2ae", "TLS", "msrps"})
			toUE, err := l.alg.OriginatingAnswer(ctx(t), st, coreSDP(core.Addr().(*net.TCPAddr).Port, "passive"))
			if err != nil {
				t.Fatal(err)
			}
			has(t, toUE, []string{"TCP/TLS/MSRP", "a=setup:passive", "a=fingerprint:" + l.agw.Fingerprint(), "a=3ge2ae:applied",
				"msrps://127.0.0.1:"}, []string{"msrp://"})
			var coreConn net.Conn
			if est == OnAnswer { // the AGW connected on the ALG's request, before the UE did
				coreConn = accept(t, core)
			}
			ueConn := u.dial(t, toUE)
			if coreConn == nil {
				coreConn = accept(t, core)
			}
			send(t, ueConn, coreConn, "to the core")
			send(t, coreConn, ueConn, "to the UE")
			_ = ueConn.Close()
			for range 2 {
				select {
				case n := <-l.notified:
					if !strings.HasSuffix(n, " NR") {
						t.Fatalf("Notify %q, want NR", n)
					}
				case <-time.After(wait):
					t.Fatal("no Notify of the released bearer")
				}
			}
			if got, err := l.alg.Contexts(ctx(t)); err != nil || len(got[st.Context]) != 2 {
				t.Fatalf("audit: %v, %v; want the context with both terminations", got, err)
			}
			if err := l.alg.Release(ctx(t), st); err != nil {
				t.Fatal(err)
			}
			if l.agw.Contexts() != 0 {
				t.Fatalf("%d AGW contexts after release", l.agw.Contexts())
			}
		})
	}
}

// TS 23.334 §6.2.10.3.1.2: the core's actpass offer; the UE answers active with its fingerprint; the UE's
// connection makes the AGW connect to the core.
func TestTerminating(t *testing.T) {
	l, u, core := newLab(t), newUE(t), listen(t)
	port := core.Addr().(*net.TCPAddr).Port
	st, toUE, err := l.alg.TerminatingOffer(ctx(t), coreSDP(port, "actpass"), Interlinked)
	if err != nil {
		t.Fatal(err)
	}
	has(t, toUE, []string{"TCP/TLS/MSRP", "a=setup:actpass", "a=fingerprint:" + l.agw.Fingerprint(), "a=3ge2ae:applied",
		"a=path:msrps://127.0.0.1:"}, nil)
	answer := []byte("v=0\r\no=ueb 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 9 TCP/TLS/MSRP *\r\n" +
		"a=path:msrps://127.0.0.1:9/ueb;tcp\r\na=setup:active\r\na=fingerprint:" + u.fingerprint + "\r\n")
	toCore, err := l.alg.TerminatingAnswer(ctx(t), st, answer)
	if err != nil {
		t.Fatal(err)
	}
	has(t, toCore, []string{"TCP/MSRP", "a=setup:active", "a=path:msrp://127.0.0.1:9/ueb;tcp"}, []string{"fingerprint", "TLS", "3ge2ae"})
	ueConn := u.dial(t, toUE)
	coreConn := accept(t, core)
	send(t, coreConn, ueConn, "to UE B")
	send(t, ueConn, coreConn, "from UE B")
	if err := l.alg.Release(ctx(t), st); err != nil {
		t.Fatal(err)
	}
}

// An offer without e2ae takes no AGW resource and passes unchanged.
func TestNotE2AE(t *testing.T) {
	l := newLab(t)
	for name, offer := range map[string][]byte{
		"plain MSRP":         coreSDP(9, "active"),
		"audio only":         []byte("v=0\r\no=a 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"),
		"TLS without 3ge2ae": bytes.ReplaceAll(ueOffer(newUE(t), "active"), []byte("a=3ge2ae:requested\r\n"), nil),
	} {
		st, out, err := l.alg.OriginatingOffer(ctx(t), offer, Interlinked)
		if !errors.Is(err, ErrNotE2AE) || st != nil || !bytes.Equal(out, offer) {
			t.Errorf("%s: %v, %v, changed %v", name, st, err, !bytes.Equal(out, offer))
		}
	}
	if l.agw.Contexts() != 0 {
		t.Fatalf("%d AGW contexts", l.agw.Contexts())
	}
}

func FuzzSession(f *testing.F) {
	f.Add(ueOffer(ue{fingerprint: "sha-256 00"}, "active"))
	f.Add(coreSDP(7777, "passive"))
	f.Add([]byte("v=0\r\nc=IN IP6 ::1\r\nm=message 1 TCP/MSRP *\r\nm=audio 2 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSession(b)
		if err != nil {
			return
		}
		i := s.msrpIndex()
		if i < 0 {
			return
		}
		if _, err := s.read(i); err != nil {
			return
		}
		_ = s.descriptor(i)
		s.rewrite(i, "192.0.2.1", "7", "TCP/TLS/MSRP", "passive", "sha-256 AA", "applied")
		again, err := parseSession(s.bytes())
		if err != nil {
			t.Fatalf("rewritten SDP does not parse: %v\n%q", err, s.bytes())
		}
		st, err := again.read(again.msrpIndex())
		if err != nil || st.addr != "192.0.2.1" || st.port != "7" || st.setup != "passive" || st.e2ae != "applied" {
			t.Fatalf("rewrite lost: %+v, %v\n%q", st, err, s.bytes())
		}
	})
}
