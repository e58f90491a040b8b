package bsf

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/sip/digest"
)

// maxUbBody bounds the body a Ub request may carry (it has none in TS 24.109 §4.5; auth-int hashes it).
const maxUbBody = 16 << 10

// ubError is a Ub request refused: the HTTP status and why (logged, and sent as text).
type ubError struct {
	status int
	reason string
	err    error
}

func (e *ubError) Error() string { return fmt.Sprintf("%d %s: %v", e.status, e.reason, e.err) }
func (e *ubError) Unwrap() error { return e.err }

// ServeHTTP serves Ub (TS 24.109 §4.5, TS 33.220 §4.5.2):
//
//  1. A request whose Authorization carries the IMPI and no nonce gets 401 with the AKA challenge of a
//     vector from the HSS (Zh): nonce = base64(RAND ‖ AUTN), algorithm AKAv1-MD5, qop auth-int.
//  2. The answer with auts (RFC 3310 §3.4, its response computed with the empty password) makes the BSF
//     resynchronise with the HSS (RAND ‖ AUTS over Zh) and challenge again.
//  3. The answer with a response computed from RES: the BSF checks it against XRES, makes Ks = CK ‖ IK and
//     the B-TID, and answers 200 OK with the B-TID and the key lifetime (application/vnd.3gpp.bsf+xml).
//
// A nonce answers once; an unknown or expired one gets a fresh challenge with stale=true.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	outcome, err := s.ub(w, r)
	log := s.log.With(zap.String("remote", r.RemoteAddr))
	var ue *ubError
	if errors.As(err, &ue) {
		outcome = "refused"
		if ue.status >= 500 {
			outcome = "error"
		}
		log.Info("ub request refused", zap.Int("status", ue.status), zap.String("reason", ue.reason), zap.Error(ue.err))
		http.Error(w, ue.reason, ue.status)
	} else if err != nil {
		outcome = "error"
		log.Warn("ub request failed", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
	s.metrics.ub.WithLabelValues(outcome).Inc()
}

func (s *Server) ub(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		return "", &ubError{http.StatusMethodNotAllowed, "GET or POST", fmt.Errorf("method %s", r.Method)}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxUbBody+1))
	if err != nil || len(body) > maxUbBody {
		return "", &ubError{http.StatusRequestEntityTooLarge, "body too large or unreadable", err}
	}
	cred, err := digest.ParseCredentials(r.Header.Get("Authorization"))
	if err != nil || strings.TrimSpace(cred.Username) == "" {
		// TS 24.109 §4.5.2: the first request carries the IMPI in an Authorization header.
		return "", &ubError{http.StatusBadRequest, "Authorization with the IMPI required", err}
	}
	ctx := r.Context()
	if cred.Nonce == "" {
		return "challenged", s.challenge(ctx, w, cred.Username, nil, false)
	}
	now := s.now()
	ch := s.sessions.takeChallenge(cred.Nonce, now)
	if ch == nil {
		return "stale", s.challenge(ctx, w, cred.Username, nil, true)
	}
	if cred.Username != ch.impi || cred.Realm != s.cfg.Realm {
		return "", &ubError{http.StatusForbidden, "credentials do not match the challenge", fmt.Errorf("username %q realm %q", cred.Username, cred.Realm)}
	}
	if cred.AUTS != "" {
		// RFC 3310 §3.4: the response is computed with the empty password (digest.Verify does so with auts).
		if !digest.Verify(cred, r.Method, nil, body) {
			return "", &ubError{http.StatusForbidden, "bad response", fmt.Errorf("resync response of %s", ch.impi)}
		}
		auts, err := digest.ParseAUTS(cred.AUTS)
		if err != nil {
			return "", &ubError{http.StatusBadRequest, "bad auts", err}
		}
		return "resync", s.challenge(ctx, w, ch.impi, resyncData(ch.rand, auts), false)
	}
	if !digest.Verify(cred, r.Method, digest.AKAv1Password(ch.xres), body) {
		return "", &ubError{http.StatusForbidden, "authentication failed", fmt.Errorf("response of %s does not match XRES", ch.impi)}
	}
	sess := &session{btid: gba.BTID(ch.rand, s.cfg.Name), impi: ch.impi, rand: ch.rand, ks: gba.Ks(ch.ck, ch.ik),
		guss: ch.guss, created: now, expires: now.Add(s.cfg.KeyLifetime).Truncate(time.Second)} // whole seconds: the Ub body and Key-ExpiryTime carry no more
	s.sessions.put(sess, now)
	out, err := gba.BootstrappingInfo{BTID: sess.btid, Lifetime: sess.expires}.Marshal()
	if err != nil {
		return "", err
	}
	// RFC 3310 §3.5, RFC 2617 §3.2.3: Authentication-Info with rspauth from XRES.
	if rsp, err := digest.RspAuth(cred, digest.AKAv1Password(ch.xres), out); err == nil {
		w.Header().Set("Authentication-Info", fmt.Sprintf(`qop=%s, rspauth="%s", cnonce="%s", nc=%s`, cred.QOP, rsp, cred.CNonce, cred.NC))
	}
	w.Header().Set("Content-Type", gba.BSFContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	s.log.Info("bootstrapped", logging.IMPI(sess.impi), zap.String("btid", sess.btid), zap.Time("expires", sess.expires))
	return "bootstrapped", nil
}

// challenge fetches a vector for impi (resync: RAND ‖ AUTS) and answers 401 with it.
func (s *Server) challenge(ctx context.Context, w http.ResponseWriter, impi string, resync []byte, stale bool) error {
	v, err := s.fetchVector(ctx, impi, resync)
	if err != nil {
		var de *diameter.Error
		switch {
		case errors.As(err, &de) && de.VendorID == gaa.Vendor3GPP && uint32(de.Code) == gaa.ErrorUserUnknown:
			return &ubError{http.StatusForbidden, "unknown user", err}
		case errors.As(err, &de) && de.Code == diameter.AuthenticationRejected:
			return &ubError{http.StatusForbidden, "resynchronisation refused", err}
		case errors.As(err, &de):
			return &ubError{http.StatusForbidden, "refused by the HSS", err}
		}
		return &ubError{http.StatusServiceUnavailable, "HSS unreachable", err}
	}
	// The nonce: base64(RAND ‖ AUTN ‖ server data) (RFC 3310 §3.2); 8 random octets of server data keep two
	// challenges apart even for a repeated RAND.
	sd := make([]byte, 8)
	_, _ = rand.Read(sd)
	nonce := digest.AKANonce(v.rand, v.autn, sd)
	now := s.now()
	if !s.sessions.addChallenge(nonce, &challenge{impi: v.impi, rand: v.rand, xres: v.xres, ck: v.ck, ik: v.ik, guss: v.guss,
		expires: now.Add(s.cfg.ChallengeTimeout)}, now) {
		w.Header().Set("Retry-After", "5")
		return &ubError{http.StatusServiceUnavailable, "too many pending challenges", nil}
	}
	ch := digest.Challenge{Realm: s.cfg.Realm, Nonce: nonce, Algorithm: digest.AlgAKAv1MD5, QOP: digest.QOPAuthInt, Stale: stale}
	w.Header().Set("WWW-Authenticate", ch.String())
	w.WriteHeader(http.StatusUnauthorized)
	return nil
}
