package e2e

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter/cx"
)

// DiameterProbe is a Diameter peer made of a bare TCP connection: what a test writes is byte for byte what the
// node reads, malformed or not. It speaks enough Cx (TS 29.229) to open the connection (CER/CEA, RFC 6733
// §5.3) and to keep it (DWR/DWA, §5.5), and reads the node's messages with go-diameter's decoder.
type DiameterProbe struct {
	t     testing.TB
	conn  net.Conn
	Host  string // the Origin-Host it claims
	Realm string
	Dict  *dict.Parser
	ids   uint32 // last Hop-by-Hop and End-to-End identifier used
}

// Diameter header layout, RFC 6733 §3.
const (
	DiameterHeaderLength = 20
	diameterFlagRequest  = 0x80
	diameterFlagError    = 0x20
	cmdCER               = 257
	cmdDWR               = 280
)

// ErrDiameterClosed is what DiameterProbe.Read reports when the node closed the connection.
var ErrDiameterClosed = errors.New("diameter connection closed by the node")

// DialDiameter connects to the Diameter listener at addr from the network namespace ns (nil: the test's own),
// to claim host (in the realm Domain) once it sends its CER. The connection is closed when the test ends.
func DialDiameter(t testing.TB, ns Namespace, addr, host string) *DiameterProbe {
	t.Helper()
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialIn(ns, "tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("diameter probe: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &DiameterProbe{t: t, conn: c, Host: host, Realm: Domain, Dict: d, ids: uint32(time.Now().UnixNano())}
}

// Conn is the underlying connection.
func (p *DiameterProbe) Conn() net.Conn { return p.conn }

// Frame serializes m with fresh Hop-by-Hop and End-to-End identifiers (RFC 6733 §3).
func (p *DiameterProbe) Frame(m *diam.Message) []byte {
	p.t.Helper()
	p.ids++
	m.Header.HopByHopID, m.Header.EndToEndID = p.ids, p.ids
	b, err := m.Serialize()
	if err != nil {
		p.t.Fatalf("diameter probe: serialize %s: %v", m, err)
	}
	return b
}

// CER is a Capabilities-Exchange-Request offering Cx (RFC 6733 §5.3.1, TS 29.229 §5.6).
func (p *DiameterProbe) CER() []byte {
	m := diam.NewRequest(cmdCER, 0, p.Dict)
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.Host))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(p.Realm))
	m.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address(net.IPv4(127, 0, 0, 1).To4()))
	m.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(cx.Vendor3GPP))
	m.NewAVP(avp.ProductName, 0, 0, datatype.UTF8String("imscore-e2e-probe"))
	m.NewAVP(avp.SupportedVendorID, avp.Mbit, 0, datatype.Unsigned32(cx.Vendor3GPP))
	m.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(cx.Vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(cx.AppID)),
	}})
	return p.Frame(m)
}

// DWR is a Device-Watchdog-Request (RFC 6733 §5.5.1).
func (p *DiameterProbe) DWR() []byte {
	m := diam.NewRequest(cmdDWR, 0, p.Dict)
	m.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(p.Host))
	m.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(p.Realm))
	return p.Frame(m)
}

// Open sends a CER and fails the test unless the node answers it with DIAMETER_SUCCESS.
func (p *DiameterProbe) Open() {
	p.t.Helper()
	p.Write(p.CER())
	cea := p.Answer(5 * time.Second)
	if rc := ResultCode(cea); rc != 2001 {
		p.t.Fatalf("diameter probe %s: CEA Result-Code %d:\n%s", p.Host, rc, cea)
	}
}

// Write sends b in one write.
func (p *DiameterProbe) Write(b []byte) {
	p.t.Helper()
	if err := p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("diameter probe: write: %v", err)
	}
}

// WriteSlowly sends b a few octets at a time with a pause between: a slow but well-behaved peer.
func (p *DiameterProbe) WriteSlowly(b []byte, chunk int, pause time.Duration) {
	p.t.Helper()
	for len(b) > 0 {
		n := min(chunk, len(b))
		p.Write(b[:n])
		b = b[n:]
		time.Sleep(pause)
	}
}

// CloseWrite ends the probe's side of the stream (the node reads end of file).
func (p *DiameterProbe) CloseWrite() {
	p.t.Helper()
	if err := p.conn.(*net.TCPConn).CloseWrite(); err != nil {
		p.t.Fatalf("diameter probe: close write: %v", err)
	}
}

// Read returns the next message within wait and its bytes: nil and no error when none came,
// ErrDiameterClosed when the node closed the connection. A message that does not decode fails the test.
func (p *DiameterProbe) Read(wait time.Duration) (*diam.Message, []byte, error) {
	p.t.Helper()
	if err := p.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		p.t.Fatal(err)
	}
	head := make([]byte, DiameterHeaderLength)
	_, err := io.ReadFull(p.conn, head)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, nil, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return nil, nil, ErrDiameterClosed
	case err != nil:
		p.t.Fatalf("diameter probe: read: %v", err)
	}
	length := int(head[1])<<16 | int(head[2])<<8 | int(head[3])
	if length < DiameterHeaderLength {
		p.t.Fatalf("diameter probe: the node sent a message of length %d", length)
	}
	frame := append(head, make([]byte, length-DiameterHeaderLength)...)
	if _, err := io.ReadFull(p.conn, frame[DiameterHeaderLength:]); err != nil {
		p.t.Fatalf("diameter probe: read %d octets of a message: %v", length, err)
	}
	m, err := diam.ReadMessage(bytes.NewReader(frame), p.Dict)
	if err != nil {
		// An answer to a command or application the dictionary does not hold (one the test made up): its
		// header and base protocol AVPs are all a test looks at.
		m, err = decodeLoose(frame, p.Dict)
	}
	if err != nil {
		p.t.Fatalf("diameter probe: the node sent what does not decode: %v\n% x", err, frame)
	}
	return m, frame, nil
}

// decodeLoose decodes the header and the AVPs of a message whose command is unknown to d, as base protocol
// AVPs (Application-Id 0, RFC 6733 §4.5).
func decodeLoose(frame []byte, d *dict.Parser) (*diam.Message, error) {
	h, err := diam.DecodeHeader(frame)
	if err != nil {
		return nil, err
	}
	m := diam.NewMessage(h.CommandCode, h.CommandFlags, h.ApplicationID, h.HopByHopID, h.EndToEndID, d)
	for b := frame[DiameterHeaderLength:]; len(b) >= 8; {
		n := int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		if n < 8 || n > len(b) {
			return nil, fmt.Errorf("AVP length %d with %d octets left", n, len(b))
		}
		a, err := diam.DecodeAVP(b[:n], 0, d)
		if err != nil {
			return nil, fmt.Errorf("AVP % x: %w", b[:8], err)
		}
		m.AddAVP(a)
		b = b[min((n+3)&^3, len(b)):]
	}
	return m, nil
}

// Answer waits for the next message and fails the test unless it is an answer.
func (p *DiameterProbe) Answer(wait time.Duration) *diam.Message {
	p.t.Helper()
	m, _, err := p.Read(wait)
	switch {
	case err != nil:
		p.t.Fatalf("diameter probe: no answer: %v", err)
	case m == nil:
		p.t.Fatalf("diameter probe: no answer within %v", wait)
	case m.Header.CommandFlags&diameterFlagRequest != 0:
		p.t.Fatalf("diameter probe: a request where an answer was due:\n%s", m)
	}
	return m
}

// ExpectClosed fails the test unless the node closes the connection within wait, sending nothing but answers
// (a last answer before closing is allowed).
func (p *DiameterProbe) ExpectClosed(wait time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		m, _, err := p.Read(time.Until(deadline))
		if errors.Is(err, ErrDiameterClosed) {
			return
		}
		if m == nil {
			break
		}
		if m.Header.CommandFlags&diameterFlagRequest != 0 && m.Header.CommandCode != 282 { // a DPR is a close too
			p.t.Fatalf("diameter probe: want the connection closed, got a request:\n%s", m)
		}
	}
	p.t.Fatalf("diameter probe: the node kept the connection open for %v", wait)
}

// CheckAlive sends a DWR on the open connection and fails the test unless a DWA with DIAMETER_SUCCESS comes
// back: the connection is still in business.
func (p *DiameterProbe) CheckAlive() {
	p.t.Helper()
	p.Write(p.DWR())
	dwa := p.Answer(5 * time.Second)
	if dwa.Header.CommandCode != cmdDWR || ResultCode(dwa) != 2001 {
		p.t.Fatalf("diameter probe: DWR answered with:\n%s", dwa)
	}
}

// ResultCode is the Result-Code of m (RFC 6733 §7.1), 0 when it has none.
func ResultCode(m *diam.Message) uint32 {
	a, err := m.FindAVP(avp.ResultCode, 0)
	if err != nil || a == nil {
		return 0
	}
	v, ok := a.Data.(datatype.Unsigned32)
	if !ok {
		return 0
	}
	return uint32(v)
}

// DiameterAVP encodes one AVP (RFC 6733 §4.1) with its padding, whatever its content: vendor 0 leaves the
// Vendor-ID out.
func DiameterAVP(code uint32, flags uint8, vendor uint32, data []byte) []byte {
	hl := 8
	if vendor != 0 {
		flags |= 0x80
		hl = 12
	}
	b := binary.BigEndian.AppendUint32(nil, code)
	b = append(b, flags)
	n := hl + len(data)
	b = append(b, byte(n>>16), byte(n>>8), byte(n))
	if vendor != 0 {
		b = binary.BigEndian.AppendUint32(b, vendor)
	}
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// SetDiameterLength writes n into the Message Length field of frame (RFC 6733 §3).
func SetDiameterLength(frame []byte, n int) {
	frame[1], frame[2], frame[3] = byte(n>>16), byte(n>>8), byte(n)
}

// AppendDiameterAVPs appends raw AVPs to frame and fixes its Message Length.
func AppendDiameterAVPs(frame []byte, avps ...[]byte) []byte {
	out := append([]byte(nil), frame...)
	for _, a := range avps {
		out = append(out, a...)
	}
	SetDiameterLength(out, len(out))
	return out
}

// String describes the probe for messages.
func (p *DiameterProbe) String() string {
	return fmt.Sprintf("diameter probe %s -> %s", p.Host, p.conn.RemoteAddr())
}
