package diameter_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/internal/tshark"
)

const (
	liveRealm = "ims.mnc001.mcc001.3gppnetwork.org"
	liveHSS   = "hss.ims.mnc001.mcc001.3gppnetwork.org"
	liveSCSCF = "scscf.ims.mnc001.mcc001.3gppnetwork.org"
	liveIMPI  = "001010000000101@ims.mnc001.mcc001.3gppnetwork.org"
	liveIMPU  = "sip:001010000000101@ims.mnc001.mcc001.3gppnetwork.org"
	liveSName = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
)

// TestCxLiveCapture runs two real peers over TCP on loopback — an HSS and an S-CSCF — through
// every Cx command in both directions (UAR, MAR, SAR, LIR from the S-CSCF; RTR and PPR from the
// HSS over the same connection), with the watchdog and the DPR on close, while tshark captures
// the loopback interface. tshark must then decode every message with no malformed packet, no
// error and every AVP named: the check a field engineer makes first with Wireshark.
func TestCxLiveCapture(t *testing.T) {
	bin := tshark.Find(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	capture := tshark.StartCapture(t, bin, "lo", fmt.Sprintf("tcp port %d", port))

	d, err := cx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	hss, scscf, ctx, stop := startPeers(t, ln, d, 300*time.Millisecond) // short watchdog: DWR/DWA in the capture

	uat := cx.UATRegistration
	requests := []struct {
		from *peer.Node
		msg  cx.Message
	}{
		{scscf, &cx.UAR{SessionID: "scscf;1;1", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
			UserName: liveIMPI, PublicIdentity: liveIMPU, VisitedNetworkIdentifier: []byte(liveRealm), UserAuthorizationType: &uat}},
		{scscf, &cx.MAR{SessionID: "scscf;1;2", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
			UserName: liveIMPI, PublicIdentity: liveIMPU, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5},
			SIPNumberAuthItems: 1, ServerName: liveSName}},
		{scscf, &cx.SAR{SessionID: "scscf;1;3", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
			UserName: liveIMPI, PublicIdentity: []string{liveIMPU}, ServerName: liveSName, ServerAssignmentType: cx.SATRegistration}},
		{scscf, &cx.LIR{SessionID: "scscf;1;4", OriginHost: liveSCSCF, OriginRealm: liveRealm, DestinationRealm: liveRealm,
			PublicIdentity: "tel:15550000101"}},
		{hss, &cx.RTR{SessionID: "hss;1;5", OriginHost: liveHSS, OriginRealm: liveRealm, DestinationHost: liveSCSCF,
			DestinationRealm: liveRealm, UserName: liveIMPI, PublicIdentity: []string{liveIMPU},
			DeregistrationReason: cx.DeregistrationReason{Code: cx.ReasonPermanentTermination, Info: "subscription ended"}}},
		{hss, &cx.PPR{SessionID: "hss;1;6", OriginHost: liveHSS, OriginRealm: liveRealm, DestinationHost: liveSCSCF,
			DestinationRealm: liveRealm, UserName: liveIMPI, UserData: liveUserData(t)}},
	}
	for _, r := range requests {
		msg, err := r.msg.Marshal(d)
		if err != nil {
			t.Fatalf("%T: %v", r.msg, err)
		}
		ans, err := r.from.Request(ctx, msg)
		if err != nil {
			t.Fatalf("%T: %v", r.msg, err)
		}
		a, err := cx.Parse(ans)
		if err != nil {
			t.Fatalf("answer to %T: %v", r.msg, err)
		}
		if code, _ := a.(cx.Answer).Result(); !code.IsSuccess() {
			t.Fatalf("answer to %T: result %d", r.msg, code)
		}
	}
	time.Sleep(700 * time.Millisecond) // at least two watchdog intervals: DWR/DWA on the wire
	stop()
	path := capture.Stop(t)

	// Decode-as: the capture is on an ephemeral port, not Diameter's registered 3868.
	dport := fmt.Sprintf("tcp.port==%d,diameter", port)
	summary := tshark.Run(t, bin, "-r", path, "-d", dport, "-Y", "diameter", "-T", "fields", "-e", "diameter.cmd.code", "-e", "diameter.flags.request")
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(summary), "\n") {
		f := strings.Split(line, "\t")
		if len(f) == 2 {
			for _, code := range strings.Split(f[0], ",") { // several messages may share a segment
				seen[code+"/"+f[1]] = true
			}
		}
	}
	for _, code := range []int{257, 280, 282, 300, 301, 302, 303, 304, 305} {
		for _, r := range []string{"1", "0"} {
			req := r
			if seen[fmt.Sprintf("%d/%s", code, req)] || seen[fmt.Sprintf("%d/%s", code, map[string]string{"1": "True", "0": "False"}[req])] {
				continue
			}
			t.Errorf("command %d (request flag %s) not in the capture; saw %v", code, req, seen)
		}
	}
	verbose := tshark.DecodeDiameter(t, bin, path, port)
	// At least CER/CEA, the six request/answer pairs, one DWR/DWA and DPR/DPA: 18. More watchdog
	// rounds depend on timing; every command's presence is checked above.
	if n := strings.Count(verbose, "Diameter Protocol"); n < 18 {
		t.Errorf("only %d Diameter messages decoded", n)
	}
}

// startPeers runs an HSS serving on ln and an S-CSCF connected to it, both answering with
// answerAsHSS and answerAsSCSCF; stop closes both (S-CSCF first: DPR on the wire) and ends Serve.
func startPeers(t *testing.T, ln net.Listener, d *dict.Parser, watchdog time.Duration) (hss, scscf *peer.Node, ctx context.Context, stop func()) {
	t.Helper()
	cfg := func(host string) peer.Config {
		return peer.Config{
			OriginHost: host, OriginRealm: liveRealm, VendorID: cx.Vendor3GPP, ProductName: "imscore-test",
			Applications:     []peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}},
			Dictionary:       d,
			WatchdogInterval: watchdog,
			RequestTimeout:   5 * time.Second,
			Peers:            []peer.AllowedPeer{{Host: liveSCSCF, Realm: liveRealm, Sources: []string{"127.0.0.1"}}},
			Log:              zaptest.NewLogger(t),
		}
	}
	userData := liveUserData(t)
	hss, err := peer.New(cfg(liveHSS), peer.HandlerFunc(func(ctx context.Context, req *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
		return answerAsHSS(d, req, userData)
	}))
	if err != nil {
		t.Fatal(err)
	}
	scscf, err = peer.New(cfg(liveSCSCF), peer.HandlerFunc(func(ctx context.Context, req *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
		return answerAsSCSCF(d, req)
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	served := make(chan error, 1)
	go func() { served <- hss.Serve(ctx, ln) }()
	stop = func() {
		if err := scscf.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := hss.Close(ctx); err != nil {
			t.Error(err)
		}
		cancel()
		<-served
	}
	if err := scscf.Connect(ctx, peer.PeerConfig{Address: ln.Addr().String(), Host: liveHSS, Realm: liveRealm}); err != nil {
		stop()
		t.Fatal(err)
	}
	if _, err := scscf.WaitPeer(ctx, liveHSS); err != nil {
		stop()
		t.Fatal(err)
	}
	if _, err := hss.WaitPeer(ctx, liveSCSCF); err != nil {
		stop()
		t.Fatal(err)
	}
	return hss, scscf, ctx, stop
}

// answerAsHSS answers each Cx request the way an HSS would on success.
func answerAsHSS(dict *dict.Parser, req *diam.Message, userData []byte) (*diam.Message, error) {
	m, err := cx.Parse(req)
	if err != nil {
		return nil, err
	}
	switch r := m.(type) {
	case *cx.UAR:
		ans := cx.NewUAA(r)
		ans.OriginHost, ans.OriginRealm = liveHSS, liveRealm
		ans.SetExperimentalResult(cx.Vendor3GPP, cx.FirstRegistration)
		ans.ServerName = liveSName
		return ans.Marshal(dict)
	case *cx.MAR:
		ans := cx.NewMAA(r)
		ans.OriginHost, ans.OriginRealm = liveHSS, liveRealm
		ans.SetResultCode(diameter.Success)
		n := uint32(1)
		ans.UserName, ans.PublicIdentity, ans.SIPNumberAuthItems = r.UserName, r.PublicIdentity, &n
		ans.SIPAuthDataItems = []cx.SIPAuthDataItem{{ItemNumber: &n, Scheme: cx.SchemeAKAv1MD5,
			Authenticate: make([]byte, 32), Authorization: make([]byte, 8), ConfidentialityKey: make([]byte, 16), IntegrityKey: make([]byte, 16)}}
		return ans.Marshal(dict)
	case *cx.SAR:
		ans := cx.NewSAA(r)
		ans.OriginHost, ans.OriginRealm = liveHSS, liveRealm
		ans.SetResultCode(diameter.Success)
		ans.UserName, ans.UserData = r.UserName, userData
		return ans.Marshal(dict)
	case *cx.LIR:
		ans := cx.NewLIA(r)
		ans.OriginHost, ans.OriginRealm = liveHSS, liveRealm
		ans.SetResultCode(diameter.Success)
		ans.ServerName = liveSName
		return ans.Marshal(dict)
	}
	return nil, diameter.Errorf(diameter.CommandUnsupported, "HSS does not serve %T", m)
}

// answerAsSCSCF answers the HSS-initiated requests (RTR, PPR).
func answerAsSCSCF(dict *dict.Parser, req *diam.Message) (*diam.Message, error) {
	m, err := cx.Parse(req)
	if err != nil {
		return nil, err
	}
	switch r := m.(type) {
	case *cx.RTR:
		ans := cx.NewRTA(r)
		ans.OriginHost, ans.OriginRealm = liveSCSCF, liveRealm
		ans.SetResultCode(diameter.Success)
		return ans.Marshal(dict)
	case *cx.PPR:
		ans := cx.NewPPA(r)
		ans.OriginHost, ans.OriginRealm = liveSCSCF, liveRealm
		ans.SetResultCode(diameter.Success)
		return ans.Marshal(dict)
	}
	return nil, diameter.Errorf(diameter.CommandUnsupported, "S-CSCF does not serve %T", m)
}

func liveUserData(t *testing.T) []byte {
	t.Helper()
	b, err := userdata.Marshal(&userdata.IMSSubscription{PrivateID: liveIMPI, ServiceProfiles: []userdata.ServiceProfile{{
		PublicIdentities: []userdata.PublicIdentity{{BarringIndication: userdata.NewBool(true), Identity: liveIMPU}, {Identity: "tel:15550000101"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
