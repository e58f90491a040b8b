package diameter_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
)

// TestCxBinaryPath runs an S-CSCF and an HSS peer over TCP on loopback and sends MAR, SAR, UAR
// and LIR the byte way: AppendBinary into one reused buffer, RequestBinary, UnmarshalBinary of
// the answer frame. The HSS side decodes with go-diameter (cx.Parse) and answers with Marshal,
// so the two codecs meet on a real connection in both directions.
func TestCxBinaryPath(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	userData := liveUserData(t)
	_, scscf, ctx, stop := startPeers(t, ln, d, 0)
	defer stop()

	var buf []byte
	send := func(req cx.Message, ans cx.Answer) {
		t.Helper()
		if buf, err = req.AppendBinary(buf[:0]); err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		frame, err := scscf.RequestBinary(ctx, buf)
		if err != nil {
			t.Fatalf("%T: %v", req, err)
		}
		if err := ans.UnmarshalBinary(frame); err != nil {
			t.Fatalf("answer to %T: %v", req, err)
		}
		if code, _ := ans.Result(); !code.IsSuccess() {
			t.Fatalf("answer to %T: result %d", req, code)
		}
	}
	uat := cx.UATRegistration
	var uaa cx.UAA
	send(&cx.UAR{SessionID: "scscf;2;1", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
		UserName: liveIMPI, PublicIdentity: liveIMPU, VisitedNetworkIdentifier: []byte(liveRealm), UserAuthorizationType: &uat}, &uaa)
	if uaa.ServerName != liveSName || uaa.SessionID != "scscf;2;1" {
		t.Errorf("UAA %+v", uaa)
	}
	var maa cx.MAA
	send(&cx.MAR{SessionID: "scscf;2;2", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
		UserName: liveIMPI, PublicIdentity: liveIMPU, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5},
		SIPNumberAuthItems: 1, ServerName: liveSName}, &maa)
	if len(maa.SIPAuthDataItems) != 1 || len(maa.SIPAuthDataItems[0].Authenticate) != 32 || maa.UserName != liveIMPI {
		t.Errorf("MAA vectors %+v", maa.SIPAuthDataItems)
	}
	var saa cx.SAA
	send(&cx.SAR{SessionID: "scscf;2;3", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
		UserName: liveIMPI, PublicIdentity: []string{liveIMPU}, ServerName: liveSName, ServerAssignmentType: cx.SATRegistration}, &saa)
	if !bytes.Equal(saa.UserData, userData) {
		t.Errorf("SAA User-Data %q", saa.UserData)
	}
	var lia cx.LIA
	send(&cx.LIR{SessionID: "scscf;2;4", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
		PublicIdentity: "tel:15550000101"}, &lia)
	if lia.ServerName != liveSName {
		t.Errorf("LIA %+v", lia)
	}

}
