package imsagw

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/dscp"
)

// rtpBuffer holds one datagram: RTP and RTCP packets fit the path MTU.
const rtpBuffer = 2048

// refusedRTPSource counts datagrams dropped by source filtering (imsagw_connections_refused_total).
const refusedRTPSource = "rtp_source"

// bindRTP opens the RTP and RTCP sockets of an RTP termination on addr and fills its Local descriptor: the RTP
// port in m=, the RTCP port in a=rtcp (RFC 3605), since the kernel's ports need not be consecutive.
// Both are marked with code (Config.MediaDSCP).
func (t *termination) bindRTP(addr string, code uint8) error {
	ip := netip.MustParseAddr(addr)
	rtp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return err
	}
	rtcp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		_ = rtp.Close()
		return err
	}
	if err := errors.Join(dscp.Set(rtp, code), dscp.Set(rtcp, code)); err != nil {
		_, _ = rtp.Close(), rtcp.Close()
		return fmt.Errorf("media_dscp: %w", err)
	}
	t.udp, t.rtcp = rtp, rtcp
	t.local.Addr = addr
	t.local.Port = strconv.Itoa(rtp.LocalAddr().(*net.UDPAddr).Port)
	var attrs []string
	for _, a := range t.local.Attrs {
		if len(a) < 5 || a[:5] != "rtcp:" {
			attrs = append(attrs, a)
		}
	}
	t.local.Attrs = append(attrs, "rtcp:"+strconv.Itoa(rtcp.LocalAddr().(*net.UDPAddr).Port))
	t.local.Setup, t.local.Fingerprint = "", ""
	return nil
}

// rtpLoop relays what arrives at one of t's UDP sockets to the other termination's remote (TS 23.334 hosted NAT
// traversal): source filtering against the Remote descriptor (§6.2.4), latching onto the packet's source when
// asked (§6.2.5: the AGW sends back to where the UE's packets come from, through its NAT), and media
// inactivity: no packet either way for idle releases the bearer.
func (t *termination) rtpLoop(conn *net.UDPConn, rtcp bool) {
	cx := t.cx
	buf := make([]byte, rtpBuffer)
	idle := cx.n.cfg.RTPIdleTimeout
	dir := "towards_core"
	if !t.access {
		dir = "towards_access"
	}
	counter := cx.n.metrics.bytes.WithLabelValues(dir)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(idle))
		k, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				cx.rtpInactive(idle)
				continue
			}
			return // closed
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		cx.mu.Lock()
		if cx.closed || cx.released || t.subtracted {
			cx.mu.Unlock()
			continue
		}
		if !t.udpSourceAllowed(from, rtcp) {
			cx.mu.Unlock()
			cx.n.metrics.refused.WithLabelValues(refusedRTPSource).Inc()
			continue
		}
		if t.props.latch {
			if rtcp {
				t.latchedRTCP = from
			} else if t.latched != from {
				t.log.Info("latched", zap.Stringer("source", from))
				t.latched = from
			}
		}
		var out *net.UDPConn
		var dst netip.AddrPort
		if o := t.other(); o != nil && o.udp != nil {
			dst, out = o.rtpDestination(rtcp)
		}
		if !cx.relaying {
			cx.relaying = true
			cx.n.metrics.bearers.WithLabelValues("established").Inc()
			cx.log.Info("RTP relay up")
		}
		cx.lastRTP = time.Now()
		cx.mu.Unlock()
		if out != nil && dst.IsValid() {
			if _, err := out.WriteToUDPAddrPort(buf[:k], dst); err == nil {
				counter.Add(float64(k))
			}
		}
	}
}

// udpSourceAllowed is source filtering for datagrams (under cx.mu).
func (t *termination) udpSourceAllowed(from netip.AddrPort, rtcp bool) bool {
	if t.remote == nil {
		return !t.props.saf && !t.props.spf
	}
	if t.props.saf {
		want, err := netip.ParseAddr(t.remote.Addr)
		if err != nil || want.Unmap() != from.Addr() {
			return false
		}
	}
	if t.props.spf {
		want := t.remote.Port
		if rtcp {
			p, _ := t.remote.rtcpPort()
			want = strconv.Itoa(int(p))
		}
		if want != strconv.Itoa(int(from.Port())) {
			return false
		}
	}
	return true
}

// rtpDestination is where t sends: the latched source, else the Remote descriptor's address (under cx.mu).
func (t *termination) rtpDestination(rtcp bool) (netip.AddrPort, *net.UDPConn) {
	if rtcp {
		if t.latchedRTCP.IsValid() {
			return t.latchedRTCP, t.rtcp
		}
	} else if t.latched.IsValid() {
		return t.latched, t.udp
	}
	if t.remote == nil {
		return netip.AddrPort{}, nil
	}
	ip, err := netip.ParseAddr(t.remote.Addr)
	if err != nil || ip.IsUnspecified() {
		return netip.AddrPort{}, nil
	}
	if rtcp {
		p, ok := t.remote.rtcpPort()
		if !ok {
			return netip.AddrPort{}, nil
		}
		return netip.AddrPortFrom(ip.Unmap(), p), t.rtcp
	}
	p, err := strconv.ParseUint(t.remote.Port, 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, nil
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)), t.udp
}

// rtpInactive releases an RTP bearer that carried no packet either way for idle (media inactivity).
func (cx *agwContext) rtpInactive(idle time.Duration) {
	cx.mu.Lock()
	defer cx.mu.Unlock()
	if !cx.relaying || cx.released || cx.closed || time.Since(cx.lastRTP) < idle {
		return
	}
	cx.relaying = false
	cx.released = true
	cx.lastCmd = time.Now()
	cx.n.metrics.bearers.WithLabelValues("released").Inc()
	cx.log.Info("RTP inactive, bearer released", zap.Duration("rtp_idle_timeout", idle))
	for _, t := range cx.terms {
		if !t.subtracted {
			cx.n.notify(cx, t, causeNormalRelease, fmt.Sprintf("no media for %s", idle))
		}
	}
}
