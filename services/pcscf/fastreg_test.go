package pcscf

import (
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
)

// TestFastRegTokenAndSecAgree: a REGISTER presenting a fast registration token reaches the core with its
// token when it sets up no SA, and without it when it offers sec-agree, so that the S-CSCF challenges and the
// IMS-AKA SAs are set up (docs/fastreg.md "P-CSCF and sec-agree": no silent downgrade).
func TestFastRegTokenAndSecAgree(t *testing.T) {
	sub := newSubscriber(t, 1)
	const offer = "Security-Client: ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=1111;spi-s=2222;port-c=40001;port-s=40002\n" +
		"Require: sec-agree\nProxy-Require: sec-agree\n"
	const body = "--b\r\nContent-Type: message/sipfrag\r\n\r\nFrom: x\r\n--b--\r\n"
	withToken := func(extra string) string {
		r := register(sub, extra+"Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\n")
		r = strings.Replace(r, `nonce=""`, `nonce="ESIzRFVmd4iZqrvM3e7/ABEiM0RVZneImaq7zN3u/wA="`, 1)
		return strings.Replace(r, "Content-Length: 0\n\n", "Content-Length: "+strconv.Itoa(len(body))+"\n\n"+body, 1)
	}
	for _, tc := range []struct {
		name      string
		extra     string
		wantToken bool
	}{
		{"no sec-agree: token passed on", "", true},
		{"sec-agree offered: token removed, challenged", offer, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core := startFakeCore(t, "127.0.0.1:0", sub)
			n := startPCSCF(t, "127.0.0.1", core.addr, newFakeSAs())
			res := newRawUA(t, n.CoreAddr(), "127.0.0.1:0").do(withToken(tc.extra))
			regs := core.requests(sip.REGISTER)
			if len(regs) != 1 {
				t.Fatalf("core got %d REGISTERs; response:\n%s", len(regs), res)
			}
			cred, err := digest.ParseCredentials(header.Values(regs[0], header.Authorization)[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := cred.Nonce != ""; got != tc.wantToken {
				t.Fatalf("token forwarded = %v, want %v (nonce %q)", got, tc.wantToken, cred.Nonce)
			}
			if !tc.wantToken && !strings.HasPrefix(res, "SIP/2.0 401 ") {
				t.Fatalf("sec-agree REGISTER with a token not challenged:\n%s", res)
			}
		})
	}
}
