package alg

import (
	"context"
	"fmt"
	"strings"

	"github.com/imscore/imscore/services/imsagw"
	"github.com/imscore/imscore/services/imsagw/h248"
)

// Media anchoring of RTP (hosted NAT traversal, TS 23.334 §5.x / §6.2.5 latching): one AGW context per RTP
// media section, T1 towards the UE with latching on (the UE's packets come from its NAT's address, not the
// SDP's), T2 towards the core. Whatever side sends an SDP body, the termination facing it gets the body's
// media as its Remote (Configure AGW Connection Point) and the receiver gets the address of the termination
// facing it. The ALG need not know which body is the offer and which the answer.

// Anchor is one anchored RTP media section.
type Anchor struct {
	Context string
	// T1 is the termination towards the UE, T2 towards the core.
	T1, T2 string
	t1, t2 rtpLocal
	// remote is the last Remote descriptor sent for T1 (0) and T2 (1): an unchanged one is not sent again.
	remote [2]string
}

// rtpLocal is the AGW's side of a termination: address, RTP port and RTCP port.
type rtpLocal struct{ addr, port, rtcp string }

// Media is the anchored RTP of one dialog leg, by media section index (nil: not anchored).
type Media struct {
	Anchors []*Anchor
}

// Contexts lists the AGW contexts the media holds.
func (m *Media) Contexts() []string {
	var out []string
	for _, a := range m.Anchors {
		if a != nil {
			out = append(out, a.Context)
		}
	}
	return out
}

// isRTP: an RTP/AVP(F) section with a port (RFC 3264 §8.2: port 0 removes a stream).
func isRTP(m []string) bool {
	f := strings.Fields(strings.TrimPrefix(m[0], "m="))
	return len(f) >= 3 && f[1] != "0" && (f[2] == imsagw.ProtoRTPAVP || f[2] == "RTP/AVPF")
}

// rtpLocalDescriptor asks the AGW for address and ports of a section like m (same media, proto, formats).
func rtpLocalDescriptor(m []string) string {
	f := strings.Fields(strings.TrimPrefix(m[0], "m="))
	f[1] = h248.Choose
	return "v=0\r\nc=IN IP4 $\r\nm=" + strings.Join(f, " ") + "\r\n"
}

// AnchorRTP anchors the RTP sections of an SDP body the UE (fromUE) or the core sends, and returns the body
// to forward: sections new to m get a context (Reserve and Configure AGW Connection Point, the sender's
// termination configured with the body's media), known ones a Configure of the sender's termination when
// its media changed; every anchored section then names the AGW's termination facing the receiver. A body
// without RTP comes back unchanged.
func (c *Client) AnchorRTP(ctx context.Context, m *Media, body []byte, fromUE bool) ([]byte, error) {
	s, err := parseSession(body)
	if err != nil {
		return body, err
	}
	changed := false
	for i := range s.media {
		if !isRTP(s.media[i]) {
			continue
		}
		for len(m.Anchors) <= i {
			m.Anchors = append(m.Anchors, nil)
		}
		remote := s.descriptor(i)
		if _, err := s.read(i); err != nil {
			return body, err
		}
		a := m.Anchors[i]
		if a == nil {
			if a, err = c.reserveRTP(ctx, s.media[i], remote, fromUE); err != nil {
				return body, err
			}
			m.Anchors[i] = a
		} else if err := c.configureRTP(ctx, a, remote, fromUE); err != nil {
			return body, err
		}
		to := a.t2
		if !fromUE {
			to = a.t1
		}
		s.rewriteRTP(i, to)
		changed = true
	}
	if !changed {
		return body, nil
	}
	return s.bytes(), nil
}

func (c *Client) reserveRTP(ctx context.Context, m []string, remote string, fromUE bool) (*Anchor, error) {
	// T1: latching on (TS 23.334 §6.2.5), no source filtering: behind a NAT the UE's packets do not come
	// from the SDP's address.
	r1, r2 := "", remote
	if fromUE {
		r1, r2 = remote, ""
	}
	local := rtpLocalDescriptor(m)
	tr, err := c.ep.Request(ctx, c.agw, h248.Choose,
		add(local, r1, props("access", h248.Prop(imsagw.PropLatch, "on")), "1"),
		add(local, r2, props("core"), "2"))
	if err != nil {
		return nil, fmt.Errorf("alg: reserve rtp: %w", err)
	}
	ctxID, adds, err := addReplies(tr)
	if err != nil {
		return nil, err
	}
	if len(adds) != 2 {
		return nil, fmt.Errorf("alg: the AGW's reply has %d terminations, want 2", len(adds))
	}
	a := &Anchor{Context: ctxID, T1: adds[0].id, T2: adds[1].id,
		t1: rtpLocal{addr: adds[0].local.addr, port: adds[0].local.port, rtcp: adds[0].local.rtcp},
		t2: rtpLocal{addr: adds[1].local.addr, port: adds[1].local.port, rtcp: adds[1].local.rtcp}}
	if fromUE {
		a.remote[0] = remote
	} else {
		a.remote[1] = remote
	}
	return a, nil
}

func (c *Client) configureRTP(ctx context.Context, a *Anchor, remote string, fromUE bool) error {
	side, term := 1, a.T2
	if fromUE {
		side, term = 0, a.T1
	}
	if a.remote[side] == remote {
		return nil
	}
	if _, err := c.ep.Request(ctx, c.agw, a.Context, modify(term, "", remote)); err != nil {
		return fmt.Errorf("alg: configure %s: %w", term, err)
	}
	a.remote[side] = remote
	return nil
}

// rewriteRTP points section i at the AGW: c=, the m= port, a=rtcp (RFC 3605) with the termination's RTCP
// port; a=rtcp-mux goes (RFC 5761 §5.1.1: the AGW relays RTCP on its own port).
func (s *session) rewriteRTP(i int, to rtpLocal) {
	m := s.media[i]
	f := strings.Fields(strings.TrimPrefix(m[0], "m="))
	f[1] = to.port
	ipv := "IP4"
	if strings.Contains(to.addr, ":") {
		ipv = "IP6"
	}
	out := []string{"m=" + strings.Join(f, " "), "c=IN " + ipv + " " + to.addr}
	for _, l := range m[1:] {
		if strings.HasPrefix(l, "c=") || strings.HasPrefix(l, "a=rtcp:") || l == "a=rtcp-mux" {
			continue
		}
		out = append(out, l)
	}
	if to.rtcp != "" {
		out = append(out, "a=rtcp:"+to.rtcp)
	}
	s.media[i] = out
}

// ReleaseContext is Release AGW Termination of both terminations of one context (Subtract *).
func (c *Client) ReleaseContext(ctx context.Context, id string) error {
	if _, err := c.ep.Request(ctx, c.agw, id, h248.Subtract(h248.All)); err != nil {
		return fmt.Errorf("alg: release context %s: %w", id, err)
	}
	return nil
}
