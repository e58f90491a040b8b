package ue

// A fake P-CSCF on real loopback sockets: it reads what the UE sends, on its unprotected port
// and on its protected server port, and answers as each test scripts it.

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/secagree"
	"go.uber.org/zap/zaptest"
)

var testKeys = func() aka.Keys {
	k, err := aka.NewKeys([]byte("imscore-ue-K-001"), []byte("imscore-ue-OP-01"), nil, [2]byte{0x80, 0x00})
	if err != nil {
		panic(err)
	}
	return k
}()

// got is one message the peer received and the socket it came in on.
type got struct {
	msg  sip.Message
	from netip.AddrPort
	on   *net.UDPConn
}

type peer struct {
	t          *testing.T
	unprot     *net.UDPConn // the P-CSCF's unprotected port
	portC      *net.UDPConn // its protected client port
	portS      *net.UDPConn // its protected server port
	in         chan got
	sqn        aka.SQN
	spiC, spiS uint32
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	p := &peer{t: t, in: make(chan got, 64), sqn: 32, spiC: 0x1111, spiS: 0x2222}
	for _, c := range []**net.UDPConn{&p.unprot, &p.portC, &p.portS} {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		*c = conn
		t.Cleanup(func() { _ = conn.Close() })
		go func() {
			buf := make([]byte, 65535)
			for {
				n, src, err := conn.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
				if err != nil {
					t.Errorf("peer: unparsable message: %v", err)
					continue
				}
				p.in <- got{msg: m, from: src, on: conn}
			}
		}()
	}
	return p
}

func (p *peer) addr() netip.AddrPort { return p.unprot.LocalAddr().(*net.UDPAddr).AddrPort() }

func port(c *net.UDPConn) uint16 { return uint16(c.LocalAddr().(*net.UDPAddr).Port) }

// next returns the next message of the UE; it fails the test after 10 s without one.
func (p *peer) next() got {
	p.t.Helper()
	select {
	case g := <-p.in:
		return g
	case <-time.After(10 * time.Second):
		p.t.Fatal("peer: nothing from the UE within 10 s")
		return got{}
	}
}

// request waits for the next request of method, skipping (at most 20) other messages.
func (p *peer) request(method sip.RequestMethod) (*sip.Request, got) {
	p.t.Helper()
	for range 20 {
		g := p.next()
		if req, ok := g.msg.(*sip.Request); ok && req.Method == method {
			return req, g
		}
	}
	p.t.Fatalf("peer: no %s from the UE", method)
	return nil, got{}
}

// respond answers req on the socket it came in on.
func (p *peer) respond(g got, req *sip.Request, code int, reason string, mutate ...func(*sip.Response)) {
	p.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, m := range mutate {
		m(res)
	}
	p.send(g.on, g.from, res.String())
}

func (p *peer) send(c *net.UDPConn, to netip.AddrPort, msg string) {
	p.t.Helper()
	if _, err := c.WriteToUDPAddrPort([]byte(msg), to); err != nil {
		p.t.Fatal(err)
	}
}

func withHeader(name, value string) func(*sip.Response) {
	return func(r *sip.Response) { r.AppendHeader(sip.NewHeader(name, value)) }
}

// challenge answers an initial REGISTER with 401: an AKA challenge the USIM accepts and the
// peer's Security-Server (TS 33.203 §7.2).
func (p *peer) challenge(g got, req *sip.Request) {
	p.t.Helper()
	rnd, err := aka.NewRAND()
	if err != nil {
		p.t.Fatal(err)
	}
	v, err := aka.GenerateVector(testKeys, p.sqn, rnd)
	if err != nil {
		p.t.Fatal(err)
	}
	p.sqn += 32
	ch := digest.Challenge{Realm: "ims.test", Nonce: digest.AKANonce(v.RAND[:], v.AUTN[:], nil), Algorithm: digest.AlgAKAv1MD5, QOP: "auth"}
	client, err := secagree.FromMessage(req, header.SecurityClient)
	if err != nil || len(client) == 0 {
		p.t.Fatalf("initial REGISTER without a Security-Client: %v", err)
	}
	srv := client[0]
	srv.SPIC, srv.SPIS, srv.PortC, srv.PortS = p.spiC, p.spiS, port(p.portC), port(p.portS)
	p.respond(g, req, 401, "Unauthorized", withHeader(header.WWWAuthenticate, ch.String()),
		withHeader(header.SecurityServer, secagree.Format([]secagree.Mechanism{srv})))
}

// newTestUE makes a UE towards the peer.
func newTestUE(t *testing.T, p *peer, mutate ...func(*Config)) *UE {
	t.Helper()
	cfg := Config{IMPI: "001010000000001@ims.test", IMPU: "sip:001010000000001@ims.test", PCSCF: p.addr(),
		Keys: testKeys, Timeout: 5 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	u, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// async runs fn (a UE operation) in the background; wait returns its error.
func async(fn func() error) (wait func(t *testing.T) error) {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return func(t *testing.T) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("UE operation did not end within 30 s")
			return nil
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// registerPlain registers a UE without sec-agree: the peer answers the REGISTER 200 at once.
func (p *peer) registerPlain(t *testing.T, u *UE, expires string) *sip.Request {
	t.Helper()
	wait := async(func() error { _, err := u.Register(ctx(t)); return err })
	req, g := p.request(sip.REGISTER)
	p.respond(g, req, 200, "OK", withHeader("Expires", expires))
	if err := wait(t); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return req
}

// registerSecAgree registers a UE with sec-agree: 401 with Security-Server, then the protected
// REGISTER (on the peer's port-s) answered 200. It returns the protected REGISTER.
func (p *peer) registerSecAgree(t *testing.T, u *UE) *sip.Request {
	t.Helper()
	wait := async(func() error { _, err := u.Register(ctx(t)); return err })
	p.answerInitial(t)
	req, g := p.request(sip.REGISTER)
	if g.on != p.portS {
		t.Fatalf("the second REGISTER did not come to the protected server port")
	}
	p.respond(g, req, 200, "OK", withHeader("Expires", "600"))
	if err := wait(t); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return req
}

// answerInitial expects an initial REGISTER on the unprotected port and challenges it.
func (p *peer) answerInitial(t *testing.T) {
	t.Helper()
	req, g := p.request(sip.REGISTER)
	if g.on != p.unprot {
		t.Fatalf("initial REGISTER not on the unprotected port")
	}
	p.challenge(g, req)
}

func hasValue(m sip.Message, name, want string) bool {
	for _, v := range header.Values(m, name) {
		if strings.EqualFold(strings.TrimSpace(v), want) {
			return true
		}
	}
	return false
}
