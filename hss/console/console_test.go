package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/provision"
)

const (
	testK  = "696d73636f72652d6532652d4b2d3031"
	testOP = "696d73636f72652d6532652d4f503031"
)

func subscriberForm(imsi string) url.Values {
	return url.Values{"imsi": {imsi}, "msisdn": {"1555" + imsi[len(imsi)-7:]}, "k": {testK}, "op_kind": {"op"},
		"op": {testOP}, "amf": {"8000"}}
}

// Each role reaches what its API scope allows and no more: a read-only account reads, an operator changes
// subscribers but not profiles, an admin does both. A refused change changes nothing and is audited.
func TestRolesEnforced(t *testing.T) {
	f := newFixture(t)
	viewer, oper, root := f.login("viewer"), f.login("oper"), f.login("root")

	for _, b := range []*browser{viewer, oper, root} {
		for _, p := range []string{"/", "/subscribers", "/registrations", "/operations", "/profiles", "/network", "/health"} {
			if status, body := b.get(p); status != http.StatusOK {
				t.Errorf("GET %s: %d\n%s", p, status, body)
			}
		}
	}
	if _, body := viewer.get("/subscribers"); strings.Contains(body, "New subscriber") {
		t.Error("the read-only account is offered the create form")
	}
	if status, _ := viewer.get("/subscribers/new"); status != http.StatusForbidden {
		t.Errorf("read-only GET /subscribers/new: %d, want 403", status)
	}
	if status, _ := viewer.post("/subscribers", subscriberForm("001010000000011")); status != http.StatusForbidden {
		t.Errorf("read-only create: %d, want 403", status)
	}
	if _, err := f.Client.GetSubscriber(context.Background(), "001010000000011@ims.mnc001.mcc001.3gppnetwork.org"); !provision.IsNotFound(err) {
		t.Errorf("the refused create created: %v", err)
	}
	if status, body := oper.post("/subscribers", subscriberForm("001010000000012")); status != http.StatusOK || !strings.Contains(body, "Subscriber created.") {
		t.Errorf("operator create: %d\n%s", status, body)
	}
	if status, _ := oper.post("/profiles", url.Values{"id": {"gold"}}); status != http.StatusForbidden {
		t.Errorf("operator creates a profile: %d, want 403", status)
	}
	if status, body := root.post("/profiles", url.Values{"id": {"gold"}}); status != http.StatusOK || !strings.Contains(body, "Service profile gold") {
		t.Errorf("admin creates a profile: %d\n%s", status, body)
	}
	var refused, created bool
	for _, e := range f.Audit.FilterMessage("audit").All() {
		m := e.ContextMap()
		if m["account"] == "viewer" && m["action"] == "POST /subscribers" && m["status"] == int64(403) {
			refused = true
		}
		if m["account"] == "oper" && m["action"] == "POST /subscribers" && m["status"] == int64(303) {
			created = true
		}
		if strings.Contains(fmt.Sprint(m), testK) || strings.Contains(fmt.Sprint(m), testPassword) {
			t.Errorf("an audit line holds a secret: %v", m)
		}
	}
	if !refused || !created {
		t.Errorf("audit lines: refused %v created %v", refused, created)
	}
}

// A state-changing form without the session's CSRF token, or with another session's, is refused; a page
// without a session goes to the login page.
func TestCSRF(t *testing.T) {
	f := newFixture(t)
	a, b := f.login("oper"), f.login("oper")
	for name, token := range map[string]string{"none": "", "other session's": b.csrf, "forged": "x" + a.csrf} {
		form := subscriberForm("001010000000021")
		form.Set("csrf", token)
		if status, _ := a.post("/subscribers", form); status != http.StatusForbidden {
			t.Errorf("%s CSRF token: %d, want 403", name, status)
		}
	}
	if _, err := f.Client.GetSubscriber(context.Background(), "001010000000021@ims.mnc001.mcc001.3gppnetwork.org"); !provision.IsNotFound(err) {
		t.Errorf("a forged form created a subscriber: %v", err)
	}
	anon := f.browser()
	if status, body := anon.get("/subscribers"); status != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Errorf("no session: %d, want the login page", status)
	}
	if status, _ := anon.post("/subscribers", subscriberForm("001010000000022")); status != http.StatusUnauthorized {
		t.Errorf("no session, POST: %d, want 401", status)
	}
}

// The session cookie is HttpOnly and SameSite=Strict, and every page forbids framing and foreign scripts.
func TestSessionCookieAndHeaders(t *testing.T) {
	f := newFixture(t)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(f.URL+"/login", url.Values{"name": {"viewer"}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cs) != 1 || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: %d cookies %+v", resp.StatusCode, cs)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "Cache-Control"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	// A login posted from another site is refused (login CSRF).
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/login", strings.NewReader("name=viewer&password="+testPassword))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("cross-site login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
}

// After DefaultLoginBurst failures from one address, even the right password waits.
func TestLoginRateLimited(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	for i := range 5 {
		if status, _ := b.post("/login", url.Values{"name": {"oper"}, "password": {"wrong"}}); status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i, status)
		}
	}
	status, body := b.post("/login", url.Values{"name": {"oper"}, "password": {testPassword}})
	if status != http.StatusTooManyRequests || strings.Contains(body, "Log out") {
		t.Errorf("6th login: %d, want 429", status)
	}
}

// Keys are write-only: the subscriber page says whether they are set, never what they are, also after a
// key change.
func TestKeysNeverShown(t *testing.T) {
	f := newFixture(t)
	b := f.login("oper")
	status, body := b.post("/subscribers", subscriberForm("001010000000031"))
	if status != http.StatusOK {
		t.Fatalf("create: %d\n%s", status, body)
	}
	impi := "001010000000031@ims.mnc001.mcc001.3gppnetwork.org"
	newK := "00112233445566778899aabbccddeeff"
	status, body = b.post("/subscribers/"+impi+"/keys", url.Values{"k": {newK}, "op_kind": {"opc"}, "op": {"ffeeddccbbaa99887766554433221100"}})
	if status != http.StatusOK || !strings.Contains(body, "Keys replaced") {
		t.Fatalf("keys: %d\n%s", status, body)
	}
	for _, secret := range []string{testK, testOP, newK, "ffeeddccbbaa99887766554433221100"} {
		if strings.Contains(strings.ToLower(body), secret) {
			t.Errorf("the page shows key %s", secret)
		}
	}
	if !strings.Contains(body, "K set") {
		t.Error("the page does not say K is set")
	}
	// An invalid key is the API's error, naming the field, on the subscriber's page.
	status, body = b.post("/subscribers/"+impi+"/keys", url.Values{"k": {"xyz"}})
	if status != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "k") {
		t.Errorf("invalid K: %d\n%s", status, body)
	}
}

// The iFC form builds valid iFCs only: values outside its lists are refused before the API, and what the
// API refuses (a bad regular expression) comes back with the API's message.
func TestIFCForm(t *testing.T) {
	f := newFixture(t)
	b := f.login("root")
	if status, _ := b.post("/profiles", url.Values{"id": {"mmtel"}}); status != http.StatusOK {
		t.Fatalf("create profile: %d", status)
	}
	good := url.Values{"priority": {"10"}, "server_name": {"sip:as.example.org:5070"}, "default_handling": {"SESSION_CONTINUED"},
		"method": {"INVITE"}, "session_case": {"ORIGINATING_REGISTERED"}}
	status, body := b.post("/profiles/mmtel/ifcs", good)
	if status != http.StatusOK || !strings.Contains(body, "(method = INVITE AND session case = ORIGINATING_REGISTERED)") {
		t.Fatalf("add iFC: %d\n%s", status, body)
	}
	p, err := f.Client.GetProfile(context.Background(), "mmtel")
	if err != nil || len(p.IFCs) != 1 || p.IFCs[0].TriggerPoint == nil || len(p.IFCs[0].TriggerPoint.SPTs) != 2 {
		t.Fatalf("stored profile: %+v %v", p, err)
	}
	bad := map[string]url.Values{
		"method":            {"method": {"FOO"}},
		"session case":      {"session_case": {"ANYWHERE"}},
		"register kinds":    {"method": {"INVITE"}, "registration_type": {"INITIAL_REGISTRATION"}},
		"server name":       {"server_name": {"http://as.example.org"}},
		"priority":          {"priority": {"-1"}},
		"default handling":  {"default_handling": {"MAYBE"}},
		"request URI regex": {"request_uri": {"(["}},
	}
	for name, change := range bad {
		form := url.Values{}
		for k, v := range good {
			form[k] = v
		}
		for k, v := range change {
			form[k] = v
		}
		status, body := b.post("/profiles/mmtel/ifcs", form)
		if status != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
			t.Errorf("%s: %d, want 400 with the error\n%s", name, status, body)
		}
	}
	if p, _ := f.Client.GetProfile(context.Background(), "mmtel"); len(p.IFCs) != 1 {
		t.Errorf("refused forms changed the profile: %d iFCs", len(p.IFCs))
	}
	if status, _ := b.post("/profiles/mmtel/ifcs/delete", url.Values{"index": {"0"}}); status != http.StatusOK {
		t.Errorf("delete iFC: %d", status)
	}
	if p, _ := f.Client.GetProfile(context.Background(), "mmtel"); len(p.IFCs) != 0 {
		t.Errorf("after delete: %d iFCs", len(p.IFCs))
	}
}

// An import runs in the background in chunks; its progress reaches every line, and failed lines are listed.
func TestImportProgress(t *testing.T) {
	f := newFixture(t)
	b := f.login("oper")
	b.get("/import")
	var nd bytes.Buffer
	const n = 450
	for i := range n {
		imsi := fmt.Sprintf("0010100001%05d", i)
		if i == 7 {
			imsi = "not-an-imsi"
		}
		fmt.Fprintf(&nd, `{"imsi":%q,"msisdn":"1666%07d","k":%q,"op":%q}`+"\n", imsi, i, testK, testOP)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", b.csrf)
	fw, _ := mw.CreateFormFile("file", "subs.ndjson")
	_, _ = fw.Write(nd.Bytes())
	mw.Close()
	resp, err := b.hc.Post(f.URL+"/import", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.Path, "/import/") {
		t.Fatalf("import: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	var p struct {
		Job struct {
			Lines, Done, Imported, Failed int
			Finished                      bool
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !p.Job.Finished && time.Now().Before(deadline) {
		_, js := b.get(resp.Request.URL.Path + "?format=json")
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatalf("progress %q: %v", js, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !p.Job.Finished || p.Job.Lines != n || p.Job.Done != n || p.Job.Imported != n-1 || p.Job.Failed != 1 {
		_, page := b.get(resp.Request.URL.Path)
		t.Fatalf("progress %+v\n%s", p.Job, page)
	}
	if _, page := b.get(resp.Request.URL.Path); !strings.Contains(page, "<td>8</td>") {
		t.Errorf("the failed line 8 is not listed:\n%s", page)
	}
}

// The health page shows each node's readiness and its counters; an unreachable node says so.
func TestHealth(t *testing.T) {
	f := newFixture(t)
	b := f.login("viewer")
	_, body := b.get("/health")
	for _, want := range []string{"hss_registered_impus", ">3<", "ready", "pcscf", "unreachable"} {
		if !strings.Contains(body, want) {
			t.Errorf("health page lacks %q", want)
		}
	}
}
