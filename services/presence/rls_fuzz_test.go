package presence

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/presence/store"
)

// FuzzListResolution: whatever rls-services and resource-lists documents a user wrote over XCAP (the
// XDMS checks their structure, not their references), resolving a service URI returns members or an
// error: never a panic, never more than MaxListResources members.
func FuzzListResolution(f *testing.F) {
	f.Add(`<rls-services xmlns="urn:ietf:params:xml:ns:rls-services"><service uri="sip:l@x"><resource-list>http://h/xcap-root/resource-lists/users/sip:o@x/index/~~/resource-lists/list%5b@name=%22f%22%5d</resource-list></service></rls-services>`,
		`<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list name="f"><entry uri="sip:a@x"/><list name="g"><entry uri="sip:b@x"/></list></list></resource-lists>`)
	f.Add(`<rls-services xmlns="urn:ietf:params:xml:ns:rls-services" xmlns:rl="urn:ietf:params:xml:ns:resource-lists"><service uri="sip:l@x"><list><rl:entry uri="sip:a@x"/></list><packages><package>presence</package></packages></service></rls-services>`, ``)
	f.Add(`<rls-services xmlns="urn:ietf:params:xml:ns:rls-services"><service uri="sip:l@x"><resource-list>/xcap-root/resource-lists/users/sip:o@x/index/~~/x:resource-lists/x:list%5b@name='f'%5d/list%5b@name=%22g%22%5d</resource-list></service></rls-services>`,
		`<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list name="f"><list name="g"><entry uri="sip:c@x"/></list></list></resource-lists>`)
	f.Fuzz(func(t *testing.T, services, lists string) {
		st := store.NewMemory()
		ctx := context.Background()
		_ = st.PutDocument(ctx, &store.Document{AUID: auidRLSServices, User: "sip:o@x", Name: "index", ETag: "1", Body: []byte(services)}, "")
		_ = st.PutDocument(ctx, &store.Document{AUID: auidResourceLists, User: "sip:o@x", Name: "index", ETag: "1", Body: []byte(lists)}, "")
		s := &Server{cfg: DefaultConfig(), store: st, log: zap.NewNop()}
		svc, err := s.lookupService(ctx, "sip:l@x")
		if err == nil && (svc == nil || len(svc.Resources) > MaxListResources || svc.Owner != "sip:o@x") {
			t.Fatalf("service %+v", svc)
		}
	})
}
