package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/services/bsf/bsftest"
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

// TestPresenceRulesGBA: with --bsf, imsue bootstraps GBA with the USIM keys and writes its pres-rules to an
// XDMS that authenticates with GBA (no asserted identity sent); another user's XUI is refused.
func TestPresenceRulesGBA(t *testing.T) {
	core := bsftest.Start(t, []string{"xdms." + bsftest.Realm}, nil)
	naf := core.StartNAF(t, "xdms."+bsftest.Realm, "")
	st := store.NewMemory()
	srv := httptest.NewServer(&xdms.Handler{Root: "/xcap-root", Store: st, GBA: naf})
	defer srv.Close()
	sub, other := core.Subscriber(t), core.Subscriber(t)
	impu := sub.Public[1].IMPU
	args := func(owner string) []string {
		return []string{"presence", "rules", "--impi", sub.Private.IMPI, "--impu", owner, "--to", "sip:bob@ims.example.org",
			"--k", hsstest.TestK, "--op", hsstest.TestOP, "--bsf", core.UbURL, "--xcap", srv.URL + "/xcap-root"}
	}
	if code := run(args(impu)); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := st.Document(context.Background(), "org.openmobilealliance.pres-rules", impu, "pres-rules"); err != nil {
		t.Fatalf("no document written: %v", err)
	}
	if code := run(args(other.Public[1].IMPU)); code == 0 {
		t.Error("wrote another user's pres-rules")
	}
}
