package pcscf

// The P-CSCF's subscription to the reg event of each registered user (TS 24.229 §5.2.3,
// RFC 3680): a network-initiated de-registration or an expiry the S-CSCF decides reaches us as
// a NOTIFY, and the UE's SAs go with it (TS 33.203 §7.4 / DESIGN.md §4).

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// reginfo is the part of an application/reginfo+xml document (RFC 3680 §5.4) the P-CSCF reads.
type reginfo struct {
	XMLName       xml.Name `xml:"reginfo"`
	Registrations []struct {
		AOR      string `xml:"aor,attr"`
		State    string `xml:"state,attr"`
		Contacts []struct {
			State string `xml:"state,attr"`
			URI   string `xml:"uri"`
		} `xml:"contact"`
	} `xml:"registration"`
}

// subscribeReg sends the SUBSCRIBE for impu's reg event along its Service-Route, from our
// core address (the one in our Path, which the S-CSCF uses to recognise us, TS 24.229 §5.4.2.1.1).
func (n *Node) subscribeReg(reg Registration, expires time.Duration) {
	log := n.log.With(logging.IMPU(reg.IMPU))
	core := n.coreFor(n.icscf.Addr())
	var ruri sip.Uri
	if err := sip.ParseUri(reg.IMPU, &ruri); err != nil {
		return
	}
	req := sip.NewRequest(sip.SUBSCRIBE, ruri)
	self := fmt.Sprintf("sip:pcscf@%s", hostPort(core))
	req.AppendHeader(sip.NewHeader("From", "<"+self+">;tag="+newICID()[:12]))
	req.AppendHeader(sip.NewHeader("To", "<"+reg.IMPU+">"))
	req.AppendHeader(sip.NewHeader("Call-ID", newICID()))
	req.AppendHeader(sip.NewHeader("CSeq", "1 SUBSCRIBE"))
	for _, sr := range reg.ServiceRoute {
		nas, err := header.ParseNameAddrs(header.ServiceRoute, sr)
		if err != nil || len(nas) == 0 {
			continue
		}
		if u, err := nas[0].ParsedURI(); err == nil {
			req.AppendHeader(&sip.RouteHeader{Address: u})
		}
	}
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+hostPort(core)+">"))
	req.AppendHeader(sip.NewHeader(header.Event, "reg"))
	req.AppendHeader(sip.NewHeader(header.Expires, strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Accept", "application/reginfo+xml"))
	req.AppendHeader(sip.NewHeader(header.PAssertedIdentity, "<"+self+">"))
	ctx, cancel := context.WithTimeout(n.base, 35*time.Second)
	defer cancel()
	res, err := n.proxy.Send(ctx, req, proxy.WithNextHop(proxy.NextHop{Transport: "UDP", Addr: n.nextHopOf(reg), Local: core}))
	if err != nil {
		log.Warn("reg event SUBSCRIBE failed", zap.Error(err))
		return
	}
	if res.StatusCode >= 300 {
		log.Warn("reg event SUBSCRIBE refused", zap.Int("code", res.StatusCode))
		return
	}
	log.Debug("subscribed to the reg event")
}

// nextHopOf is the address of the top Service-Route (the S-CSCF); the I-CSCF when there is none.
func (n *Node) nextHopOf(reg Registration) netip.AddrPort {
	for _, sr := range reg.ServiceRoute {
		nas, err := header.ParseNameAddrs(header.ServiceRoute, sr)
		if err != nil || len(nas) == 0 {
			continue
		}
		u, err := nas[0].ParsedURI()
		if err != nil {
			continue
		}
		port := u.Port
		if port == 0 {
			port = 5060
		}
		if ap, err := parseAddrPort(u.Host, port); err == nil {
			return ap
		}
	}
	return n.icscf
}

// isRegNotify reports a NOTIFY for the reg event addressed to us.
func (n *Node) isRegNotify(req *sip.Request) bool {
	if req.Method != sip.NOTIFY || req.Recipient.User != "" && req.Recipient.User != "pcscf" {
		return false
	}
	ev := strings.ToLower(strings.TrimSpace(strings.SplitN(strings.Join(header.Values(req, header.Event), ","), ";", 2)[0]))
	if ev != "reg" {
		return false
	}
	for _, c := range n.core {
		port := req.Recipient.Port
		if port == 0 {
			port = 5060
		}
		if strings.EqualFold(strings.Trim(req.Recipient.Host, "[]"), c.Addr().String()) && uint16(port) == c.Port() {
			return true
		}
	}
	return false
}

// handleRegNotify applies a reg event NOTIFY: a registration or our UE's contact that is
// terminated ends the registration and, after DeregDelay, its SAs (TS 24.229 §5.2.5.1).
func (n *Node) handleRegNotify(req *sip.Request) (proxy.Decision, error) {
	var doc reginfo
	if body := req.Body(); len(body) > 0 {
		if err := xml.Unmarshal(body, &doc); err != nil {
			return proxy.Respond(400, "Bad reginfo"), nil
		}
	}
	for _, r := range doc.Registrations {
		reg, ok := n.regs.get(r.AOR)
		if !ok {
			continue
		}
		ended := strings.EqualFold(r.State, "terminated")
		for _, c := range r.Contacts {
			var u sip.Uri
			if sip.ParseUri(strings.TrimSpace(c.URI), &u) != nil {
				continue
			}
			port := u.Port
			if port == 0 {
				port = 5060
			}
			if strings.EqualFold(strings.Trim(u.Host, "[]"), reg.ContactHost) && uint16(port) == reg.ContactPort &&
				strings.EqualFold(c.State, "terminated") {
				ended = true
			}
		}
		if !ended {
			continue
		}
		var gone []SASet
		n.regs.update(reg.IMPU, func(r *Registration) bool { gone = r.SAs; return false })
		n.removeLater(gone, n.cfg.DeregDelay)
		n.persist()
		n.log.Info("registration ended by the network (reg event)", logging.IMPU(reg.IMPU))
	}
	return proxy.Respond(200, "OK"), nil
}

func parseAddrPort(host string, port int) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}
