package httpauth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Browser sessions of the web console: after a login, a random session id in a cookie (HttpOnly,
// SameSite=Strict, Secure over TLS, RFC 6265 §4.1.2.5–6) names the account's Principal, and every
// state-changing form carries the session's CSRF token (a synchronizer token) that CheckCSRF compares.

// Session limits.
const (
	// SessionCookie is the name of the session cookie. With TLS it is "__Host-" prefixed (RFC 6265bis
	// §4.1.3.2: Secure, Path=/, no Domain), so that no other host or path can set it.
	SessionCookie = "imscore_session"
	// DefaultSessionTTL ends a session this long after its last request.
	DefaultSessionTTL = 30 * time.Minute
	// MaxSessionAge ends a session this long after the login, whatever the activity.
	MaxSessionAge = 12 * time.Hour
	// MaxSessions bounds the sessions kept; a login beyond it ends the oldest one.
	MaxSessions = 10_000
)

// Session is one logged-in browser.
type Session struct {
	ID        string
	CSRF      string
	Principal Principal
	Created   time.Time
	seen      time.Time
}

// Sessions keeps the console's sessions in memory (a restart logs everybody out).
type Sessions struct {
	ttl    time.Duration
	secure bool
	now    func() time.Time

	mu   sync.Mutex
	byID map[string]*Session
}

// NewSessions returns an empty session store; ttl ≤ 0 means DefaultSessionTTL. secure marks the cookie
// Secure (and __Host-): set it when the console is served over TLS.
func NewSessions(ttl time.Duration, secure bool) *Sessions {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return &Sessions{ttl: ttl, secure: secure, now: time.Now, byID: map[string]*Session{}}
}

// CookieName is the session cookie's name as sent.
func (s *Sessions) CookieName() string {
	if s.secure {
		return "__Host-" + SessionCookie
	}
	return SessionCookie
}

func randomID() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Start creates a session for p and sets its cookie on w.
func (s *Sessions) Start(w http.ResponseWriter, p Principal) (*Session, error) {
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	csrf, err := randomID()
	if err != nil {
		return nil, err
	}
	now := s.now()
	sess := &Session{ID: id, CSRF: csrf, Principal: p, Created: now, seen: now}
	s.mu.Lock()
	s.expireLocked(now)
	if len(s.byID) >= MaxSessions {
		var oldest *Session
		for _, o := range s.byID {
			if oldest == nil || o.Created.Before(oldest.Created) {
				oldest = o
			}
		}
		delete(s.byID, oldest.ID)
	}
	s.byID[id] = sess
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: s.CookieName(), Value: id, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteStrictMode})
	cp := *sess
	return &cp, nil
}

// expireLocked drops the sessions past their time.
func (s *Sessions) expireLocked(now time.Time) {
	for id, o := range s.byID {
		if s.expired(o, now) {
			delete(s.byID, id)
		}
	}
}

func (s *Sessions) expired(o *Session, now time.Time) bool {
	return now.Sub(o.seen) > s.ttl || now.Sub(o.Created) > MaxSessionAge
}

// ErrNoSession is Get's answer for a request without a live session.
var ErrNoSession = errors.New("no session")

// Get returns the live session of r's cookie and extends it.
func (s *Sessions) Get(r *http.Request) (*Session, error) {
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" {
		return nil, ErrNoSession
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byID[c.Value]
	if !ok {
		return nil, ErrNoSession
	}
	if s.expired(o, now) {
		delete(s.byID, o.ID)
		return nil, ErrNoSession
	}
	o.seen = now
	cp := *o
	return &cp, nil
}

// End removes r's session and clears its cookie.
func (s *Sessions) End(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.CookieName()); err == nil {
		s.mu.Lock()
		delete(s.byID, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: s.CookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

// Authenticate implements Authenticator with the session cookie.
func (s *Sessions) Authenticate(r *http.Request) (Principal, error) {
	sess, err := s.Get(r)
	if err != nil {
		return Principal{}, ErrNoCredentials
	}
	return sess.Principal, nil
}

// CSRFField is the form field that carries the CSRF token.
const CSRFField = "csrf"

// CheckCSRF reports whether the request's CSRF form field (or X-CSRF-Token header, for scripts) is the
// session's token, compared in constant time.
func CheckCSRF(r *http.Request, sess *Session) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return sess != nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

// Interface guard.
var _ Authenticator = (*Sessions)(nil)

// LoginLimiter slows password guessing: each key (a remote address, an account name) may fail Burst logins,
// then one more per Every. A success does not reset the count (a guesser cannot interleave a known account).
type LoginLimiter struct {
	burst int
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// Login limits by default: 5 failures, then one per 12 s (5 a minute).
const (
	DefaultLoginBurst = 5
	DefaultLoginEvery = 12 * time.Second
	maxLimiterKeys    = 100_000
)

// NewLoginLimiter returns a limiter; burst ≤ 0 or every ≤ 0 take the defaults.
func NewLoginLimiter(burst int, every time.Duration) *LoginLimiter {
	if burst <= 0 {
		burst = DefaultLoginBurst
	}
	if every <= 0 {
		every = DefaultLoginEvery
	}
	return &LoginLimiter{burst: burst, every: every, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow reports whether every key may try a login now (none of them has used up its failures).
func (l *LoginLimiter) Allow(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		if b := l.refill(k, now); b != nil && b.tokens < 1 {
			return false
		}
	}
	return true
}

// Fail counts a failed login against every key.
func (l *LoginLimiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > maxLimiterKeys {
		for k := range l.buckets {
			if b := l.refill(k, now); b.tokens >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
	}
	for _, k := range keys {
		b := l.refill(k, now)
		if b == nil {
			b = &bucket{tokens: float64(l.burst), last: now}
			l.buckets[k] = b
		}
		if b.tokens >= 1 {
			b.tokens--
		} else {
			b.tokens = 0
		}
	}
}

// refill brings k's bucket up to now; nil when k has never failed.
func (l *LoginLimiter) refill(k string, now time.Time) *bucket {
	b, ok := l.buckets[k]
	if !ok {
		return nil
	}
	b.tokens += float64(now.Sub(b.last)) / float64(l.every)
	b.tokens = min(b.tokens, float64(l.burst))
	b.last = now
	return b
}
