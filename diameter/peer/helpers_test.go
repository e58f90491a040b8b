package peer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter"
)

// Test application (testdata/echo.xml): vendor-specific, as Cx is advertised.
const (
	echoApp      uint32 = 16777999
	echoVendor   uint32 = 10415
	cmdEcho      uint32 = 8388900
	otherApp     uint32 = 16777998 // testdata/other.xml: shared with nobody
	cmdOther     uint32 = 8388901
	avpEchoPay   uint32 = 9000 // OctetString, vendor 10415
	avpEchoCount uint32 = 9001 // Unsigned32
	avpEchoAddr  uint32 = 9002 // Address
	avpEchoGroup uint32 = 9003 // Grouped
	testRealm           = "test.example"
)

// testDict loads the base protocol subset and the test applications.
func testDict(t testing.TB) *dict.Parser {
	t.Helper()
	d, err := dict.NewParser("testdata/base.xml", "testdata/echo.xml", "testdata/other.xml")
	if err != nil {
		t.Fatalf("load test dictionary: %v", err)
	}
	return d
}

// testConfig is a node of the test application with short timers.
func testConfig(t testing.TB, host string) Config {
	return Config{
		OriginHost:       host,
		OriginRealm:      testRealm,
		HostIPAddresses:  []netip.Addr{netip.MustParseAddr("127.0.0.1")},
		VendorID:         echoVendor,
		ProductName:      "imscore-test",
		FirmwareRevision: 1,
		Applications:     []Application{{ID: echoApp, VendorID: echoVendor}},
		Dictionary:       testDict(t),
		WatchdogInterval: 10 * time.Second,
		RequestTimeout:   2 * time.Second,
		ReconnectMin:     20 * time.Millisecond,
		ReconnectMax:     200 * time.Millisecond,
		Peers:            testPeers(),
		Log:              testLogger(t).Named(host),
	}
}

// testPeers allows every host the tests use, from loopback.
func testPeers() []AllowedPeer {
	var peers []AllowedPeer
	for _, h := range []string{"a", "b", "fuzz", "hss", "hss1", "hss2", "hss9", "icscf", "m", "nobody", "ocs", "other",
		"pcef", "raw", "scscf", "z"} {
		peers = append(peers, AllowedPeer{Host: h + ".test.example", Realm: testRealm, Sources: []string{"127.0.0.0/8"}})
	}
	return peers
}

func testLogger(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok {
		return zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel)).Named(tt.Name())
	}
	return zap.NewNop()
}

// echoHandler answers Echo with DIAMETER_SUCCESS, copying Echo-Payload back.
func echoHandler() Handler {
	return HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		ans := req.Answer(uint32(diameter.Success))
		for _, a := range req.AVP {
			if a.Code == avpEchoPay || a.Code == avpVendorSpecificApplicationID || a.Code == avpAuthSessionState {
				ans.AddAVP(a)
			}
		}
		return ans, nil
	})
}

// newNode builds a node and closes it when the test ends.
func newNode(t testing.TB, cfg Config, h Handler) *Node {
	t.Helper()
	n, err := New(cfg, h)
	if err != nil {
		t.Fatalf("New(%s): %v", cfg.OriginHost, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			t.Errorf("Close(%s): %v", cfg.OriginHost, err)
		}
	})
	return n
}

// listen starts n serving on a fresh loopback port and returns the address.
func listen(t testing.TB, n *Node) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := n.Serve(context.Background(), ln); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	return ln.Addr().String()
}

// waitPeer waits, with a deadline, for host to be open on n.
func waitPeer(t testing.TB, n *Node, host string) PeerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := n.WaitPeer(ctx, host)
	if err != nil {
		t.Fatalf("%s never saw %s open: %v (peers %+v)", n.cfg.OriginHost, host, err, n.Peers())
	}
	return info
}

// connectPair starts server (listening) and client (dialling it) and waits for both sides to be open.
func connectPair(t testing.TB, client, server *Node) {
	t.Helper()
	addr := listen(t, server)
	if err := client.Connect(context.Background(), PeerConfig{Address: addr, Host: server.cfg.OriginHost, Realm: testRealm}); err != nil {
		t.Fatal(err)
	}
	waitPeer(t, client, server.cfg.OriginHost)
	waitPeer(t, server, client.cfg.OriginHost)
}

// newEcho builds an Echo request.
func newEcho(d *dict.Parser, sessionID, destHost string, payload string) *diam.Message {
	m := diam.NewRequest(cmdEcho, echoApp, d)
	m.Header.CommandFlags |= flagProxiable
	m.NewAVP(avpSessionID, avp.Mbit, 0, datatype.UTF8String(sessionID))
	m.NewAVP(avpVendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avpVendorID, avp.Mbit, 0, datatype.Unsigned32(echoVendor)),
		diam.NewAVP(avpAuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(echoApp)),
	}})
	m.NewAVP(avpAuthSessionState, avp.Mbit, 0, datatype.Enumerated(1))
	if destHost != "" {
		m.NewAVP(avpDestinationHost, avp.Mbit, 0, datatype.DiameterIdentity(destHost))
	}
	m.NewAVP(avpDestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
	m.NewAVP(avpEchoPay, avp.Mbit|avp.Vbit, echoVendor, datatype.OctetString(payload))
	return m
}

// leakCheck records the goroutine count and, when the test ends (after every node's Close,
// registered later and so run earlier), waits for it to come back.
func leakCheck(t *testing.T) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d at start, %d after Close\n%s", base, n, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// --- wire building ---------------------------------------------------------------------

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// avpRaw is an AVP on the wire, padded.
func avpRaw(code uint32, flags uint8, vendor uint32, payload []byte) []byte {
	hlen := 8
	if flags&avpFlagVendor != 0 {
		hlen = 12
	}
	b := binary.BigEndian.AppendUint32(nil, code)
	l := hlen + len(payload)
	b = append(b, flags, byte(l>>16), byte(l>>8), byte(l))
	if flags&avpFlagVendor != 0 {
		b = binary.BigEndian.AppendUint32(b, vendor)
	}
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// frameRaw is a message on the wire with the given AVP bytes; length is computed.
func frameRaw(flags uint8, code, app, hbh, e2e uint32, avps ...[]byte) []byte {
	body := bytes.Join(avps, nil)
	l := headerLength + len(body)
	b := []byte{diameterVersion, byte(l >> 16), byte(l >> 8), byte(l), flags, byte(code >> 16), byte(code >> 8), byte(code)}
	b = binary.BigEndian.AppendUint32(b, app)
	b = binary.BigEndian.AppendUint32(b, hbh)
	b = binary.BigEndian.AppendUint32(b, e2e)
	return append(b, body...)
}

func sessionAVP(s string) []byte { return avpRaw(avpSessionID, avpFlagMandatory, 0, []byte(s)) }
func identityAVP(code uint32, s string) []byte {
	return avpRaw(code, avpFlagMandatory, 0, []byte(s))
}
func vsaiAVP() []byte {
	return avpRaw(avpVendorSpecificApplicationID, avpFlagMandatory, 0, append(
		avpRaw(avpVendorID, avpFlagMandatory, 0, u32(echoVendor)),
		avpRaw(avpAuthApplicationID, avpFlagMandatory, 0, u32(echoApp))...))
}

// echoRaw is a well-formed Echo request with extra AVPs appended.
func echoRaw(hbh, e2e uint32, sid string, extra ...[]byte) []byte {
	avps := [][]byte{
		sessionAVP(sid),
		vsaiAVP(),
		avpRaw(avpAuthSessionState, avpFlagMandatory, 0, u32(1)),
		identityAVP(avpOriginHost, "raw.test.example"),
		identityAVP(avpOriginRealm, testRealm),
		identityAVP(avpDestinationRealm, testRealm),
	}
	return frameRaw(flagRequest|flagProxiable, cmdEcho, echoApp, hbh, e2e, append(avps, extra...)...)
}

// --- raw peer: a hand-driven TCP peer for bad input and for peers that misbehave ------------

type rawPeer struct {
	t    testing.TB
	nc   net.Conn
	d    *dict.Parser
	mu   *sync.Mutex
	host string
}

// on returns the peer reporting failures to t (a subtest's).
func (p *rawPeer) on(t testing.TB) *rawPeer {
	q := *p
	q.t = t
	return &q
}

func newRawPeer(t testing.TB, nc net.Conn, host string) *rawPeer {
	t.Cleanup(func() { nc.Close() })
	return &rawPeer{t: t, nc: nc, d: testDict(t), host: host, mu: new(sync.Mutex)}
}

func dialRaw(t testing.TB, addr, host string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return newRawPeer(t, nc, host)
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatalf("raw write: %v", err)
	}
}

func (p *rawPeer) writeMsg(m *diam.Message) {
	p.t.Helper()
	b, err := encode(m)
	if err != nil {
		p.t.Fatal(err)
	}
	p.write(b)
}

// read returns the next frame and its decoding, with a deadline.
func (p *rawPeer) read() ([]byte, *diam.Message, error) {
	if err := p.nc.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return nil, nil, err
	}
	frame, err := readFrame(p.nc, DefaultMaxMessageSize)
	if err != nil {
		return nil, nil, err
	}
	m, derr := decodeMessage(frame, p.d)
	if derr != nil {
		return frame, nil, derr
	}
	return frame, m, nil
}

// readAnswer reads frames, answering DWR itself, until an answer comes.
func (p *rawPeer) readAnswer() *diam.Message {
	p.t.Helper()
	for {
		_, m, err := p.read()
		if err != nil {
			p.t.Fatalf("raw read: %v", err)
		}
		if m.Header.CommandFlags&flagRequest == 0 {
			return m
		}
		if m.Header.CommandCode == cmdDeviceWatchdog {
			p.answer(m, diameter.Success)
			continue
		}
		p.t.Fatalf("raw peer: unexpected request %d", m.Header.CommandCode)
	}
}

// expectClosed reads until EOF (or reset), failing if a frame other than those allowed comes.
func (p *rawPeer) expectClosed() {
	p.t.Helper()
	for {
		_, m, err := p.read()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				p.t.Fatal("raw peer: connection still open")
			}
			return
		}
		if m != nil && m.Header.CommandCode == cmdDeviceWatchdog {
			continue
		}
		p.t.Fatalf("raw peer: unexpected message %d before close", m.Header.CommandCode)
	}
}

func (p *rawPeer) answer(req *diam.Message, code diameter.ResultCode) {
	ans := req.Answer(uint32(code))
	ans.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.host))
	ans.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
	p.writeMsg(ans)
}

// capabilities appends CER/CEA AVPs advertising apps (vendor 10415 for echoApp).
func (p *rawPeer) capabilities(m *diam.Message, stateID uint32, apps ...uint32) {
	m.NewAVP(avpOriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.host))
	m.NewAVP(avpOriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(testRealm))
	m.NewAVP(avpHostIPAddress, avp.Mbit, 0, datatype.Address(net.ParseIP("127.0.0.1").To4()))
	m.NewAVP(avpVendorID, avp.Mbit, 0, datatype.Unsigned32(0))
	m.NewAVP(avpProductName, 0, 0, datatype.UTF8String("raw"))
	m.NewAVP(avpOriginStateID, avp.Mbit, 0, datatype.Unsigned32(stateID))
	for _, a := range apps {
		m.NewAVP(avpVendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
			diam.NewAVP(avpVendorID, avp.Mbit, 0, datatype.Unsigned32(echoVendor)),
			diam.NewAVP(avpAuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(a)),
		}})
	}
}

// handshake sends CER and returns the CEA.
func (p *rawPeer) handshake(apps ...uint32) *diam.Message {
	p.t.Helper()
	cer := diam.NewRequest(cmdCapabilitiesExchange, 0, p.d)
	p.capabilities(cer, 1, apps...)
	p.writeMsg(cer)
	return p.readAnswer()
}

// acceptCER reads the node's CER and answers it with a successful CEA.
func (p *rawPeer) acceptCER(stateID uint32) *diam.Message {
	p.t.Helper()
	_, cer, err := p.read()
	if err != nil || cer.Header.CommandCode != cmdCapabilitiesExchange {
		p.t.Fatalf("raw peer: want CER, got %v, %v", cer, err)
	}
	p.writeMsg(p.cea(cer, stateID))
	return cer
}

func (p *rawPeer) cea(cer *diam.Message, stateID uint32) *diam.Message {
	cea := cer.Answer(uint32(diameter.Success))
	p.capabilities(cea, stateID, echoApp)
	return cea
}

// resultCode fails the test unless m carries a Result-Code.
func resultCode(t testing.TB, m *diam.Message) diameter.ResultCode {
	t.Helper()
	code, vendor, ok := resultOf(m)
	if !ok || vendor != 0 {
		t.Fatalf("no base Result-Code in %s", m)
	}
	return diameter.ResultCode(code)
}

// failedAVPs returns the AVPs inside Failed-AVP.
func failedAVPs(m *diam.Message) []*diam.AVP { return groupedAVPs(findAVP(m.AVP, avpFailedAVP)) }

// hexdump for failure messages.
func hexdump(b []byte) string {
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte(' ')
		}
		fmt.Fprintf(&s, "%02x", c)
	}
	return s.String()
}
