package gba

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
)

// USIM is the card the UE bootstraps with; *aka.USIM is one.
type USIM interface {
	Authenticate(rand, autn [16]byte) (aka.Result, error)
}

// Session is a bootstrapping session as the UE holds it (TS 33.220 §4.5.2 step 8): the B-TID, Ks, the RAND
// Ks came from and the end of the key lifetime.
type Session struct {
	BTID    string
	Ks      []byte
	RAND    []byte
	Expires time.Time
}

// Client is the UE side of GBA: bootstrapping over Ub (TS 24.109 §4, HTTP Digest AKAv1-MD5 of RFC 3310) and
// requests to NAFs over Ua authenticated with HTTP Digest, username the B-TID and password base64(Ks_NAF)
// (TS 24.109 §5.2, TS 33.222 §5.3). It is safe for concurrent use: the USIM and the session are used under a
// lock.
type Client struct {
	// BSF is the Ub URL, e.g. http://bsf.ims.example.net:8095/ (TS 24.109 §4.4.1: the BSF's address is
	// derived from the IMSI; here it is configured).
	BSF string
	// IMPI is the private identity sent as the Digest username on Ub (TS 24.109 §4.5.2).
	IMPI string
	USIM USIM
	// HTTP sends the requests; nil: a client with a 10 s timeout.
	HTTP *http.Client
	// UserAgent is sent on Ub and Ua with the "3gpp-gba" token appended (TS 24.109 §4.5.2, §5.2.1).
	UserAgent string
	// Now is the clock; nil: time.Now.
	Now func() time.Time

	mu      sync.Mutex
	session *Session
	boots   int
	ua      map[string]*uaNonce // the last NAF challenge answered, by NAF host: reused with a rising nc
}

// uaNonce is a NAF's challenge the client answered with success, and the last nonce-count sent with it: the
// next request to that NAF carries credentials at once (RFC 7616 §3.4: the nonce may be reused with a higher
// nc), saving the 401 round trip until the NAF refuses the nonce (stale) or the session changes.
type uaNonce struct {
	ch   digest.Challenge
	nc   uint32
	btid string
}

// ErrBootstrap is a bootstrapping the BSF refused or that could not complete.
var ErrBootstrap = errors.New("gba: bootstrapping failed")

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (c *Client) userAgent() string {
	return strings.TrimSpace(c.UserAgent + " " + UserAgentToken)
}

// Bootstraps reports how many bootstrapping runs completed (a test and imsue's output read it).
func (c *Client) Bootstraps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.boots
}

// Session returns the current bootstrapping session, bootstrapping when there is none or its key has expired.
func (c *Client) Session(ctx context.Context) (*Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != nil && c.now().Before(c.session.Expires) {
		return c.session, nil
	}
	return c.bootstrapLocked(ctx)
}

// Bootstrap runs the bootstrapping procedure now, replacing the current session.
func (c *Client) Bootstrap(ctx context.Context) (*Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bootstrapLocked(ctx)
}

// bootstrapLocked is TS 24.109 §4.5: a request with the IMPI and empty credentials, the 401 with the AKA
// challenge, the USIM run, and either the credentials with RES (200 OK with the B-TID and lifetime) or, after
// a synchronisation failure, the credentials with AUTS (a new 401, RFC 3310 §3.4) — at most once.
func (c *Client) bootstrapLocked(ctx context.Context) (*Session, error) {
	u, err := url.Parse(c.BSF)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: BSF URL %q", ErrBootstrap, c.BSF)
	}
	uri := u.RequestURI()
	// The first request: username is the IMPI, realm the BSF's host, nonce and response empty (§4.5.2).
	cred := digest.Credentials{Username: c.IMPI, Realm: u.Hostname(), URI: uri}
	resp, err := c.ub(ctx, cred.String())
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2; attempt++ {
		if resp.StatusCode != http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: BSF answered %s, want 401", ErrBootstrap, resp.Status)
		}
		ch, err := digest.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
		if err != nil {
			return nil, fmt.Errorf("%w: challenge: %w", ErrBootstrap, err)
		}
		r, autn, _, err := digest.ParseAKANonce(ch.Nonce)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBootstrap, err)
		}
		var rnd, au [16]byte
		copy(rnd[:], r)
		copy(au[:], autn)
		res, aerr := c.USIM.Authenticate(rnd, au)
		cred = digest.Credentials{Username: c.IMPI, Realm: ch.Realm, Nonce: ch.Nonce, URI: uri, Algorithm: ch.Algorithm,
			Opaque: ch.Opaque, NC: "00000001", CNonce: cnonce()}
		if qops := ch.QOPs(); len(qops) > 0 {
			cred.QOP = digest.QOPAuthInt
			for _, q := range qops {
				if q == digest.QOPAuth {
					cred.QOP = digest.QOPAuth
				}
			}
		}
		var sf *aka.SyncFailure
		switch {
		case errors.As(aerr, &sf):
			// RFC 3310 §3.4: AUTS, and a response computed with the empty password.
			cred.AUTS = digest.EncodeAUTS(sf.AUTS)
		case aerr != nil:
			// The network failed authentication (MAC failure): the UE stops (TS 33.102 §6.3.3).
			return nil, fmt.Errorf("%w: USIM: %w", ErrBootstrap, aerr)
		}
		if cred.Response, err = digest.Response(cred, http.MethodGet, digest.AKAv1Password(res.RES), nil); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBootstrap, err)
		}
		if resp, err = c.ub(ctx, cred.String()); err != nil {
			return nil, err
		}
		if sf != nil {
			continue // a new challenge after the resynchronisation
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%w: BSF answered %s to the AKA response", ErrBootstrap, resp.Status)
		}
		info, err := ParseBootstrappingInfo(resp.body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBootstrap, err)
		}
		c.session = &Session{BTID: info.BTID, Ks: Ks(res.CK[:], res.IK[:]), RAND: r, Expires: info.Lifetime}
		c.boots++
		return c.session, nil
	}
	return nil, fmt.Errorf("%w: no success after resynchronisation", ErrBootstrap)
}

// ubResponse is a Ub response with its body read (bounded).
type ubResponse struct {
	StatusCode int
	Status     string
	Header     http.Header
	body       []byte
}

func (c *Client) ub(ctx context.Context, authorization string) (*ubResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BSF, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBootstrap, err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("User-Agent", c.userAgent())
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBootstrap, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBootstrap, err)
	}
	return &ubResponse{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header, body: body}, nil
}

func cnonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Do sends req to a NAF over Ua (TS 24.109 §5.2): as it is first; when the NAF answers 401 with a
// "3GPP-bootstrapping@<NAF FQDN>" realm, again with Digest credentials from the bootstrapping session
// (bootstrapping when there is none or its key expired). A second 401 means the NAF does not know the B-TID
// any more (the BSF dropped it, TS 24.109 §5.2.3): the client bootstraps again and tries once more. The body
// is read into memory to be sent again.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("gba: request body: %w", err)
		}
		_ = req.Body.Close()
	}
	send := func(auth string) (*http.Response, error) {
		r := req.Clone(req.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		r.Header.Set("User-Agent", c.userAgent())
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return c.http().Do(r)
	}
	host := req.URL.Host
	resp, err := send(c.preemptive(host, req.Method, req.URL.RequestURI(), body))
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 2 && resp.StatusCode == http.StatusUnauthorized; attempt++ {
		ch, err := digest.ParseChallenge(resp.Header.Get("WWW-Authenticate"))
		if err != nil || !strings.HasPrefix(ch.Realm, RealmPrefix) {
			return resp, nil // not a GBA challenge: the caller sees the 401
		}
		drain(resp)
		var s *Session
		if attempt == 0 {
			s, err = c.Session(req.Context())
		} else {
			s, err = c.Bootstrap(req.Context()) // the NAF refused the B-TID: a fresh bootstrapping
		}
		if err != nil {
			return nil, err
		}
		auth, err := c.credentials(s, ch, 1, req.Method, req.URL.RequestURI(), body)
		if err != nil {
			return nil, err
		}
		if resp, err = send(auth); err != nil {
			return nil, err
		}
		c.remember(host, s, ch, resp.StatusCode != http.StatusUnauthorized)
	}
	return resp, nil
}

// preemptive returns credentials for a request to host from the last challenge it answered, when the
// session that answered it is still the current one; "" otherwise (the request goes without).
func (c *Client) preemptive(host, method, uri string, body []byte) string {
	c.mu.Lock()
	u := c.ua[host]
	s := c.session
	if u == nil || s == nil || s.BTID != u.btid || !c.now().Before(s.Expires) {
		c.mu.Unlock()
		return ""
	}
	u.nc++
	ch, nc := u.ch, u.nc
	c.mu.Unlock()
	auth, err := c.credentials(s, ch, nc, method, uri, body)
	if err != nil {
		return ""
	}
	return auth
}

// remember keeps ch for host after a request it authenticated (ok), forgets it otherwise.
func (c *Client) remember(host string, s *Session, ch digest.Challenge, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok {
		delete(c.ua, host)
		return
	}
	if c.ua == nil {
		c.ua = map[string]*uaNonce{}
	}
	c.ua[host] = &uaNonce{ch: ch, nc: 1, btid: s.BTID}
}

// credentials answers the NAF's challenge ch with the session s (TS 24.109 §5.2.2).
func (c *Client) credentials(s *Session, ch digest.Challenge, nc uint32, method, uri string, body []byte) (string, error) {
	fqdn := strings.TrimPrefix(ch.Realm, RealmPrefix)
	c.mu.Lock()
	impi := c.IMPI
	c.mu.Unlock()
	key, err := KsNAF(s.Ks, s.RAND, impi, NAFID(fqdn, UaHTTPDigest))
	if err != nil {
		return "", err
	}
	cred := digest.Credentials{Username: s.BTID, Realm: ch.Realm, Nonce: ch.Nonce, URI: uri, Algorithm: ch.Algorithm,
		Opaque: ch.Opaque, NC: fmt.Sprintf("%08x", nc), CNonce: cnonce()}
	for _, q := range ch.QOPs() {
		if q == digest.QOPAuthInt || (q == digest.QOPAuth && cred.QOP == "") {
			cred.QOP = q
		}
	}
	if cred.Response, err = digest.Response(cred, method, Password(key), body); err != nil {
		return "", fmt.Errorf("gba: ua response: %w", err)
	}
	return cred.String(), nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
