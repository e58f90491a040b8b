package icscf

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// TestTHIGChargingVector: icid-generated-at names a core node (the P-CSCF that made the ICID, RFC 7315 §4.6); a
// request leaving and a response going out carry the border's domain there instead (TS 24.229 §5.10.4.1), the
// icid-value and IOIs unchanged. Found by TestThreeNetworks (internal/e2e): a roaming partner, trusted, got the
// home P-CSCF's address.
func TestTHIGChargingVector(t *testing.T) {
	cfg := THIGConfig{Keys: map[int]string{1: strings.Repeat("ab", 32)}, CurrentKey: 1, Networks: []string{"127.0.0.2/32"}}
	h, err := newHider(cfg, testDomain, nil, func() (sip.Uri, bool) { return sip.Uri{}, false }, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	const pcv = "icid-value=1234bc9876e;icid-generated-at=172.16.1.2;orig-ioi=home.test;" +
		"related-icid=x;related-icid-generated-at=[fd00::7]"
	want := "icid-value=1234bc9876e;icid-generated-at=" + testDomain + ";orig-ioi=home.test;" +
		"related-icid=x;related-icid-generated-at=" + testDomain

	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "ue", Host: "127.0.0.2", Port: 5060})
	req.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 172.16.1.1:6060;branch=z9hG4bK-1"))
	req.AppendHeader(sip.NewHeader(header.PChargingVector, pcv))
	var d proxy.Decision
	if err := h.hideOutbound(&d, req, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range d.AddHeaders {
		if strings.EqualFold(a.Name(), header.PChargingVector) {
			got = append(got, a.Value())
		}
	}
	removed := false
	for _, n := range d.RemoveHeaders {
		removed = removed || strings.EqualFold(n, header.PChargingVector)
	}
	if !removed || len(got) != 1 || got[0] != want {
		t.Errorf("request leaving: removed %v, P-Charging-Vector %q, want %q", removed, got, want)
	}

	res := sip.NewResponse(200, "OK")
	res.AppendHeader(sip.NewHeader(header.PChargingVector, pcv))
	h.hideResponse(res, zap.NewNop())
	if got := header.Values(res, header.PChargingVector); len(got) != 1 || got[0] != want {
		t.Errorf("response going out: P-Charging-Vector %q, want %q", got, want)
	}

	// Nothing to hide, or nothing readable: left alone.
	for _, v := range []string{"icid-value=1;orig-ioi=home.test", "garbage;;="} {
		if out, changed := h.hideChargingVector([]string{v}); changed || out[0] != v {
			t.Errorf("%q: changed %v to %q", v, changed, out)
		}
	}
}
