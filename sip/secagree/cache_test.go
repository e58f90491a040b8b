package secagree

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// Of agrees with FromMessage and parses once per index.
func TestOfParsesOnce(t *testing.T) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "ims"})
	req.AppendHeader(sip.NewHeader("Security-Client",
		"ipsec-3gpp;alg=hmac-sha-1-96;ealg=null;spi-c=1111;spi-s=2222;port-c=5100;port-s=6100"))
	req.AppendHeader(sip.NewHeader("security-client", "ipsec-3gpp;alg=hmac-md5-96;spi-c=3333;spi-s=4444;port-c=5101;port-s=6101"))
	ix := header.NewIndex(req)
	want, err := FromMessage(req, header.SecurityClient)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Of(ix, "security-client")
	if err != nil || !Equal(got, want) {
		t.Fatalf("Of = %v, %v; FromMessage = %v", got, err, want)
	}
	again, _ := Of(ix, header.SecurityClient)
	if &again[0] != &got[0] {
		t.Error("parsed twice for one index")
	}
	if v, err := Of(ix, header.SecurityVerify); err != nil || len(v) != 0 {
		t.Errorf("absent Security-Verify: %v, %v", v, err)
	}
}
