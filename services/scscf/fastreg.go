package scscf

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/fastreg"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/aib"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/proxy"
)

// The access-bound fast registration at the S-CSCF (issue 18, docs/fastreg.md "Core side"): a first REGISTER
// that carries the access token in the nonce of its Authorization and an Authenticated Identity Body (RFC 3893)
// is registered in one round trip — MAR (the HSS returns the token beside the vector), the token compared,
// SAR, 200 — when the AIB verifies, names this request and is signed by the user with a certificate of the
// operator's CA. Anything missing or mismatching falls back to the standard challenge (401); a replayed AIB
// is refused (403); a token used once already is challenged.

// Defaults of FastRegConfig.
const (
	DefaultFastRegDateWindow  = time.Minute
	DefaultFastRegReplayCache = 65536
	DefaultFastRegTokenMemory = 24 * time.Hour
)

// FastRegConfig is the S-CSCF's part of the fast registration (configuration key fastreg); off by default.
type FastRegConfig struct {
	// Enabled turns the one-pass path on (default false: such a REGISTER is challenged like any other).
	Enabled bool `yaml:"enabled"`
	// CAFile holds the PEM certificates of the CAs that issue the UEs' AIB signing certificates (required when
	// enabled). The operator's own CA: a public web PKI must not be trusted to name IMS users.
	CAFile string `yaml:"ca_file"`
	// DateWindow is how far an AIB's Date may be from now, either way (default 1m, RFC 3893 §10).
	DateWindow time.Duration `yaml:"date_window"`
	// ReplayCache bounds the AIBs and tokens remembered (default 65536 each). When it is full of unexpired
	// entries the S-CSCF challenges rather than forgets one.
	ReplayCache int `yaml:"replay_cache"`
	// TokenMemory is how long a token that registered a user once is remembered as used (default 24h, the
	// HSS's default fastreg.max_lifetime): a token opens one one-pass registration.
	TokenMemory time.Duration `yaml:"token_memory"`
}

// fastReg is the one-pass state: the AIB verifier and the replay memory. nil when off.
type fastReg struct {
	cfg      FastRegConfig
	verifier *aib.Verifier
	aibs     *seenSet // AIB signatures seen, for 2×DateWindow
	tokens   *seenSet // (IMPI, token) pairs used, for TokenMemory
	now      func() time.Time
}

// newFastReg builds the one-pass state from cfg (nil when off).
func newFastReg(cfg FastRegConfig) (*fastReg, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	if cfg.DateWindow <= 0 {
		cfg.DateWindow = DefaultFastRegDateWindow
	}
	if cfg.ReplayCache <= 0 {
		cfg.ReplayCache = DefaultFastRegReplayCache
	}
	if cfg.TokenMemory <= 0 {
		cfg.TokenMemory = DefaultFastRegTokenMemory
	}
	if cfg.CAFile == "" {
		return nil, fmt.Errorf("fastreg.ca_file: required when fastreg.enabled")
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("fastreg.ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("fastreg.ca_file %s: no PEM certificate", cfg.CAFile)
	}
	return &fastReg{cfg: cfg, verifier: &aib.Verifier{Roots: roots, Window: cfg.DateWindow},
		aibs: newSeenSet(cfg.ReplayCache), tokens: newSeenSet(cfg.ReplayCache), now: time.Now}, nil
}

// fastRegister tries the one-pass registration. done false: the REGISTER is none (or no longer one) and the
// standard path goes on, which challenges it; done true: d and err are the outcome.
func (s *Server) fastRegister(ctx context.Context, req *sip.Request, log *zap.Logger, cred *digest.Credentials, impi, impu string,
	existing *registrar.Registration, base uint64) (d proxy.Decision, done bool, err error) {
	f := s.fastreg
	if f == nil || cred == nil || cred.Nonce == "" || cred.Response != "" || cred.AUTS != "" {
		return proxy.Decision{}, false, nil
	}
	ct := headerValue(req, "Content-Type")
	if !aib.Is(ct) {
		return proxy.Decision{}, false, nil
	}
	log = log.With(zap.String("auth", "fastreg"))
	fallback := func(why string, err error) (proxy.Decision, bool, error) {
		log.Info("fast registration not possible, challenging", zap.String("reason", why), zap.Error(err))
		s.metrics.registrations.WithLabelValues("fastreg_fallback").Inc()
		return proxy.Decision{}, false, nil
	}
	token, err := base64.StdEncoding.DecodeString(cred.Nonce)
	if err != nil || len(token) < fastreg.MinTokenLength || len(token) > fastreg.MaxTokenLength {
		return fallback("nonce is no token", err)
	}
	now := f.now()
	frag, err := f.verifier.Verify(ct, req.Body(), now)
	if err != nil {
		return fallback("AIB", err)
	}
	if err := frag.Match(aib.Request{From: headerValue(req, "From"), CallID: headerValue(req, "Call-ID"),
		CSeq: headerValue(req, "CSeq"), Contact: headerValue(req, "Contact")}); err != nil {
		return fallback("AIB", err)
	}
	if !frag.SignerIs(impi, impu) {
		return fallback("AIB signer is not the user", fmt.Errorf("signer %q", frag.Signer.Subject.CommonName))
	}
	// RFC 3893 §10: an AIB seen before is a replay, whoever sends it (the Date window bounds the memory).
	switch f.aibs.add(frag.Digest, now, 2*f.cfg.DateWindow) {
	case seenBefore:
		log.Warn("replayed AIB refused")
		s.metrics.registrations.WithLabelValues("fastreg_replay").Inc()
		return proxy.Respond(403, "Forbidden"), true, nil
	case seenFull:
		return fallback("replay memory full", nil)
	}
	tk := sha256.Sum256(append([]byte(impi+"\x00"), token...))
	if f.tokens.has(tk, now) {
		return fallback("token already used", nil)
	}
	maa, err := s.cx.multimediaAuth(ctx, impi, impu, schemeOf(cred.Algorithm, s.cfg.Registration.Scheme), nil)
	if err != nil {
		return proxy.Decision{}, true, s.cxStatus(log, "MAR", err)
	}
	stored := fastreg.TokenFrom(maa.Unknown)
	if stored == nil {
		return fallback("HSS has no token for the IMPI", nil)
	}
	if subtle.ConstantTimeCompare(stored, token) != 1 {
		return fallback("token mismatch", nil)
	}
	if f.tokens.add(tk, now, f.cfg.TokenMemory) != seenNew {
		return fallback("token already used", nil)
	}
	log.Info("fast registration: token and AIB verified, registering without challenge")
	s.metrics.registrations.WithLabelValues("fastreg").Inc()
	d, err = s.accept(ctx, req, log, impi, impu, existing, base)
	return d, true, err
}

// seenSet remembers keys until their expiry, at most max at once. Entries are kept in the order added with
// one TTL per set, so the oldest expires first.
type seenSet struct {
	mu    sync.Mutex
	max   int
	at    map[[32]byte]time.Time
	order [][32]byte
}

type seenResult int

const (
	seenNew seenResult = iota
	seenBefore
	seenFull
)

func newSeenSet(max int) *seenSet { return &seenSet{max: max, at: map[[32]byte]time.Time{}} }

// add records k until now+ttl unless it is there already or the set is full of unexpired keys.
func (s *seenSet) add(k [32]byte, now time.Time, ttl time.Duration) seenResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	if _, ok := s.at[k]; ok {
		return seenBefore
	}
	if len(s.at) >= s.max {
		return seenFull
	}
	s.at[k] = now.Add(ttl)
	s.order = append(s.order, k)
	return seenNew
}

// has reports whether k is remembered and unexpired.
func (s *seenSet) has(k [32]byte, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	_, ok := s.at[k]
	return ok
}

func (s *seenSet) purge(now time.Time) {
	n := 0
	for n < len(s.order) && !s.at[s.order[n]].After(now) {
		delete(s.at, s.order[n])
		n++
	}
	if n > 0 {
		s.order = append(s.order[:0], s.order[n:]...)
	}
}
