package pcscf

// Loss of the UE's signalling path (TS 29.214 §4.4.6.7, TS 29.514 §4.2.5.3): the PCRF's ASR (or its RAR with
// INDICATION_OF_LOSS_OF_BEARER / RELEASE_OF_BEARER) or the PCF's terminate notification for the AF session bound
// to a registration. The UE can no longer be reached: its calls end, the S-CSCF de-registers it, the binding
// goes. TS 23.228 §5.2.2 ("loss of IMS signalling connectivity") asks the P-CSCF to release the UE's ongoing
// sessions (§5.10.3.1) and not to deliver new ones until the UE registers again; Kamailio's ims_qos marks the
// contact "deregistration pending publish" and its ims_registrar_pcscf PUBLISHes the reg event to the S-CSCF.
// imscore's S-CSCF takes no PUBLISH for the reg event, so the P-CSCF sends the de-registration the UE can no
// longer send: a REGISTER with expires=0 for the binding's contact through the I-CSCF (TS 24.229 §5.2.2.1),
// marked integrity-protected as the registration was (§5.4.1.4: a protected de-REGISTER is not challenged).
// The S-CSCF then de-registers as for a UE's own de-registration (SAR USER_DEREGISTRATION, NOTIFY "terminated"
// to every reg event watcher, third-party de-REGISTER to the ASs).

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// reasonSignallingLost is the Reason text of the BYEs of a UE whose signalling path is gone.
const reasonSignallingLost = "signalling path lost"

// SignallingLost ends the registration whose signalling path the PCRF or PCF reports lost (qos.Events): the
// binding's calls are released on both sides (BYE with Reason, as for a lost media bearer), the S-CSCF
// de-registers the contact (deregisterAtCore), and the binding, its SAs and dialogs are removed here.
func (n *Node) SignallingLost(key string) {
	impu, contact, _ := strings.Cut(key, "\n")
	bk := bindingKey{IMPU: impu, Contact: contact}
	reg, ok := n.regs.get(bk)
	if !ok {
		return
	}
	log := n.log.With(logging.IMPU(impu), logging.IMPI(reg.IMPI), zap.String("contact", contact))
	calls := n.qos.callsOf(bk)
	log.Info("signalling path lost: calls released, UE de-registered", zap.Int("calls", len(calls)))
	for _, k := range calls {
		if af := n.qos.legAF(k, nil); af != nil {
			// The leg's own AF session ends too (TS 29.214 §4.4.4): the BYEs the P-CSCF sends pass no policy step.
			n.wg.Go(func() { _ = af.End(n.base, k) })
		}
		n.ReleaseCall(k, reasonSignallingLost) // needs the binding: before endRegistration
	}
	if !reg.Registered(time.Now()) {
		n.endRegistration(bk)
		return
	}
	n.wg.Go(func() {
		// With our reg event subscription, the S-CSCF's NOTIFY "terminated" ends the binding here as for any
		// network de-registration (regevent.go); without one, or when the de-REGISTER fails, it ends now, and at
		// the latest after signallingLostWait.
		if n.deregisterAtCore(reg, log) && reg.RegEvent != nil {
			select {
			case <-time.After(signallingLostWait):
			case <-n.base.Done():
			}
		}
		if _, ok := n.regs.get(bk); ok {
			n.endRegistration(bk)
		}
	})
}

// signallingLostWait bounds how long a binding whose UE was de-registered after signalling loss waits for the
// S-CSCF's NOTIFY (64*T1, RFC 3261 Timer F).
const signallingLostWait = 32 * time.Second

// callsOf lists the call legs of binding bk.
func (h *qosHook) callsOf(bk bindingKey) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for k, c := range h.calls {
		if c.binding == bk {
			keys = append(keys, k)
		}
	}
	return keys
}

// deregisterAtCore sends the de-REGISTER of reg's contact to the home network on the UE's behalf; it reports
// whether the S-CSCF accepted it.
func (n *Node) deregisterAtCore(reg Registration, log *zap.Logger) bool {
	ctx, cancel := context.WithTimeout(n.base, 35*time.Second)
	defer cancel()
	domain := homeDomain(reg)
	if domain == "" {
		log.Warn("de-REGISTER not sent: no home domain in the identities")
		return false
	}
	home, err := n.homeICSCF(ctx, sip.Uri{Scheme: "sip", Host: domain})
	if err != nil || home.NextHop == nil {
		log.Warn("de-REGISTER not sent: home network's I-CSCF not found", zap.String("domain", domain), zap.Error(err))
		return false
	}
	next := *home.NextHop
	core := n.coreFor(next.Addr.Addr())
	next.Local = core
	req, err := n.deregisterRequest(reg, domain, core)
	if err != nil {
		log.Warn("de-REGISTER not sent", zap.Error(err))
		return false
	}
	res, err := n.proxy.Send(ctx, req, proxy.WithNextHop(next))
	if err != nil {
		log.Warn("de-REGISTER after signalling loss failed", zap.Error(err))
		return false
	}
	if res.StatusCode >= 300 {
		log.Warn("de-REGISTER after signalling loss refused", zap.Int("code", res.StatusCode))
		return false
	}
	log.Info("de-registered at the S-CSCF after signalling loss", zap.Int("code", res.StatusCode))
	return true
}

// deregisterRequest builds the REGISTER that removes reg's contact (RFC 3261 §10.2.2: the contact with
// expires=0), as the UE's own de-registration would reach the I-CSCF through us (forwardRegister): Path,
// P-Visited-Network-ID, P-Charging-Vector, and Authorization with the private identity and
// integrity-protected (TS 24.229 §5.2.2.1, values of §7.2A.2).
func (n *Node) deregisterRequest(reg Registration, domain string, core netip.AddrPort) (*sip.Request, error) {
	contact, err := contactOf(reg)
	if err != nil {
		return nil, err
	}
	integrity := digest.IntegrityIPAssocYes
	if reg.SecAgree() {
		integrity = digest.IntegrityYes
	}
	ruri := sip.Uri{Scheme: "sip", Host: domain}
	req := sip.NewRequest(sip.REGISTER, ruri)
	req.AppendHeader(sip.NewHeader("From", "<"+reg.IMPU+">;tag="+newICID()[:12]))
	req.AppendHeader(sip.NewHeader("To", "<"+reg.IMPU+">"))
	req.AppendHeader(sip.NewHeader("Call-ID", newICID()))
	req.AppendHeader(sip.NewHeader("CSeq", "1 REGISTER"))
	req.AppendHeader(sip.NewHeader("Contact", contact+";expires=0"))
	req.AppendHeader(sip.NewHeader(header.Expires, "0"))
	req.AppendHeader(sip.NewHeader(header.Supported, "path"))
	req.AppendHeader(sip.NewHeader(header.Path, "<"+n.pathURI(core)+";lr>"))
	req.AppendHeader(sip.NewHeader(header.PVisitedNetworkID, n.cfg.VisitedNetworkID))
	req.AppendHeader(n.chargingVector())
	cred := digest.Credentials{Username: reg.IMPI, Realm: domain, URI: ruri.String(), IntegrityProtected: integrity}
	req.AppendHeader(sip.NewHeader(header.Authorization, cred.String()))
	return req, nil
}

// contactOf is the Contact of reg's binding as the S-CSCF matches it (its sameBinding): with the UA's
// +sip.instance (and reg-id) when the binding is named by them (RFC 5626 §6), else the contact URI
// user@host:port the UE registered.
func contactOf(reg Registration) (string, error) {
	host := reg.ContactHost
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	if host == "" {
		return "", fmt.Errorf("binding %q has no contact address", reg.Contact)
	}
	hp := host
	if reg.ContactPort != 0 {
		hp += ":" + strconv.Itoa(int(reg.ContactPort))
	}
	if strings.HasPrefix(reg.Contact, "<") { // contactIdentity: "<urn>" or "<urn>;reg-id=N"
		inst, regID, _ := strings.Cut(reg.Contact, ";reg-id=")
		c := "<sip:" + hp + `>;+sip.instance="` + inst + `"`
		if regID != "" {
			c += ";reg-id=" + regID
		}
		return c, nil
	}
	user, _, _ := strings.Cut(reg.Contact, "@")
	if user != "" {
		return "<sip:" + user + "@" + hp + ">", nil
	}
	return "<sip:" + hp + ">", nil
}

// homeDomain is the home network's domain name: the realm of the private identity (TS 23.003 §13.3), else the
// host of the public identity.
func homeDomain(reg Registration) string {
	if _, realm, ok := strings.Cut(reg.IMPI, "@"); ok && realm != "" {
		return realm
	}
	var u sip.Uri
	if err := sip.ParseUri(reg.IMPU, &u); err == nil && u.Scheme != "tel" {
		return u.Host
	}
	return ""
}
