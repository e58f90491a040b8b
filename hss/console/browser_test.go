package console_test

import (
	"context"
	"encoding/hex"
	"flag"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/console"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/sip/ue"
)

// screenshots, when set, is the directory the browser test writes a PNG of each page into:
//
//	go test ./hss/console -run TestBrowser -args -console.screenshots=$PWD/docs/console
var screenshots = flag.String("console.screenshots", "", "write a screenshot of each console page into this directory")

// findChromium returns Debian's chromium (or another Chrome) or skips: CI installs it, and with CI=true a
// missing browser fails the test instead.
func findChromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	e2e.Need(t, false, "no chromium on PATH: the browser test needs it (apt-get install chromium)")
	return ""
}

// TestBrowser drives the console in headless Chromium against a real core started by internal/e2e (HSS,
// S-, I- and P-CSCF as processes): an admin logs in, creates a service profile with an iFC from the form
// and a subscriber using it, a UE simulator (sip/ue) registers through the P-CSCF, the console shows the
// registration, the admin de-registers the user from the page (RTR) and sees the outcome; every page has a
// label for every input and keyboard navigation reaches every control; a read-only account is refused.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	b, err := e2e.NewBuilder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	core := e2e.StartCore(t, b)

	dir := t.TempDir()
	path, _ := accountsFile(t, dir) // the accounts; the console calls the core's API with the HSS's admin token
	accounts, err := httpauth.WatchTokens(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := provision.NewClient(core.HSS.API, nil, provision.WithToken(core.HSS.Token))
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Options{API: client, Accounts: accounts, Log: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
		Nodes: []console.Node{{Name: "hss", URL: core.HSS.API}, {Name: "pcscf", URL: "http://" + core.PCSCF.HTTP},
			{Name: "icscf", URL: "http://" + core.ICSCF.HTTP}, {Name: "scscf", URL: "http://" + core.SCSCF.HTTP}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	w := &web{t: t, ctx: bctx, base: srv.URL}
	w.do(chromedp.EmulateViewport(1280, 900))

	// Log in with the keyboard only.
	w.open("/login", "login")
	w.do(chromedp.SendKeys(chromedp.ID("name"), "root"), chromedp.SendKeys(chromedp.ID("password"), testPassword+kb.Enter))
	w.waitText("header", "Log out")
	w.open("/", "health")
	for _, node := range []string{"hss", "pcscf", "icscf", "scscf"} {
		w.waitText("#node-"+node, "ready")
	}

	// A service profile with an iFC built by the form.
	w.open("/profiles", "profiles")
	w.do(chromedp.SendKeys(chromedp.ID("p-id"), "mmtel"))
	w.submit("#p-id", "Service profile mmtel")
	w.do(chromedp.SetValue(chromedp.ID("method"), "INVITE"), chromedp.SetValue(chromedp.ID("session_case"), "ORIGINATING_REGISTERED"),
		chromedp.SendKeys(chromedp.ID("server_name"), "sip:mmtel-as.example.org:5070"))
	w.submit("#server_name", "Initial filter criteria saved.")
	w.waitText("#ifcs", "method = INVITE AND session case = ORIGINATING_REGISTERED")
	w.shot("profile")

	// A subscriber with the e2e UE's keys and that profile.
	sub := e2e.NthSubscriber(91)
	w.open("/subscribers/new", "subscriber_new")
	w.do(chromedp.SendKeys(chromedp.ID("imsi"), sub.IMSI), chromedp.SendKeys(chromedp.ID("msisdn"), sub.MSISDN),
		chromedp.SendKeys(chromedp.ID("k"), e2e.AKAK), chromedp.SendKeys(chromedp.ID("op"), e2e.AKAOP),
		chromedp.SendKeys(chromedp.ID("amf"), e2e.AKAAMF), chromedp.SetValue(chromedp.ID("profile_id"), "mmtel"))
	w.submit("#imsi", "Subscriber created.")
	w.waitText("#reg-state", "not registered")
	if html := w.html("main"); strings.Contains(html, e2e.AKAK) || strings.Contains(html, e2e.AKAOP) {
		t.Error("the subscriber page shows a key")
	}

	// The UE registers through the P-CSCF; the registrations page shows it at the S-CSCF.
	impu := "sip:" + sub.MSISDN + "@" + e2e.Domain
	u := newUE(t, sub, impu, core.PCSCF.SIP)
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	if _, err := u.Register(rctx); err != nil {
		t.Fatalf("register: %v", err)
	}
	w.open("/registrations", "")
	w.waitText("#registrations", impu) // the page reloads itself every 5 s
	w.waitText("#registrations", core.SCSCF.Name)
	w.shot("registrations")
	w.open("/subscribers?by=imsi&q="+sub.IMSI[:10], "subscribers")

	// De-register from the subscriber's page and watch the RTR's outcome.
	w.open("/subscribers/"+sub.IMPI(), "")
	w.waitText("#reg-state", "registered")
	w.do(chromedp.SetValue(chromedp.ID("reason"), "PERMANENT_TERMINATION"), chromedp.SendKeys(chromedp.ID("info"), "console test"))
	w.submit("#deregister", "De-registration (RTR) started")
	w.waitText("#operations", "succeeded") // the page reloads itself while the operation is pending
	w.open("/subscribers/"+sub.IMPI(), "subscriber")
	w.waitText("#reg-state", "not registered")
	st, err := client.Registration(ctx, sub.IMPI())
	if err != nil || st.Registered {
		t.Errorf("after the RTR the HSS says registered=%v (%v)", st != nil && st.Registered, err)
	}
	w.open("/operations", "operations")
	w.waitText("main table", "RTR")

	// A bulk import with its progress bar.
	nd := filepath.Join(dir, "subs.ndjson")
	line := func(imsi, msisdn string) string {
		return `{"imsi":"` + imsi + `","msisdn":"` + msisdn + `","k":"` + e2e.AKAK + `","op":"` + e2e.AKAOP + `"}` + "\n"
	}
	if err := os.WriteFile(nd, []byte(line("001010000009201", "15559201")+line("001010000009202", "15559202")), 0o600); err != nil {
		t.Fatal(err)
	}
	w.open("/import", "")
	w.do(chromedp.SetUploadFiles(chromedp.ID("file"), []string{nd}))
	w.submit("#file", "Import 1")
	w.waitText("#progress-text", "finished")
	w.waitText("#progress-text", "2 imported")
	w.shot("import")
	w.open("/health", "health")
	w.open("/network", "network") // a page that does not reload itself, for the logout click

	// Logged in as read-only, the change forms are gone and a change page is refused.
	if _, err := chromedp.RunResponse(w.ctx, chromedp.Click(chromedp.CSS("form.who button"))); err != nil {
		t.Fatalf("log out: %v", err)
	}
	w.waitText("main", "Log in")
	w.do(chromedp.SendKeys(chromedp.ID("name"), "viewer"), chromedp.SendKeys(chromedp.ID("password"), testPassword+kb.Enter))
	w.waitText("header", "read-only")
	w.open("/subscribers/new", "")
	w.waitText("main", "may not do this")
	w.open("/subscribers/"+sub.IMPI(), "")
	if html := w.html("main"); strings.Contains(html, `id="deregister"`) || strings.Contains(html, "/keys") {
		t.Error("a read-only account is shown the de-register or key forms")
	}
	w.open("/login", "")
}

func newUE(t *testing.T, s e2e.Subscriber, impu, pcscf string) *ue.UE {
	t.Helper()
	k, _ := hex.DecodeString(e2e.AKAK)
	op, _ := hex.DecodeString(e2e.AKAOP)
	keys, err := aka.NewKeys(k, op, nil, [2]byte{0x30, 0x30})
	if err != nil {
		t.Fatal(err)
	}
	u, err := ue.New(ue.Config{IMPI: s.IMPI(), IMPU: impu, PCSCF: netip.MustParseAddrPort(pcscf), Keys: keys, Timeout: 10 * time.Second},
		zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)).Named("ue"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// web is the test's browser tab.
type web struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (w *web) do(actions ...chromedp.Action[chromedp.Void]) {
	w.t.Helper()
	if err := chromedp.Do(w.ctx, actions...); err != nil {
		w.t.Fatalf("browser: %v", err)
	}
}

// open loads a console page, checks its accessibility basics and, with a name, writes its screenshot.
func (w *web) open(path, shot string) {
	w.t.Helper()
	resp, err := chromedp.Run(w.ctx, chromedp.NavigateResponse(w.base+path))
	if err != nil {
		w.t.Fatalf("open %s: %v", path, err)
	}
	if resp.Status >= 500 {
		w.t.Errorf("open %s: HTTP %d", path, resp.Status)
	}
	w.accessible(path)
	if shot != "" {
		w.shot(shot)
	}
}

// submit clicks the submit button of the form holding sel and waits for the next page to show want.
func (w *web) submit(sel, want string) {
	w.t.Helper()
	js := `document.querySelector(` + jsString(sel) + `).closest("form").querySelector("button[type=submit]")`
	if _, err := chromedp.RunResponse(w.ctx, chromedp.Click(chromedp.JSPath(js))); err != nil {
		w.t.Fatalf("submit %s: %v", sel, err)
	}
	w.waitText("main", want)
	w.accessible("after " + sel)
}

func jsString(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// waitText waits until the element sel contains text (pages that reload themselves included).
func (w *web) waitText(sel, text string) {
	w.t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		got, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`(document.querySelector(`+jsString(sel)+`)||{}).textContent||""`))
		if err == nil && strings.Contains(got, text) {
			return
		}
		last = got
		time.Sleep(200 * time.Millisecond)
	}
	w.t.Fatalf("%s never showed %q; it shows:\n%s", sel, text, strings.Join(strings.Fields(last), " "))
}

func (w *web) html(sel string) string {
	w.t.Helper()
	s, err := chromedp.Run(w.ctx, chromedp.OuterHTML(chromedp.CSS(sel)))
	if err != nil {
		w.t.Fatalf("html %s: %v", sel, err)
	}
	return s
}

// accessible checks that every visible input has a label, and that Tab reaches every control of the page.
// A page that reloaded itself meanwhile (the live pages do) is checked again.
func (w *web) accessible(where string) {
	w.t.Helper()
	for range 3 {
		if w.checkAccessible(where, false) {
			return
		}
	}
	w.checkAccessible(where, true)
}

// checkAccessible is one check; it reports false when the page reloaded during it (unless final, when it
// reports what it found).
func (w *web) checkAccessible(where string, final bool) bool {
	w.t.Helper()
	unlabelled, err := chromedp.Run(w.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input, select, textarea"))
		.filter(e => e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
		.map(e => e.outerHTML.slice(0, 120))`))
	if err != nil {
		if !final { // the page reloaded under the check
			time.Sleep(500 * time.Millisecond)
			return false
		}
		w.t.Fatalf("%s: label check: %v", where, err)
	}
	for _, u := range unlabelled {
		w.t.Errorf("%s: an input without a label: %s", where, u)
	}
	if len(unlabelled) > 0 {
		return true
	}
	controls, err := chromedp.Run(w.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea"))
		.filter(e => !e.disabled && !e.closest("[hidden]") && e.getClientRects().length > 0)
		.map((e, i) => { e.dataset.kb = "c" + i; return e.dataset.kb; })`))
	if err != nil {
		if !final { // the page reloaded under the check
			time.Sleep(500 * time.Millisecond)
			return false
		}
		w.t.Fatalf("%s: controls: %v", where, err)
	}
	if err := chromedp.Do(w.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur && document.activeElement.blur(); window.focus()`)); err != nil {
		if !final {
			return false
		}
		w.t.Fatalf("%s: %v", where, err)
	}
	reached := map[string]bool{}
	for range len(controls) + 3 {
		if err := chromedp.Do(w.ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			if !final {
				return false
			}
			w.t.Fatalf("%s: Tab: %v", where, err)
		}
		id, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`(document.activeElement && document.activeElement.dataset && document.activeElement.dataset.kb) || ""`))
		if err != nil {
			if !final {
				return false
			}
			w.t.Fatalf("%s: focus: %v", where, err)
		}
		reached[id] = true
	}
	var missed []string
	for _, c := range controls {
		if !reached[c] {
			missed = append(missed, c)
		}
	}
	if len(missed) == len(controls) && len(controls) > 0 && !final {
		time.Sleep(500 * time.Millisecond) // the page reloaded: nothing carries the marks
		return false
	}
	if len(missed) > 0 {
		html, _ := chromedp.Run(w.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-kb]")).filter(e => `+
			jsArray(missed)+`.includes(e.dataset.kb)).map(e => e.outerHTML.slice(0, 100))`))
		w.t.Errorf("%s: Tab does not reach %d of %d controls: %v", where, len(missed), len(controls), html)
	}
	return true
}

func jsArray(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = jsString(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// shot writes the page's screenshot into -console.screenshots.
func (w *web) shot(name string) {
	w.t.Helper()
	if *screenshots == "" {
		return
	}
	_ = chromedp.Do(w.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur && document.activeElement.blur()`))
	png, err := chromedp.Run(w.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		w.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
		w.t.Fatal(err)
	}
}
