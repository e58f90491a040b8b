package rx

import (
	"net/netip"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/imscore/imscore/diameter"
)

// Test identities: a P-CSCF (the AF) and a PCRF as an Open5GS deployment names them.
const (
	testAF        = "pcscf.ims.mnc001.mcc001.3gppnetwork.org"
	testAFRealm   = "ims.mnc001.mcc001.3gppnetwork.org"
	testPCRF      = "pcrf.epc.mnc001.mcc001.3gppnetwork.org"
	testPCRFRealm = "epc.mnc001.mcc001.3gppnetwork.org"
	testSession   = "pcscf.ims.mnc001.mcc001.3gppnetwork.org;1700000000;1"
	testIMPU      = "sip:001010000000101@ims.mnc001.mcc001.3gppnetwork.org"
)

func ptr[T any](v T) *T { return &v }

type sample struct {
	name  string
	msg   Message
	fresh func() Message
}

// sampleSignallingAAR is the AAR of TS 29.214 §4.4.5a sent at registration: the signalling flows
// between the UE's protected ports and the P-CSCF, with the bearer events subscribed to.
func sampleSignallingAAR() *AAR {
	return &AAR{SessionID: testSession, OriginHost: testAF, OriginRealm: testAFRealm,
		DestinationRealm: testPCRFRealm, AuthSessionState: ptr(NoStateMaintained),
		MediaComponents: []MediaComponentDescription{{Number: 0, SubComponents: []MediaSubComponent{{
			FlowNumber: 1,
			FlowDescriptions: []string{"permit out 17 from 10.45.0.1 5060 to 10.45.0.2 5100",
				"permit out 17 from 10.45.0.2 5100 to 10.45.0.1 5060"},
			FlowUsage: ptr(FlowUsageAFSignalling), AFSignallingProtocol: ptr(SignallingSIP)}}, FlowStatus: ptr(FlowEnabled)}},
		SpecificActions: []SpecificAction{IndicationOfLossOfBearer, IndicationOfReleaseOfBearer},
		SubscriptionIDs: []SubscriptionID{{Type: EndUserSIPURI, Data: testIMPU}},
		FramedIPAddress: netip.MustParseAddr("10.45.0.2"), RxRequestType: ptr(InitialRequest)}
}

// sampleSessionAAR is a voice and video call's AAR (TS 29.213 §6.2): one component per m= line.
func sampleSessionAAR() *AAR {
	return &AAR{SessionID: testSession + "1", OriginHost: testAF, OriginRealm: testAFRealm,
		DestinationRealm: testPCRFRealm, DestinationHost: testPCRF,
		AFApplicationIdentifier: []byte("IMS Services"),
		MediaComponents: []MediaComponentDescription{{Number: 1, MediaType: ptr(MediaAudio),
			SubComponents: []MediaSubComponent{
				{FlowNumber: 1, FlowDescriptions: []string{"permit out 17 from 10.45.0.3 49170 to 10.45.0.2 4000",
					"permit out 17 from 10.45.0.2 4000 to 10.45.0.3 49170"}},
				{FlowNumber: 2, FlowDescriptions: []string{"permit out 17 from 10.45.0.3 49171 to 10.45.0.2 4001",
					"permit out 17 from 10.45.0.2 4001 to 10.45.0.3 49171"}, FlowUsage: ptr(FlowUsageRTCP)}},
			MaxRequestedBandwidthUL: ptr[uint32](41000), MaxRequestedBandwidthDL: ptr[uint32](41000),
			FlowStatus: ptr(FlowEnabled), RSBandwidth: ptr[uint32](600), RRBandwidth: ptr[uint32](2000),
			CodecData: [][]byte{[]byte("uplink\noffer\nm=audio 4000 RTP/AVP 116\na=rtpmap:116 AMR-WB/16000\n"),
				[]byte("downlink\nanswer\nm=audio 49170 RTP/AVP 116\na=rtpmap:116 AMR-WB/16000\n")}},
			{Number: 2, MediaType: ptr(MediaVideo), FlowStatus: ptr(FlowEnabledUplink),
				SubComponents: []MediaSubComponent{{FlowNumber: 1,
					FlowDescriptions: []string{"permit out 17 from 10.45.0.3 49180 to 10.45.0.2 4010"}}},
				MaxRequestedBandwidthUL: ptr[uint32](512000), MaxRequestedBandwidthDL: ptr[uint32](512000)}},
		AFChargingIdentifier: []byte("icid-0001"), SIPForkingIndication: ptr(SingleDialogue),
		ServiceInfoStatus: ptr(FinalServiceInformation),
		SpecificActions:   []SpecificAction{IndicationOfLossOfBearer, IndicationOfReleaseOfBearer},
		SubscriptionIDs:   []SubscriptionID{{Type: EndUserSIPURI, Data: testIMPU}, {Type: EndUserE164, Data: "15551230101"}},
		FramedIPv6Prefix:  netip.MustParsePrefix("2001:db8:45::2/128"), RxRequestType: ptr(InitialRequest),
		ProxyInfo: []ProxyInfo{{Host: "dra.epc", State: []byte{1, 2, 3}}}}
}

func allSamples() []sample {
	aar := sampleSignallingAAR()
	session := sampleSessionAAR()
	aaa := NewAAA(aar, testPCRF, testPCRFRealm)
	aaa.ResultCode = diameter.Success
	aaa.IPCANType = ptr(IPCAN3GPPEPS)
	aaa.RATType = ptr(RATType(1004)) // EUTRAN, TS 29.212 §5.3.31
	refused := NewAAA(session, testPCRF, testPCRFRealm)
	refused.ExperimentalResult = &ExperimentalResult{VendorID: Vendor3GPP, Code: uint32(RequestedServiceNotAuthorized)}
	refused.ErrorMessage = "no bearer for video"
	rar := &RAR{SessionID: testSession + "1", OriginHost: testPCRF, OriginRealm: testPCRFRealm,
		DestinationRealm: testAFRealm, DestinationHost: testAF,
		SpecificActions: []SpecificAction{IndicationOfLossOfBearer},
		Flows:           []Flows{{MediaComponentNumber: 1, FlowNumbers: []uint32{1, 2}}},
		AbortCause:      ptr(BearerReleased), IPCANType: ptr(IPCAN3GPPEPS), Class: [][]byte{[]byte("c1")}}
	raa := NewRAA(rar, testAF, testAFRealm)
	raa.ResultCode = diameter.Success
	str := &STR{SessionID: testSession + "1", OriginHost: testAF, OriginRealm: testAFRealm,
		DestinationRealm: testPCRFRealm, DestinationHost: testPCRF, TerminationCause: DiameterLogout}
	sta := NewSTA(str, testPCRF, testPCRFRealm)
	sta.ResultCode = diameter.Success
	asr := &ASR{SessionID: testSession, OriginHost: testPCRF, OriginRealm: testPCRFRealm,
		DestinationRealm: testAFRealm, DestinationHost: testAF, AbortCause: InsufficientBearerResources,
		OriginStateID: ptr[uint32](7)}
	asa := NewASA(asr, testAF, testAFRealm)
	asa.ResultCode = diameter.Success
	missing := NewASA(asr, testAF, testAFRealm)
	missing.SetError(&diameter.Error{Code: diameter.MissingAVP, FailedAVPs: []*diam.AVP{
		// As a decoder hands Failed-AVP contents back: opaque bytes.
		diam.NewAVP(uint32(AVPAbortCause), avp.Vbit|avp.Mbit, Vendor3GPP, datatype.OctetString("\x00\x00\x00\x00"))}})
	return []sample{
		{"aar_signalling", aar, func() Message { return new(AAR) }},
		{"aaa", aaa, func() Message { return new(AAA) }},
		{"aar_session", session, func() Message { return new(AAR) }},
		{"aaa_refused", refused, func() Message { return new(AAA) }},
		{"rar", rar, func() Message { return new(RAR) }},
		{"raa", raa, func() Message { return new(RAA) }},
		{"str", str, func() Message { return new(STR) }},
		{"sta", sta, func() Message { return new(STA) }},
		{"asr", asr, func() Message { return new(ASR) }},
		{"asa", asa, func() Message { return new(ASA) }},
		{"asa_missing", missing, func() Message { return new(ASA) }},
	}
}
