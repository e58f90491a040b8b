package qos

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/internal/pcrftest"
)

const (
	afHost  = "pcscf.ims.mnc001.mcc001.3gppnetwork.org"
	afRealm = "ims.mnc001.mcc001.3gppnetwork.org"
	impu    = "sip:001010000000101@ims.mnc001.mcc001.3gppnetwork.org"
)

var ueAddr = netip.MustParseAddr("10.45.0.2")

// events records what the AF asks the P-CSCF to do.
type events struct {
	mu       sync.Mutex
	released []string
	lost     []string
	changed  chan struct{}
}

func newEvents() *events { return &events{changed: make(chan struct{}, 16)} }

func (e *events) ReleaseCall(callID, reason string) {
	e.mu.Lock()
	e.released = append(e.released, callID+": "+reason)
	e.mu.Unlock()
	e.changed <- struct{}{}
}

func (e *events) SignallingLost(key string) {
	e.mu.Lock()
	e.lost = append(e.lost, key)
	e.mu.Unlock()
	e.changed <- struct{}{}
}

func (e *events) wait(t *testing.T) {
	t.Helper()
	select {
	case <-e.changed:
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
}

// rig is an AF on a real Diameter node connected to the test PCRF over loopback.
type rig struct {
	af   *AF
	pcrf *pcrftest.PCRF
	ev   *events
}

func newRig(t testing.TB, cfg Config) *rig {
	t.Helper()
	log := zaptest.NewLogger(t)
	pcrf := pcrftest.Start(t, pcrftest.Options{AFHost: afHost, AFRealm: afRealm, UEs: []netip.Addr{ueAddr}, Log: log.Named("pcrf")})
	d, err := rx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	var af *AF
	node, err := peer.New(peer.Config{OriginHost: afHost, OriginRealm: afRealm, ProductName: "imscore-pcscf",
		VendorID: rx.Vendor3GPP, Applications: []peer.Application{{ID: rx.AppID, VendorID: rx.Vendor3GPP}},
		Dictionary: d, Log: log.Named("af")}, peer.HandlerFunc(func(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
		return af.ServeDiameter(ctx, req, from)
	}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mode, cfg.PCRFRealm = ModeRx, pcrftest.Realm
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	af, err = New(cfg, Deps{Requester: node, Dictionary: d, Events: ev, OriginHost: afHost, OriginRealm: afRealm, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Connect(context.Background(), peer.PeerConfig{Address: pcrf.Addr, Host: pcrftest.Host}); err != nil {
		t.Fatal(err)
	}
	if _, err := node.WaitPeer(ctx, pcrftest.Host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		af.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = node.Close(cctx)
	})
	return &rig{af: af, pcrf: pcrf, ev: ev}
}

func aarsOf(p *pcrftest.PCRF, session string) []*rx.AAR {
	var out []*rx.AAR
	for _, m := range p.Requests() {
		if a, ok := m.(*rx.AAR); ok && a.SessionID == session {
			out = append(out, a)
		}
	}
	return out
}

func lastAAR(p *pcrftest.PCRF) *rx.AAR {
	var last *rx.AAR
	for _, m := range p.Requests() {
		if a, ok := m.(*rx.AAR); ok {
			last = a
		}
	}
	return last
}

// TestSignallingSession: a registration opens the signalling AF session (TS 29.214 §4.4.5a) and
// de-registration ends it; an ASR on it makes the P-CSCF drop the registration.
func TestSignallingSession(t *testing.T) {
	r := newRig(t, Config{})
	ctx := context.Background()
	b := Binding{Key: "binding-1", IMPU: impu, UE: ueAddr, Flows: []Flow{
		{UE: netip.MustParseAddrPort("10.45.0.2:5100"), PCSCF: netip.MustParseAddrPort("10.45.0.1:6100")},
		{UE: netip.MustParseAddrPort("10.45.0.2:5101"), PCSCF: netip.MustParseAddrPort("10.45.0.1:6101")}}}
	if err := r.af.RegisterSignalling(ctx, b); err != nil {
		t.Fatal(err)
	}
	aar := lastAAR(r.pcrf)
	if aar == nil || len(aar.MediaComponents) != 1 || aar.MediaComponents[0].Number != 0 ||
		len(aar.MediaComponents[0].SubComponents) != 2 || aar.FramedIPAddress != ueAddr {
		t.Fatalf("signalling AAR %+v", aar)
	}
	sub := aar.MediaComponents[0].SubComponents[0]
	if *sub.FlowUsage != rx.FlowUsageAFSignalling || *sub.AFSignallingProtocol != rx.SignallingSIP ||
		sub.FlowDescriptions[0] != "permit out 17 from 10.45.0.1 6100 to 10.45.0.2 5100" ||
		sub.FlowDescriptions[1] != "permit out 17 from 10.45.0.2 5100 to 10.45.0.1 6100" {
		t.Fatalf("signalling flow %+v", sub)
	}
	if len(aar.SpecificActions) != 2 || aar.SpecificActions[0] != rx.IndicationOfLossOfBearer ||
		aar.SpecificActions[1] != rx.IndicationOfReleaseOfBearer || aar.SubscriptionIDs[0].Data != impu {
		t.Fatalf("subscriptions %v %v", aar.SpecificActions, aar.SubscriptionIDs)
	}
	// Re-registration: UPDATE_REQUEST on the same session.
	if err := r.af.RegisterSignalling(ctx, b); err != nil {
		t.Fatal(err)
	}
	if again := lastAAR(r.pcrf); again.SessionID != aar.SessionID || *again.RxRequestType != rx.UpdateRequest {
		t.Fatalf("re-registration AAR %s %v", again.SessionID, again.RxRequestType)
	}
	asa, err := r.pcrf.SendASR(ctx, aar.SessionID, rx.InsufficientBearerResources)
	if err != nil || asa.ResultCode != diameter.Success {
		t.Fatalf("ASA %v %+v", err, asa)
	}
	r.ev.wait(t)
	r.pcrf.Wait(t, "STR after ASA", func(m rx.Message) bool { s, ok := m.(*rx.STR); return ok && s.SessionID == aar.SessionID })
	if r.ev.lost[0] != "binding-1" {
		t.Fatalf("lost %v", r.ev.lost)
	}
	// A second ASR: the session is gone (5002).
	if asa, err := r.pcrf.SendASR(ctx, aar.SessionID, rx.BearerReleased); err != nil || asa.ResultCode != diameter.UnknownSessionID {
		t.Fatalf("ASR on an ended session: %v %+v", err, asa)
	}
	r.pcrf.CheckTshark(t)
}

const (
	ueAudioOffer = "v=0\r\no=- 1 1 IN IP4 10.45.0.2\r\ns=-\r\nc=IN IP4 10.45.0.2\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 116\r\nb=AS:41\r\nb=RS:600\r\nb=RR:2000\r\na=rtpmap:116 AMR-WB/16000\r\na=ptime:20\r\na=sendrecv\r\n"
	remoteAudioAnswer = "v=0\r\no=- 2 1 IN IP4 10.45.0.3\r\ns=-\r\nc=IN IP4 10.45.0.3\r\nt=0 0\r\n" +
		"m=audio 49170 RTP/AVP 116\r\nb=AS:38\r\na=rtpmap:116 AMR-WB/16000\r\na=sendrecv\r\n"
	ueVideoOffer      = ueAudioOffer + "m=video 4010 RTP/AVP 100\r\nb=AS:512\r\na=rtpmap:100 H264/90000\r\na=sendonly\r\n"
	remoteVideoAnswer = remoteAudioAnswer + "m=video 49180 RTP/AVP 100\r\nb=AS:400\r\na=rtpmap:100 H264/90000\r\na=recvonly\r\n"
)

// TestCallLifecycle: an originating call gets a preliminary AAR on the offer and a final one on the
// answer, a re-INVITE adding video updates the same Rx session with two components, BYE ends it.
func TestCallLifecycle(t *testing.T) {
	r := newRig(t, Config{})
	ctx := context.Background()
	call := Call{CallID: "call-1@ue", IMPU: impu, UE: ueAddr, ICID: "icid-1"}
	if err := r.af.Offer(ctx, call, []byte(ueAudioOffer), true); err != nil {
		t.Fatal(err)
	}
	first := lastAAR(r.pcrf)
	if *first.RxRequestType != rx.InitialRequest || *first.ServiceInfoStatus != rx.PreliminaryServiceInformation ||
		len(first.MediaComponents) != 1 || string(first.AFChargingIdentifier) != "icid-1" {
		t.Fatalf("offer AAR %+v", first)
	}
	if got := first.MediaComponents[0].SubComponents[0].FlowDescriptions; got[0] != "permit out 17 from any to 10.45.0.2 4000" {
		t.Fatalf("preliminary flows %q", got)
	}
	if err := r.af.Answer(ctx, call, []byte(remoteAudioAnswer), false); err != nil {
		t.Fatal(err)
	}
	final := lastAAR(r.pcrf)
	if final.SessionID != first.SessionID || *final.RxRequestType != rx.UpdateRequest || *final.ServiceInfoStatus != rx.FinalServiceInformation {
		t.Fatalf("answer AAR %+v", final)
	}
	mcd := final.MediaComponents[0]
	if *mcd.MediaType != rx.MediaAudio || *mcd.FlowStatus != rx.FlowEnabled || *mcd.MaxRequestedBandwidthUL != 38000 ||
		*mcd.MaxRequestedBandwidthDL != 41000 || *mcd.RSBandwidth != 600 || *mcd.RRBandwidth != 2000 || len(mcd.SubComponents) != 2 ||
		mcd.SubComponents[1].FlowDescriptions[1] != "permit out 17 from 10.45.0.2 4001 to 10.45.0.3 49171" ||
		!strings.HasPrefix(string(mcd.CodecData[0]), "uplink\noffer\nm=audio 4000") ||
		!strings.HasPrefix(string(mcd.CodecData[1]), "downlink\nanswer\nm=audio 49170") {
		t.Fatalf("audio component %+v", mcd)
	}
	// re-INVITE adding video (sendonly from the UE, recvonly at the far end: uplink only).
	if err := r.af.Offer(ctx, call, []byte(ueVideoOffer), true); err != nil {
		t.Fatal(err)
	}
	if err := r.af.Answer(ctx, call, []byte(remoteVideoAnswer), false); err != nil {
		t.Fatal(err)
	}
	upd := lastAAR(r.pcrf)
	if upd.SessionID != first.SessionID || len(upd.MediaComponents) != 2 || *upd.MediaComponents[1].MediaType != rx.MediaVideo ||
		*upd.MediaComponents[1].FlowStatus != rx.FlowEnabledUplink || upd.MediaComponents[1].Number != 2 {
		t.Fatalf("re-INVITE AAR %+v", upd)
	}
	if n := len(aarsOf(r.pcrf, first.SessionID)); n != 4 {
		t.Fatalf("%d AARs for the call, want 4", n)
	}
	if err := r.af.End(ctx, call.CallID); err != nil {
		t.Fatal(err)
	}
	if r.pcrf.Open(first.SessionID) || r.af.Active(call.CallID) {
		t.Fatal("the Rx session is still open after End")
	}
	out := r.pcrf.CheckTshark(t)
	if !strings.Contains(out, "Service-Info-Status: PRELIMINARY_SERVICE_INFORMATION") || !strings.Contains(out, "Flow-Status: ENABLED-UPLINK") {
		t.Fatal("tshark does not show the preliminary AAR or the video component")
	}
}

// TestLossOfBearer: an RAR reporting the loss of the call's bearer (all flows, or without Flows)
// releases the call and ends the Rx session; one for some flows only does not.
func TestLossOfBearer(t *testing.T) {
	r := newRig(t, Config{})
	ctx := context.Background()
	call := Call{CallID: "call-2@ue", IMPU: impu, UE: ueAddr}
	if err := r.af.Offer(ctx, call, []byte(ueVideoOffer), true); err != nil {
		t.Fatal(err)
	}
	if err := r.af.Answer(ctx, call, []byte(remoteVideoAnswer), false); err != nil {
		t.Fatal(err)
	}
	id := lastAAR(r.pcrf).SessionID
	raa, err := r.pcrf.SendRAR(ctx, id, []rx.SpecificAction{rx.IndicationOfLossOfBearer},
		[]rx.Flows{{MediaComponentNumber: 2, FlowNumbers: []uint32{1}}}, nil)
	if err != nil || raa.ResultCode != diameter.Success {
		t.Fatalf("RAA %v %+v", err, raa)
	}
	if !r.af.Active(call.CallID) {
		t.Fatal("a loss of the video bearer alone ended the call")
	}
	raa, err = r.pcrf.SendRAR(ctx, id, []rx.SpecificAction{rx.IndicationOfLossOfBearer}, nil, nil)
	if err != nil || raa.ResultCode != diameter.Success {
		t.Fatalf("RAA %v %+v", err, raa)
	}
	r.ev.wait(t)
	if len(r.ev.released) != 1 || !strings.HasPrefix(r.ev.released[0], call.CallID+": ") {
		t.Fatalf("released %v", r.ev.released)
	}
	r.pcrf.Wait(t, "STR", func(m rx.Message) bool { s, ok := m.(*rx.STR); return ok && s.SessionID == id })
	if raa, err := r.pcrf.SendRAR(ctx, "pcscf;1;999", []rx.SpecificAction{rx.IndicationOfLossOfBearer}, nil, nil); err != nil ||
		raa.ResultCode != diameter.UnknownSessionID {
		t.Fatalf("RAR for an unknown session: %v %+v", err, raa)
	}
	r.pcrf.CheckTshark(t)
}

// TestPolicyFailure: the operator policy when the PCRF refuses or cannot be reached.
func TestPolicyFailure(t *testing.T) {
	for _, tt := range []struct {
		name       string
		cfg        Config
		refuse     bool
		unknownUE  bool
		wantCode   int
		wantReason string
	}{
		{name: "refused, continue", refuse: true},
		{name: "refused, reject 503", cfg: Config{OnFailure: FailReject}, refuse: true, wantCode: 503, wantReason: "not authorized"},
		{name: "refused, reject 488", cfg: Config{OnFailure: FailReject, RejectCode: 488}, refuse: true, wantCode: 488, wantReason: "not authorized"},
		{name: "no IP-CAN session, reject", cfg: Config{OnFailure: FailReject}, unknownUE: true, wantCode: 503, wantReason: "not authorized"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, tt.cfg)
			if tt.refuse {
				r.pcrf.Refuse(rx.RequestedServiceNotAuthorized)
			}
			call := Call{CallID: "call-3@ue", IMPU: impu, UE: ueAddr}
			if tt.unknownUE {
				call.UE = netip.MustParseAddr("10.45.0.99")
			}
			err := r.af.Offer(context.Background(), call, []byte(ueAudioOffer), true)
			var rej *RejectError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("continue policy returned %v", err)
			case tt.wantCode == 0:
			case !errors.As(err, &rej) || rej.Code != tt.wantCode || !strings.Contains(rej.Reason, tt.wantReason):
				t.Fatalf("err %v, want a %d rejection", err, tt.wantCode)
			}
			if r.af.Active(call.CallID) {
				t.Fatal("a refused call keeps an Rx session")
			}
		})
	}
}

// TestUnreachablePCRF: no answer at all; reject names the policy server as unreachable.
func TestUnreachablePCRF(t *testing.T) {
	cfg := Config{Mode: ModeRx, PCRFRealm: pcrftest.Realm, OnFailure: FailReject, Timeout: 200 * time.Millisecond}.WithDefaults()
	d, _ := rx.NewDictionary()
	af, err := New(cfg, Deps{Requester: deadPCRF{}, Dictionary: d, Events: newEvents(), OriginHost: afHost, OriginRealm: afRealm})
	if err != nil {
		t.Fatal(err)
	}
	defer af.Close()
	err = af.Offer(context.Background(), Call{CallID: "c", UE: ueAddr}, []byte(ueAudioOffer), true)
	var rej *RejectError
	if !errors.As(err, &rej) || rej.Reason != "policy server unreachable" || !errors.Is(err, peer.ErrNoPeer) {
		t.Fatalf("err %v", err)
	}
}

type deadPCRF struct{}

func (deadPCRF) RequestBinary(context.Context, []byte) ([]byte, error) {
	return nil, peer.ErrNoPeer
}
