package cx

import (
	"encoding/hex"
	"net/netip"
	"strconv"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/imscore/imscore/diameter"
)

// Realistic identities: test PLMN 001/01 as in docs/design.md §2.
const (
	testRealm      = "ims.mnc001.mcc001.3gppnetwork.org"
	testIMPI       = "001010000000101@ims.mnc001.mcc001.3gppnetwork.org"
	testIMPU       = "sip:001010000000101@ims.mnc001.mcc001.3gppnetwork.org"
	testIMPUTel    = "tel:+15550100101"
	testServerName = "sip:scscf.ims.mnc001.mcc001.3gppnetwork.org:6060"
	testSCSCF      = "scscf.ims.mnc001.mcc001.3gppnetwork.org"
	testICSCF      = "icscf.ims.mnc001.mcc001.3gppnetwork.org"
	testHSS        = "hss.ims.mnc001.mcc001.3gppnetwork.org"
	testDRA        = "dra.ims.mnc001.mcc001.3gppnetwork.org"
)

// TS 35.208 test set 1 (checked with github.com/wmnsk/milenage): RAND, AUTN for SQN ff9bb4d0b607
// and AMF b9b9, XRES, CK, IK; AUTS for the same SQN.
var (
	testRAND = unhex("23553cbe9637a89d218ae64dae47bf35")
	testAUTN = unhex("55f328b43577b9b94a9ffac354dfafb3")
	testXRES = unhex("a54211d5e3ba50bf")
	testCK   = unhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")
	testIK   = unhex("f769bcd751044604127672711c6d3441")
	testAUTS = unhex("ba853f3c123ccf44e93596e355c6")
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err) // test data constant
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// testSession returns a Session-Id as RFC 6733 §8.8 suggests: <DiameterIdentity>;<high>;<low>.
func testSession(host string, n int) string {
	return host + ";1700000000;" + strconv.Itoa(n)
}

var testUserData = []byte(`<?xml version="1.0" encoding="UTF-8"?><IMSSubscription><PrivateID>` + testIMPI +
	`</PrivateID><ServiceProfile><PublicIdentity><Identity>` + testIMPU + `</Identity></PublicIdentity></ServiceProfile></IMSSubscription>`)

func testProxyInfo() []ProxyInfo {
	return []ProxyInfo{{ProxyHost: testDRA, ProxyState: []byte{0x00, 0x01, 0x02, 0x03, 0x04}}}
}

func testCharging() *ChargingInformation {
	return &ChargingInformation{
		PrimaryEventChargingFunctionName:        "aaa://ecf1." + testRealm + ":3868;transport=tcp",
		SecondaryEventChargingFunctionName:      "aaa://ecf2." + testRealm,
		PrimaryChargingCollectionFunctionName:   "aaa://ccf1." + testRealm,
		SecondaryChargingCollectionFunctionName: "aaa://ccf2." + testRealm,
	}
}

func testRestoration() SCSCFRestorationInfo {
	return SCSCFRestorationInfo{
		UserName: testIMPI,
		RestorationInfo: []RestorationInfo{{
			Path:                      []byte("<sip:term@pcscf." + testRealm + ":5060;lr>"),
			Contact:                   []byte("<sip:001010000000101@192.0.2.10:5100>;expires=600"),
			InitialCSeqSequenceNumber: ptr(uint32(1)),
			CallIDSIPHeader:           []byte("reg-1@192.0.2.10"),
			SubscriptionInfo: &SubscriptionInfo{
				CallIDSIPHeader: []byte("sub-1@192.0.2.10"),
				FromSIPHeader:   []byte("<" + testIMPU + ">;tag=a1"),
				ToSIPHeader:     []byte("<" + testIMPU + ">;tag=b2"),
				RecordRoute:     []byte("<sip:pcscf." + testRealm + ":5060;lr>"),
				Contact:         []byte("<sip:192.0.2.10:5100>"),
			},
			PCSCFSubscriptionInfo: &PCSCFSubscriptionInfo{
				CallIDSIPHeader: []byte("psub-1@pcscf"),
				FromSIPHeader:   []byte("<sip:pcscf." + testRealm + ">;tag=c3"),
				ToSIPHeader:     []byte("<" + testIMPU + ">;tag=d4"),
				Contact:         []byte("<sip:pcscf." + testRealm + ":5060>"),
			},
		}},
		RegistrationTimeOut:     ptr(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		SIPAuthenticationScheme: SchemeAKAv1MD5,
	}
}

// strayAVP is an AVP of a vendor we do not know, which every message must carry through.
func strayAVP() *diam.AVP {
	return diam.NewAVP(7777, avp.Vbit, 9999, datatype.OctetString("vendor-specific"))
}

func sampleUAR() *UAR {
	return &UAR{
		SessionID:                   testSession(testICSCF, 1),
		DRMP:                        ptr(DRMP(5)),
		VendorSpecificApplicationID: CxApplicationID(),
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testICSCF,
		OriginRealm:                 testRealm,
		DestinationHost:             testHSS,
		DestinationRealm:            testRealm,
		UserName:                    testIMPI,
		OCSupportedFeatures:         &OCSupportedFeatures{FeatureVector: ptr(uint64(1))},
		SupportedFeatures:           []SupportedFeatures{{VendorID: Vendor3GPP, FeatureListID: 1, FeatureList: 1}},
		PublicIdentity:              testIMPU,
		VisitedNetworkIdentifier:    []byte(testRealm),
		UserAuthorizationType:       ptr(UATRegistration),
		UARFlags:                    ptr(UARFlags(0)),
		Unknown:                     []*diam.AVP{strayAVP()},
		ProxyInfo:                   testProxyInfo(),
		RouteRecord:                 []string{testDRA},
	}
}

func sampleUAA() *UAA {
	return &UAA{
		SessionID:                   testSession(testICSCF, 1),
		VendorSpecificApplicationID: CxApplicationID(),
		ExperimentalResult:          &ExperimentalResult{VendorID: Vendor3GPP, Code: FirstRegistration},
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testHSS,
		OriginRealm:                 testRealm,
		OCSupportedFeatures:         &OCSupportedFeatures{FeatureVector: ptr(uint64(1))},
		OCOLR: &OCOLR{SequenceNumber: 7, ReportType: OCHostReport, ReductionPercentage: ptr(uint32(20)),
			ValidityDuration: ptr(uint32(30)), RegTimerExt: ptr(uint32(600)), SourceID: testHSS},
		Load:              []Load{{Type: ptr(LoadTypeHost), Value: ptr(uint64(1200)), SourceID: testHSS}},
		SupportedFeatures: []SupportedFeatures{{VendorID: Vendor3GPP, FeatureListID: 1, FeatureList: 3}},
		ServerCapabilities: &ServerCapabilities{
			MandatoryCapabilities: []uint32{1},
			OptionalCapabilities:  []uint32{2, 3},
			ServerNames:           []string{testServerName},
		},
		ProxyInfo: testProxyInfo(),
	}
}

func sampleSAR() *SAR {
	return &SAR{
		SessionID:                      testSession(testSCSCF, 2),
		VendorSpecificApplicationID:    CxApplicationID(),
		AuthSessionState:               ptr(NoStateMaintained),
		OriginHost:                     testSCSCF,
		OriginRealm:                    testRealm,
		DestinationHost:                testHSS,
		DestinationRealm:               testRealm,
		UserName:                       testIMPI,
		SupportedFeatures:              []SupportedFeatures{{VendorID: Vendor3GPP, FeatureListID: 1, FeatureList: 1}},
		PublicIdentity:                 []string{testIMPU, testIMPUTel},
		ServerName:                     testServerName,
		ServerAssignmentType:           SATRegistration,
		UserDataAlreadyAvailable:       UserDataNotAvailable,
		SCSCFRestorationInfo:           ptr(testRestoration()),
		MultipleRegistrationIndication: ptr(NotMultipleRegistration),
		SessionPriority:                ptr(Priority2),
		SARFlags:                       ptr(SARFlagPCSCFRestoration),
		FailedPCSCF: &FailedPCSCF{PCSCFFQDN: "pcscf." + testRealm,
			PCSCFIPAddresses: []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}},
	}
}

func sampleSAA() *SAA {
	return &SAA{
		SessionID:                      testSession(testSCSCF, 2),
		VendorSpecificApplicationID:    CxApplicationID(),
		ResultCode:                     diameter.Success,
		AuthSessionState:               ptr(NoStateMaintained),
		OriginHost:                     testHSS,
		OriginRealm:                    testRealm,
		UserName:                       testIMPI,
		UserData:                       testUserData,
		ChargingInformation:            testCharging(),
		AssociatedIdentities:           &AssociatedIdentities{UserNames: []string{testIMPI, "001010000000102@" + testRealm}},
		LooseRouteIndication:           ptr(LooseRouteNotRequired),
		SCSCFRestorationInfo:           []SCSCFRestorationInfo{testRestoration()},
		AssociatedRegisteredIdentities: &AssociatedRegisteredIdentities{UserNames: []string{testIMPI}},
		ServerName:                     testServerName,
		WildcardedPublicIdentity:       "sip:chatroom-!.*!@" + testRealm,
		PriviledgedSenderIndication:    ptr(NotPriviledgedSender),
		AllowedWAFWWSFIdentities: &AllowedWAFWWSFIdentities{
			WebRTCAuthenticationFunctionNames: []string{"waf." + testRealm},
			WebRTCWebServerFunctionNames:      []string{"wwsf.example.com"},
		},
		Unknown: []*diam.AVP{strayAVP()},
	}
}

func sampleLIR() *LIR {
	return &LIR{
		SessionID:                   testSession(testICSCF, 3),
		VendorSpecificApplicationID: CxApplicationID(),
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testICSCF,
		OriginRealm:                 testRealm,
		DestinationRealm:            testRealm,
		OriginatingRequest:          ptr(Originating),
		PublicIdentity:              testIMPUTel,
		UserAuthorizationType:       ptr(UATRegistrationAndCapabilities),
		SessionPriority:             ptr(Priority0),
		RouteRecord:                 []string{testDRA},
	}
}

func sampleLIA() *LIA {
	return &LIA{
		SessionID:                   testSession(testICSCF, 3),
		VendorSpecificApplicationID: CxApplicationID(),
		ExperimentalResult:          &ExperimentalResult{VendorID: Vendor3GPP, Code: UnregisteredService},
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testHSS,
		OriginRealm:                 testRealm,
		ServerName:                  testServerName,
		WildcardedPublicIdentity:    "sip:chatroom-!.*!@" + testRealm,
		LIAFlags:                    ptr(LIAFlagPSIDirectRouting),
	}
}

func sampleMAR() *MAR {
	return &MAR{
		SessionID:                   testSession(testSCSCF, 4),
		VendorSpecificApplicationID: CxApplicationID(),
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testSCSCF,
		OriginRealm:                 testRealm,
		DestinationRealm:            testRealm,
		DestinationHost:             testHSS,
		UserName:                    testIMPI,
		PublicIdentity:              testIMPU,
		// Resynchronisation: RAND‖AUTS in SIP-Authorization (TS 29.229 §6.3.11).
		SIPAuthDataItem:    SIPAuthDataItem{Scheme: SchemeAKAv1MD5, Authorization: cat(testRAND, testAUTS)},
		SIPNumberAuthItems: 1,
		ServerName:         testServerName,
	}
}

func sampleMAA() *MAA {
	return &MAA{
		SessionID:                   testSession(testSCSCF, 4),
		VendorSpecificApplicationID: CxApplicationID(),
		ResultCode:                  diameter.Success,
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testHSS,
		OriginRealm:                 testRealm,
		UserName:                    testIMPI,
		PublicIdentity:              testIMPU,
		SIPNumberAuthItems:          ptr(uint32(1)),
		SIPAuthDataItems: []SIPAuthDataItem{{
			ItemNumber:         ptr(uint32(1)),
			Scheme:             SchemeAKAv1MD5,
			Authenticate:       cat(testRAND, testAUTN),
			Authorization:      testXRES,
			ConfidentialityKey: testCK,
			IntegrityKey:       testIK,
		}},
	}
}

func sampleRTR() *RTR {
	return &RTR{
		SessionID:                   testSession(testHSS, 5),
		VendorSpecificApplicationID: CxApplicationID(),
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testHSS,
		OriginRealm:                 testRealm,
		DestinationHost:             testSCSCF,
		DestinationRealm:            testRealm,
		UserName:                    testIMPI,
		AssociatedIdentities:        &AssociatedIdentities{UserNames: []string{testIMPI}},
		PublicIdentity:              []string{testIMPU, testIMPUTel},
		DeregistrationReason:        DeregistrationReason{Code: ReasonPermanentTermination, Info: "subscription ended"},
		RTRFlags:                    ptr(RTRFlags(0)),
	}
}

func sampleRTA() *RTA {
	return &RTA{
		SessionID:                   testSession(testHSS, 5),
		VendorSpecificApplicationID: CxApplicationID(),
		ResultCode:                  diameter.Success,
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testSCSCF,
		OriginRealm:                 testRealm,
		AssociatedIdentities:        &AssociatedIdentities{UserNames: []string{testIMPI}},
		IdentityWithEmergencyRegistration: []IdentityWithEmergencyRegistration{
			{UserName: testIMPI, PublicIdentity: "sip:sos@" + testRealm},
		},
	}
}

func samplePPR() *PPR {
	return &PPR{
		SessionID:                   testSession(testHSS, 6),
		VendorSpecificApplicationID: CxApplicationID(),
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testHSS,
		OriginRealm:                 testRealm,
		DestinationHost:             testSCSCF,
		DestinationRealm:            testRealm,
		UserName:                    testIMPI,
		UserData:                    testUserData,
		ChargingInformation:         testCharging(),
		SIPAuthDataItem: &SIPAuthDataItem{
			Scheme: SchemeSIPDigest,
			DigestAuthenticate: &SIPDigestAuthenticate{Realm: testRealm, Algorithm: "MD5", QoP: "auth",
				HA1: "8f3a1c2b4d5e6f708192a3b4c5d6e7f8"},
			FramedIPAddress:   []byte{192, 0, 2, 10},
			FramedIPv6Prefix:  unhex("0040" + "20010db8000000000000000000000000"),
			FramedInterfaceID: ptr(uint64(0x0200_5eff_fe00_5301)),
			LineIdentifiers:   [][]byte{[]byte("line-0001")},
		},
		AllowedWAFWWSFIdentities: &AllowedWAFWWSFIdentities{WebRTCWebServerFunctionNames: []string{"wwsf.example.com"}},
	}
}

func samplePPA() *PPA {
	return &PPA{
		SessionID:                   testSession(testHSS, 6),
		VendorSpecificApplicationID: CxApplicationID(),
		ResultCode:                  diameter.Success,
		AuthSessionState:            ptr(NoStateMaintained),
		OriginHost:                  testSCSCF,
		OriginRealm:                 testRealm,
		SupportedFeatures:           []SupportedFeatures{{VendorID: Vendor3GPP, FeatureListID: 1, FeatureList: 1}},
	}
}

// sample is one fixture per message, named like its testdata vector.
type sample struct {
	name string
	msg  Message
	// fresh returns an empty message of the same type, for Unmarshal.
	fresh func() Message
}

func allSamples() []sample {
	return []sample{
		{"uar", sampleUAR(), func() Message { return new(UAR) }},
		{"uaa", sampleUAA(), func() Message { return new(UAA) }},
		{"sar", sampleSAR(), func() Message { return new(SAR) }},
		{"saa", sampleSAA(), func() Message { return new(SAA) }},
		{"lir", sampleLIR(), func() Message { return new(LIR) }},
		{"lia", sampleLIA(), func() Message { return new(LIA) }},
		{"mar", sampleMAR(), func() Message { return new(MAR) }},
		{"maa", sampleMAA(), func() Message { return new(MAA) }},
		{"rtr", sampleRTR(), func() Message { return new(RTR) }},
		{"rta", sampleRTA(), func() Message { return new(RTA) }},
		{"ppr", samplePPR(), func() Message { return new(PPR) }},
		{"ppa", samplePPA(), func() Message { return new(PPA) }},
	}
}
