package bsf_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/services/bsf"
	"github.com/imscore/imscore/services/bsf/bsftest"
	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/sip/digest"
)

const nafHost = "xdms." + bsftest.Realm

// startNAF runs a NAF named fqdn (Zn Origin-Host nafHost) connected to the environment's BSF.
func startNAF(t *testing.T, e *bsftest.Env, fqdn string) *gba.NAF {
	return e.StartNAF(t, fqdn, nafHost)
}

// nafServer is an HTTP server that answers 200 with the authenticated IMPI, through n.
func nafServer(t *testing.T, n *gba.NAF) *httptest.Server {
	srv, _ := countingNAFServer(t, n)
	return srv
}

// countingNAFServer is nafServer that also counts the 401s it sent.
func countingNAFServer(t *testing.T, n *gba.NAF) (*httptest.Server, *atomic.Int32) {
	var challenges atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := n.Authenticate(w, r, nil); id != nil {
			_, _ = w.Write([]byte(id.IMPI + " " + strings.Join(id.IMPUs, ",")))
		} else {
			challenges.Add(1)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &challenges
}

// A UE bootstraps over Ub (401 with the AKA challenge, 200 with the B-TID), and a NAF gets over Zn the same
// Ks_NAF the UE derives: the request with username B-TID and password base64(Ks_NAF) is accepted and the NAF
// learns the IMPI and the public identities from the BSF.
func TestBootstrapAndUa(t *testing.T) {
	e := bsftest.Start(t, []string{nafHost}, nil)
	sub := e.Subscriber(t)
	c := &gba.Client{BSF: e.UbURL, IMPI: sub.Private.IMPI, USIM: bsftest.USIM(t)}
	s, err := c.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := base64.StdEncoding.EncodeToString(s.RAND)
	if s.BTID != r+"@"+bsftest.BSFName || len(s.Ks) != 32 || !s.Expires.After(time.Now()) {
		t.Fatalf("session %s, Ks %d octets, expires %v", s.BTID, len(s.Ks), s.Expires)
	}
	srv, challenges := countingNAFServer(t, startNAF(t, e, nafHost))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/doc", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := readAll(t, resp)
	// Later requests reuse the NAF's nonce with a rising nonce-count: no second 401.
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/doc", nil)
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i+2, r.StatusCode)
		}
	}
	if n := challenges.Load(); n != 1 {
		t.Errorf("the NAF challenged %d times for 4 requests, want 1", n)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(body, sub.Private.IMPI+" ") || !strings.Contains(body, sub.Public[1].IMPU) ||
		strings.Contains(body, sub.Public[0].IMPU) {
		t.Fatalf("NAF answered %d %q", resp.StatusCode, body)
	}
	if c.Bootstraps() != 1 {
		t.Errorf("%d bootstrappings, want 1", c.Bootstraps())
	}
}

// A NAF that is not authorised for the NAF FQDN it names gets no key (DIAMETER_ERROR_NOT_AUTHORIZED), and the
// UE's request is not accepted.
func TestNAFNotAuthorised(t *testing.T) {
	e := bsftest.Start(t, []string{nafHost}, nil)
	sub := e.Subscriber(t)
	c := &gba.Client{BSF: e.UbURL, IMPI: sub.Private.IMPI, USIM: bsftest.USIM(t)}
	srv := nafServer(t, startNAF(t, e, "other."+bsftest.Realm))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/doc", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("a NAF got a key for a name it is not authorised for")
	}
}

// A USIM ahead of the HSS answers with AUTS; the BSF resynchronises over Zh and the UE bootstraps.
func TestBootstrapResync(t *testing.T) {
	e := bsftest.Start(t, nil, nil)
	sub := e.Subscriber(t)
	u := bsftest.USIM(t)
	if err := u.SetSQNms(aka.SQN(7000 << 5)); err != nil {
		t.Fatal(err)
	}
	c := &gba.Client{BSF: e.UbURL, IMPI: sub.Private.IMPI, USIM: u}
	if _, err := c.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := e.DB.GetIMPI(context.Background(), sub.Private.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	if p.SQN <= 7000<<5 {
		t.Errorf("SQN_HE %d not moved past SQN_MS", p.SQN)
	}
}

// A response not computed from RES is refused (403), and a nonce answers once: the same answer again gets a
// fresh challenge (401, stale), never a second session.
func TestUbWrongResponse(t *testing.T) {
	e := bsftest.Start(t, nil, nil)
	sub := e.Subscriber(t)
	get := func(auth string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.UbURL, nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := get(digest.Credentials{Username: sub.Private.IMPI, Realm: bsftest.Realm, URI: "/"}.String())
	if first.StatusCode != 401 {
		t.Fatalf("first request: %d", first.StatusCode)
	}
	ch, err := digest.ParseChallenge(first.Header.Get("WWW-Authenticate"))
	if err != nil || ch.Algorithm != "AKAv1-MD5" {
		t.Fatalf("challenge %+v: %v", ch, err)
	}
	cred := digest.Credentials{Username: sub.Private.IMPI, Realm: ch.Realm, Nonce: ch.Nonce, URI: "/", Algorithm: ch.Algorithm,
		QOP: "auth-int", NC: "00000001", CNonce: "0a0b0c0d"}
	cred.Response, _ = digest.Response(cred, http.MethodGet, []byte("not-the-res"), nil)
	if r := get(cred.String()); r.StatusCode != 403 {
		t.Errorf("wrong response: %d, want 403", r.StatusCode)
	}
	if r := get(cred.String()); r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "stale=TRUE") {
		t.Errorf("replayed nonce: %d %q, want 401 stale", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	if r := get(digest.Credentials{Username: "nobody@" + bsftest.Realm, Realm: bsftest.Realm, URI: "/"}.String()); r.StatusCode != 403 {
		t.Errorf("unknown IMPI: %d, want 403", r.StatusCode)
	}
	if r := get(""); r.StatusCode != 400 {
		t.Errorf("no Authorization: %d, want 400", r.StatusCode)
	}
}

// When the key lifetime has ended the BSF no longer knows the B-TID: the NAF answers 401, the UE bootstraps
// again and the request goes through with the new B-TID.
func TestExpiredBTIDRebootstraps(t *testing.T) {
	e := bsftest.Start(t, []string{nafHost}, func(c *bsf.Config) { c.KeyLifetime = time.Second })
	sub := e.Subscriber(t)
	c := &gba.Client{BSF: e.UbURL, IMPI: sub.Private.IMPI, USIM: bsftest.USIM(t)}
	old, err := c.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The UE keeps using its session past the lifetime (its clock says it is still valid): the BSF's answer
	// must send it back to Ub.
	c.Now = func() time.Time { return old.Expires.Add(-time.Minute) }
	time.Sleep(time.Until(old.Expires) + 100*time.Millisecond)
	srv := nafServer(t, startNAF(t, e, nafHost))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/doc", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || c.Bootstraps() != 2 {
		t.Fatalf("status %d after %d bootstrappings, want 200 after 2", resp.StatusCode, c.Bootstraps())
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// recorder is an http.RoundTripper that keeps the last Authorization header sent.
type recorder struct {
	last atomic.Value
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if a := req.Header.Get("Authorization"); a != "" {
		r.last.Store(a)
	}
	return http.DefaultTransport.RoundTrip(req)
}

// The NAF takes a nonce-count once: the credentials of an accepted request, sent again as they are, get 401
// with stale=TRUE (RFC 7616 §3.3, §3.4).
func TestUaReplayRefused(t *testing.T) {
	e := bsftest.Start(t, []string{nafHost}, nil)
	sub := e.Subscriber(t)
	rec := &recorder{}
	c := &gba.Client{BSF: e.UbURL, IMPI: sub.Private.IMPI, USIM: bsftest.USIM(t), HTTP: &http.Client{Transport: rec}}
	srv := nafServer(t, startNAF(t, e, nafHost))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/doc", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	replay, _ := http.NewRequest(http.MethodGet, srv.URL+"/doc", nil)
	replay.Header.Set("Authorization", rec.last.Load().(string))
	r, err := http.DefaultClient.Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "stale=TRUE") {
		t.Errorf("replayed credentials: %d %q, want 401 stale", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
}
