package scscf

// REGISTER at the S-CSCF, TS 24.229 §5.4.1 (docs/design.md §4 steps 4 and 7): MAR → 401 with the AKA
// challenge, the response checked against XRES, SAR → 200 OK with Service-Route, P-Associated-URI, Path
// and the bindings; re-registration, de-registration (§5.4.1.4) and authentication failures.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// algorithmOf maps a SIP-Authentication-Scheme to the Digest algorithm of the challenge.
func algorithmOf(scheme string) string {
	switch scheme {
	case SchemeAKAv2MD5:
		return digest.AlgAKAv2MD5
	case cx.SchemeSIPDigest, "Digest-MD5", "Digest":
		return digest.AlgMD5
	}
	return digest.AlgAKAv1MD5
}

// schemeOf maps the algorithm a UE named in its Authorization to the scheme asked in MAR.
func schemeOf(algorithm, fallback string) string {
	switch strings.ToUpper(algorithm) {
	case "AKAV1-MD5":
		return cx.SchemeAKAv1MD5
	case "AKAV2-MD5":
		return SchemeAKAv2MD5
	case "MD5":
		return cx.SchemeSIPDigest
	}
	return fallback
}

// integrityProtected reports whether the P-CSCF said the REGISTER came over a protected channel
// (TS 24.229 §5.4.1.2.1, §7.2A.2).
func integrityProtected(v string) bool {
	switch v {
	case digest.IntegrityYes, digest.IntegrityTLSYes, digest.IntegrityIPAssocYes:
		return true
	}
	return false
}

// handleRegister runs the registrar for one REGISTER and returns the Decision (always a local reply).
func (s *Server) handleRegister(ctx context.Context, req *sip.Request) (proxy.Decision, error) {
	to := req.To()
	if to == nil {
		return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Missing To"}
	}
	impu, err := identity.Public(&to.Address)
	if err != nil {
		// RFC 3261 §10.3 step 3: the To names the address-of-record; one that is no public identity
		// (TS 23.003 §13.4) cannot be registered.
		s.log.Info("REGISTER for no public identity", logging.CallID(req.CallID().Value()), zap.Error(err))
		return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Bad To", Err: err}
	}
	var cred *digest.Credentials
	if h := req.GetHeader("Authorization"); h != nil {
		c, err := digest.ParseCredentials(h.Value())
		switch {
		case errors.Is(err, digest.ErrNotDigest):
			// Credentials of a scheme this registrar does not use carry nothing it can check: the REGISTER is
			// handled as one without them and challenged (RFC 3261 §22.1, RFC 4475 §3.3.7; TS 24.229
			// §5.4.1.2.1 challenges a REGISTER without usable credentials).
			scheme, _, _ := strings.Cut(strings.TrimSpace(h.Value()), " ")
			s.log.Info("REGISTER with credentials of another scheme: challenged as without",
				logging.CallID(req.CallID().Value()), zap.String("scheme", scheme))
		case err != nil:
			return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Bad Authorization", Err: err}
		default:
			cred = &c
		}
	}
	impi := ""
	if cred != nil {
		impi = cred.Username
	}
	if impi == "" {
		// TS 24.229 §5.4.1.2.1 / TS 33.203 §6.1.1 without ISIM: the private identity derived from the public one.
		impi = strings.TrimPrefix(strings.TrimPrefix(impu, "sip:"), "tel:")
	}
	log := s.log.With(logging.IMPI(impi), logging.IMPU(impu), logging.CallID(req.CallID().Value()))

	// No lock: the state read here is applied after the MAR/SAR only if nobody changed it meanwhile (accept).
	existing, base, err := s.currentRegistration(ctx, impu, impi)
	if err != nil {
		return proxy.Decision{}, err
	}

	if d, done, err := s.fastRegister(ctx, req, log, cred, impi, impu, existing, base); done { // docs/fastreg.md
		return d, err
	}
	// §5.4.1.2.1: a registered UE whose REGISTER arrives integrity protected need not be challenged again.
	if existing != nil && cred != nil && integrityProtected(cred.IntegrityProtected) && !s.cfg.Registration.ReauthProtected &&
		cred.Response == "" {
		log.Debug("protected re-registration, authentication skipped")
		return s.accept(ctx, req, log, impi, impu, existing, base)
	}
	if cred != nil && cred.Nonce != "" && cred.Response == "" && cred.AUTS == "" {
		// TS 24.229 §5.1.1.5.3, TS 33.203 §6.1.2: a UE that finds the challenge's MAC invalid answers it with an
		// empty response. The network failed to authenticate itself to the SIM: K, OP/OPc or AMF at the HSS are
		// not the SIM's. Challenging again would loop; the registration fails.
		p, err := s.takeChallenge(ctx, impi, cred.Nonce)
		if err != nil {
			return proxy.Decision{}, fmt.Errorf("register %s: %w", impi, err)
		}
		if p != nil {
			log.Warn("UE rejected the challenge: it could not authenticate the network (MAC failure); check the K, OP/OPc and AMF provisioned for this IMPI")
			s.metrics.registrations.WithLabelValues("network_auth_failed").Inc()
			if existing == nil {
				if _, err := s.cx.serverAssignment(ctx, impi, []string{impu}, cx.SATAuthenticationFailure, false, ""); err != nil {
					log.Warn("SAR AUTHENTICATION_FAILURE", zap.Error(err))
				}
			}
			return proxy.Respond(403, "Forbidden"), nil
		}
	}
	if cred != nil && cred.Response != "" || cred != nil && cred.AUTS != "" {
		p, err := s.takeChallenge(ctx, impi, cred.Nonce)
		if err != nil {
			return proxy.Decision{}, fmt.Errorf("register %s: %w", impi, err)
		}
		if p != nil {
			if cred.AUTS != "" {
				return s.resync(ctx, log, impi, impu, cred, p)
			}
			if !verifyResponse(cred, p, req) {
				if p.Algorithm != digest.AlgMD5 && digest.Verify(*cred, "REGISTER", nil, req.Body()) {
					// RFC 3310 §3.3: a response made with an empty password is the UE saying it could not
					// authenticate the network (MAC failure), the same as the empty response above.
					log.Warn("UE rejected the challenge: it could not authenticate the network (MAC failure); check the K, OP/OPc and AMF provisioned for this IMPI")
				} else {
					log.Info("authentication failed: wrong response")
				}
				s.metrics.registrations.WithLabelValues("auth_failed").Inc()
				if existing == nil {
					// TS 29.228 §6.1.2: AUTHENTICATION_FAILURE lets the HSS free the S-CSCF name.
					if _, err := s.cx.serverAssignment(ctx, impi, []string{impu}, cx.SATAuthenticationFailure, false, ""); err != nil {
						log.Warn("SAR AUTHENTICATION_FAILURE", zap.Error(err))
					}
				}
				return proxy.Respond(403, "Forbidden"), nil
			}
			return s.accept(ctx, req, log, impi, impu, existing, base)
		}
		if existing != nil && integrityProtected(cred.IntegrityProtected) && !s.cfg.Registration.ReauthProtected {
			return s.accept(ctx, req, log, impi, impu, existing, base)
		}
	}
	return s.challenge(ctx, log, impi, impu, cred, nil)
}

// challenge asks the HSS for a vector and answers 401 (TS 24.229 §5.4.1.2.1, docs/design.md §4 step 4).
func (s *Server) challenge(ctx context.Context, log *zap.Logger, impi, impu string, cred *digest.Credentials, resync []byte) (proxy.Decision, error) {
	scheme := s.cfg.Registration.Scheme
	if cred != nil {
		scheme = schemeOf(cred.Algorithm, scheme)
	}
	maa, err := s.cx.multimediaAuth(ctx, impi, impu, scheme, resync)
	if err != nil && errors.As(err, new(*CxError)) && scheme != cx.SchemeUnknown &&
		strings.Contains(err.Error(), "SCHEME_NOT_SUPPORTED") {
		// TS 29.228 §6.3.1: the subscriber has another scheme; let the HSS pick it.
		maa, err = s.cx.multimediaAuth(ctx, impi, impu, cx.SchemeUnknown, resync)
	}
	if err != nil {
		return proxy.Decision{}, s.cxStatus(log, "MAR", err)
	}
	if len(maa.SIPAuthDataItems) == 0 {
		return proxy.Decision{}, &proxy.StatusError{Code: 500, Err: ErrNoVector}
	}
	item := maa.SIPAuthDataItems[0]
	p := &registrar.Challenge{
		IMPI: impi, IMPU: impu, Scheme: item.Scheme, Algorithm: algorithmOf(item.Scheme), Realm: s.cfg.Domain,
		Expires: time.Now().Add(s.cfg.Registration.AuthTimeout),
	}
	ch := digest.Challenge{Realm: s.cfg.Domain, Algorithm: p.Algorithm, QOP: digest.QOPAuth}
	switch p.Algorithm {
	case digest.AlgMD5:
		if item.DigestAuthenticate == nil || item.DigestAuthenticate.HA1 == "" {
			return proxy.Decision{}, &proxy.StatusError{Code: 500, Err: fmt.Errorf("%w: SIP Digest without HA1", ErrNoVector)}
		}
		if item.DigestAuthenticate.Realm != "" {
			p.Realm, ch.Realm = item.DigestAuthenticate.Realm, item.DigestAuthenticate.Realm
		}
		p.HA1 = item.DigestAuthenticate.HA1
		var n [24]byte
		_, _ = rand.Read(n[:])
		ch.Nonce = base64.StdEncoding.EncodeToString(n[:])
	default:
		if len(item.Authenticate) < digest.RANDSize+digest.AUTNSize || len(item.Authorization) == 0 {
			return proxy.Decision{}, &proxy.StatusError{Code: 500, Err: fmt.Errorf("%w: AKA vector incomplete", ErrNoVector)}
		}
		p.RAND = item.Authenticate[:digest.RANDSize]
		p.XRES, p.CK, p.IK = item.Authorization, item.ConfidentialityKey, item.IntegrityKey
		ch.Nonce = digest.AKANonce(item.Authenticate[:digest.RANDSize], item.Authenticate[digest.RANDSize:digest.RANDSize+digest.AUTNSize], nil)
		// TS 24.229 §5.4.1.2.1: CK and IK go to the P-CSCF in the challenge, which removes them.
		ch.CK, ch.IK = hex.EncodeToString(p.CK), hex.EncodeToString(p.IK)
	}
	p.Nonce = ch.Nonce
	// Stored, so that the UE's answer may reach any S-CSCF sharing the registrar, or this one restarted.
	if err := s.reg.SaveChallenge(ctx, p); err != nil {
		return proxy.Decision{}, fmt.Errorf("register %s: store challenge: %w", impi, err)
	}
	s.metrics.registrations.WithLabelValues("challenged").Inc()
	log.Debug("challenged", zap.String("algorithm", p.Algorithm))
	return proxy.Decision{Reply: &proxy.Reply{Code: 401, Reason: "Unauthorized",
		Headers: []sip.Header{sip.NewHeader("WWW-Authenticate", ch.String())}}}, nil
}

// resync sends RAND‖AUTS to the HSS and challenges again (TS 33.203 §6.1.2, RFC 3310 §3.4).
func (s *Server) resync(ctx context.Context, log *zap.Logger, impi, impu string, cred *digest.Credentials, p *registrar.Challenge) (proxy.Decision, error) {
	auts, err := digest.ParseAUTS(cred.AUTS)
	if err != nil || len(p.RAND) == 0 {
		return proxy.Respond(403, "Forbidden"), nil
	}
	log.Info("AKA resynchronisation")
	s.metrics.registrations.WithLabelValues("resync").Inc()
	return s.challenge(ctx, log, impi, impu, cred, append(append([]byte(nil), p.RAND...), auts...))
}

// verifyResponse checks the Digest response against the stored vector.
func verifyResponse(cred *digest.Credentials, p *registrar.Challenge, req *sip.Request) bool {
	if cred.Nonce != p.Nonce {
		return false
	}
	body := req.Body()
	switch p.Algorithm {
	case digest.AlgMD5:
		return digest.VerifyHA1(*cred, "REGISTER", p.HA1, body)
	case digest.AlgAKAv2MD5:
		return digest.Verify(*cred, "REGISTER", digest.AKAv2Password(p.XRES, p.IK, p.CK), body)
	default:
		return digest.Verify(*cred, "REGISTER", digest.AKAv1Password(p.XRES), body)
	}
}

// cxStatus maps a Cx failure to the SIP answer.
//
//   - TS 24.229 §5.4.1.2.1: 403 for an unknown user or mismatching identities, and for the other
//     answers about the user.
//   - RFC 3261 §21.5.5: 504 when this request's MAR or SAR got no answer in time.
//   - RFC 3261 §21.5.4: 503 with Retry-After, at once, when the HSS is unavailable: no open connection
//     (the watchdog found it down, or it is being redialled), every connection routed around after
//     requests in a row timed out (diameter/peer), the connection lost under the request, or the HSS
//     (or a relay) answering DIAMETER_TOO_BUSY or DIAMETER_UNABLE_TO_DELIVER (RFC 6733 §7.1.3). This
//     S-CSCF cannot serve any request that needs Cx then, which is what a 503 says; the I-CSCF tries
//     another S-CSCF for a REGISTER (RFC 3261 §21.5.4, TS 24.229 §5.3.1.3), and a proxy relays no 503
//     further upstream (RFC 3261 §16.7 step 6).
func (s *Server) cxStatus(log *zap.Logger, what string, err error) error {
	var ce *CxError
	switch {
	case errors.Is(err, ErrUserUnknown), errors.Is(err, ErrIdentitiesDontMatch):
		log.Info(what+" rejected", zap.Error(err))
		return &proxy.StatusError{Code: 403, Reason: "Forbidden", Err: err}
	case errors.As(err, &ce) && ce.Vendor == 0 && (ce.Code == diameter.TooBusy || ce.Code == diameter.UnableToDeliver):
		log.Warn(what+" failed: HSS unavailable", zap.Error(err))
		s.metrics.hssUnavailable.WithLabelValues(what).Inc()
		return s.hssUnavailable(err)
	case ce != nil:
		log.Warn(what+" failed", zap.Error(err))
		return &proxy.StatusError{Code: 403, Reason: "Forbidden", Err: err}
	}
	if errors.Is(err, peer.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		log.Warn(what+" failed", zap.Error(err))
		return &proxy.StatusError{Code: 504, Reason: "Server Time-out", Err: err}
	}
	log.Warn(what+" failed: HSS unavailable", zap.Error(err))
	s.metrics.hssUnavailable.WithLabelValues(what).Inc()
	return s.hssUnavailable(err)
}

// hssUnavailable is the 503 answered while the HSS cannot be used (RFC 3261 §21.5.4): Retry-After tells the
// client how long to keep off (§20.33; without it, the client must treat the 503 as a 500).
func (s *Server) hssUnavailable(err error) *proxy.StatusError {
	return &proxy.StatusError{Code: 503, Reason: "Service Unavailable", Err: err,
		Headers: []sip.Header{header.RetryAfter(s.cfg.Diameter.RetryAfter)}}
}

// contactSpec is one Contact of a REGISTER.
type contactSpec struct {
	uri     string
	params  string
	expires time.Duration
	binding bindingID
}

// bindingID is what names a binding besides its Contact URI: the UA instance (RFC 5626 §4.1, the
// "+sip.instance" Contact parameter) and its flow (§4.2, "reg-id"). Both empty: the URI names the binding
// (RFC 3261 §10.3 step 7).
type bindingID struct {
	instance string
	regID    string
}

// contactBinding reads the instance-id and reg-id of a Contact's parameters. The instance is a URN (RFC 5626
// §4.1) compared by RFC 8141 §3: "urn" and the namespace case-insensitively, the rest exactly. A reg-id
// without an instance-id names nothing (§6: the registrar ignores it). A reg-id that is not 1*10DIGIT
// (§10 grammar) is an error.
func contactBinding(ps header.Params) (bindingID, error) {
	inst, ok := ps.Get("+sip.instance")
	if !ok {
		return bindingID{}, nil
	}
	inst = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(inst), "<"), ">")
	if scheme, rest, ok := strings.Cut(inst, ":"); ok {
		nid, nss, _ := strings.Cut(rest, ":")
		inst = strings.ToLower(scheme) + ":" + strings.ToLower(nid) + ":" + nss
	}
	b := bindingID{instance: inst}
	if v, ok := ps.Get("reg-id"); ok {
		if n, err := strconv.ParseUint(v, 10, 31); err != nil || n == 0 || len(v) > 10 {
			return bindingID{}, fmt.Errorf("%w: Contact reg-id %q", ErrBadRequest, v)
		}
		b.regID = v
	}
	return b, nil
}

// storedBinding is contactBinding of a registered contact ("" parts when its parameters do not parse).
func storedBinding(c registrar.Contact) bindingID {
	if c.Params == "" {
		return bindingID{}
	}
	nas, err := header.ParseNameAddrs("Contact", "<"+c.URI+">;"+c.Params)
	if err != nil || len(nas) != 1 {
		return bindingID{}
	}
	b, _ := contactBinding(nas[0].Params)
	return b
}

// sameBinding reports whether the REGISTER's Contact spec refreshes, replaces or removes the registered
// contact c. Both with an instance-id: the same instance-id and reg-id (or both without a reg-id) are the same
// binding whatever their URIs (RFC 5626 §6 and §4.2, TS 24.229 §5.4.1.2.2: a handset re-registering from another
// address or port replaces its binding), and other instances are other bindings even with the same URI (two
// flows of one UA, §4.2). Otherwise the Contact URIs decide (RFC 3261 §10.3 step 7, §19.1.4).
func sameBinding(c registrar.Contact, spec contactSpec) bool {
	if b := storedBinding(c); b.instance != "" && spec.binding.instance != "" {
		return b == spec.binding
	}
	return sameContact(c.URI, spec.uri)
}

// requestedContacts reads the Contact headers: the URI, the other parameters and the expiry asked
// (Contact expires, else Expires, else the default: RFC 3261 §10.3 step 6). star is "Contact: *".
func (s *Server) requestedContacts(req *sip.Request) (list []contactSpec, star bool, err error) {
	defaultExp := s.cfg.Registration.DefaultExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, perr := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
		if perr != nil {
			return nil, false, fmt.Errorf("%w: Expires %q", ErrBadRequest, h.Value())
		}
		defaultExp = time.Duration(n) * time.Second
	}
	for _, value := range header.Values(req, "Contact") {
		if strings.TrimSpace(value) == "*" {
			star = true
			continue
		}
		nas, perr := header.ParseNameAddrs("Contact", value)
		if perr != nil {
			return nil, false, fmt.Errorf("%w: Contact: %w", ErrBadRequest, perr)
		}
		for _, na := range nas {
			c := contactSpec{uri: na.URI, expires: defaultExp}
			params := na.Params.Clone()
			if v, ok := params.Get("expires"); ok {
				n, perr := strconv.ParseUint(v, 10, 32)
				if perr != nil {
					return nil, false, fmt.Errorf("%w: Contact expires %q", ErrBadRequest, v)
				}
				c.expires = time.Duration(n) * time.Second
				params.Del("expires")
			}
			c.params = strings.TrimPrefix(params.String(), ";")
			if c.binding, perr = contactBinding(params); perr != nil {
				return nil, false, perr
			}
			list = append(list, c)
		}
	}
	if star && (len(list) > 0 || defaultExp != 0) {
		// RFC 3261 §10.3 step 6: "*" only with Expires: 0 and no other Contact.
		return nil, false, fmt.Errorf("%w: Contact * needs Expires: 0 alone", ErrBadRequest)
	}
	return list, star, nil
}

// currentRegistration reads the registration of impu: the one of impi (nil when there is none, or when it is
// another private identity's, which this one authenticates apart from) and the version stored under the key
// impu, which a change applies against (registrar.Table.SaveRegistrationIf).
func (s *Server) currentRegistration(ctx context.Context, impu, impi string) (*registrar.Registration, uint64, error) {
	existing, err := s.reg.Registration(ctx, impu)
	if errors.Is(err, registrar.ErrNotFound) {
		return nil, registrar.Absent, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("register %s: %w", impu, err)
	}
	base := registrar.Absent
	if existing.IMPU == impu {
		base = existing.Version
	}
	if existing.IMPI != impi {
		existing = nil // another private identity's registration: this one authenticates on its own
	}
	return existing, base, nil
}

// maxApplyAttempts bounds how often a REGISTER is re-evaluated when its registration changed during its SAR.
const maxApplyAttempts = 3

// accept applies the REGISTER's bindings after successful (or skipped) authentication: SAR and 200 OK,
// or de-registration (TS 24.229 §5.4.1.2.2, §5.4.1.4). The SAR runs without any lock; the result is applied
// when the registration still has the version read before (base), else the REGISTER is re-evaluated against
// the registration as it is now (two REGISTERs of one user at once; another S-CSCF of the pool).
func (s *Server) accept(ctx context.Context, req *sip.Request, log *zap.Logger, impi, impu string, existing *registrar.Registration, base uint64) (proxy.Decision, error) {
	for attempt := 1; ; attempt++ {
		d, err := s.acceptOnce(ctx, req, log, impi, impu, existing, base)
		if !errors.Is(err, registrar.ErrConflict) || attempt == maxApplyAttempts {
			return d, err
		}
		log.Debug("registration changed during the SAR: re-evaluated", zap.Int("attempt", attempt))
		if existing, base, err = s.currentRegistration(ctx, impu, impi); err != nil {
			return proxy.Decision{}, err
		}
	}
}

func (s *Server) acceptOnce(ctx context.Context, req *sip.Request, log *zap.Logger, impi, impu string, existing *registrar.Registration, base uint64) (proxy.Decision, error) {
	specs, star, err := s.requestedContacts(req)
	if err != nil {
		return proxy.Decision{}, &proxy.StatusError{Code: 400, Reason: "Bad Request", Err: err}
	}
	for _, c := range specs {
		if c.expires != 0 && c.expires < s.cfg.Registration.MinExpires {
			// RFC 3261 §10.3 step 7.
			return proxy.Respond(423, "Interval Too Brief",
				sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.Registration.MinExpires/time.Second)))), nil
		}
	}
	now := time.Now()
	callID := req.CallID().Value()
	cseq := req.CSeq().SeqNo
	var path []string
	for _, v := range header.Values(req, "Path") {
		path = append(path, header.SplitList(v)...)
	}

	reg := existing
	initial := reg == nil
	if initial {
		reg = &registrar.Registration{IMPU: impu, IMPI: impi}
	} else {
		reg = reg.Clone()
	}
	if star {
		reg.Contacts = nil
	}
	nextID := 1
	for _, c := range reg.Contacts {
		if n, err := strconv.Atoi(c.ID); err == nil && n >= nextID {
			nextID = n + 1
		}
	}
	var gone []registrar.Contact
	for _, spec := range specs {
		idx := -1
		for i, c := range reg.Contacts {
			if sameBinding(c, spec) {
				idx = i
				break
			}
		}
		if idx >= 0 && reg.Contacts[idx].CallID == callID && cseq <= reg.Contacts[idx].CSeq {
			// RFC 3261 §10.3 step 7: an out-of-order REGISTER does not change the binding.
			continue
		}
		if spec.expires == 0 {
			if idx >= 0 {
				gone = append(gone, reg.Contacts[idx])
				reg.Contacts = append(reg.Contacts[:idx], reg.Contacts[idx+1:]...)
			}
			continue
		}
		granted := min(spec.expires, s.cfg.Registration.MaxExpires)
		c := registrar.Contact{URI: spec.uri, Params: spec.params, Path: path, Expires: now.Add(granted),
			CallID: callID, CSeq: cseq, UserAgent: headerValue(req, "User-Agent")}
		switch {
		case idx >= 0 && sameContact(reg.Contacts[idx].URI, spec.uri):
			c.ID = reg.Contacts[idx].ID
			reg.Contacts[idx] = c
		case idx >= 0:
			// The same instance (and flow) from another address: the old contact ends (watchers see it
			// terminated, RFC 3680 §5.3, so a P-CSCF drops it too) and the new one is a new contact.
			gone = append(gone, reg.Contacts[idx])
			c.ID = strconv.Itoa(nextID)
			nextID++
			reg.Contacts[idx] = c
		default:
			c.ID = strconv.Itoa(nextID)
			nextID++
			reg.Contacts = append(reg.Contacts, c)
		}
	}

	if len(reg.Contacts) == 0 {
		// De-registration (TS 24.229 §5.4.1.4): SAR USER_DEREGISTRATION, NOTIFY, 200 without bindings.
		if !initial {
			if _, err := s.cx.serverAssignment(ctx, impi, []string{impu}, cx.SATUserDeregistration, false, reg.HSS.Host); err != nil {
				log.Warn("SAR USER_DEREGISTRATION", zap.Error(err))
			}
			if err := s.table.DeleteRegistrationIf(ctx, reg.IMPU, base); err != nil && !errors.Is(err, registrar.ErrNotFound) {
				return proxy.Decision{}, fmt.Errorf("deregister %s: %w", impu, err)
			}
			s.notifyTerminated(existing, EventUnregistered)
			s.thirdPartyRegister(req, existing, RegistrationDeregistration, 0)
			log.Info("de-registered")
		}
		s.metrics.registrations.WithLabelValues("deregistered").Inc()
		return proxy.Decision{Reply: &proxy.Reply{Code: 200, Reason: "OK"}}, nil
	}

	// SAR: REGISTRATION the first time, RE_REGISTRATION after (TS 29.228 §6.1.2, Table 6.1.2.1).
	sat := cx.SATRegistration
	if !initial {
		sat = cx.SATReRegistration
	}
	// With the registration's restoration information (TS 23.380 §5.2, TS 29.228 §6.1.2.1).
	saa, err := s.cx.serverAssignmentRestoring(ctx, impi, []string{impu}, sat, !initial && len(reg.Profile) > 0, reg.HSS.Host,
		s.restorationInfo(reg, now))
	if err != nil {
		return proxy.Decision{}, s.cxStatus(log, "SAR", err)
	}
	if len(saa.UserData) > 0 {
		if err := applyProfile(reg, saa.UserData); err != nil {
			log.Warn("SAA User-Data", zap.Error(err))
			return proxy.Decision{}, &proxy.StatusError{Code: 500, Err: err}
		}
	}
	if len(reg.Identities) == 0 {
		reg.Identities = []registrar.Identity{{URI: impu}}
	}
	reg.HSS = registrar.HSSSession{Host: saa.OriginHost, Realm: saa.OriginRealm, ServerName: s.cfg.ServerName}
	reg.Expires = earliestExpiry(reg.Contacts)
	if err := s.table.SaveRegistrationIf(ctx, reg, base); err != nil {
		return proxy.Decision{}, fmt.Errorf("register %s: %w", impu, err)
	}
	event := EventRefreshed
	if initial {
		event = EventRegistered
		log.Info("registered", zap.Int("contacts", len(reg.Contacts)))
		s.metrics.registrations.WithLabelValues("registered").Inc()
	} else {
		s.metrics.registrations.WithLabelValues("reregistered").Inc()
	}
	if len(gone) > 0 {
		s.notifyContactsGone(reg, gone, EventUnregistered)
	} else {
		s.notifyAsync(reg, event)
	}
	rt := RegistrationRe
	if initial {
		rt = RegistrationInitial
	}
	s.thirdPartyRegister(req, reg, rt, time.Until(latestExpiry(reg.Contacts)).Round(time.Second))
	hs := s.registerOKHeaders(reg, path, now)
	if pcfa := chargingAddresses(saa.ChargingInformation); pcfa != "" {
		// TS 24.229 §5.4.1.2.2: the charging functions from the SAA (TS 29.228 §6.1.2), for the P-CSCF.
		hs = append(hs, sip.NewHeader("P-Charging-Function-Addresses", pcfa))
	}
	return proxy.Decision{Reply: &proxy.Reply{Code: 200, Reason: "OK", Headers: hs}}, nil
}

// registerOKHeaders are the 200 OK's headers (TS 24.229 §5.4.1.2.2 steps f–i; RFC 3261 §10.3 step 8).
func (s *Server) registerOKHeaders(reg *registrar.Registration, path []string, now time.Time) []sip.Header {
	var hs []sip.Header
	for _, c := range reg.Contacts {
		v := "<" + c.URI + ">"
		if c.Params != "" {
			v += ";" + c.Params
		}
		v += ";expires=" + strconv.Itoa(int(max(0, c.Expires.Sub(now).Round(time.Second)/time.Second)))
		hs = append(hs, sip.NewHeader("Contact", v))
	}
	if len(path) > 0 {
		// RFC 3327 §5.3: the Path the registrar stored, echoed.
		hs = append(hs, sip.NewHeader("Path", strings.Join(path, ", ")))
	}
	// RFC 3608 §6; TS 24.229 §5.4.1.2.2 step g: our URI with a marker for the originating case.
	hs = append(hs, sip.NewHeader("Service-Route", "<"+s.serviceRoute+">"))
	var assoc []string
	for _, id := range reg.Identities {
		if !id.Barred {
			assoc = append(assoc, "<"+id.URI+">")
		}
	}
	if len(assoc) > 0 {
		// RFC 7315 §4.1; TS 24.229 §5.4.1.2.2 step f: barred identities are left out.
		hs = append(hs, sip.NewHeader("P-Associated-URI", strings.Join(assoc, ", ")))
	}
	return hs
}

// chargingAddresses is the P-Charging-Function-Addresses value (RFC 7315 §4.5) of the SAA's
// Charging-Information, "" when it has none.
func chargingAddresses(ci *cx.ChargingInformation) string {
	if ci == nil {
		return ""
	}
	var c header.ChargingFunctionAddresses
	for _, v := range []string{ci.PrimaryChargingCollectionFunctionName, ci.SecondaryChargingCollectionFunctionName} {
		if v != "" {
			c.CCF = append(c.CCF, v)
		}
	}
	for _, v := range []string{ci.PrimaryEventChargingFunctionName, ci.SecondaryEventChargingFunctionName} {
		if v != "" {
			c.ECF = append(c.ECF, v)
		}
	}
	if len(c.CCF) == 0 && len(c.ECF) == 0 {
		return ""
	}
	return c.String()
}

// applyProfile stores the User-Data and takes the implicit set from it, the registered identity first.
func applyProfile(reg *registrar.Registration, data []byte) error {
	sub, err := userdata.Parse(data)
	if err != nil {
		return fmt.Errorf("user data: %w", err)
	}
	reg.Profile = append([]byte(nil), data...)
	reg.Parsed = sub // parsed once here, kept with the registration
	var ids []registrar.Identity
	for _, sp := range sub.ServiceProfiles {
		for _, pi := range sp.PublicIdentities {
			id := registrar.Identity{URI: identity.Key(pi.Identity), Barred: pi.Barred()}
			if pi.Extension != nil && pi.Extension.Extension != nil {
				id.DisplayName = pi.Extension.Extension.DisplayName
			}
			if id.URI == reg.IMPU {
				ids = append([]registrar.Identity{id}, ids...)
			} else {
				ids = append(ids, id)
			}
		}
	}
	reg.Identities = ids
	return nil
}

func earliestExpiry(cs []registrar.Contact) time.Time {
	var t time.Time
	for _, c := range cs {
		if t.IsZero() || c.Expires.Before(t) {
			t = c.Expires
		}
	}
	return t
}

func latestExpiry(cs []registrar.Contact) time.Time {
	var t time.Time
	for _, c := range cs {
		if c.Expires.After(t) {
			t = c.Expires
		}
	}
	return t
}

// sameContact compares two Contact URIs by RFC 3261 §19.1.4 in the simple form the registrar needs.
func sameContact(a, b string) bool {
	var ua, ub sip.Uri
	if sip.ParseUri(a, &ua) != nil || sip.ParseUri(b, &ub) != nil {
		return a == b
	}
	return strings.EqualFold(ua.Host, ub.Host) && ua.User == ub.User && ua.Port == ub.Port &&
		strings.EqualFold(ua.Scheme, ub.Scheme)
}

func headerValue(req *sip.Request, name string) string {
	if h := req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// takeChallenge returns and removes the IMPI's stored challenge when nonce is its nonce and it has not
// expired (a vector is used once, TS 33.203 §6.1.1); nil when there is none.
func (s *Server) takeChallenge(ctx context.Context, impi, nonce string) (*registrar.Challenge, error) {
	p, err := s.reg.TakeChallenge(ctx, impi, nonce)
	switch {
	case errors.Is(err, registrar.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("take challenge: %w", err)
	case !p.Expires.After(time.Now()):
		return nil, nil // answered too late: challenged again
	}
	return p, nil
}

// expireAuth drops vectors whose response never came and tells the HSS (SAR AUTHENTICATION_TIMEOUT,
// TS 29.228 §6.1.2), unless the identity is registered.
func (s *Server) expireAuth(ctx context.Context, now time.Time) {
	expired, err := s.reg.TakeExpiredChallenges(ctx, now)
	if err != nil {
		s.log.Warn("authentication expiry sweep", zap.Error(err))
		return
	}
	for _, p := range expired {
		if _, err := s.reg.Registration(ctx, p.IMPU); err == nil {
			continue
		}
		s.log.Info("authentication timed out", logging.IMPI(p.IMPI), logging.IMPU(p.IMPU))
		s.metrics.registrations.WithLabelValues("auth_timeout").Inc()
		cctx, cancel := context.WithTimeout(ctx, cxTimeout)
		if _, err := s.cx.serverAssignment(cctx, p.IMPI, []string{p.IMPU}, cx.SATAuthenticationTimeout, false, ""); err != nil {
			s.log.Warn("SAR AUTHENTICATION_TIMEOUT", logging.IMPI(p.IMPI), zap.Error(err))
		}
		cancel()
	}
}

// expireRegistrations removes expired contacts; a registration left without any is de-registered with
// SAR TIMEOUT_DEREGISTRATION and a NOTIFY (TS 24.229 §5.4.1.6 is the network side; expiry is RFC 3261 §10.3).
func (s *Server) expireRegistrations(ctx context.Context, now time.Time) {
	regs, err := s.reg.ExpiredRegistrations(ctx, now)
	if err != nil {
		s.log.Warn("expiry sweep", zap.Error(err))
		return
	}
	for _, r := range regs {
		s.expireOne(ctx, r.IMPU, now)
	}
}

func (s *Server) expireOne(ctx context.Context, impu string, now time.Time) {
	r, err := s.reg.Registration(ctx, impu)
	if err != nil || r.IMPU != impu || r.Expires.After(now) {
		return // refreshed or removed meanwhile
	}
	old := r.Clone()
	var kept, expired []registrar.Contact
	for _, c := range r.Contacts {
		if c.Expires.After(now) {
			kept = append(kept, c)
		} else {
			expired = append(expired, c)
		}
	}
	log := s.log.With(logging.IMPI(r.IMPI), logging.IMPU(r.IMPU))
	if len(kept) > 0 {
		r.Contacts = kept
		r.Expires = earliestExpiry(kept)
		if err := s.table.SaveRegistrationIf(ctx, r, old.Version); err != nil {
			if !errors.Is(err, registrar.ErrConflict) { // a conflict: refreshed meanwhile
				log.Warn("expire contacts", zap.Error(err))
			}
			return
		}
		s.notifyContactsGone(r, expired, EventExpired)
		// The HSS's restoration information still names the expired contacts (TS 29.228 §6.1.2.1 RESTORATION).
		s.sendRestoration(ctx, r)
		return
	}
	// Delete first: of several S-CSCFs sweeping one shared registrar, only the one whose delete succeeds
	// tells the HSS and the watchers.
	if err := s.table.DeleteRegistrationIf(ctx, r.IMPU, old.Version); err != nil {
		if !errors.Is(err, registrar.ErrNotFound) && !errors.Is(err, registrar.ErrConflict) {
			log.Warn("expire registration", zap.Error(err))
		}
		return
	}
	cctx, cancel := context.WithTimeout(ctx, cxTimeout)
	defer cancel()
	if _, err := s.cx.serverAssignment(cctx, r.IMPI, []string{r.IMPU}, cx.SATTimeoutDeregistration, false, r.HSS.Host); err != nil {
		log.Warn("SAR TIMEOUT_DEREGISTRATION", zap.Error(err))
	}
	log.Info("registration expired")
	s.metrics.registrations.WithLabelValues("expired").Inc()
	s.notifyTerminated(old, EventExpired)
}
