package ue

// Registration from the UE's side, TS 24.229 §5.1.1 with IMS-AKA (TS 33.203 §6.1, §7): the
// unprotected REGISTER offering Security-Client, the 401 with the AKA challenge and
// Security-Server, the SAs, the protected REGISTER with Security-Verify, and its 200.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/secagree"
)

// Errors for errors.Is.
var (
	// ErrRejected: the network answered with a failure; the *StatusError says which.
	ErrRejected = errors.New("ue: request rejected")
	// ErrAuth: the challenge could not be answered (bad AUTN, no keys, repeated 401).
	ErrAuth = errors.New("ue: authentication failed")
	// ErrNotRegistered: the operation needs a registration.
	ErrNotRegistered = errors.New("ue: not registered")
	// ErrClosed: the UE was closed while the request waited for its answer.
	ErrClosed = errors.New("ue: closed")
)

// StatusError is a final failure response.
type StatusError struct {
	Code   int
	Reason string
	Res    *sip.Response
}

func (e *StatusError) Error() string { return fmt.Sprintf("ue: %d %s", e.Code, e.Reason) }
func (e *StatusError) Unwrap() error { return ErrRejected }

// Register registers (or re-registers, over the current SAs, offering new ones) with the
// configured expiry.
func (u *UE) Register(ctx context.Context) (*Registration, error) {
	return u.register(ctx, u.cfg.Expires)
}

// Deregister sends REGISTER with Expires: 0 (TS 24.229 §5.1.1.6) and, once answered, removes
// the SAs and forgets the registration.
func (u *UE) Deregister(ctx context.Context) error {
	_, err := u.register(ctx, 0)
	return err
}

// register runs one registration procedure and reacts to its failures: a re-registration that
// times out or gets 408, 500, 503 or 504 is followed by an initial registration (TS 24.229
// §5.1.1.4.1), and a 305 drops the registration and its SAs (TS 24.229 §5.1.1.2.1: the UE has
// to register afresh, with a P-CSCF it would select again).
func (u *UE) register(ctx context.Context, expires time.Duration) (*Registration, error) {
	u.regMu.Lock()
	defer u.regMu.Unlock()
	u.mu.Lock()
	registered := u.reg != nil
	if expires > 0 && expires < u.minExpires {
		expires = u.minExpires // RFC 3261 §10.2.8: the registrar's Min-Expires is remembered
	}
	u.mu.Unlock()
	reg, err := u.registerOnce(ctx, expires)
	if err == nil || expires == 0 || ctx.Err() != nil || errors.Is(err, ErrClosed) {
		return reg, err
	}
	var se *StatusError
	code := 0
	if errors.As(err, &se) {
		code = se.Code
	} else if errors.Is(err, context.DeadlineExceeded) {
		code = 408 // the transaction timed out (RFC 3261 §8.1.3.1)
	}
	switch {
	case code == 305:
		u.log.Warn("REGISTER answered 305 (Use Proxy): registration and SAs dropped")
		u.dropRegistration()
	case registered && (code == 408 || code == 500 || code == 503 || code == 504):
		// TS 24.229 §5.1.1.4.1: a failed re-registration is followed by an initial one.
		u.log.Info("re-registration failed: registering afresh", zap.Int("code", code))
		u.dropRegistration()
		return u.registerOnce(ctx, expires)
	}
	return reg, err
}

// dropRegistration forgets the registration and removes its SAs: the next REGISTER is an
// initial one, unprotected, with a fresh set of ports and SAs (TS 33.203 §7.1).
func (u *UE) dropRegistration() {
	u.mu.Lock()
	u.reg = nil
	st := u.sa
	u.sa = nil
	u.mu.Unlock()
	if st != nil {
		// TS 24.229 §5.1.1.2.1, TS 33.203 §7.4: the SAs of a registration that is gone go with it.
		u.closeSet(st)
		st.closeSockets(true)
	}
	u.signalReg()
}

func (u *UE) registerOnce(ctx context.Context, expires time.Duration) (*Registration, error) {
	u.mu.Lock()
	registered := u.reg != nil
	cur := u.sa
	u.mu.Unlock()
	if expires == 0 && !registered {
		return nil, ErrNotRegistered
	}
	if u.cfg.SecAgree && !registered && expires > 0 && (cur == nil || cur.pair != nil) {
		// An initial registration after a de-registration (the set went with it) or after a
		// failed one (whose SAs were installed but never used): fresh ports, SPIs and SAs,
		// TS 33.203 §7.1.
		st, err := u.freshSet(cur)
		if err != nil {
			return nil, err
		}
		cur = st
	}
	// The set the next protected REGISTER offers: the current one at first, a new one (new
	// client port and SPIs, same server port) on a re-registration (TS 33.203 §7.4).
	offerSet := cur
	if registered && cur != nil && expires > 0 {
		st, err := u.openSet(0, 0, 0, 0)
		if err != nil {
			return nil, err
		}
		offerSet = st
	}
	var sendWire wire
	var err error
	if registered && cur != nil {
		sendWire, err = u.protWire(cur)
	} else {
		sendWire, err = u.unprotWire(ctx)
	}
	if err != nil {
		u.discard(offerSet, cur)
		return nil, err
	}
	var cred *digest.Credentials
	verify := ""
	if cur != nil && registered {
		verify = cur.server
	}
	waited, raised := false, false
	for attempt := 0; attempt < 6; attempt++ {
		req := u.registerRequest(expires, offerSet, verify, cred)
		res, err := u.transact(ctx, req, sendWire)
		if err != nil {
			u.discard(offerSet, cur)
			return nil, err
		}
		switch {
		case res.StatusCode == 401:
			ch, err := challengeOf(res)
			if err != nil {
				u.discard(offerSet, cur)
				return nil, err
			}
			c, result, err := u.answer(ch)
			var sf *aka.SyncFailure
			if errors.As(err, &sf) {
				// RFC 3310 §3.4: resynchronise; the REGISTER goes the same way as before.
				u.log.Info("SQN out of range: sending auts", zap.Stringer("reason", sf.Reason))
				cred = &c
				continue
			}
			if errors.Is(err, aka.ErrMACFailure) {
				// TS 24.229 §5.1.1.5.3: the network failed to authenticate itself; tell the S-CSCF with the
				// challenge's nonce and an empty response (it answers 403), then give up.
				u.log.Warn("the network's challenge has an invalid MAC: K, OP/OPc or AMF differ from the HSS's")
				reject := digest.Credentials{Username: u.cfg.IMPI, Realm: ch.Realm, Nonce: ch.Nonce,
					URI: "sip:" + u.cfg.Domain, Algorithm: ch.Algorithm}
				if _, rerr := u.transact(ctx, u.registerRequest(expires, offerSet, verify, &reject), sendWire); rerr != nil {
					u.log.Debug("REGISTER rejecting the challenge", zap.Error(rerr))
				}
			}
			if err != nil {
				u.discard(offerSet, cur)
				return nil, err
			}
			cred = &c
			if offerSet != nil && offerSet.pair == nil {
				server, err := secagree.FromMessage(res, header.SecurityServer)
				if err != nil || len(server) == 0 {
					u.discard(offerSet, cur)
					return nil, fmt.Errorf("%w: 401 without a usable Security-Server: %v", ErrAuth, err)
				}
				if err := u.installSet(ctx, offerSet, server[0], result); err != nil {
					u.discard(offerSet, cur)
					return nil, err
				}
				verify = secagree.Format(server)
				offerSet.server = verify
				if sendWire, err = u.protWire(offerSet); err != nil {
					u.discard(offerSet, cur)
					return nil, err
				}
			}
		case res.StatusCode >= 200 && res.StatusCode < 300:
			return u.registered(res, expires, offerSet, cur), nil
		case res.StatusCode == 423 && !raised && expires > 0:
			// RFC 3261 §10.2.8: the interval was too brief; try again with the Min-Expires.
			m, ok := minExpires(res)
			if !ok || m <= expires {
				u.discard(offerSet, cur)
				return nil, &StatusError{Code: res.StatusCode, Reason: res.Reason, Res: res}
			}
			u.log.Info("REGISTER 423: retrying with Min-Expires", zap.Duration("min_expires", m))
			expires, raised = m, true
			u.mu.Lock()
			u.minExpires = m
			u.mu.Unlock()
		case (res.StatusCode == 500 || res.StatusCode == 503) && !waited && u.waitRetryAfter(ctx, res):
			// RFC 3261 §21.5.4, §21.5.2: not before the Retry-After has passed, then once more.
			waited = true
		default:
			u.discard(offerSet, cur)
			return nil, &StatusError{Code: res.StatusCode, Reason: res.Reason, Res: res}
		}
	}
	u.discard(offerSet, cur)
	return nil, fmt.Errorf("%w: challenged too many times", ErrAuth)
}

// minExpires reads a 423's Min-Expires (RFC 3261 §20.23).
func minExpires(res *sip.Response) (time.Duration, bool) {
	v := header.Values(res, "Min-Expires")
	if len(v) == 0 {
		return 0, false
	}
	s, err := strconv.ParseUint(strings.TrimSpace(v[0]), 10, 31)
	if err != nil {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// retryAfter reads a Retry-After's delta-seconds (RFC 3261 §20.33), comment and parameters aside.
func retryAfter(res *sip.Response) (time.Duration, bool) {
	v := header.Values(res, "Retry-After")
	if len(v) == 0 {
		return 0, false
	}
	f := strings.FieldsFunc(v[0], func(r rune) bool { return r == ' ' || r == '(' || r == ';' || r == '\t' })
	if len(f) == 0 {
		return 0, false
	}
	s, err := strconv.ParseUint(f[0], 10, 31)
	if err != nil {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// waitRetryAfter waits out res's Retry-After when it has one no longer than MaxRetryAfter and
// reports whether the request may be sent again (false: none, too long, or ctx ended).
func (u *UE) waitRetryAfter(ctx context.Context, res *sip.Response) bool {
	d, ok := retryAfter(res)
	if !ok || d > u.cfg.MaxRetryAfter {
		return false
	}
	u.log.Info("waiting out Retry-After", zap.Int("code", res.StatusCode), zap.Duration("retry_after", d))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-u.ctx.Done():
		return false
	}
}

// freshSet replaces stale, the current set of an unregistered UE (nil after a de-registration),
// with a new one on the configured ports.
func (u *UE) freshSet(stale *saState) (*saState, error) {
	if stale != nil {
		u.mu.Lock()
		u.sa = nil
		u.mu.Unlock()
		u.closeSet(stale)
		stale.closeSockets(true)
	}
	st, err := u.openSet(u.cfg.PortC, u.cfg.PortS, u.cfg.SPIC, u.cfg.SPIS)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	u.sa = st
	u.mu.Unlock()
	return st, nil
}

// discard drops a set opened for this attempt when it is not the current one.
func (u *UE) discard(st, cur *saState) {
	if st != nil && st != cur {
		u.closeSet(st)
	}
}

// registered records a 2xx: the new set becomes current and the old one goes (TS 33.203
// §7.4.1); Expires 0 removes everything.
func (u *UE) registered(res *sip.Response, expires time.Duration, offerSet, cur *saState) *Registration {
	u.mu.Lock()
	defer u.mu.Unlock()
	if expires == 0 {
		u.reg = nil
		u.signalReg()
		if cur != nil {
			// The 200 came through the SAs; now they can go.
			u.sa = nil
			u.closeSet(cur)
		}
		return nil
	}
	granted := expires
	if e := header.Values(res, header.Expires); len(e) > 0 {
		if s, err := strconv.Atoi(e[0]); err == nil {
			granted = time.Duration(s) * time.Second
		}
	}
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok {
			if v, ok := c.Params.Get("expires"); ok {
				if s, err := strconv.Atoi(v); err == nil {
					granted = time.Duration(s) * time.Second
				}
			}
		}
	}
	reg := &Registration{Expires: granted}
	for _, h := range res.GetHeaders("Contact") {
		reg.Contacts = append(reg.Contacts, h.Value())
	}
	for _, na := range mustNameAddrs(res, header.ServiceRoute) {
		reg.ServiceRoute = append(reg.ServiceRoute, na.String())
	}
	for _, na := range mustNameAddrs(res, header.PAssociatedURI) {
		reg.Associated = append(reg.Associated, na.URI)
	}
	if offerSet != nil && offerSet.pair != nil {
		if offerSet != cur && cur != nil {
			u.old = append(u.old, cur)
		}
		u.sa = offerSet
		reg.SecAgree, reg.Algorithms, reg.Pair = true, offerSet.pair.Algs, *offerSet.pair
	} else if offerSet != nil && offerSet != cur {
		// Re-registered without a new challenge: the offered set was not used.
		u.wg.Go(func() { u.closeSet(offerSet) })
		if cur != nil && cur.pair != nil {
			reg.SecAgree, reg.Algorithms, reg.Pair = true, cur.pair.Algs, *cur.pair
		}
	}
	// Old sets go now that the new one carried a successful REGISTER.
	old := u.old
	u.old = nil
	for _, st := range old {
		if u.sa != nil && u.sa.udpS == st.udpS {
			// The new set now owns the server sockets both used.
			st.sharedServer, u.sa.sharedServer = true, false
		}
		u.closeSet(st)
	}
	u.reg = reg
	u.signalReg()
	return reg
}

// installSet installs the UE's four SAs for st towards the P-CSCF's Security-Server.
func (u *UE) installSet(ctx context.Context, st *saState, server secagree.Mechanism, r aka.Result) error {
	pcscfAddr := u.cfg.PCSCF.Addr().Unmap()
	pair := ipsec.Pair{
		UE:    ipsec.Endpoint{Addr: u.cfg.Local.Unmap(), PortC: st.portC, PortS: st.portS, SPIC: st.spiC, SPIS: st.spiS},
		PCSCF: ipsec.Endpoint{Addr: pcscfAddr, PortC: server.PortC, PortS: server.PortS, SPIC: server.SPIC, SPIS: server.SPIS},
		Algs:  ipsec.Algorithms{Integrity: ipsec.IntegrityAlg(strings.ToLower(server.Alg)), Encryption: ipsec.EncryptionAlg(strings.ToLower(server.Encryption()))},
		IK:    r.IK, CK: r.CK, Proto: ipsec.ProtoAny,
	}
	if u.cfg.SAs != nil {
		if err := u.cfg.SAs.Install(ctx, ipsec.SideUE, pair, u.cfg.Expires+time.Minute); err != nil {
			return fmt.Errorf("ue: install SAs: %w", err)
		}
	}
	st.pair = &pair
	st.pcscf = netip.AddrPortFrom(pcscfAddr, server.PortS)
	st.pcscfC = server.PortC
	return nil
}

// answer runs the USIM on the challenge and builds the credentials (RFC 3310 §3.2, §3.4).
func (u *UE) answer(ch digest.Challenge) (digest.Credentials, aka.Result, error) {
	randB, autnB, _, err := digest.ParseAKANonce(ch.Nonce)
	if err != nil {
		return digest.Credentials{}, aka.Result{}, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	var rnd, autn [16]byte
	copy(rnd[:], randB)
	copy(autn[:], autnB)
	cred := digest.Credentials{
		Username: u.cfg.IMPI, Realm: ch.Realm, Nonce: ch.Nonce, URI: "sip:" + u.cfg.Domain,
		Algorithm: ch.Algorithm, Opaque: ch.Opaque,
	}
	if cred.Algorithm == "" {
		cred.Algorithm = u.cfg.Algorithm
	}
	for _, q := range ch.QOPs() {
		if strings.EqualFold(q, digest.QOPAuth) {
			cred.QOP, cred.NC, cred.CNonce = digest.QOPAuth, "00000001", randHex(8)
		}
	}
	res, err := u.usim.Authenticate(rnd, autn)
	var sf *aka.SyncFailure
	if errors.As(err, &sf) {
		cred.AUTS = digest.EncodeAUTS(sf.AUTS)
		cred.Response, err = digest.Response(cred, "REGISTER", nil, nil)
		if err != nil {
			return digest.Credentials{}, aka.Result{}, fmt.Errorf("%w: %w", ErrAuth, err)
		}
		return cred, aka.Result{}, sf
	}
	if err != nil {
		return digest.Credentials{}, aka.Result{}, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	pw := digest.AKAv1Password(res.RES)
	if strings.EqualFold(cred.Algorithm, digest.AlgAKAv2MD5) {
		pw = digest.AKAv2Password(res.RES, res.IK[:], res.CK[:])
	}
	cred.Response, err = digest.Response(cred, "REGISTER", pw, nil)
	if err != nil {
		return digest.Credentials{}, aka.Result{}, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	return cred, res, nil
}

func challengeOf(res *sip.Response) (digest.Challenge, error) {
	for _, v := range header.Values(res, header.WWWAuthenticate) {
		ch, err := digest.ParseChallenge(v)
		if err == nil {
			return ch, nil
		}
	}
	return digest.Challenge{}, fmt.Errorf("%w: 401 without a Digest challenge", ErrAuth)
}

// registerRequest builds one REGISTER (TS 24.229 §5.1.1.2.1).
func (u *UE) registerRequest(expires time.Duration, offer *saState, verify string, cred *digest.Credentials) *sip.Request {
	ruri := sip.Uri{Scheme: "sip", Host: u.cfg.Domain}
	req := u.baseRequest(sip.REGISTER, ruri, u.cfg.IMPU, u.callID, "")
	contact := u.Contact()
	if offer != nil {
		contact = netip.AddrPortFrom(u.cfg.Local, offer.portS)
	}
	var user string
	var impu sip.Uri
	if err := sip.ParseUri(u.cfg.IMPU, &impu); err == nil {
		user = impu.User
	}
	params := sip.NewParams()
	params.Add("expires", strconv.Itoa(int(expires/time.Second)))
	// RFC 5626 §4.1, §4.2 and TS 24.229 §5.1.1.2.1: the instance ID and, with multiple
	// registrations, the reg-id.
	params.Add("+sip.instance", `"<`+u.cfg.Instance+`>"`)
	if u.cfg.RegID > 0 {
		params.Add("reg-id", strconv.Itoa(u.cfg.RegID))
	}
	cu := sip.Uri{Scheme: "sip", User: user, Host: hostOf(contact.Addr()), Port: int(contact.Port())}
	if u.cfg.Transport == "TCP" {
		cu.UriParams = sip.NewParams()
		cu.UriParams.Add("transport", "tcp")
	}
	req.AppendHeader(&sip.ContactHeader{Address: cu, Params: params})
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(sip.NewHeader("Supported", u.supported(sip.REGISTER)))
	var fast *FastReg
	if cred == nil {
		// TS 24.229 §5.1.1.2.1: the first REGISTER carries an Authorization with the private
		// identity and empty nonce and response.
		cred = &digest.Credentials{Username: u.cfg.IMPI, Realm: u.cfg.Domain, URI: "sip:" + u.cfg.Domain}
		if fast = u.fastRegFor(expires); fast != nil {
			presentToken(cred, fast) // fastreg.go
		}
	}
	req.AppendHeader(sip.NewHeader(header.Authorization, cred.String()))
	if offer != nil {
		if expires > 0 || offer.pair == nil {
			// A de-registration offers nothing new: it rides on the current SAs.
			req.AppendHeader(sip.NewHeader(header.SecurityClient, u.securityClient(offer)))
		}
		if verify != "" {
			req.AppendHeader(sip.NewHeader(header.SecurityVerify, verify))
		}
		// RFC 3329 §2.3.1 step 1.
		req.AppendHeader(sip.NewHeader(header.Require, "sec-agree"))
		req.AppendHeader(sip.NewHeader(header.ProxyRequire, "sec-agree"))
	} else if u.cfg.Mediasec {
		req.AppendHeader(sip.NewHeader(header.SecurityClient, mediasecClient)) // media.go
	}
	if fast != nil {
		if err := u.signAIB(req, fast); err != nil {
			u.log.Warn("fast registration: no AIB, the REGISTER will be challenged", zap.Error(err))
		}
	}
	return req
}

// supported is the Supported header field of a request (TS 24.229 §5.1.1.2.1: path and gruu
// on REGISTER, outbound with a reg-id, sec-agree when the UE offers it, RFC 3329 §2.3.1; 100rel
// and timer on INVITE, RFC 3262 §3, RFC 4028 §7.1).
func (u *UE) supported(m sip.RequestMethod) string {
	var tags []string
	switch m {
	case sip.REGISTER:
		tags = append(tags, "path", "gruu")
		if u.cfg.RegID > 0 {
			tags = append(tags, "outbound")
		}
	case sip.INVITE, sip.UPDATE:
		tags = append(tags, "100rel", "timer")
	}
	if u.cfg.SecAgree {
		tags = append(tags, "sec-agree")
	}
	return strings.Join(tags, ", ")
}

// securityClient lists one ipsec-3gpp mechanism per offered alg/ealg pair, all with the same
// SPIs and ports (TS 33.203 §7.2, Annex H).
func (u *UE) securityClient(st *saState) string {
	ms := make([]secagree.Mechanism, 0, len(u.cfg.Offer))
	for _, a := range u.cfg.Offer {
		ms = append(ms, secagree.Mechanism{
			Name: secagree.MechIPsec3GPP, Alg: string(a.Integrity), EAlg: string(a.Encryption),
			Prot: secagree.ProtESP, Mod: secagree.ModTrans,
			SPIC: st.spiC, SPIS: st.spiS, PortC: st.portC, PortS: st.portS,
		})
	}
	return secagree.Format(ms)
}

// baseRequest builds From (with tag), To, Call-ID, CSeq and Max-Forwards.
func (u *UE) baseRequest(method sip.RequestMethod, ruri sip.Uri, to, callID, toTag string) *sip.Request {
	req := sip.NewRequest(method, ruri)
	var from, toU sip.Uri
	_ = sip.ParseUri(u.cfg.IMPU, &from)
	_ = sip.ParseUri(to, &toU)
	fp := sip.NewParams()
	fp.Add("tag", u.fromTag(callID))
	req.AppendHeader(&sip.FromHeader{Address: from, Params: fp})
	tp := sip.NewParams()
	if toTag != "" {
		tp.Add("tag", toTag)
	}
	req.AppendHeader(&sip.ToHeader{Address: toU, Params: tp})
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	u.mu.Lock()
	u.cseq++
	seq := u.cseq
	u.mu.Unlock()
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	return req
}

// fromTag is stable per Call-ID, so that every REGISTER of one registration carries the same.
func (u *UE) fromTag(callID string) string {
	if len(callID) >= 8 {
		return callID[:8]
	}
	return callID
}

// transact sends req on w and waits for its final response; over UDP it retransmits with
// Timer A until a response arrives (RFC 3261 §17.1.2.2).
func (u *UE) transact(ctx context.Context, req *sip.Request, w wire) (*sip.Response, error) {
	return u.exchange(ctx, req, w, true, nil)
}

// viaSize is about what exchange's Via adds to a request, for the RFC 3261 §18.1.1 size rule.
const viaSize = 100

// exchange is transact with a choice: newVia false sends req with the Via it has (a CANCEL
// shares its INVITE's branch, RFC 3261 §9.1), and onProv sees every provisional response.
// Responses are matched by branch and CSeq method (RFC 3261 §17.1.3). A request over 1300 bytes
// meant for UDP goes over TCP between the same ends (RFC 3261 §18.1.1).
func (u *UE) exchange(ctx context.Context, req *sip.Request, w wire, newVia bool, onProv func(*sip.Response)) (*sip.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	if uw, ok := w.(udpWire); ok && newVia && uw.tcp != nil && req.Method != sip.REGISTER && len(req.String())+viaSize > udpMaxRequest {
		// RFC 3261 §18.1.1: a request over 1300 bytes (with the Via about to be added) goes over TCP. A REGISTER
		// stays on the registration's transport: the P-CSCF reaches the UE by the transport its REGISTER came
		// over, so moving a large REGISTER to TCP would change how the UE is reached, not just how it sends.
		tw, err := uw.tcp()
		if err != nil {
			return nil, fmt.Errorf("ue: %s of %d bytes over tcp (RFC 3261 §18.1.1): %w", req.Method, len(req.String()), err)
		}
		w = tw
	}
	local := w.local()
	if newVia {
		vp := sip.NewParams()
		vp.Add("branch", "z9hG4bK"+randHex(8))
		vp.Add("rport", "")
		req.PrependHeader(&sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: w.transport(),
			Host: hostOf(local.Addr()), Port: int(local.Port()), Params: vp})
	}
	if req.Body() == nil {
		req.SetBody(nil)
	}
	branch, _ := req.Via().Params.Get("branch")
	key := branch + " " + string(req.Method)
	ch := make(chan *sip.Response, 8)
	u.mu.Lock()
	u.pending[key] = ch
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		delete(u.pending, key)
		u.mu.Unlock()
	}()
	data := []byte(req.String())
	if err := w.write(data); err != nil {
		return nil, fmt.Errorf("ue: send %s: %w", req.Method, err)
	}
	u.log.Debug("sent", zap.String("method", string(req.Method)), zap.String("transport", w.transport()), zap.Stringer("from", local))
	interval := 500 * time.Millisecond
	var timer <-chan time.Time
	if w.transport() == "UDP" {
		timer = time.After(interval)
	}
	for {
		select {
		case res := <-ch:
			if res.StatusCode >= 200 {
				return res, nil
			}
			if req.Method == sip.INVITE {
				timer = nil // a provisional stops INVITE retransmissions (RFC 3261 §17.1.1.2)
			}
			if onProv != nil {
				onProv(res)
			}
		case <-timer:
			if err := w.write(data); err != nil {
				return nil, fmt.Errorf("ue: resend %s: %w", req.Method, err)
			}
			interval = min(2*interval, 4*time.Second)
			timer = time.After(interval)
		case <-ctx.Done():
			return nil, fmt.Errorf("ue: %s: no final response: %w", req.Method, ctx.Err())
		case <-u.ctx.Done():
			return nil, fmt.Errorf("%s: %w", req.Method, ErrClosed)
		}
	}
}

// unprotWire is the unprotected way to the P-CSCF (TS 24.229 §5.1.1.2: the initial REGISTER).
func (u *UE) unprotWire(ctx context.Context) (wire, error) {
	if u.cfg.Transport == "UDP" {
		return udpWire{c: u.unprot, dst: u.cfg.PCSCF, tcp: func() (wire, error) { return u.unprotTCP(ctx) }}, nil
	}
	return u.unprotTCP(ctx)
}

// unprotTCP is the unprotected TCP connection to the P-CSCF, dialled on first use.
func (u *UE) unprotTCP(ctx context.Context) (wire, error) {
	u.tcpMu.Lock()
	defer u.tcpMu.Unlock()
	if u.unprotT == nil {
		var c net.Conn
		err := u.cfg.InNamespace(func() error {
			var err error
			c, err = dialTCP(ctx, netip.AddrPortFrom(u.cfg.Local, 0), u.cfg.PCSCF)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("ue: tcp to %v: %w", u.cfg.PCSCF, err)
		}
		u.unprotT = c
		u.wg.Go(func() {
			u.readTCP(c)
			u.tcpMu.Lock()
			if u.unprotT == c {
				u.unprotT = nil
			}
			u.tcpMu.Unlock()
		})
	}
	return tcpWire{c: u.unprotT, mu: &u.tcpMuWrite}, nil
}

// protWire is the protected way: from port-c to the P-CSCF's port-s (TS 33.203 §7.1 SA 1).
func (u *UE) protWire(st *saState) (wire, error) {
	if !st.pcscf.IsValid() {
		return nil, fmt.Errorf("ue: no SAs yet")
	}
	if u.cfg.Transport == "UDP" {
		return udpWire{c: st.udpC, dst: st.pcscf, tcp: func() (wire, error) { return u.protTCP(st) }}, nil
	}
	return u.protTCP(st)
}

// protTCP is the protected TCP connection from port-c to the P-CSCF's port-s, dialled on first use.
func (u *UE) protTCP(st *saState) (wire, error) {
	st.tcpMu.Lock()
	defer st.tcpMu.Unlock()
	if st.tcpC == nil {
		var c net.Conn
		err := u.cfg.InNamespace(func() error {
			var err error
			c, err = dialTCP(u.ctx, netip.AddrPortFrom(u.cfg.Local, st.portC), st.pcscf)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("ue: tcp from port-c %d to %v: %w", st.portC, st.pcscf, err)
		}
		st.tcpC = c
		u.wg.Go(func() {
			u.readTCP(c)
			// Closed by the peer (a P-CSCF restart): the next request dials again.
			st.tcpMu.Lock()
			if st.tcpC == c {
				st.tcpC = nil
			}
			st.tcpMu.Unlock()
		})
	}
	return tcpWire{c: st.tcpC, mu: &st.writeMu}, nil
}

func hostOf(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return "[" + a.String() + "]"
	}
	return a.Unmap().String()
}

func mustNameAddrs(m sip.Message, name string) []header.NameAddr {
	nas, _ := header.NameAddrs(m, name)
	return nas
}
