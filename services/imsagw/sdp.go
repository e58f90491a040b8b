package imsagw

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/imscore/imscore/services/imsagw/h248"
)

// Transport protocols of an MSRP m= line (RFC 4975 §8.1 "TCP/MSRP", RFC 4975 §14 "TCP/TLS/MSRP") and of an
// application-agnostic TCP stream (RFC 4145 "TCP", RFC 4572 "TCP/TLS"). The access side of an e2ae stream uses
// the TLS variants (TS 23.334 §6.2.10.3.1), the core side the plain ones.
const (
	ProtoTCPMSRP    = "TCP/MSRP"
	ProtoTCPTLSMSRP = "TCP/TLS/MSRP"
	ProtoTCP        = "TCP"
	ProtoTCPTLS     = "TCP/TLS"
	// ProtoRTPAVP and ProtoRTPAVPF are RTP over UDP (RFC 3551, RFC 4585): the anchored audio and video of
	// hosted NAT traversal (TS 23.334 §5.x), relayed with latching.
	ProtoRTPAVP  = "RTP/AVP"
	ProtoRTPAVPF = "RTP/AVPF"
)

// Setup roles of RFC 4145 §4: who opens the TCP connection.
const (
	SetupActive  = "active"
	SetupPassive = "passive"
	SetupActPass = "actpass"
)

// FingerprintHash is the hash function of the fingerprints this AGW writes and checks (RFC 8122 §5; TS 33.328
// §7.3 asks for SHA-256 or stronger).
const FingerprintHash = "sha-256"

// errSDP means a Local or Remote descriptor holds no SDP this AGW can serve; the command is answered with
// H.248.8 error 449 (Unsupported or unknown parameter or property value).
var errSDP = errors.New("sdp")

// maxSDPLines bounds the lines of one descriptor (an MSRP media description has about ten).
const maxSDPLines = 64

// media is the part of a Local or Remote descriptor (RFC 4566) a TCP relay needs: the first m= line, its
// connection address, the setup role, the certificate fingerprint and the other attributes, kept as they are.
// "$" (h248.Choose) in Addr, Port or Fingerprint asks the AGW to choose (H.248.1 Annex C, TS 29.334 §5.3).
type media struct {
	Addr        string
	Port        string
	Media       string // "message"
	Proto       string
	Fmt         string
	Setup       string
	Fingerprint string   // "sha-256 AB:CD:…" or "$"
	Attrs       []string // other a= lines, without "a="
}

// rtp tells whether the stream is RTP over UDP.
func (m media) rtp() bool { return strings.HasPrefix(m.Proto, "RTP/") }

// rtcpPort is the RTCP port of the description: a=rtcp (RFC 3605 §2.1) or the RTP port + 1 (RFC 3550 §11).
func (m media) rtcpPort() (uint16, bool) {
	for _, a := range m.Attrs {
		if v, ok := strings.CutPrefix(a, "rtcp:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			p, err := strconv.ParseUint(f[0], 10, 16)
			return uint16(p), err == nil && p != 0
		}
	}
	p, err := strconv.ParseUint(m.Port, 10, 16)
	return uint16(p + 1), err == nil && p != 0 && p < 65535
}

// tls tells whether the stream is carried over TLS.
func (m media) tls() bool { return strings.Contains(m.Proto, "/TLS") }

// parseSDP reads the first media description of sdp. It accepts what an H.248 Local or Remote descriptor
// holds: a full session description, or only c= and m= lines with their attributes.
func parseSDP(sdp string) (media, error) {
	var m media
	lines := strings.Split(strings.ReplaceAll(sdp, "\r\n", "\n"), "\n")
	if len(lines) > maxSDPLines {
		return m, fmt.Errorf("%w: %d lines, limit %d", errSDP, len(lines), maxSDPLines)
	}
	seenM := false
lines:
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(l) < 2 || l[1] != '=' {
			return m, fmt.Errorf("%w: line %q", errSDP, l)
		}
		v := l[2:]
		switch l[0] {
		case 'c': // c=IN IP4 192.0.2.1 (RFC 4566 §5.7); the media-level one wins
			f := strings.Fields(v)
			if len(f) != 3 || f[0] != "IN" || (f[1] != "IP4" && f[1] != "IP6") {
				return m, fmt.Errorf("%w: c=%s", errSDP, v)
			}
			m.Addr = f[2] // a media-level c= follows the session-level one and wins
		case 'm': // m=message 7394 TCP/TLS/MSRP * (RFC 4566 §5.14)
			if seenM {
				break lines // one stream per descriptor: the first media description is ours
			}
			f := strings.Fields(v)
			if len(f) < 4 {
				return m, fmt.Errorf("%w: m=%s", errSDP, v)
			}
			seenM = true
			m.Media, m.Port, m.Proto, m.Fmt = f[0], f[1], f[2], strings.Join(f[3:], " ")
		case 'a':
			if !seenM {
				continue // session-level attributes are not the stream's
			}
			name, val, _ := strings.Cut(v, ":")
			switch name {
			case "setup": // RFC 4145 §4
				m.Setup = val
			case "fingerprint": // RFC 8122 §5
				m.Fingerprint = val
			default:
				m.Attrs = append(m.Attrs, v)
			}
		}
	}
	if !seenM {
		return m, fmt.Errorf("%w: no m= line", errSDP)
	}
	if m.Addr == "" {
		return m, fmt.Errorf("%w: no c= line (RFC 4566 §5.7)", errSDP)
	}
	switch m.Proto {
	case ProtoTCPMSRP, ProtoTCPTLSMSRP, ProtoTCP, ProtoTCPTLS, ProtoRTPAVP, ProtoRTPAVPF:
	default:
		return m, fmt.Errorf("%w: transport %q is neither TCP (TCP/MSRP, TCP/TLS/MSRP, TCP, TCP/TLS) nor RTP/AVP(F)", errSDP, m.Proto)
	}
	switch m.Setup {
	case "", SetupActive, SetupPassive, SetupActPass, h248.Choose: // "$": the AGW picks (passive)
	default:
		return m, fmt.Errorf("%w: a=setup:%s", errSDP, m.Setup)
	}
	return m, nil
}

// render writes the media description as a complete SDP body (RFC 4566 §5: v, o, s, c, t, m), the form the
// ALG copies into its offer or answer.
func (m media) render() string {
	ipv := "IP4"
	if strings.Contains(m.Addr, ":") {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- 0 0 IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n", ipv, m.Addr, ipv, m.Addr)
	fmt.Fprintf(&b, "m=%s %s %s %s\r\n", m.Media, m.Port, m.Proto, m.Fmt)
	for _, a := range m.Attrs {
		if strings.Contains(a, h248.Choose) {
			continue // a value we were asked to choose and do not (the ALG writes a=path, RFC 6135)
		}
		b.WriteString("a=" + a + "\r\n")
	}
	if m.Setup != "" {
		b.WriteString("a=setup:" + m.Setup + "\r\n")
	}
	if m.Fingerprint != "" {
		b.WriteString("a=fingerprint:" + m.Fingerprint + "\r\n")
	}
	return b.String()
}
