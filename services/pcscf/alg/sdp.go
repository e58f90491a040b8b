package alg

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSDP means a session description this ALG cannot rewrite.
var ErrSDP = errors.New("alg: sdp")

// maxLines bounds a session description (every byte comes from a UE or the core).
const maxLines = 256

// session is an SDP body (RFC 4566) as lines: the session part and the media sections, each starting with its
// m= line. Rewriting works on lines so that whatever the ALG does not touch passes unchanged.
type session struct {
	head  []string
	media [][]string
}

func parseSession(b []byte) (*session, error) {
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > maxLines {
		return nil, fmt.Errorf("%w: %d lines, limit %d", ErrSDP, len(lines), maxLines)
	}
	s := &session{}
	for _, l := range lines {
		if len(l) < 2 || l[1] != '=' {
			return nil, fmt.Errorf("%w: line %q", ErrSDP, l)
		}
		if l[0] == 'm' {
			s.media = append(s.media, []string{l})
			continue
		}
		if len(s.media) == 0 {
			s.head = append(s.head, l)
		} else {
			s.media[len(s.media)-1] = append(s.media[len(s.media)-1], l)
		}
	}
	if len(s.head) == 0 || s.head[0] != "v=0" {
		return nil, fmt.Errorf("%w: no v=0", ErrSDP)
	}
	return s, nil
}

func (s *session) bytes() []byte {
	var b strings.Builder
	for _, l := range s.head {
		b.WriteString(l + "\r\n")
	}
	for _, m := range s.media {
		for _, l := range m {
			b.WriteString(l + "\r\n")
		}
	}
	return []byte(b.String())
}

// msrpIndex is the first media section of MSRP over TCP (RFC 4975 §8.1), -1 when none.
func (s *session) msrpIndex() int {
	for i, m := range s.media {
		f := strings.Fields(strings.TrimPrefix(m[0], "m="))
		if len(f) >= 3 && f[0] == "message" && (f[2] == "TCP/MSRP" || f[2] == "TCP/TLS/MSRP") {
			return i
		}
	}
	return -1
}

// stream is the view of one media section the ALG reads.
type stream struct {
	addr, port, proto, setup, fingerprint, e2ae string
	// rtcp is a=rtcp's port (RFC 3605), "" when absent.
	rtcp string
}

// read returns the media section i with its connection address (media level, else session level).
func (s *session) read(i int) (stream, error) {
	var st stream
	f := strings.Fields(strings.TrimPrefix(s.media[i][0], "m="))
	st.port, st.proto = f[1], f[2]
	for _, l := range s.head {
		if a, ok := connAddr(l); ok {
			st.addr = a
		}
	}
	for _, l := range s.media[i][1:] {
		if a, ok := connAddr(l); ok {
			st.addr = a
		}
		if v, ok := strings.CutPrefix(l, "a=setup:"); ok {
			st.setup = v
		}
		if v, ok := strings.CutPrefix(l, "a=fingerprint:"); ok {
			st.fingerprint = v
		}
		if v, ok := strings.CutPrefix(l, "a=3ge2ae:"); ok {
			st.e2ae = v
		}
		if v, ok := strings.CutPrefix(l, "a=rtcp:"); ok {
			st.rtcp, _, _ = strings.Cut(v, " ")
		}
	}
	if st.addr == "" {
		return st, fmt.Errorf("%w: no c= for the MSRP stream", ErrSDP)
	}
	return st, nil
}

func connAddr(l string) (string, bool) {
	v, ok := strings.CutPrefix(l, "c=")
	if !ok {
		return "", false
	}
	f := strings.Fields(v)
	if len(f) != 3 {
		return "", false
	}
	return f[2], true
}

// rewrite puts addr:port and proto on media section i (its own c= line, added when it used the session's),
// replaces a=setup, a=fingerprint and a=3ge2ae by the given values ("" removes them), and maps the a=path URI
// scheme to the transport: msrps on TLS, msrp on TCP (RFC 4975 §9; the path's authority stays the endpoint's,
// as RFC 6135 lets a relay-free path differ from c=).
func (s *session) rewrite(i int, addr, port, proto, setup, fingerprint, e2ae string) {
	m := s.media[i]
	f := strings.Fields(strings.TrimPrefix(m[0], "m="))
	f[1], f[2] = port, proto
	ipv := "IP4"
	if strings.Contains(addr, ":") {
		ipv = "IP6"
	}
	out := []string{"m=" + strings.Join(f, " "), "c=IN " + ipv + " " + addr}
	tls := strings.Contains(proto, "/TLS/")
	for _, l := range m[1:] {
		switch {
		case strings.HasPrefix(l, "c="), strings.HasPrefix(l, "a=setup:"), strings.HasPrefix(l, "a=fingerprint:"),
			strings.HasPrefix(l, "a=3ge2ae:"):
			continue
		case strings.HasPrefix(l, "a=path:"):
			if tls {
				l = strings.ReplaceAll(l, "msrp://", "msrps://")
			} else {
				l = strings.ReplaceAll(l, "msrps://", "msrp://")
			}
		}
		out = append(out, l)
	}
	if setup != "" {
		out = append(out, "a=setup:"+setup)
	}
	if fingerprint != "" {
		out = append(out, "a=fingerprint:"+fingerprint)
	}
	if e2ae != "" {
		out = append(out, "a=3ge2ae:"+e2ae)
	}
	s.media[i] = out
}

// descriptor is the media section i alone with its connection address, as an H.248 Remote descriptor
// holds it.
func (s *session) descriptor(i int) string {
	st, _ := s.read(i)
	ipv := "IP4"
	if strings.Contains(st.addr, ":") {
		ipv = "IP6"
	}
	var b strings.Builder
	b.WriteString("v=0\r\nc=IN " + ipv + " " + st.addr + "\r\n" + s.media[i][0] + "\r\n")
	for _, l := range s.media[i][1:] {
		if strings.HasPrefix(l, "a=") {
			b.WriteString(l + "\r\n")
		}
	}
	return b.String()
}
