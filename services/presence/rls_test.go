package presence_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/services/presence"
	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/rlmi"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/services/presence/xsdtest"
)

const (
	carol    = "sip:carol@ims.example.org"
	bobsList = "sip:rls-bob-friends@ims.example.org"
)

// putDoc writes a document straight into the store, as the XDMS would.
func putDoc(t *testing.T, st store.Store, auid, user, name, body string) {
	t.Helper()
	prev := ""
	if d, err := st.Document(context.Background(), auid, user, name); err == nil {
		prev = d.ETag
	}
	if err := st.PutDocument(context.Background(), &store.Document{AUID: auid, User: user, Name: name, ETag: fmt.Sprint(len(body), prev), Body: []byte(body)}, prev); err != nil {
		t.Fatal(err)
	}
}

// BuddyList writes bob's resource-lists (friends: alice, carol) and an rls-services document whose
// service bobsList points at that list with an XCAP URI (RFC 4826 §4.3's example).
func buddyList(t *testing.T, st store.Store) {
	putDoc(t, st, "resource-lists", bob, "index", `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists">
 <list name="friends"><entry uri="`+alice+`"/><list name="more"><entry uri="`+carol+`"/><entry uri="`+alice+`"/></list></list>
 <list name="work"><entry uri="sip:boss@ims.example.org"/></list>
</resource-lists>`)
	putDoc(t, st, "rls-services", bob, "index", `<?xml version="1.0" encoding="UTF-8"?>
<rls-services xmlns="urn:ietf:params:xml:ns:rls-services" xmlns:rl="urn:ietf:params:xml:ns:resource-lists">
 <service uri="`+bobsList+`">
  <resource-list>http://xcap.ims.example.org/xcap-root/resource-lists/users/`+bob+`/index/~~/resource-lists/list%5b@name=%22friends%22%5d</resource-list>
  <packages><package>presence</package></packages>
 </service>
 <service uri="sip:rls-bob-inline@ims.example.org"><list name="x"><rl:entry uri="`+carol+`"/></list></service>
</rls-services>`)
}

func listSubscribe(s *presence.Server, pe *peer, from, list string, hdrs ...string) *sip.Request {
	return request(s, sip.SUBSCRIBE, list, from, append([]string{"Event: presence", fmt.Sprintf("Contact: <sip:%s>", pe.addr),
		"Expires: 600"}, hdrs...)...)
}

// rlmiNotify reads the next NOTIFY as RLMI.
func rlmiNotify(t *testing.T, pe *peer) (*sip.Request, *rlmi.List, map[string]rlmi.Part) {
	t.Helper()
	n := pe.waitNotify(t)
	if r := n.GetHeader("Require"); r == nil || r.Value() != "eventlist" {
		t.Errorf("NOTIFY without Require: eventlist")
	}
	l, parts, err := rlmi.Parse(n.GetHeader("Content-Type").Value(), n.Body())
	if err != nil {
		t.Fatalf("RLMI: %v\n%s", err, n.Body())
	}
	// Every document of the body validates: the RLMI root (RFC 4662) and each PIDF part (RFC 3863).
	_, params, _ := mime.ParseMediaType(n.GetHeader("Content-Type").Value())
	r := multipart.NewReader(bytes.NewReader(n.Body()), params["boundary"])
	for i := 0; ; i++ {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		b, _ := io.ReadAll(p)
		schema := xsdtest.Presence
		if i == 0 {
			schema = xsdtest.RLMI
		}
		xsdtest.Valid(t, schema, b)
	}
	return n, l, parts
}

func instance(t *testing.T, l *rlmi.List, uri string) rlmi.Instance {
	t.Helper()
	for _, r := range l.Resources {
		if r.URI == uri && len(r.Instances) == 1 {
			return r.Instances[0]
		}
	}
	t.Fatalf("no instance of %s in %+v", uri, l)
	return rlmi.Instance{}
}

// TestResourceList: RFC 4662 through the RLS: one SUBSCRIBE to bob's buddy list gives the full state
// of every member in multipart/related RLMI (alice allowed: active with her PIDF; carol without a rule:
// pending), then partial state as alice publishes and carol allows bob; unsubscription ends it.
func TestResourceList(t *testing.T) {
	st := store.NewMemory()
	s := startServer(t, st)
	pe := newPeer(t, "127.0.0.1")
	buddyList(t, st)
	putDoc(t, st, "pres-rules", alice, "index", string(rules(bob, "allow")))
	publish(t, s, pe, alice, pidfDoc(alice, "open", "hi"))

	accept := "Accept: application/pidf+xml, application/rlmi+xml, multipart/related"
	if res := send(t, pe, listSubscribe(s, pe, bob, bobsList, accept)); res.StatusCode != 421 || res.GetHeader("Require") == nil {
		t.Errorf("without Supported: eventlist: %s, want 421 with Require", res.StartLine())
	}
	if res := send(t, pe, listSubscribe(s, pe, carol, bobsList, accept, "Supported: eventlist")); res.StatusCode != 403 {
		t.Errorf("another user's list: %s, want 403", res.StartLine())
	}
	if res := send(t, pe, listSubscribe(s, pe, bob, bobsList, "Accept: application/pidf+xml", "Supported: eventlist")); res.StatusCode != 406 {
		t.Errorf("Accept without RLMI: %s, want 406", res.StartLine())
	}
	sub := listSubscribe(s, pe, bob, bobsList, accept, "Supported: eventlist")
	res := send(t, pe, sub)
	if res.StatusCode != 200 || res.GetHeader("Require") == nil {
		t.Fatalf("list SUBSCRIBE: %s", res.StartLine())
	}
	n, l, parts := rlmiNotify(t, pe)
	if !strings.HasPrefix(n.GetHeader("Subscription-State").Value(), "active") || !l.FullState || l.Version != 0 ||
		l.URI != bobsList || len(l.Resources) != 2 {
		t.Fatalf("first RLMI: %s %+v", n.GetHeader("Subscription-State").Value(), l)
	}
	in := instance(t, l, alice)
	if in.State != "active" || in.CID == "" {
		t.Fatalf("alice's instance %+v", in)
	}
	if d, err := pidf.Parse(parts[in.CID].Body); err != nil || d.Entity != alice || d.Elements[0].Note != "hi" {
		t.Fatalf("alice's part: %v\n%s", err, parts[in.CID].Body)
	}
	if in := instance(t, l, carol); in.State != "pending" || in.CID != "" {
		t.Errorf("carol's instance %+v", in)
	}

	// Alice publishes: a partial NOTIFY with her resource only.
	publish(t, s, pe, alice, pidfDoc(alice, "closed", "away"))
	_, l, parts = rlmiNotify(t, pe)
	if l.FullState || l.Version != 1 || len(l.Resources) != 1 {
		t.Fatalf("partial RLMI: %+v", l)
	}
	if d, err := pidf.Parse(parts[instance(t, l, alice).CID].Body); err != nil || d.Elements[0].Note != "away" {
		t.Fatalf("alice's new part: %v", err)
	}
	// Carol allows bob over XCAP: carol's instance becomes active (her pres-rules apply to the RLS's
	// subscription on bob's behalf).
	putDoc(t, st, "pres-rules", carol, "index", string(rules(bob, "allow")))
	s.RulesChanged(context.Background(), carol)
	_, l, parts = rlmiNotify(t, pe)
	if in := instance(t, l, carol); l.FullState || l.Version != 2 || in.State != "active" || len(parts[in.CID].Body) == 0 {
		t.Fatalf("carol allowed: %+v %+v", l, parts)
	}
	// Alice blocks bob: her instance is terminated, rejected.
	putDoc(t, st, "pres-rules", alice, "index", string(rules(bob, "block")))
	s.RulesChanged(context.Background(), alice)
	_, l, _ = rlmiNotify(t, pe)
	if in := instance(t, l, alice); in.State != "terminated" || in.Reason != "rejected" {
		t.Fatalf("alice blocked: %+v", in)
	}

	// Refresh within the dialog: the full state again; then unsubscribe.
	refresh := request(s, sip.SUBSCRIBE, bobsList, bob, "Event: presence", accept, "Supported: eventlist", "Expires: 600",
		fmt.Sprintf("Contact: <sip:%s>", pe.addr))
	refresh.ReplaceHeader(sip.NewHeader("To", res.To().Value()))
	refresh.ReplaceHeader(sip.NewHeader("From", sub.From().Value()))
	refresh.ReplaceHeader(sub.CallID())
	refresh.CSeq().SeqNo = 2
	if res := send(t, pe, refresh); res.StatusCode != 200 {
		t.Fatalf("refresh: %s", res.StartLine())
	}
	_, l, _ = rlmiNotify(t, pe)
	if !l.FullState || l.Version != 4 || instance(t, l, carol).State != "active" || instance(t, l, alice).State != "terminated" {
		t.Fatalf("refresh RLMI: %+v", l)
	}
	refresh.ReplaceHeader(sip.NewHeader("Expires", "0"))
	refresh.CSeq().SeqNo = 3
	if res := send(t, pe, refresh); res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %s", res.StartLine())
	}
	if n := pe.waitNotify(t); !strings.HasPrefix(n.GetHeader("Subscription-State").Value(), "terminated") {
		t.Errorf("final NOTIFY %s", n.GetHeader("Subscription-State").Value())
	}
	if subs, _ := st.Subscriptions(context.Background(), carol); len(subs) != 0 {
		t.Errorf("back-end subscriptions left: %+v", subs)
	}
	// The inline list of the second service works too; an unknown list URI is an ordinary presentity.
	if res := send(t, pe, listSubscribe(s, pe, bob, "sip:rls-bob-inline@ims.example.org", accept, "Supported: eventlist")); res.StatusCode != 200 {
		t.Fatalf("inline list: %s", res.StartLine())
	}
	if _, l, _ := rlmiNotify(t, pe); len(l.Resources) != 1 || l.Resources[0].URI != carol {
		t.Errorf("inline list RLMI: %+v", l)
	}
}

// TestResourceListRestart: a list subscription and its back-end subscriptions are state like any other:
// another server on the same store (a restart, or a second instance on PostgreSQL) carries on with the
// next RLMI version when a member publishes.
func TestResourceListRestart(t *testing.T) {
	st := store.NewMemory()
	pe := newPeer(t, "127.0.0.1")
	allow := func(c *presence.Config) { c.DefaultSubHandling = presence.HandlingAllow }
	s1 := startServer(t, st, allow)
	buddyList(t, st)
	if res := send(t, pe, listSubscribe(s1, pe, bob, bobsList, "Supported: eventlist")); res.StatusCode != 200 {
		t.Fatalf("list SUBSCRIBE: %s", res.StartLine())
	}
	if _, l, _ := rlmiNotify(t, pe); !l.FullState || l.Version != 0 {
		t.Fatalf("first RLMI %+v", l)
	}
	s2 := startServer(t, st, allow)
	publish(t, s2, pe, carol, pidfDoc(carol, "open", "after the restart"))
	_, l, parts := rlmiNotify(t, pe)
	in := instance(t, l, carol)
	if d, err := pidf.Parse(parts[in.CID].Body); l.FullState || l.Version != 1 || err != nil || d.Elements[0].Note != "after the restart" {
		t.Fatalf("RLMI after the restart: %+v %v", l, err)
	}
}
