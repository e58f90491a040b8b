package digest

import (
	"errors"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// CredentialsOf parses each line once per index, keeps the message order and the errors of each line.
func TestCredentialsOf(t *testing.T) {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "ims.mnc001.mcc001.3gppnetwork.org"})
	req.AppendHeader(sip.NewHeader("Authorization",
		`Digest username="001010000000001@ims.mnc001.mcc001.3gppnetwork.org",realm="ims.mnc001.mcc001.3gppnetwork.org",uri="sip:ims.mnc001.mcc001.3gppnetwork.org",nonce="",response=""`))
	req.AppendHeader(sip.NewHeader("authorization", `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`))
	ix := header.NewIndex(req)
	lines := CredentialsOf(ix, "Authorization")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2", len(lines))
	}
	if lines[0].Err != nil || lines[0].Credentials.Username != "001010000000001@ims.mnc001.mcc001.3gppnetwork.org" {
		t.Errorf("first line: %+v", lines[0])
	}
	if !errors.Is(lines[1].Err, ErrNotDigest) {
		t.Errorf("second line: err %v, want ErrNotDigest", lines[1].Err)
	}
	again := CredentialsOf(ix, "AUTHORIZATION")
	if &again[0] != &lines[0] {
		t.Error("parsed twice for one index")
	}
	if n := len(CredentialsOf(ix, "Proxy-Authorization")); n != 0 {
		t.Errorf("Proxy-Authorization: %d lines, want 0", n)
	}
	allocs := testing.AllocsPerRun(50, func() { _ = CredentialsOf(ix, "Authorization") })
	if allocs > 0 {
		t.Errorf("a cached lookup allocates %.0f times", allocs)
	}
}
