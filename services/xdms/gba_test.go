package xdms_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/services/bsf"
	"github.com/imscore/imscore/services/bsf/bsftest"
	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/xdms"
	"github.com/imscore/imscore/sip/digest"
)

const xdmsFQDN = "xdms." + bsftest.Realm

// gbaEnv is an HSS, a BSF and an XDMS that authenticates with GBA (the XDMS a NAF on Zn), all on loopback
// sockets: Ub and Ua over HTTP, Zh and Zn over Diameter.
type gbaEnv struct {
	core *bsftest.Env
	xcap *httptest.Server
}

func newGBAEnv(t *testing.T, mutate func(*bsf.Config)) *gbaEnv {
	core := bsftest.Start(t, []string{xdmsFQDN}, mutate)
	naf := core.StartNAF(t, xdmsFQDN, "")
	h := &xdms.Handler{Root: "/xcap-root", Store: store.NewMemory(), Log: zaptest.NewLogger(t), GBA: naf}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &gbaEnv{core: core, xcap: srv}
}

// user is a subscriber with its UE's GBA client.
func (e *gbaEnv) user(t *testing.T, usim *aka.USIM) (hss.Subscriber, *gba.Client) {
	sub := e.core.Subscriber(t)
	if usim == nil {
		usim = bsftest.USIM(t)
	}
	return sub, &gba.Client{BSF: e.core.UbURL, IMPI: sub.Private.IMPI, USIM: usim, UserAgent: "imscore-test"}
}

func (e *gbaEnv) do(t *testing.T, c *gba.Client, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.xcap.URL+"/xcap-root/"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPut {
		req.Header.Set("Content-Type", "application/auth-policy+xml")
	}
	var res *http.Response
	if c != nil {
		res, err = c.Do(req)
	} else {
		res, err = http.DefaultClient.Do(req)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func rulesPathOf(impu string) string { return "pres-rules/users/" + impu + "/index" }

// The UE bootstraps with its USIM, then PUTs and GETs its pres-rules with the derived key; a second request
// reuses the bootstrapping session. Without credentials, or with an X-3GPP-Asserted-Identity of its own
// making, a request gets 401.
func TestGBAXCAP(t *testing.T) {
	e := newGBAEnv(t, nil)
	sub, c := e.user(t, nil)
	impu := sub.Public[1].IMPU
	if code, body := e.do(t, c, http.MethodPut, rulesPathOf(impu), rulesDoc); code != 201 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, body := e.do(t, c, http.MethodGet, rulesPathOf(impu), "")
	if code != 200 || !strings.Contains(body, "sip:bob@ims.example.org") {
		t.Fatalf("GET: %d %s", code, body)
	}
	if c.Bootstraps() != 1 {
		t.Errorf("%d bootstrappings, want 1", c.Bootstraps())
	}
	// The tel URI of the same subscription is the same user's too (both in the GUSS).
	if code, body := e.do(t, c, http.MethodPut, rulesPathOf(sub.Public[2].IMPU), rulesDoc); code != 201 {
		t.Errorf("PUT under the tel URI: %d %s", code, body)
	}
	if code, _ := e.do(t, nil, http.MethodGet, rulesPathOf(impu), ""); code != 401 {
		t.Errorf("no credentials: %d, want 401", code)
	}
	req, _ := http.NewRequest(http.MethodGet, e.xcap.URL+"/xcap-root/"+rulesPathOf(impu), nil)
	req.Header.Set(xdms.AssertedIdentityHeader, impu)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Errorf("asserted identity without GBA credentials: %d, want 401", res.StatusCode)
	}
}

// A user authenticated with GBA reaches only the documents of its own identities (from the BSF), and neither
// writes nor reads another user's, whatever XUI the request names; the barred IMPU is not one it may act as.
func TestGBAOtherUsersDocuments(t *testing.T) {
	e := newGBAEnv(t, nil)
	alice, ca := e.user(t, nil)
	bob, cb := e.user(t, nil)
	if code, _ := e.do(t, cb, http.MethodPut, rulesPathOf(bob.Public[1].IMPU), rulesDoc); code != 201 {
		t.Fatalf("bob's own PUT: %d", code)
	}
	if code, _ := e.do(t, ca, http.MethodPut, rulesPathOf(bob.Public[1].IMPU), rulesDoc); code != 403 {
		t.Errorf("alice writes bob's pres-rules: %d, want 403", code)
	}
	if code, _ := e.do(t, ca, http.MethodGet, rulesPathOf(bob.Public[1].IMPU), ""); code != 403 {
		t.Errorf("alice reads bob's pres-rules: %d, want 403", code)
	}
	if code, _ := e.do(t, ca, http.MethodPut, rulesPathOf(alice.Public[0].IMPU), rulesDoc); code != 403 {
		t.Errorf("alice writes under her barred IMPU: %d, want 403", code)
	}
}

// Credentials from any key but the Ks_NAF the BSF gives the XDMS are refused (401), the right one accepted.
func TestGBAWrongKeyRefused(t *testing.T) {
	e := newGBAEnv(t, nil)
	sub, c := e.user(t, nil)
	s, err := c.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	uri := "/xcap-root/" + rulesPathOf(sub.Public[1].IMPU)
	try := func(password []byte) int {
		first, err := http.Get(e.xcap.URL + uri)
		if err != nil {
			t.Fatal(err)
		}
		first.Body.Close()
		ch, err := digest.ParseChallenge(first.Header.Get("WWW-Authenticate"))
		if err != nil || ch.Realm != gba.Realm(xdmsFQDN) {
			t.Fatalf("challenge %+v: %v", ch, err)
		}
		cred := digest.Credentials{Username: s.BTID, Realm: ch.Realm, Nonce: ch.Nonce, URI: uri, Algorithm: ch.Algorithm,
			QOP: "auth", NC: "00000001", CNonce: "c0ffee"}
		cred.Response, _ = digest.Response(cred, http.MethodGet, password, nil)
		req, _ := http.NewRequest(http.MethodGet, e.xcap.URL+uri, nil)
		req.Header.Set("Authorization", cred.String())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := try(gba.Password(bytes.Repeat([]byte{0x11}, 32))); code != 401 {
		t.Errorf("wrong Ks_NAF: %d, want 401", code)
	}
	if code := try(s.Ks); code != 401 {
		t.Errorf("Ks itself as the password: %d, want 401", code)
	}
	key, err := gba.KsNAF(s.Ks, s.RAND, sub.Private.IMPI, gba.NAFID(xdmsFQDN, gba.UaHTTPDigest))
	if err != nil {
		t.Fatal(err)
	}
	if code := try(gba.Password(key)); code != 404 {
		t.Errorf("right Ks_NAF: %d, want 404 (authenticated; no document yet)", code)
	}
}

// When the key lifetime has ended the XDMS's answer makes the UE bootstrap again, and the write goes through.
func TestGBAExpiredBTID(t *testing.T) {
	e := newGBAEnv(t, func(c *bsf.Config) { c.KeyLifetime = time.Second })
	sub, c := e.user(t, nil)
	impu := sub.Public[1].IMPU
	if code, _ := e.do(t, c, http.MethodPut, rulesPathOf(impu), rulesDoc); code != 201 {
		t.Fatalf("PUT: %d", code)
	}
	s, err := c.Session(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return s.Expires.Add(-time.Minute) } // the UE believes its key still valid
	time.Sleep(time.Until(s.Expires) + 100*time.Millisecond)
	if code, _ := e.do(t, c, http.MethodGet, rulesPathOf(impu), ""); code != 200 {
		t.Fatalf("GET after expiry: %d", code)
	}
	if c.Bootstraps() != 2 {
		t.Errorf("%d bootstrappings, want 2", c.Bootstraps())
	}
}

// A USIM ahead of the HSS resynchronises during bootstrapping, and XCAP then works.
func TestGBAResync(t *testing.T) {
	e := newGBAEnv(t, nil)
	u := bsftest.USIM(t)
	if err := u.SetSQNms(aka.SQN(9000 << 5)); err != nil {
		t.Fatal(err)
	}
	sub, c := e.user(t, u)
	if code, _ := e.do(t, c, http.MethodPut, rulesPathOf(sub.Public[1].IMPU), rulesDoc); code != 201 {
		t.Fatalf("PUT after resync: %d", code)
	}
}
