package qos

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/sip/sdp"
)

// Components derives the Media-Component-Descriptions of a session from the UE's SDP and the
// remote end's (TS 29.213 §6.2, Tables 6.2.1 and 6.2.2), one per m= line, numbered from 1 in
// m= line order (TS 29.214 §5.3.17). Either description may be nil while the offer/answer is
// incomplete (preliminary service information, TS 29.214 §4.4.1): the unknown end is then "any"
// address and port in the filters, and ueAddr (the UE's address from its registration) stands in
// for a UE description not seen yet. ueOffered says which side's SDP was the offer (Codec-Data).
func Components(ue, remote *sdp.Session, ueAddr netip.Addr, ueOffered bool) []rx.MediaComponentDescription {
	n := 0
	if ue != nil {
		n = len(ue.Media)
	}
	if remote != nil && len(remote.Media) > n {
		n = len(remote.Media)
	}
	out := make([]rx.MediaComponentDescription, 0, n)
	for i := 0; i < n; i++ {
		u, r := mediaAt(ue, i), mediaAt(remote, i)
		out = append(out, component(uint32(i+1), u, r, ueAddr, ueOffered))
	}
	return out
}

func mediaAt(s *sdp.Session, i int) *sdp.Media {
	if s == nil || i >= len(s.Media) {
		return nil
	}
	return &s.Media[i]
}

func component(number uint32, u, r *sdp.Media, ueAddr netip.Addr, ueOffered bool) rx.MediaComponentDescription {
	c := rx.MediaComponentDescription{Number: number}
	any := u
	if any == nil {
		any = r
	}
	mt := mediaType(any.Type)
	c.MediaType = &mt
	// TS 29.213 §6.2.1: a stream with port 0 in either description is removed (RFC 3264 §8.2).
	if (u != nil && u.Port == 0) || (r != nil && r.Port == 0) {
		st := rx.FlowRemoved
		c.FlowStatus = &st
		return c
	}
	st := flowStatus(u, r)
	c.FlowStatus = &st
	// TS 29.213 §6.2.1: Max-Requested-Bandwidth-UL from the bandwidth the remote end declares for
	// what it receives, -DL from the UE's; b=AS in kbit/s, else b=TIAS in bit/s.
	if bw := bandwidth(r); bw > 0 {
		c.MaxRequestedBandwidthUL = &bw
	}
	if bw := bandwidth(u); bw > 0 {
		c.MaxRequestedBandwidthDL = &bw
	}
	// RS-Bandwidth and RR-Bandwidth (TS 29.214 §5.3.20, §5.3.21): b=RS / b=RR (RFC 3556), the UE's first.
	for _, m := range []*sdp.Media{u, r} {
		if m != nil && m.Bandwidth.RS > 0 && c.RSBandwidth == nil {
			v := m.Bandwidth.RS
			c.RSBandwidth = &v
		}
		if m != nil && m.Bandwidth.RR > 0 && c.RRBandwidth == nil {
			v := m.Bandwidth.RR
			c.RRBandwidth = &v
		}
	}
	// Media-Sub-Component 1 carries RTP, 2 RTCP unless multiplexed (TS 29.213 §6.2.2: one flow per
	// port pair; RFC 5761 rtcp-mux leaves one).
	proto := any.Transport()
	ueRTP, remRTP := endpoint(u, ueAddr, false), endpoint(r, netip.Addr{}, false)
	c.SubComponents = append(c.SubComponents, rx.MediaSubComponent{FlowNumber: 1,
		FlowDescriptions: filters(proto, ueRTP, remRTP)})
	ueRTCP, remRTCP := endpoint(u, ueAddr, true), endpoint(r, netip.Addr{}, true)
	if (u == nil || ueRTCP.port != 0) && (r == nil || remRTCP.port != 0) && any.RTCPPort() != 0 {
		usage := rx.FlowUsageRTCP
		c.SubComponents = append(c.SubComponents, rx.MediaSubComponent{FlowNumber: 2,
			FlowDescriptions: filters(proto, ueRTCP, remRTCP), FlowUsage: &usage})
	}
	// Codec-Data (TS 29.214 §5.3.7): "uplink" for the SDP the UE sent, "downlink" for the one sent
	// to it; then "offer" or "answer"; then the media's m= and a= lines.
	if u != nil {
		c.CodecData = append(c.CodecData, codecData("uplink", ueOffered, u))
	}
	if r != nil {
		c.CodecData = append(c.CodecData, codecData("downlink", !ueOffered, r))
	}
	return c
}

func mediaType(t string) rx.MediaType {
	switch strings.ToLower(t) {
	case "audio":
		return rx.MediaAudio
	case "video":
		return rx.MediaVideo
	case "application":
		return rx.MediaApplication
	case "text":
		return rx.MediaText
	case "message":
		return rx.MediaMessage
	case "data":
		return rx.MediaData
	case "control":
		return rx.MediaControl
	}
	return rx.MediaOther
}

// flowStatus maps the SDP directions (RFC 3264 §6.1) to Flow-Status (TS 29.213 §6.2.1): the UE
// sends uplink when it sends and the remote end receives; downlink the other way.
func flowStatus(u, r *sdp.Media) rx.FlowStatus {
	ud, rd := sdp.SendRecv, sdp.SendRecv
	if u != nil {
		ud = u.Direction
	}
	if r != nil {
		rd = r.Direction
	}
	up, down := ud.Sends() && rd.Receives(), ud.Receives() && rd.Sends()
	switch {
	case up && down:
		return rx.FlowEnabled
	case up:
		return rx.FlowEnabledUplink
	case down:
		return rx.FlowEnabledDownlink
	}
	return rx.FlowDisabled
}

func bandwidth(m *sdp.Media) uint32 {
	switch {
	case m == nil:
		return 0
	case m.Bandwidth.AS > 0 && m.Bandwidth.AS < 1<<32/1000:
		return m.Bandwidth.AS * 1000
	default:
		return m.Bandwidth.TIAS
	}
}

// end is one side of a flow: an address ("any" when unknown) and a port (0: any).
type end struct {
	addr netip.Addr
	port uint16
}

func endpoint(m *sdp.Media, fallback netip.Addr, rtcp bool) end {
	if m == nil {
		return end{addr: fallback}
	}
	e := end{addr: m.Addr, port: m.Port}
	if rtcp {
		e.port = m.RTCPPort()
		if v, ok := m.Attr("rtcp"); ok { // RFC 3605: a=rtcp may name another address
			if f := strings.Fields(v); len(f) == 4 {
				if a, err := netip.ParseAddr(f[3]); err == nil {
					e.addr = a
				}
			}
		}
	}
	return e
}

func (e end) String() string {
	s := "any"
	if e.addr.IsValid() {
		s = e.addr.Unmap().String()
	}
	if e.port != 0 {
		s += fmt.Sprintf(" %d", e.port)
	}
	return s
}

// filters gives the two Flow-Descriptions of a flow (TS 29.214 §5.3.8: "permit out" for both, the
// downlink one from the remote end to the UE, the uplink one from the UE to the remote end). The
// ports are those of the SDP on both sides: IMS media is symmetric RTP (TS 26.114 §6.2.x, RFC 4961).
func filters(proto uint8, ue, remote end) []string {
	return []string{
		fmt.Sprintf("permit out %d from %s to %s", proto, remote, ue),
		fmt.Sprintf("permit out %d from %s to %s", proto, ue, remote),
	}
}

func codecData(direction string, offer bool, m *sdp.Media) []byte {
	var b strings.Builder
	b.WriteString(direction)
	if offer {
		b.WriteString("\noffer\n")
	} else {
		b.WriteString("\nanswer\n")
	}
	for _, l := range m.Lines {
		if strings.HasPrefix(l, "m=") || strings.HasPrefix(l, "a=") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}
