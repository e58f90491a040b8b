package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/services/imsagw"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/sip/ue/msrp"
)

// TestALG: the P-CSCF's IMS-ALG with cmd/imsagw, through P-, I- and S-CSCF, with sip/ue UEs that registered
// mediasec (TS 24.229 §5.1.1.2.1). Two P-CSCFs on one core: the first with the interlinked establishment
// (TS 23.334 §6.2.10.3.1.1.1) and RTP anchoring for every call, the second with the ALG asking for the TCP
// connection after the answer (§6.2.10.3.1.1.2). Each subtest ends with the AGW holding no context.
func TestALG(t *testing.T) {
	Need(t, bins.Has("imsagw"), "cmd/imsagw not in the tree yet")
	alice, bob, carol, dave := NthSubscriber(141), NthSubscriber(142), NthSubscriber(143), NthSubscriber(144)
	erin, frank, gina := NthSubscriber(145), NthSubscriber(146), NthSubscriber(147)
	agw := StartAGW(t, bins, "config_hold: 2s\nhandshake_timeout: 3s\n")
	c := startCoreWith(t, coreOptions{pcscf: true,
		pcscfExtra: fmt.Sprintf("alg: {agw: %q, media_anchoring: always}\n", agw.Iq)}, alice, bob, carol, dave, erin, frank, gina)
	p2 := StartPCSCF(t, bins, PCSCFOptions{ICSCF: c.icscf.SIP, Extra: fmt.Sprintf("alg: {agw: %q, establish: on_answer}\n", agw.Iq)})

	type party struct {
		sub   Subscriber
		u     *ue.UE
		agent *msrp.Agent
		tap   *tap
	}
	join := func(s Subscriber, pcscf string, mutate ...func(*ue.Config)) party {
		a, err := msrp.New(true, zaptest.NewLogger(t).Named(s.IMSI+"-msrp"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		tp := &tap{Agent: a}
		u, _ := c.newUE(t, s, append([]func(*ue.Config){func(cfg *ue.Config) {
			cfg.PCSCF = netip.MustParseAddrPort(pcscf)
			cfg.Media, cfg.Mediasec = tp, true
		}}, mutate...)...)
		return party{sub: s, u: u, agent: a, tap: tp}
	}
	pa, pb := join(alice, c.pcscf.SIP), join(bob, c.pcscf.SIP)
	pc, pd := join(carol, p2.SIP), join(dave, p2.SIP)

	bin := tshark.Find(t)
	_, scscfPort, _ := strings.Cut(c.scscf.SIP, ":")
	_, iqPort, _ := strings.Cut(agw.Iq, ":")

	// chat places an MSRP call from → to and exchanges a message each way through the AGW.
	chat := func(t *testing.T, from, to party) *ue.Call {
		t.Helper()
		call, err := from.u.Invite(uctx(t), number(to.sub))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sa, err := from.agent.Session(ctx, call.CallID())
		if err != nil {
			t.Fatalf("caller's MSRP session: %v", err)
		}
		sb, err := to.agent.Session(ctx, call.CallID())
		if err != nil {
			t.Fatalf("callee's MSRP session: %v", err)
		}
		if err := sa.Send(ctx, "hello from the caller"); err != nil {
			t.Fatalf("caller's SEND: %v", err)
		}
		if got, err := sb.Receive(ctx); err != nil || got != "hello from the caller" {
			t.Fatalf("callee received %q, %v", got, err)
		}
		if err := sb.Send(ctx, "hello from the callee"); err != nil {
			t.Fatalf("callee's SEND: %v", err)
		}
		if got, err := sa.Receive(ctx); err != nil || got != "hello from the callee" {
			t.Fatalf("caller received %q, %v", got, err)
		}
		return call
	}

	t.Run("e2ae MSRP, interlinked: messages both ways, the core never sees the UE's fingerprint", func(t *testing.T) {
		capture := tshark.StartCapture(t, bin, "lo", "port "+scscfPort+" or udp port "+iqPort)
		call := chat(t, pa, pb)
		if g := agw.Gauge(t, "imsagw_contexts"); g != 2 {
			t.Errorf("imsagw_contexts = %v during the session, want 2 (one per UE leg)", g)
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE: %v", err)
		}
		agw.WaitGauge(t, "imsagw_contexts", 0)
		path := capture.Stop(t)
		// The SIP to and from the S-CSCF (UDP, or TCP for the larger requests, RFC 3261 §18.1.1).
		sdp := tshark.Run(t, bin, "-r", path, "-d", "udp.port=="+scscfPort+",sip", "-d", "tcp.port=="+scscfPort+",sip",
			"-Y", "sdp", "-T", "fields", "-e", "sdp.media", "-e", "sdp.media_attr")
		if !strings.Contains(sdp, "TCP/MSRP") {
			t.Fatalf("no MSRP SDP captured between the P-CSCF and the S-CSCF:\n%s", sdp)
		}
		fps := map[string]string{"alice": pa.agent.Fingerprint(), "bob": pb.agent.Fingerprint()}
		for name, fp := range fps {
			if strings.Contains(sdp, strings.TrimPrefix(fp, "sha-256 ")) {
				t.Errorf("%s's fingerprint was seen by the core", name)
			}
		}
		if strings.Contains(sdp, "TCP/TLS/MSRP") || strings.Contains(sdp, "3ge2ae") || strings.Contains(sdp, "fingerprint") {
			t.Errorf("the core saw TCP/TLS/MSRP, a=3ge2ae or a fingerprint:\n%s", sdp)
		}
		// Every Iq message of the session decodes in Wireshark's MEGACO dissector.
		out := tshark.Run(t, bin, "-r", path, "-d", "udp.port=="+iqPort+",megaco", "-Y", "megaco", "-V")
		for _, bad := range []string{"Malformed", "[Expert Info (Error"} {
			if strings.Contains(out, bad) {
				t.Fatalf("tshark reports %q:\n%s", bad, tshark.Around(out, bad))
			}
		}
		for _, cmd := range []string{"Add", "Modify", "Subtract"} {
			if !regexp.MustCompile(`(?i)Command: ` + cmd).MatchString(out) {
				t.Errorf("no %s in the Iq capture", cmd)
			}
		}
	})

	t.Run("e2ae MSRP, connection after the answer", func(t *testing.T) {
		call := chat(t, pc, pd)
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE: %v", err)
		}
		agw.WaitGauge(t, "imsagw_contexts", 0)
	})

	t.Run("wrong fingerprint, other source, before configuration: refused, the UE still gets through", func(t *testing.T) {
		intruder, err := imsagw.SelfSigned("intruder")
		if err != nil {
			t.Fatal(err)
		}
		var probes sync.WaitGroup
		results := make(chan string, 3)
		// Before configuration: bob's T1 is in the offer bob gets; the AGW has no Remote for it until bob's
		// answer. A TLS client with another certificate connects first: held, then judged, refused.
		pb.tap.set(func(sdp []byte, answer bool) {
			if answer {
				return
			}
			probes.Go(func() { results <- "early: " + probeTLS(t, streamAddr(t, sdp), "127.0.0.1", intruder) })
			time.Sleep(200 * time.Millisecond) // the early SYN reaches the AGW first
		})
		// At alice's T1, once the answer names it: a connection from 127.0.0.2 (source filtering) and one with
		// a certificate that does not match alice's a=fingerprint.
		pa.tap.set(func(sdp []byte, answer bool) {
			if !answer {
				return
			}
			addr := streamAddr(t, sdp)
			probes.Go(func() { results <- "source: " + probeTLS(t, addr, "127.0.0.2", intruder) })
			probes.Go(func() { results <- "fingerprint: " + probeTLS(t, addr, "127.0.0.1", intruder) })
			time.Sleep(200 * time.Millisecond)
		})
		defer pa.tap.set(nil)
		defer pb.tap.set(nil)
		call := chat(t, pa, pb)
		probes.Wait()
		close(results)
		for r := range results {
			if !strings.HasSuffix(r, "refused") {
				t.Errorf("probe %s", r)
			}
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE: %v", err)
		}
		agw.WaitGauge(t, "imsagw_contexts", 0)
		m := Metrics(t, agw.HTTP)
		for _, reason := range []string{"source", "tls"} {
			if !strings.Contains(m, `imsagw_connections_refused_total{reason="`+reason+`"}`) {
				t.Errorf("no refusal counted for %s", reason)
			}
		}
	})

	t.Run("a dropped TCP connection releases every termination", func(t *testing.T) {
		call := chat(t, pa, pb)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := pa.agent.Session(ctx, call.CallID())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		agw.WaitGauge(t, "imsagw_contexts", 0)
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE after the drop: %v", err)
		}
	})

	t.Run("RTP anchored both ways with latching", func(t *testing.T) {
		ra, rb := newRTPMedia(t, true), newRTPMedia(t, false)
		ua, _ := c.newUE(t, erin, func(cfg *ue.Config) { cfg.Media = ra })
		c.newUE(t, frank, func(cfg *ue.Config) { cfg.Media = rb })
		call, err := ua.Invite(uctx(t), number(frank))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		if ra.remote() == ra.advertised || rb.remote() == ra.advertised {
			t.Fatalf("SDP not anchored: alice advertised %s, got answer %s, bob got offer %s", ra.advertised, ra.remote(), rb.remote())
		}
		// Alice's SDP names a port she never sends from (her NAT's mapping differs): the AGW latches onto the
		// source of her packets and sends bob's there.
		for i := range 3 {
			up := fmt.Sprintf("up-%d", i)
			ra.send(t, up)
			if got := rb.recv(t); got != up {
				t.Fatalf("bob got %q, want %q", got, up)
			}
			down := fmt.Sprintf("down-%d", i)
			rb.send(t, down)
			if got := ra.recv(t); got != down {
				t.Fatalf("alice got %q, want %q (latched to her real source)", got, down)
			}
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE: %v", err)
		}
		agw.WaitGauge(t, "imsagw_contexts", 0)
	})

	t.Run("CANCEL releases every termination", func(t *testing.T) {
		c.newUE(t, gina, func(cfg *ue.Config) { cfg.NoAnswer = true })
		_, err := pa.u.InviteWith(uctx(t), number(gina), ue.InviteOptions{CancelOn: 180})
		if statusOf(err) != 487 {
			t.Fatalf("INVITE = %v, want 487", err)
		}
		agw.WaitGauge(t, "imsagw_contexts", 0)
	})

	t.Run("no leak after many sessions", func(t *testing.T) {
		for i := range 30 {
			call := chat(t, pa, pb)
			if err := call.Hangup(uctx(t)); err != nil {
				t.Fatalf("BYE %d: %v", i, err)
			}
		}
		agw.WaitGauge(t, "imsagw_contexts", 0)
		agw.WaitGauge(t, "imsagw_terminations", 0)
	})
	agw.CheckNoPanic(t)
}

// tap is an msrp.Agent whose SDP a test sees first (before the agent connects).
type tap struct {
	*msrp.Agent
	mu sync.Mutex
	fn func(sdp []byte, answer bool)
}

func (p *tap) set(fn func([]byte, bool)) {
	p.mu.Lock()
	p.fn = fn
	p.mu.Unlock()
}

func (p *tap) see(sdp []byte, answer bool) {
	p.mu.Lock()
	fn := p.fn
	p.mu.Unlock()
	if fn != nil {
		fn(sdp, answer)
	}
}

func (p *tap) Answer(callID string, local netip.Addr, offer []byte) []byte {
	p.see(offer, false)
	return p.Agent.Answer(callID, local, offer)
}

func (p *tap) Answered(callID string, answer []byte) {
	p.see(answer, true)
	p.Agent.Answered(callID, answer)
}

// streamRE reads the MSRP section as the ALG writes it: c= right after the m= line.
var streamRE = regexp.MustCompile(`m=message (\d+) [^\r]*\r\nc=IN IP4 (\S+)`)

func streamAddr(t *testing.T, sdp []byte) string {
	m := streamRE.FindSubmatch(sdp)
	if m == nil {
		t.Errorf("no MSRP stream in %q", sdp)
		return "127.0.0.1:9"
	}
	return string(m[2]) + ":" + string(m[1])
}

// probeTLS connects from src to addr with cert and reports "refused" when the AGW ends the connection
// without relaying (handshake failure or a close), else what happened.
func probeTLS(t *testing.T, addr, src string, cert tls.Certificate) string {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return "refused" // a closed listener refuses too
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(15 * time.Second))
	c := tls.Client(raw, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		return "refused"
	}
	// TLS 1.3: the server's verdict on our certificate comes after the client's handshake.
	_, _ = c.Write([]byte("MSRP x SEND\r\n-------x$\r\n"))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), err != nil && !(errors.As(err, &ne) && ne.Timeout()):
		return "refused"
	}
	return fmt.Sprintf("not refused (%v)", err)
}

// rtpMedia is a UE's audio stream on a real UDP socket whose SDP names another port (behind a NAT).
type rtpMedia struct {
	conn       *net.UDPConn
	advertised string
	mu         sync.Mutex
	peer       string // where the other SDP says to send
}

func newRTPMedia(t *testing.T, nat bool) *rtpMedia {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Behind a NAT the advertised port is not the socket's: only latching brings the packets back.
	port := c.LocalAddr().(*net.UDPAddr).Port
	if nat {
		port += 2
	}
	return &rtpMedia{conn: c, advertised: fmt.Sprintf("127.0.0.1:%d", port)}
}

func (m *rtpMedia) sdp() []byte {
	host, port, _ := strings.Cut(m.advertised, ":")
	return []byte("v=0\r\no=- 1 1 IN IP4 " + host + "\r\ns=-\r\nt=0 0\r\nm=audio " + port +
		" RTP/AVP 0\r\nc=IN IP4 " + host + "\r\na=rtpmap:0 PCMU/8000\r\n")
}

// audioRE reads the audio section as the ALG writes it: c= right after the m= line.
var audioRE = regexp.MustCompile(`m=audio (\d+) [^\r]*\r\nc=IN IP4 (\S+)`)

func (m *rtpMedia) learn(sdp []byte) {
	s := string(sdp)
	if g := audioRE.FindStringSubmatch(s); g != nil {
		m.mu.Lock()
		m.peer = g[2] + ":" + g[1]
		m.mu.Unlock()
	}
}

func (m *rtpMedia) remote() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peer
}

func (m *rtpMedia) Offer(string, netip.Addr) []byte { return m.sdp() }

func (m *rtpMedia) Answer(_ string, _ netip.Addr, offer []byte) []byte {
	m.learn(offer)
	return m.sdp()
}

func (m *rtpMedia) Answered(_ string, answer []byte) { m.learn(answer) }

func (m *rtpMedia) send(t *testing.T, s string) {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", m.remote())
	if err != nil {
		t.Fatalf("no peer address: %v", err)
	}
	if _, err := m.conn.WriteToUDP([]byte(s), to); err != nil {
		t.Fatal(err)
	}
}

func (m *rtpMedia) recv(t *testing.T) string {
	t.Helper()
	buf := make([]byte, 2048)
	_ = m.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := m.conn.ReadFromUDP(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
