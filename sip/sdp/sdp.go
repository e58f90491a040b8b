// Package sdp parses the parts of an SDP session description (RFC 8866, formerly RFC 4566) that
// policy control needs: the connection addresses, the media lines with their ports, transport and
// formats, the bandwidth lines (RFC 8866 §5.8 AS, RFC 3890 TIAS, RFC 3556 RS/RR) and the
// attributes (direction, rtpmap, fmtp, rtcp, rtcp-mux, RFC 3312 preconditions). It is a reader for
// bodies from the network: bounded, never panics, and tells what it refused.
package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Limits: an SDP body is one SIP message body; these bound the work one body can cause.
const (
	MaxSize  = 64 << 10 // bytes
	MaxMedia = 32       // m= lines
	MaxLines = 2048
)

// ErrMalformed wraps every parse error.
var ErrMalformed = errors.New("sdp: malformed")

// Direction is the media direction attribute (RFC 8866 §6.7), sendrecv when absent.
type Direction uint8

const (
	SendRecv Direction = 0
	SendOnly Direction = 1
	RecvOnly Direction = 2
	Inactive Direction = 3
)

func (d Direction) String() string {
	return [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}[d]
}

// Sends reports whether the side that wrote the description sends media; Receives whether it receives.
func (d Direction) Sends() bool    { return d == SendRecv || d == SendOnly }
func (d Direction) Receives() bool { return d == SendRecv || d == RecvOnly }

// Bandwidth holds the b= lines of one level; 0 means absent.
type Bandwidth struct {
	AS   uint32 // b=AS, kbit/s (RFC 8866 §5.8)
	TIAS uint32 // b=TIAS, bit/s (RFC 3890)
	RS   uint32 // b=RS, bit/s (RFC 3556)
	RR   uint32 // b=RR, bit/s (RFC 3556)
}

// Attribute is one a= line: "name" or "name:value".
type Attribute struct {
	Name, Value string
}

// Media is one m= section (RFC 8866 §5.14) with what follows it up to the next m= line.
type Media struct {
	Type      string     // audio, video, text, application, message
	Port      uint16     // 0: the stream is rejected or removed (RFC 3264 §5.1, §8.2)
	Ports     int        // the "/<number of ports>" count, 1 when absent
	Proto     string     // RTP/AVP, RTP/AVPF, RTP/SAVP, TCP/MSRP, …
	Formats   []string   // payload types or format names
	Addr      netip.Addr // c= of the section, or the session's
	Bandwidth Bandwidth  // b= of the section
	Direction Direction  // a=sendrecv/sendonly/recvonly/inactive, the section's or the session's
	Attrs     []Attribute
	Lines     []string // the section's lines as received, m= first (for Codec-Data, TS 29.214 §5.3.7)
}

// Attr returns the value of the first attribute name and whether it occurs.
func (m *Media) Attr(name string) (string, bool) {
	for _, a := range m.Attrs {
		if strings.EqualFold(a.Name, name) {
			return a.Value, true
		}
	}
	return "", false
}

// RTCPPort is the port RTCP uses (RFC 3605 a=rtcp, else port+1 as RFC 3550 §11 says); 0 with
// rtcp-mux (RFC 5761) or a rejected stream.
func (m *Media) RTCPPort() uint16 {
	if m.Port == 0 {
		return 0
	}
	if _, mux := m.Attr("rtcp-mux"); mux {
		return 0
	}
	if v, ok := m.Attr("rtcp"); ok {
		if f := strings.Fields(v); len(f) > 0 { // RFC 3605: "a=rtcp:<port> [<nettype> <addrtype> <address>]"
			if p, err := strconv.ParseUint(f[0], 10, 16); err == nil && p > 0 {
				return uint16(p)
			}
		}
	}
	if !strings.HasPrefix(m.Proto, "RTP/") || m.Port == 65535 {
		return 0
	}
	return m.Port + 1
}

// Transport is the IP protocol number of the stream: 17 for RTP over UDP, 6 for TCP-based protos.
func (m *Media) Transport() uint8 {
	if strings.HasPrefix(strings.ToUpper(m.Proto), "TCP") {
		return 6
	}
	return 17
}

// Session is a parsed session description.
type Session struct {
	Origin    string // o= as received
	Addr      netip.Addr
	Bandwidth Bandwidth
	Direction Direction
	Media     []Media
}

// Parse reads an SDP body. Lines end in CRLF or LF (RFC 8866 §5 allows a lone LF on receipt).
func Parse(b []byte) (*Session, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), MaxSize)
	}
	s := &Session{}
	var cur *Media
	sawVersion := false
	lines := strings.Split(string(b), "\n")
	if len(lines) > MaxLines {
		return nil, fmt.Errorf("%w: %d lines, at most %d", ErrMalformed, len(lines), MaxLines)
	}
	for i, raw := range lines {
		line := strings.TrimSuffix(raw, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return nil, fmt.Errorf("%w: line %d %q is not <type>=<value>", ErrMalformed, i+1, clip(line))
		}
		typ, val := line[0], line[2:]
		if !sawVersion {
			if typ != 'v' || val != "0" {
				return nil, fmt.Errorf("%w: does not start with v=0", ErrMalformed)
			}
			sawVersion = true
			continue
		}
		if cur != nil {
			cur.Lines = append(cur.Lines, line)
		}
		switch typ {
		case 'o':
			s.Origin = val
		case 'c':
			a, err := parseConnection(val)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, i+1, err)
			}
			if cur != nil {
				cur.Addr = a
			} else {
				s.Addr = a
			}
		case 'b':
			bw := &s.Bandwidth
			if cur != nil {
				bw = &cur.Bandwidth
			}
			parseBandwidth(val, bw) // unknown modifiers are ignored (RFC 8866 §5.8)
		case 'm':
			if len(s.Media) == MaxMedia {
				return nil, fmt.Errorf("%w: more than %d media", ErrMalformed, MaxMedia)
			}
			m, err := parseMedia(val)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, i+1, err)
			}
			m.Direction = s.Direction
			m.Lines = []string{line}
			s.Media = append(s.Media, m)
			cur = &s.Media[len(s.Media)-1]
		case 'a':
			name, value, _ := strings.Cut(val, ":")
			if d, ok := direction(name); ok {
				if cur != nil {
					cur.Direction = d
				} else {
					s.Direction = d
				}
				continue
			}
			if cur != nil {
				cur.Attrs = append(cur.Attrs, Attribute{Name: name, Value: value})
			}
		}
	}
	if !sawVersion {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	for i := range s.Media {
		if !s.Media[i].Addr.IsValid() {
			s.Media[i].Addr = s.Addr
		}
	}
	return s, nil
}

func direction(name string) (Direction, bool) {
	switch name {
	case "sendrecv":
		return SendRecv, true
	case "sendonly":
		return SendOnly, true
	case "recvonly":
		return RecvOnly, true
	case "inactive":
		return Inactive, true
	}
	return 0, false
}

// parseConnection reads "IN IP4 <addr>[/ttl[/n]]" (RFC 8866 §5.7).
func parseConnection(v string) (netip.Addr, error) {
	f := strings.Fields(v)
	if len(f) != 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
		return netip.Addr{}, fmt.Errorf("c=%q is not IN IP4/IP6 <address>", clip(v))
	}
	host, _, _ := strings.Cut(f[2], "/")
	a, err := netip.ParseAddr(host)
	if err != nil || (f[1] == "IP4") != a.Is4() {
		return netip.Addr{}, fmt.Errorf("c=%q: not an %s address", clip(v), f[1])
	}
	return a, nil
}

func parseBandwidth(v string, bw *Bandwidth) {
	mod, val, ok := strings.Cut(v, ":")
	if !ok {
		return
	}
	n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 32)
	if err != nil {
		return
	}
	switch strings.ToUpper(mod) {
	case "AS":
		bw.AS = uint32(n)
	case "TIAS":
		bw.TIAS = uint32(n)
	case "RS":
		bw.RS = uint32(n)
	case "RR":
		bw.RR = uint32(n)
	}
}

// parseMedia reads "<media> <port>[/<number of ports>] <proto> <fmt> ..." (RFC 8866 §5.14).
func parseMedia(v string) (Media, error) {
	f := strings.Fields(v)
	if len(f) < 3 {
		return Media{}, fmt.Errorf("m=%q: want <media> <port> <proto> <fmt>...", clip(v))
	}
	portS, countS, hasCount := strings.Cut(f[1], "/")
	port, err := strconv.ParseUint(portS, 10, 16)
	if err != nil {
		return Media{}, fmt.Errorf("m=%q: port: %v", clip(v), err)
	}
	m := Media{Type: f[0], Port: uint16(port), Ports: 1, Proto: f[2], Formats: f[3:]}
	if hasCount {
		n, err := strconv.ParseUint(countS, 10, 8)
		if err != nil || n == 0 {
			return Media{}, fmt.Errorf("m=%q: number of ports", clip(v))
		}
		m.Ports = int(n)
	}
	return m, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
