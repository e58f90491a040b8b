package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/xdms"
	"github.com/imscore/imscore/sip/trust"
)

// TestPresenceRules: imsue presence rules writes a pres-rules document the XDMS accepts and the presence
// server reads as allowing the watcher.
func TestPresenceRules(t *testing.T) {
	st := store.NewMemory()
	d, _ := trust.ParseDomain([]string{"127.0.0.1/32"})
	srv := httptest.NewServer(&xdms.Handler{Root: "/xcap-root", Store: st, Proxies: d})
	defer srv.Close()
	const alice, bob = "sip:alice@ims.example.org", "sip:bob@ims.example.org"
	if code := run([]string{"presence", "rules", "--impu", alice, "--to", bob, "--handling", "polite-block", "--xcap", srv.URL + "/xcap-root"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	doc, err := st.Document(context.Background(), "org.openmobilealliance.pres-rules", alice, "pres-rules")
	if err != nil {
		t.Fatal(err)
	}
	h, ok, err := presence.Decide(doc.Body, bob)
	if err != nil || !ok || h != presence.HandlingPoliteBlock {
		t.Errorf("Decide = %q %v %v\n%s", h, ok, err, doc.Body)
	}
	if code := run([]string{"presence", "rules", "--impu", alice, "--xcap", srv.URL + "/xcap-root"}); code == 0 {
		t.Error("no --to: exit 0")
	}
	if !strings.Contains(usage, "presence watch") {
		t.Error("usage lacks the presence commands")
	}
}
