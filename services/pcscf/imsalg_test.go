package pcscf

import (
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestALGConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg  ALGConfig
		want string // "" valid, else a part of the error
	}{
		{ALGConfig{}, ""}, // off
		{ALGConfig{AGW: "127.0.0.1:2944"}, ""},
		{ALGConfig{AGW: "127.0.0.1:2944", Establish: "on_answer", MediaAnchoring: AnchorNAT}, ""},
		{ALGConfig{AGW: "agw:2944"}, "alg.agw"},
		{ALGConfig{AGW: "127.0.0.1:2944", IqListen: "x"}, "alg.iq_listen"},
		{ALGConfig{AGW: "127.0.0.1:2944", Establish: "later"}, "alg.establish"},
		{ALGConfig{AGW: "127.0.0.1:2944", MediaAnchoring: "sometimes"}, "alg.media_anchoring"},
	} {
		err := tt.cfg.validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	d := ALGConfig{}.withDefaults()
	if d.IqListen != DefaultALGIqListen || d.Establish != "interlinked" || d.MediaAnchoring != AnchorNever || d.Timeout != DefaultALGTimeout {
		t.Errorf("defaults %+v", d)
	}
}

// TS 24.229 §5.1.1.2.1, §7.2A.7: the mediasec parameter on an msrp-tls mechanism of Security-Client.
func TestALGMediasec(t *testing.T) {
	for value, want := range map[string]bool{
		"":                   false,
		"msrp-tls;mediasec":  true,
		"MSRP-TLS;MediaSec":  true,
		"msrp-tls":           false,
		"sdes-srtp;mediasec": false,
		"ipsec-3gpp;alg=hmac-sha-1-96;spi-c=1111;spi-s=2222;port-c=5062;port-s=5064, msrp-tls;mediasec": true,
		"msrp-tls;mediasec;;": false, // malformed: no e2ae
	} {
		req := sip.NewRequest(sip.REGISTER, sip.Uri{Host: "ims.example"})
		if value != "" {
			req.AppendHeader(sip.NewHeader("Security-Client", value))
		}
		if got := algMediasec(req); got != want {
			t.Errorf("Security-Client %q: mediasec %v, want %v", value, got, want)
		}
	}
}
