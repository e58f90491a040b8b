package pcscf

// Registration at the P-CSCF, TS 24.229 §5.2.2 with the security agreement of TS 33.203 §7 and
// RFC 3329: docs/design.md §4 steps 1–2 (first REGISTER, forwarded to the I-CSCF), 5 (the 401: keys
// out, SAs in, Security-Server added) and 6–7 (the protected REGISTER and its 200).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/secagree"
)

// optionSecAgree is the option-tag of RFC 3329 §4.
const optionSecAgree = "sec-agree"

// defaultExpires applies when neither the 200's Contact nor Expires says (RFC 3261 §10.2.1.1).
const defaultExpires = 3600 * time.Second

// OptionTags declares sec-agree (when offered) and path: the proxy answers 420 to a
// Proxy-Require it does not list, which is exactly RFC 3329 §2.3.1 for a P-CSCF without IPsec.
// Require is for the UAS (RFC 3261 §16.3: a proxy does not check it): it is checked only on a reg event
// NOTIFY addressed to us, which we answer ourselves (§8.2.2.3).
func (n *Node) OptionTags(req *sip.Request) ([]string, bool) {
	if n.sas != nil {
		return []string{optionSecAgree, "path"}, n.isRegNotify(req)
	}
	return []string{"path"}, n.isRegNotify(req)
}

// regOffer is what the unprotected REGISTER negotiated: the mechanism chosen from the UE's
// Security-Client, and the whole offer (to compare with the protected REGISTER's).
type regOffer struct {
	chosen  secagree.Mechanism
	offered []secagree.Mechanism
}

// registerUnprotected handles a REGISTER on the unprotected port (TS 24.229 §5.2.2.1).
func (n *Node) registerUnprotected(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	offers, err := secagree.Of(src.Index(req), header.SecurityClient)
	if err != nil {
		return n.reject(400, "Bad Security-Client", err)
	}
	requires := hasTag(req, header.Require, optionSecAgree) || hasTag(req, header.ProxyRequire, optionSecAgree)
	switch {
	case n.sas != nil && len(offers) > 0:
		chosen, err := secagree.Choose(offers, n.prefs)
		if err != nil {
			// RFC 3329 §2.3.1: nothing acceptable is 494 Security Agreement Required.
			return n.reject(secagree.StatusSecurityAgreementRequired, "Security Agreement Required", err)
		}
		return n.forwardRegister(ctx, req, src, keyOf(toIMPU(req), contactIdentity(req)), &regOffer{chosen: chosen, offered: offers}, nil, digest.IntegrityNo)
	case n.sas == nil && requires:
		// Never downgrade a UE that requires sec-agree (RFC 3329 §2.3.1): 420 with Unsupported.
		return proxy.Decision{}, &proxy.StatusError{Code: 420, Reason: "Bad Extension",
			Headers: []sip.Header{sip.NewHeader("Unsupported", optionSecAgree)}}
	case n.cfg.IPsec == IPsecRequired && len(offers) == 0:
		// TS 24.229 §5.2.2.1 with the operator's policy: IMS-AKA with IPsec is mandatory here.
		n.metrics.rejected.WithLabelValues("421").Inc()
		return proxy.Decision{}, &proxy.StatusError{Code: 421, Reason: "Extension Required",
			Headers: []sip.Header{sip.NewHeader(header.Require, optionSecAgree)}}
	}
	// No sec-agree: the IP association is what protects a registered UE (TS 24.229 §5.2.2,
	// "ip-assoc-yes" when the REGISTER comes from the address the registration came from).
	integrity := digest.IntegrityNo
	bk := keyOf(toIMPU(req), contactIdentity(req))
	if reg, ok := n.regs.get(bk); ok && n.cfg.IPAssociation && !reg.SecAgree() && reg.Registered(time.Now()) &&
		reg.Source.Addr() == src.Remote.Addr() {
		integrity = digest.IntegrityIPAssocYes
	}
	return n.forwardRegister(ctx, req, src, bk, nil, nil, integrity)
}

// registerProtected handles a REGISTER that came over SA set sa (TS 24.229 §5.2.2.1 protected
// REGISTER, TS 33.203 §7.2 and §7.4).
func (n *Node) registerProtected(ctx context.Context, req *sip.Request, src proxy.Source, reg Registration, sa SASet) (proxy.Decision, error) {
	ix := src.Index(req)
	verify, err := secagree.Of(ix, header.SecurityVerify)
	if err != nil {
		return n.reject(400, "Bad Security-Verify", err)
	}
	sent, err := secagree.Parse(sa.SecurityServer)
	if err != nil {
		return n.reject(500, "Server Internal Error", err)
	}
	// RFC 3329 §2.3.1 step 5 and TS 24.229 §5.2.2: Security-Verify must be what we sent;
	// otherwise a man in the middle may have bid the mechanism down.
	if !secagree.Equal(verify, sent) {
		return n.verifyMismatch(verify, sa.SecurityServer)
	}
	offers, err := secagree.Of(ix, header.SecurityClient)
	if err != nil {
		return n.reject(400, "Bad Security-Client", err)
	}
	var offer *regOffer
	if !sa.Confirmed {
		// The REGISTER answering the challenge must repeat the first Security-Client
		// (TS 33.203 §7.2): a changed list means the unprotected one was tampered with.
		first, err := secagree.Parse(sa.SecurityClient)
		if err != nil || !secagree.Equal(offers, first) {
			return n.reject(secagree.StatusSecurityAgreementRequired, "Security-Client Mismatch",
				fmt.Errorf("security-client changed between the unprotected and the protected REGISTER"))
		}
	} else if len(offers) > 0 {
		// A re-registration over an established set offers new SAs (TS 33.203 §7.4).
		chosen, err := secagree.Choose(offers, n.prefs)
		if err != nil {
			return n.reject(secagree.StatusSecurityAgreementRequired, "Security Agreement Required", err)
		}
		offer = &regOffer{chosen: chosen, offered: offers}
	}
	// The binding is the one whose SAs the REGISTER came over (TS 33.203 §7.4: a re-registration of that UE).
	return n.forwardRegister(ctx, req, src, keyOf(reg.IMPU, reg.Contact), offer, &sa, digest.IntegrityYes)
}

// forwardRegister strips what the UE must not send on, adds the P-CSCF's headers and forwards
// to the I-CSCF of the home network (TS 24.229 §5.2.2.1, homenet.go). bk is the binding the REGISTER is for, over the SA set it came through, if
// any.
func (n *Node) forwardRegister(ctx context.Context, req *sip.Request, src proxy.Source, bk bindingKey, offer *regOffer, over *SASet, integrity string) (proxy.Decision, error) {
	impu := toIMPU(req)
	n.logAccessFields(req, src)
	home, err := n.homeICSCF(ctx, req.Recipient)
	if err != nil {
		n.log.Info("home network's I-CSCF not found", logging.CallID(callID(req)), logging.IMPU(impu),
			zap.String("request_uri", req.Recipient.String()), zap.Error(err))
		return proxy.Decision{}, err
	}
	d := proxy.Decision{
		// RFC 3325 §5, TS 24.229 §5.2.2.1: a UE is outside the trust domain; what only the domain may send goes,
		// and so does any Route the UE wrote beyond us: the REGISTER goes to the I-CSCF, never where the UE says.
		RemoveHeaders: append(accessStrip(), header.PVisitedNetworkID, header.Authorization, header.Route),
	}
	withoutSecAgree(req, &d)
	// RFC 3327 §5: a proxy that adds Path to a REGISTER whose UA did not list "path" in Supported adds the
	// option-tag itself, so that the registrar knows Path is to be used (else a registrar requiring it, e.g.
	// Kamailio's S-CSCF, answers 420).
	if !hasTag(req, header.Supported, "path") {
		d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.Supported, "path"))
	}
	// TS 24.229 §5.2.2.1: integrity-protected in Authorization tells the S-CSCF how the
	// REGISTER reached us (§7.2A.2 values).
	creds := digest.CredentialsOf(src.Index(req), header.Authorization) // parsed once per request, shared
	for _, l := range creds {
		if l.Err != nil {
			d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.Authorization, l.Value))
			continue
		}
		cred := l.Credentials // a copy: the parsed lines are the index's
		cred.IntegrityProtected = integrity
		if offer != nil && fastRegAttempt(req, cred) { // fastreg.go: SAs need the challenge's CK and IK
			n.log.Info("fast registration token removed: the REGISTER sets up security associations", logging.CallID(callID(req)))
			cred.Nonce = ""
		}
		d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.Authorization, cred.String()))
	}
	// RFC 3327 §5.2 and TS 24.229 §5.2.2.1: our Path, so that terminating requests come back
	// through us.
	d.AddHeaders = append(d.AddHeaders,
		sip.NewHeader(header.Path, "<"+n.pathFor(*home.NextHop)+";lr>"), // tls.go
		sip.NewHeader(header.PVisitedNetworkID, n.cfg.VisitedNetworkID),
		n.chargingVector(),
	)
	d.Targets = []proxy.Target{home}
	contactHost, contactPort := firstContact(req)
	dereg := isDeregistration(req)
	impi := ""
	if len(creds) > 0 && creds[0].Err == nil {
		impi = creds[0].Credentials.Username
	}
	log := n.log.With(logging.CallID(callID(req)), logging.IMPU(impu), logging.IMPI(impi), zap.String("contact", bk.Contact))
	if dereg {
		// The final response to a de-REGISTER leaves through the UE's SAs, whatever ends the registration first
		// (the S-CSCF's NOTIFY "terminated" may overtake it): they wait for it (docs/design.md §4).
		n.deregs.begin(bk)
	}
	mediasec := algMediasec(req) // imsalg.go: e2ae support indicated (TS 24.229 §5.1.1.2.1)
	d.OnResponse = func(res *sip.Response, generated bool) {
		if dereg && res.StatusCode >= 200 {
			// Runs as the response is sent (generated ones too: 408, 503); the sets go DeregDelay later.
			defer func() { n.removeLater(n.deregs.end(bk), n.cfg.DeregDelay) }()
		}
		if generated {
			return
		}
		switch {
		case res.StatusCode == 401 || res.StatusCode == 407:
			n.onChallenge(res, src, bk, impu, offer, log)
		case res.StatusCode >= 200 && res.StatusCode < 300:
			n.onRegistered(req, res, src, bk, impu, impi, contactHost, contactPort, dereg, over, log)
		}
		n.algRegister(res, bk, mediasec, dereg) // imsalg.go: mediasec, TS 24.229 §5.2.2.1
	}
	return d, nil
}

// deregWaits are the de-REGISTERs in flight by binding, with the SA sets of their registration that
// ended before their final response was sent. The zero value is ready.
type deregWaits struct {
	mu sync.Mutex
	m  map[bindingKey]*deregWait
}

type deregWait struct {
	inFlight int
	since    time.Time // the last begin
	parked   []SASet
}

// deregWaitMax bounds how long sets wait for a de-REGISTER's final response: past Timer F (64*T1, RFC 3261
// §17.1.2.2) with a margin, the transaction has ended whatever happened to its response, and an entry this old
// is not waited for.
const deregWaitMax = 64*500*time.Millisecond + 8*time.Second

// begin records a de-REGISTER of binding k forwarded.
func (w *deregWaits) begin(k bindingKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[bindingKey]*deregWait)
	}
	if w.m[k] == nil {
		w.m[k] = &deregWait{}
	}
	w.m[k].inFlight++
	w.m[k].since = time.Now()
}

// park keeps sets until the de-REGISTERs of binding k in flight have their final responses. With none in flight
// it returns the sets to remove now: sets, and those of a wait past deregWaitMax.
func (w *deregWaits) park(k bindingKey, sets []SASet) (now []SASet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.m[k]
	if d == nil {
		return sets
	}
	if time.Since(d.since) > deregWaitMax {
		delete(w.m, k) // its responses went unseen: nothing waits any more
		return append(d.parked, sets...)
	}
	d.parked = append(d.parked, sets...)
	return nil
}

// end records a final response to a de-REGISTER of binding k; the parked sets are returned with the last one.
func (w *deregWaits) end(k bindingKey) []SASet {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.m[k]
	if d == nil {
		return nil
	}
	if d.inFlight--; d.inFlight > 0 {
		return nil
	}
	delete(w.m, k)
	return d.parked
}

// drain returns every parked set and forgets them (at stop).
func (w *deregWaits) drain() []SASet {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []SASet
	for k, d := range w.m {
		out = append(out, d.parked...)
		delete(w.m, k)
	}
	return out
}

// onChallenge handles the 401 on its way to the UE (docs/design.md §4 step 5, TS 24.229 §5.2.2.1):
// CK and IK come out of every challenge (the UE must never see them) and, when sec-agree was
// negotiated, the four SAs go in and Security-Server is added.
func (n *Node) onChallenge(res *sip.Response, src proxy.Source, bk bindingKey, impu string, offer *regOffer, log *zap.Logger) {
	var ik, ck []byte
	for _, name := range []string{header.WWWAuthenticate, header.ProxyAuthenticate} {
		vals := header.Values(res, name)
		if len(vals) == 0 {
			continue
		}
		header.Remove(res, name)
		for _, v := range vals {
			ch, err := digest.ParseChallenge(v)
			if err != nil {
				res.AppendHeader(sip.NewHeader(name, v))
				continue
			}
			if ik == nil {
				if i, c, err := ch.Keys(); err == nil {
					ik, ck = i, c
				}
			}
			res.AppendHeader(sip.NewHeader(name, ch.WithoutKeys().String()))
		}
	}
	if offer == nil || n.sas == nil {
		return
	}
	if ik == nil {
		log.Warn("401 without ck/ik: cannot set up SAs for sec-agree")
		n.failChallenge(res)
		return
	}
	sa, err := n.installSet(src, bk, impu, offer, ik, ck)
	if err != nil {
		log.Error("installing SAs failed", zap.Error(err))
		n.failChallenge(res)
		return
	}
	res.AppendHeader(sip.NewHeader(header.SecurityServer, sa.SecurityServer))
	log.Info("SAs installed for the protected REGISTER", zap.Stringer("algs", sa.Pair.Algs),
		zap.Uint16("ue_port_c", sa.Pair.UE.PortC), zap.Uint16("ue_port_s", sa.Pair.UE.PortS),
		zap.Uint16("port_c", sa.Pair.PCSCF.PortC), zap.Uint16("port_s", sa.Pair.PCSCF.PortS))
}

// failChallenge turns the 401 into a 500: the UE cannot answer over SAs that do not exist.
func (n *Node) failChallenge(res *sip.Response) {
	header.Remove(res, header.WWWAuthenticate)
	res.StatusCode, res.Reason = 500, "Server Internal Error"
	n.metrics.rejected.WithLabelValues("500").Inc()
}

// installSet allocates our ports and SPIs, installs the four SAs with the short initial lifetime
// and records the set as unconfirmed.
func (n *Node) installSet(src proxy.Source, bk bindingKey, impu string, offer *regOffer, ik, ck []byte) (SASet, error) {
	ueAddr := src.Remote.Addr().Unmap()
	ours := src.Local.Addr().Unmap()
	if !n.protected[ours] {
		ours = n.coreFor(ueAddr).Addr()
	}
	portC, portS, spiC, spiS, err := n.alloc.alloc(ueAddr)
	if err != nil {
		return SASet{}, err
	}
	c := offer.chosen
	pair := ipsec.Pair{
		UE:    ipsec.Endpoint{Addr: ueAddr, PortC: c.PortC, PortS: c.PortS, SPIC: c.SPIC, SPIS: c.SPIS},
		PCSCF: ipsec.Endpoint{Addr: ours, PortC: portC, PortS: portS, SPIC: spiC, SPIS: spiS},
		Algs:  ipsec.Algorithms{Integrity: ipsec.IntegrityAlg(strings.ToLower(c.Alg)), Encryption: ipsec.EncryptionAlg(strings.ToLower(c.Encryption()))},
		Proto: ipsec.ProtoAny,
	}
	copy(pair.IK[:], ik)
	copy(pair.CK[:], ck)
	if err := n.sas.Install(n.base, ipsec.SidePCSCF, pair, n.cfg.InitialSALifetime); err != nil {
		n.alloc.release(ueAddr, portC, spiC, spiS)
		return SASet{}, fmt.Errorf("install SAs towards %v: %w", ueAddr, err)
	}
	n.metrics.saInstalled.Inc()
	server := secagree.ServerMechanism(c, spiC, spiS, portC, portS)
	sa := SASet{
		Pair:           pair,
		SecurityServer: secagree.Format([]secagree.Mechanism{server}),
		SecurityClient: secagree.Format(offer.offered),
		Expires:        time.Now().Add(n.cfg.InitialSALifetime),
	}
	n.regs.update(bk, impu, func(r *Registration) bool {
		r.SAs = append([]SASet{sa}, r.SAs...)
		if r.Transport == "" {
			r.Transport = strings.ToUpper(src.Transport)
		}
		return true
	})
	n.persist()
	return sa, nil
}

// onRegistered handles the 2xx to a REGISTER (docs/design.md §4 step 7): the registration and its
// SA lifetime follow the expiry; a de-registration ends both once the 200 has gone out.
func (n *Node) onRegistered(req *sip.Request, res *sip.Response, src proxy.Source, bk bindingKey, impu, impi, contactHost string,
	contactPort uint16, dereg bool, over *SASet, log *zap.Logger) {
	expires := responseExpires(res, req, contactHost, contactPort)
	if dereg || expires == 0 {
		if bk.Contact == wildcardContact && over == nil {
			// RFC 3261 §10.2.2 "Contact: *" without SAs: every binding of this IMPU registered from this source.
			for _, b := range n.regs.ofIMPU(impu) {
				if b.Source.Addr() == src.Remote.Addr().Unmap() {
					n.endRegistration(keyOf(b.IMPU, b.Contact))
				}
			}
		} else {
			n.endRegistration(bk)
		}
		log.Info("de-registered")
		return
	}
	now := time.Now()
	assoc, _ := header.NameAddrs(res, header.PAssociatedURI)
	routes, _ := header.NameAddrs(res, header.ServiceRoute)
	var older []SASet
	var confirmed *SASet
	wasRegistered := false
	n.regs.update(bk, impu, func(r *Registration) bool {
		wasRegistered = r.Registered(now)
		r.IMPI = impi
		r.ContactHost, r.ContactPort = strings.Trim(strings.ToLower(contactHost), "[]"), contactPort
		r.Transport = strings.ToUpper(src.Transport)
		r.Source = netip.AddrPortFrom(src.Remote.Addr().Unmap(), src.Remote.Port())
		r.Expires = now.Add(expires)
		r.Associated = r.Associated[:0]
		for _, a := range assoc {
			r.Associated = append(r.Associated, a.URI)
		}
		r.ServiceRoute = r.ServiceRoute[:0]
		for _, s := range routes {
			r.ServiceRoute = append(r.ServiceRoute, s.String())
		}
		if over == nil {
			if len(r.SAs) > 0 {
				// A UE without sec-agree now: SAs of an earlier registration go.
				older, r.SAs = r.SAs, nil
			}
			return true
		}
		for i := range r.SAs {
			if r.SAs[i].Pair.PCSCF.SPIS == over.Pair.PCSCF.SPIS {
				r.SAs[i].Confirmed = true
				r.SAs[i].Expires = now.Add(expires + n.cfg.SAGrace)
				c := r.SAs[i]
				confirmed = &c
			}
		}
		return true
	})
	if !wasRegistered {
		// TS 24.229 §5.2.3: subscribe to the reg event of a newly registered user.
		if reg, ok := n.regs.get(bk); ok && len(reg.ServiceRoute) > 0 {
			n.wg.Go(func() { n.subscribeReg(reg, expires+n.cfg.SAGrace) })
		}
	}
	if confirmed != nil || len(older) > 0 {
		// Netlink after the 200 has gone, off the transaction's callback: nothing the UE waits for needs it.
		n.wg.Go(func() {
			n.removeSAs(older)
			if confirmed != nil {
				// TS 33.203 §7.1: the SA lifetime follows the registration.
				if err := n.sas.UpdateLifetime(n.base, confirmed.Pair, expires+n.cfg.SAGrace); err != nil {
					log.Warn("extending SA lifetime failed", zap.Error(err))
				}
			}
		})
	}
	n.persist()
	n.qosRegistered(bk, req) // qos.go: the signalling AF session, TS 29.214 §4.4.5a
	log.Info("registered", zap.Duration("expires", expires), zap.Bool("sec_agree", over != nil))
}

// withoutSecAgree removes from a request the P-CSCF forwards what belongs to the security agreement
// between the UE and itself (RFC 3329 §2.3.1; TS 24.229 §5.2.2.1 for REGISTER, §5.2.6.3 for every other
// request from the UE): Security-Client, Security-Verify and the sec-agree option-tag of Require and
// Proxy-Require, other option-tags staying. Left in, the next hop answers 420 (RFC 3261 §16.3 step 5).
func withoutSecAgree(req *sip.Request, d *proxy.Decision) {
	d.RemoveHeaders = append(d.RemoveHeaders, header.SecurityClient, header.SecurityVerify, header.Require, header.ProxyRequire)
	for _, name := range []string{header.Require, header.ProxyRequire} {
		if tags := tagsWithout(req, name, optionSecAgree); tags != "" {
			d.AddHeaders = append(d.AddHeaders, sip.NewHeader(name, tags))
		}
	}
}

// checkVerify applies RFC 3329 §2.3.1 step 5 (TS 33.203 §7.2) to a request other than REGISTER that came
// over one of reg's SA sets: a Security-Verify must list what we sent in a Security-Server of this
// registration, else a man in the middle may have bid the mechanism down and the request is answered 494.
// Any of the registration's sets counts: during a re-registration (TS 33.203 §7.4) the UE may already name
// the new set in a request sent over the old. A request without Security-Verify is served: it came over
// the SAs, which authenticate it (TS 24.229 §5.1.1 asks the UE for it only on REGISTER).
func (n *Node) checkVerify(req *sip.Request, reg Registration) (proxy.Decision, error) {
	if !header.Has(req, header.SecurityVerify) {
		return proxy.Decision{}, nil
	}
	verify, err := secagree.FromMessage(req, header.SecurityVerify)
	if err != nil {
		return n.reject(400, "Bad Security-Verify", err)
	}
	for _, sa := range reg.SAs {
		if sent, err := secagree.Parse(sa.SecurityServer); err == nil && secagree.Equal(verify, sent) {
			return proxy.Decision{}, nil
		}
	}
	return n.verifyMismatch(verify, reg.SAs[0].SecurityServer)
}

// verifyMismatch answers a Security-Verify that is not what we sent: 494 (RFC 3329 §2.3.1 step 5).
func (n *Node) verifyMismatch(verify []secagree.Mechanism, sent string) (proxy.Decision, error) {
	return n.reject(secagree.StatusSecurityAgreementRequired, "Security-Verify Mismatch",
		fmt.Errorf("security-verify %q does not match security-server %q", secagree.Format(verify), sent))
}

// reject answers with code and counts it.
func (n *Node) reject(code int, reason string, err error) (proxy.Decision, error) {
	n.metrics.rejected.WithLabelValues(strconv.Itoa(code)).Inc()
	return proxy.Decision{}, &proxy.StatusError{Code: code, Reason: reason, Err: err}
}

// coreFor returns our unprotected address of a's family.
func (n *Node) coreFor(a netip.Addr) netip.AddrPort {
	for _, c := range n.core {
		if c.Addr().Unmap().Is4() == a.Unmap().Is4() {
			return c
		}
	}
	return n.core[0]
}

func (n *Node) chargingHost() string {
	if n.cfg.ChargingHost != "" {
		return n.cfg.ChargingHost
	}
	return n.core[0].Addr().String()
}

// pathURI is the SIP URI of this P-CSCF at core as it goes in Path (without lr) and asserts it elsewhere (the reg
// event SUBSCRIBE, TS 24.229 §5.2.3). The user part "term" marks requests routed along it (Kamailio's P-CSCF
// writes the same).
func (n *Node) pathURI(core netip.AddrPort) string {
	return "sip:" + pathUser + "@" + hostPort(core)
}

// endRegistration removes the binding under bk and its dialogs, the other bindings of its IMPU staying; its SAs go
// DeregDelay after the final response to a de-REGISTER of it in flight, or DeregDelay from now, so that a final
// response sent through them leaves first (docs/design.md §4).
func (n *Node) endRegistration(bk bindingKey) {
	n.qosDeregistered(bk) // qos.go: STR, TS 29.214 §4.4.4
	n.algDeregistered(bk) // imsalg.go: the binding's AGW terminations
	var gone []SASet
	n.regs.update(bk, "", func(r *Registration) bool {
		gone = r.SAs
		return false
	})
	n.dialogs.dropBinding(bk)
	n.removeLater(n.deregs.park(bk, gone), n.cfg.DeregDelay)
	n.persist()
}

// chargingVector is a new P-Charging-Vector for an initial request or a REGISTER: a fresh icid-value generated
// here (RFC 7315 §4.6, TS 24.229 §5.2.2.1 and §5.2.6.3.1).
func (n *Node) chargingVector() sip.Header {
	return sip.NewHeader(header.PChargingVector, header.ChargingVector{ICIDValue: newICID(), ICIDGeneratedAt: n.chargingHost()}.String())
}

func hostPort(ap netip.AddrPort) string {
	if ap.Addr().Is6() && !ap.Addr().Is4In6() {
		return "[" + ap.Addr().String() + "]:" + strconv.Itoa(int(ap.Port()))
	}
	return ap.String()
}

// newICID is a fresh icid-value (RFC 7315 §4.6: globally unique).
func newICID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// toIMPU is the public identity of a REGISTER: the To URI without parameters (TS 24.229 §5.1.1.2).
func toIMPU(req *sip.Request) string {
	to := req.To()
	if to == nil {
		return ""
	}
	return identity.URIKey(&to.Address)
}

func callID(m sip.Message) string {
	if c := m.CallID(); c != nil {
		return c.Value()
	}
	return ""
}

// hasTag reports whether the named option-tag header lists tag.
func hasTag(req *sip.Request, name, tag string) bool {
	for _, v := range header.Values(req, name) {
		if strings.EqualFold(strings.TrimSpace(v), tag) {
			return true
		}
	}
	return false
}

// tagsWithout is the option-tag list of name without tag, "" when nothing is left.
func tagsWithout(req *sip.Request, name, tag string) string {
	var keep []string
	for _, v := range header.Values(req, name) {
		if v = strings.TrimSpace(v); v != "" && !strings.EqualFold(v, tag) {
			keep = append(keep, v)
		}
	}
	return strings.Join(keep, ", ")
}

// firstContact returns host and port of the REGISTER's first Contact.
func firstContact(req *sip.Request) (string, uint16) {
	c := req.Contact()
	if c == nil {
		return "", 0
	}
	port := c.Address.Port
	if port == 0 {
		port = 5060
	}
	return strings.Trim(c.Address.Host, "[]"), uint16(port)
}

// wildcardContact is the contact identity of "Contact: *" (RFC 3261 §10.2.2).
const wildcardContact = "*"

// contactIdentity names the binding a REGISTER is for (TS 24.229 §5.2.2; RFC 5626 §4.2, RFC 5627 §4.2): the
// first Contact's +sip.instance with its reg-id, the instance alone without one, else the contact URI as
// user@host:port; all lower case.
func contactIdentity(req *sip.Request) string {
	c := req.Contact()
	if c == nil {
		return ""
	}
	if c.Address.Wildcard || c.Address.Host == "*" {
		return wildcardContact
	}
	if inst, ok := c.Params.Get("+sip.instance"); ok {
		if inst = strings.Trim(strings.TrimSpace(inst), `"`); inst != "" {
			if id, ok := c.Params.Get("reg-id"); ok && strings.TrimSpace(id) != "" {
				return strings.ToLower(inst) + ";reg-id=" + strings.TrimSpace(id)
			}
			return strings.ToLower(inst)
		}
	}
	host, port := firstContact(req)
	return strings.ToLower(c.Address.User + "@" + host + ":" + strconv.Itoa(int(port)))
}

// isDeregistration: Expires: 0, every Contact with expires=0, or Contact: * (RFC 3261 §10.2.2).
func isDeregistration(req *sip.Request) bool {
	if e := req.GetHeader("Expires"); e != nil && strings.TrimSpace(e.Value()) == "0" {
		return true
	}
	cs := req.GetHeaders("Contact")
	if len(cs) == 0 {
		return false
	}
	for _, h := range cs {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return false
		}
		if c.Address.Wildcard || c.Address.Host == "*" {
			return true
		}
		if v, ok := c.Params.Get("expires"); !ok || strings.TrimSpace(v) != "0" {
			return false
		}
	}
	return true
}

// responseExpires is the expiry the registrar granted our UE's contact (RFC 3261 §10.2.4).
func responseExpires(res *sip.Response, req *sip.Request, host string, port uint16) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		p := c.Address.Port
		if p == 0 {
			p = 5060
		}
		if strings.EqualFold(strings.Trim(c.Address.Host, "[]"), host) && uint16(p) == port {
			if v, ok := c.Params.Get("expires"); ok {
				if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
					return time.Duration(s) * time.Second
				}
			}
		}
	}
	for _, m := range []sip.Message{res, req} {
		for _, v := range header.Values(m, header.Expires) {
			if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
				return time.Duration(s) * time.Second
			}
		}
	}
	if len(res.GetHeaders("Contact")) == 0 {
		return 0 // a 200 without contacts: nothing is bound any more
	}
	return defaultExpires
}

var _ proxy.OptionTagger = (*Node)(nil)

func addrPort(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a.Unmap(), port) }
