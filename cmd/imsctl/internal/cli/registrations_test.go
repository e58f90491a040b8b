package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/regstate"
)

// register marks the implicit set of impu registered at scscf in the HSS's store, as a SAR would.
func (a *api) register(impi, impu, scscf string) {
	a.t.Helper()
	err := a.store.UpdateRegistration(context.Background(), impi, impu, func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{IMPIRegistered: true, Registration: hss.Registration{State: hss.Registered,
			SCSCFName: scscf, SCSCFOriginHost: "scscf.ims"}}, nil
	})
	if err != nil {
		a.t.Fatal(err)
	}
}

func TestRegistrationList(t *testing.T) {
	a := newAPI(t)
	for _, s := range []string{"001010000000140", "001010000000141", "001010000000142"} {
		a.ok(addArgs(s, "1555"+s[8:])...)
	}
	a.register("001010000000140@"+domain, "tel:15550000140", "sip:scscf1.ims:6060")
	a.register("001010000000141@"+domain, "tel:15550000141", "sip:scscf2.ims:6060")

	out := a.ok("registration", "list")
	if !regexp.MustCompile(`001010000000140@\S+\s+tel:15550000140\s+REGISTERED\s+sip:scscf1.ims:6060\s+no`).MatchString(out) ||
		!strings.Contains(out, "sip:001010000000141@"+domain) || strings.Contains(out, "0000142") ||
		!strings.HasSuffix(out, "6 identities of 3 subscribers\n") {
		t.Errorf("registration list:\n%s", out)
	}
	var doc registrationsDoc
	if err := json.Unmarshal([]byte(a.ok("registration", "list", "--scscf", "scscf2", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Scanned != 3 || len(doc.Registrations) != 3 {
		t.Fatalf("--scscf scscf2 --json: %+v", doc)
	}
	for _, r := range doc.Registrations {
		if r.IMPI != "001010000000141@"+domain || r.State != "REGISTERED" || r.SCSCFName != "sip:scscf2.ims:6060" {
			t.Errorf("--scscf scscf2: %+v", r)
		}
	}
	if out := a.ok("registration", "list", "--impu", "tel:", "--impi", "0140"); strings.Count(out, "\n") != 3 {
		t.Errorf("--impu tel: --impi 0140:\n%s", out)
	}
	if out := a.ok("registration", "list", "--state", "not_registered", "--prefix", "00101000000014"); strings.Count(out, "tel:15550000142") != 1 ||
		strings.Contains(out, "tel:15550000140") {
		t.Errorf("--state not_registered:\n%s", out)
	}
	if r := a.imsctl("", "registration", "list", "--state", "gone"); r.code != ExitUsage {
		t.Errorf("--state gone: %+v", r)
	}
}

// fakeNode serves a node's admin route with answer, and records the token and query of each request.
func fakeNode(t *testing.T, path string, answer func(q string) any) (*httptest.Server, func() []string) {
	var (
		mu   sync.Mutex
		seen []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization")+" "+r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(answer(r.URL.Query().Get("impu")))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

func TestContacts(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000150", "15550000150")...)
	impi, key := "001010000000150@"+domain, "sip:15550000150@"+domain
	exp := time.Now().Add(10 * time.Minute)
	scscf, scscfSeen := fakeNode(t, regstate.SCSCFPath, func(q string) any {
		if q != "tel:15550000150" {
			return regstate.Registrations{Registrations: []regstate.Registration{}}
		}
		return regstate.Registrations{Registrations: []regstate.Registration{{IMPU: key, IMPI: impi, Expires: exp,
			Identities: []regstate.Identity{{URI: key}, {URI: "tel:15550000150"}},
			Contacts: []regstate.Contact{{URI: "sip:ue@127.0.0.1:5070", Instance: "urn:gsma:imei:35209900-176148-0", RegID: "1",
				Path: []string{"<sip:term@127.0.0.1:5060;lr>"}, Expires: exp}}}}}
	})
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	pcscf, pcscfSeen := fakeNode(t, regstate.PCSCFPath, func(q string) any {
		if q != key {
			return regstate.Bindings{Bindings: []regstate.Binding{}}
		}
		return regstate.Bindings{Bindings: []regstate.Binding{{IMPU: key, IMPI: impi, ContactID: "<urn:gsma:imei:35209900-176148-0>;reg-id=1",
			Source: "127.0.0.1:5070", Transport: "UDP", Registered: true, Expires: exp,
			SAs: []regstate.SASet{{UE: regstate.Endpoint{Addr: "127.0.0.1", PortC: 5100, PortS: 5101, SPIC: 1111, SPIS: 2222},
				PCSCF:     regstate.Endpoint{Addr: "127.0.0.1", PortC: 6100, PortS: 6101, SPIC: 3333, SPIS: 4444},
				Integrity: "hmac-sha-1-96", Encryption: "aes-cbc", Proto: "udp+tcp", Expires: exp, Confirmed: true}}}}}
	})

	r := a.imsctl("", "contacts", "--impu", "tel:15550000150", "--scscf-admin", scscf.URL, "--pcscf-admin", pcscf.URL)
	if r.code != ExitOK || !strings.Contains(r.stdout, "NOT_REGISTERED") || len(scscfSeen()) != 0 {
		t.Errorf("not registered: the nodes are not asked: %+v %v", r, scscfSeen())
	}
	a.register(impi, "tel:15550000150", "sip:scscf.ims:6060")
	out := a.ok("contacts", "--impu", "tel:15550000150", "--scscf-admin", scscf.URL, "--pcscf-admin", pcscf.URL)
	for _, want := range []string{"IMPU tel:15550000150 (IMPI " + impi + "): REGISTERED at sip:scscf.ims:6060",
		"urn:gsma:imei:35209900-176148-0", "<sip:term@127.0.0.1:5060;lr>", "127.0.0.1:5070",
		"UE 127.0.0.1 ports 5100/5101 spi 1111/2222, P-CSCF ports 6100/6101 spi 3333/4444, hmac-sha-1-96/aes-cbc"} {
		if !strings.Contains(out, want) {
			t.Errorf("contacts output lacks %q:\n%s", want, out)
		}
	}
	// The S-CSCF is asked for the identity given, the P-CSCF for the registered IMPU, both with imsctl's token.
	if got := scscfSeen(); len(got) != 1 || got[0] != "Bearer "+a.token+" impu=tel%3A15550000150" {
		t.Errorf("S-CSCF requests %q", got)
	}
	if got := pcscfSeen(); len(got) != 1 || !strings.HasSuffix(got[0], "impu=sip%3A15550000150%40"+domain) {
		t.Errorf("P-CSCF requests %q", got)
	}
	var rep contactsReport
	if err := json.Unmarshal([]byte(a.ok("contacts", "--impu", "tel:15550000150", "--scscf-admin", scscf.URL,
		"--pcscf-admin", pcscf.URL, "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SCSCF == nil || len(rep.PCSCFs) != 1 || rep.PCSCFs[0].Bindings[0].SAs[0].PCSCF.SPIS != 4444 {
		t.Errorf("--json: %+v", rep)
	}
	// A P-CSCF that cannot be read: the rest is shown, the command fails naming it; the environment lists URLs.
	a.env[EnvSCSCFAdmin], a.env[EnvPCSCFAdmin] = scscf.URL, pcscf.URL+","+down.URL
	r = a.imsctl("", "contacts", "--impu", "tel:15550000150")
	if r.code != ExitError || !strings.Contains(r.stdout, "spi 1111/2222") || !strings.Contains(r.stderr, "P-CSCF") ||
		!strings.Contains(r.stderr, down.URL) {
		t.Errorf("one P-CSCF down: %+v", r)
	}
	if r := a.imsctl("", "contacts", "--impu", "sip:nobody@"+domain); r.code != ExitError || !strings.Contains(r.stderr, "no subscriber") {
		t.Errorf("unknown IMPU: %+v", r)
	}
}

// An import of nothing says so and fails; a file's import shows its progress on stderr by tenths.
func TestImportEmptyAndProgress(t *testing.T) {
	a := newAPI(t)
	for _, in := range []string{"", "\n\n"} {
		r := a.imsctl(in, "subscriber", "import", "-")
		if r.code != ExitError || !strings.Contains(r.stderr, "nothing imported") {
			t.Errorf("import of %q: %+v", in, r)
		}
	}
	gen := a.imsctl("", "subscriber", "generate", "--count", "50", "--imsi-start", "001010000002000",
		"--msisdn-start", "15550002000", "--k", testK, "--op", testOP)
	file := filepath.Join(t.TempDir(), "subs.ndjson")
	if err := os.WriteFile(file, []byte(gen.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	r := a.imsctl("", "subscriber", "import", file)
	if r.code != ExitOK || !strings.Contains(r.stderr, "import [==============================] 100% 50 lines sent\n") ||
		!strings.HasSuffix(r.stderr, "import [==============================] 100% 50 lines sent, 50 imported, 0 failed\n") {
		t.Errorf("import of a file: %+v", r)
	}
}

// Every listing prints JSON with --json.
func TestListingsJSON(t *testing.T) {
	a := newAPI(t)
	a.ok(addArgs("001010000000160", "15550000160")...)
	for _, c := range commands() {
		if !strings.HasSuffix(c.path, " list") {
			continue
		}
		out := a.ok(append(strings.Fields(c.path), "--json")...)
		if !json.Valid([]byte(out)) {
			t.Errorf("imsctl %s --json: not JSON: %.200s", c.path, out)
		}
	}
}
