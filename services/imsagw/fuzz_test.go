package imsagw

import (
	"context"
	"net/netip"
	"reflect"
	"testing"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/imsagw/h248"
)

func FuzzParseSDP(f *testing.F) {
	f.Add(localT1(h248.Choose))
	f.Add(localT2(SetupActPass))
	f.Add(remoteSDP(ProtoTCPTLSMSRP, "127.0.0.1", 7394, SetupActive, "sha-256 00:11"))
	f.Add("v=0\r\no=- 0 0 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=message 9 TCP/MSRP *\r\nm=audio 4 RTP/AVP 0\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseSDP(s)
		if err != nil {
			return
		}
		// What parses renders to SDP that parses to the same stream (attributes asking for "$" are dropped).
		again, err := parseSDP(m.render())
		if err != nil {
			t.Fatalf("rendered SDP does not parse: %v\n%q\n%q", err, s, m.render())
		}
		var kept []string
		for _, a := range m.Attrs {
			if !containsChoose(a) {
				kept = append(kept, a)
			}
		}
		m.Attrs = kept
		if len(again.Attrs) == 0 {
			again.Attrs = nil
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("render changed the stream\n%+v\n%+v", m, again)
		}
	})
}

func containsChoose(s string) bool {
	for i := range len(s) {
		if s[i] == '$' {
			return true
		}
	}
	return false
}

// FuzzServeIq feeds whatever parses as H.248 to the AGW's Iq handler: an answer or an error, never a panic;
// what it set up is released again.
func FuzzServeIq(f *testing.F) {
	seed := func(ctx string, cmds ...*h248.Node) {
		f.Add(h248.Encode(&h248.Message{Version: h248.Version, MID: "[127.0.0.1]:2944", Body: []*h248.Node{h248.Request(1, ctx, cmds...)}}))
	}
	seed(h248.Choose, h248.Command("Add", h248.Choose, stream(localT1(SetupPassive),
		remoteSDP(ProtoTCPTLSMSRP, "127.0.0.1", 9, SetupActive, newUEFingerprint), h248.Prop(PropRealm, `"access"`), h248.Prop(PropSAF, "on")), events("1")),
		h248.Command("Add", h248.Choose, stream(localT2(SetupActPass), "", h248.Prop(PropEstab, estabInterlinked))))
	seed("1", h248.Command("Modify", "ip/1/core/2", stream("", remoteSDP(ProtoTCPMSRP, "127.0.0.1", 9, SetupActive, ""))))
	seed(h248.All, h248.Assign("AuditValue", h248.All))
	seed("1", h248.Subtract(h248.All))
	cfg := DefaultConfig()
	cfg.Iq.Listen, cfg.HTTPListen = "127.0.0.1:0", ""
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Start(ctx, cfg, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		cancel()
		_ = n.Wait()
	})
	n.dialAllowed = func(a netip.Addr) bool { return a.IsLoopback() } // the fuzzer writes any address
	from := netip.MustParseAddrPort("127.0.0.1:2944")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := h248.Parse(b)
		if err != nil {
			return
		}
		ts, err := h248.Transactions(m)
		if err != nil {
			return
		}
		for _, tr := range ts {
			if tr.Kind == h248.KindRequest {
				_, _ = n.serveIq(ctx, from, tr)
			}
		}
		for _, cx := range n.contextList() {
			n.removeContext(cx)
		}
	})
}

// newUEFingerprint is a well-formed SHA-256 fingerprint for seeds.
const newUEFingerprint = "sha-256 00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F"
