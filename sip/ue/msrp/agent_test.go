package msrp

import (
	"net/netip"
	"strings"
	"testing"
)

// The offer of an e2ae UE (TS 24.229: TCP/TLS/MSRP, a=3ge2ae:requested, its fingerprint) and the answer it
// makes to the P-CSCF's rewritten offer read back as what the peer will dial.
func TestSDP(t *testing.T) {
	a, err := New(true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	offer := string(a.Offer("c1", netip.MustParseAddr("127.0.0.1")))
	for _, w := range []string{"m=message 9 TCP/TLS/MSRP *", "a=setup:actpass", "a=3ge2ae:requested", "a=fingerprint:" + a.Fingerprint(), "a=path:msrps://127.0.0.1:9/"} {
		if !strings.Contains(offer, w) {
			t.Errorf("offer lacks %q:\n%s", w, offer)
		}
	}
	r, err := parse([]byte(offer))
	if err != nil || !r.tls || r.fingerprint != a.Fingerprint() || r.addr.Port() != 9 {
		t.Fatalf("parse: %+v, %v", r, err)
	}
	plain, err := New(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if o := string(plain.Offer("c2", netip.MustParseAddr("::1"))); !strings.Contains(o, "TCP/MSRP") || strings.Contains(o, "fingerprint") ||
		!strings.Contains(o, "msrp://[::1]:9/") {
		t.Errorf("plain offer:\n%s", o)
	}
	if _, err := parse([]byte("v=0\r\nc=IN IP4 127.0.0.1\r\nm=message 5 TCP/TLS/MSRP *\r\n")); err == nil {
		t.Error("TLS without fingerprint accepted")
	}
}

// FuzzParse: the peer's SDP (from the network, through the P-CSCF) never panics the UE's reader.
func FuzzParse(f *testing.F) {
	f.Add([]byte("v=0\r\nc=IN IP4 127.0.0.1\r\nm=message 7 TCP/TLS/MSRP *\r\na=path:msrps://h:7/x;tcp\r\na=fingerprint:sha-256 AA\r\n"))
	f.Add([]byte("v=0\r\nc=IN IP6 ::1\r\nm=message 7 TCP/MSRP *\r\na=path:\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parse(b)
		if err == nil && (!r.addr.IsValid() || (r.tls && r.fingerprint == "")) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
