package icscf

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
)

func TestHTTPEndpoints(t *testing.T) {
	hss := startFakeHSS(t)
	hss.onUAR(func(*cx.UAR) *cx.UAA { return uaa(cx.Vendor3GPP, 5001, "", nil) })
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	u := newUE(t)
	if res := u.send(sipAddr(n, "UDP"), u.request("REGISTER", "sip:"+testDomain, testIMPU)); res.StatusCode != 403 {
		t.Fatalf("status %d", res.StatusCode)
	}
	tests := []struct {
		path     string
		wantCode int
		contains string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 200, "ready"},
		{"/metrics", 200, `icscf_register_total{outcome="forbidden"} 1`},
		{"/metrics", 200, `icscf_cx_answers_total{command="UAR",result="DIAMETER_ERROR_USER_UNKNOWN"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get("http://" + n.HTTPAddr() + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantCode || !strings.Contains(string(body), tt.contains) {
				t.Fatalf("%s: %d\n%s\nwant %d containing %q", tt.path, res.StatusCode, body, tt.wantCode, tt.contains)
			}
		})
	}
}

// The Diameter listener (DESIGN.md §2) accepts a Cx peer; a request sent to the I-CSCF is refused with
// DIAMETER_COMMAND_UNSUPPORTED (3001): Cx defines no request towards it.
func TestDiameterListenerRefusesRequests(t *testing.T) {
	hss := startFakeHSS(t)
	s := startFakeSCSCF(t, "scscf", false)
	n := startICSCF(t, hss, []SCSCF{s.config()})
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	node, err := peer.New(peer.Config{OriginHost: "dra." + testDomain, OriginRealm: testDomain, VendorID: cx.Vendor3GPP,
		ProductName: "test", Applications: []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}}, Dictionary: d,
		RequestTimeout: 2 * time.Second, Log: testLogger(t).Named("dra")}, peer.HandlerFunc(refuseCxRequests))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t.Cleanup(func() { _ = node.Close(context.Background()) })
	if err := node.Connect(ctx, peer.PeerConfig{Address: n.DiameterAddr()}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.WaitPeer(ctx, DefaultOriginHost); err != nil {
		t.Fatal(err)
	}
	uar := &cx.UAR{SessionID: "dra;1;1", OriginHost: "dra." + testDomain, OriginRealm: testDomain,
		DestinationRealm: testDomain, DestinationHost: DefaultOriginHost, UserName: testIMPI, PublicIdentity: testIMPU,
		VisitedNetworkIdentifier: []byte(testDomain)}
	msg, err := uar.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	ans, err := node.Request(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	uaa, _ := cx.ParseUAA(ans)
	if code, _ := uaa.Result(); code != 3001 {
		t.Fatalf("Result-Code %d, want 3001", code)
	}
}
