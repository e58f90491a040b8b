package console_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/console"
	"github.com/imscore/imscore/internal/regstate"
)

// The subscriber's page of a registered user shows the S-CSCF's contacts and the P-CSCF's bindings with their
// SA sets, read from the nodes' admin routes with the node token; a node that cannot be read is named.
func TestSubscriberLiveBindings(t *testing.T) {
	const impu = "sip:15550000041@ims.mnc001.mcc001.3gppnetwork.org"
	var (
		mu   sync.Mutex
		auth []string
	)
	exp := time.Now().Add(10 * time.Minute)
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			mu.Lock()
			auth = append(auth, r.Header.Get("Authorization"))
			mu.Unlock()
		}
		switch r.URL.Path {
		case regstate.SCSCFPath:
			_ = json.NewEncoder(w).Encode(regstate.Registrations{Registrations: []regstate.Registration{{IMPU: impu, Expires: exp,
				Contacts: []regstate.Contact{{URI: "sip:ue@127.0.0.1:5071", Instance: "urn:gsma:imei:35209900-176148-1", RegID: "1",
					Path: []string{"<sip:term@127.0.0.1:5060;lr>"}, Expires: exp}}}}})
		case regstate.PCSCFPath:
			if r.URL.Query().Get("impu") != impu {
				t.Errorf("P-CSCF asked for %q", r.URL.Query().Get("impu"))
			}
			_ = json.NewEncoder(w).Encode(regstate.Bindings{Bindings: []regstate.Binding{{IMPU: impu, ContactID: "<urn:gsma:imei:35209900-176148-1>;reg-id=1",
				Source: "127.0.0.1:5071", Transport: "UDP", Expires: exp, SAs: []regstate.SASet{{
					UE:        regstate.Endpoint{Addr: "127.0.0.1", PortC: 5100, PortS: 5101, SPIC: 1111, SPIS: 2222},
					PCSCF:     regstate.Endpoint{Addr: "127.0.0.1", PortC: 6100, PortS: 6101, SPIC: 3333, SPIS: 4444},
					Integrity: "hmac-sha-1-96", Encryption: "aes-cbc", Confirmed: true}}}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer node.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	f := newFixtureWith(t, func(o *console.Options) {
		o.NodeToken = "node-token"
		o.Nodes = []console.Node{{Name: "scscf", URL: node.URL}, {Name: "pcscf", URL: node.URL}, {Name: "pcscf2", URL: down.URL}}
	})
	b := f.login("viewer")
	ob := f.login("oper")
	if status, body := ob.post("/subscribers", subscriberForm("001010000000041")); status != http.StatusOK {
		t.Fatalf("create: %d\n%s", status, body)
	}
	impi := "001010000000041@ims.mnc001.mcc001.3gppnetwork.org"
	if _, body := b.get("/subscribers/" + impi); strings.Contains(body, "Contacts at the S-CSCF") {
		t.Error("a subscriber not registered shows a contacts section")
	}
	err := f.Store.UpdateRegistration(context.Background(), impi, impu, func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{IMPIRegistered: true, Registration: hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf.ims:6060"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	status, body := b.get("/subscribers/" + impi)
	if status != http.StatusOK {
		t.Fatalf("page: %d", status)
	}
	for _, want := range []string{"Contacts at the S-CSCF", "sip:ue@127.0.0.1:5071", "urn:gsma:imei:35209900-176148-1",
		"&lt;sip:term@127.0.0.1:5060;lr&gt;", "Bindings at the P-CSCF", "127.0.0.1:5071",
		"UE 127.0.0.1 5100/5101, 1111/2222 · P-CSCF 6100/6101, 3333/4444 · hmac-sha-1-96 / aes-cbc", "pcscf2: "} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 2 || auth[0] != "Bearer node-token" || auth[1] != "Bearer node-token" {
		t.Errorf("node requests' Authorization %q", auth)
	}
}
