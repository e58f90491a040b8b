package rx

import (
	"fmt"
	"strconv"

	"github.com/fiorix/go-diameter/v4/diam/avp"
)

// Application and vendor identifiers.
const (
	// AppID is the Rx application, TS 29.214 §5.6 (IANA-assigned 16777236). Rx uses
	// Auth-Application-Id in its commands and is advertised with Vendor-Id 10415 in CER (§5.6).
	AppID uint32 = 16777236
	// Vendor3GPP is the 3GPP enterprise number, the Vendor-Id of the Rx AVPs (TS 29.214 §5.3).
	Vendor3GPP uint32 = 10415
)

// Command is a Diameter Command-Code.
type Command uint32

// Rx command codes, TS 29.214 §5.6 (Table 5.6.1). All are proxiable ('P').
const (
	CmdReAuth             Command = 258 // RAR/RAA, §5.6.3 and §5.6.4 (RFC 6733 §8.3)
	CmdAA                 Command = 265 // AAR/AAA, §5.6.1 and §5.6.2 (RFC 7155 §3.1)
	CmdAbortSession       Command = 274 // ASR/ASA, §5.6.7 and §5.6.8 (RFC 6733 §8.5)
	CmdSessionTermination Command = 275 // STR/STA, §5.6.5 and §5.6.6 (RFC 6733 §8.4)
)

// String returns the command name as Wireshark spells it.
func (c Command) String() string {
	switch c {
	case CmdReAuth:
		return "Re-Auth"
	case CmdAA:
		return "AA"
	case CmdAbortSession:
		return "Abort-Session"
	case CmdSessionTermination:
		return "Session-Termination"
	}
	return fmt.Sprintf("Command(%d)", uint32(c))
}

// Request returns the request's abbreviation (AAR, RAR, STR, ASR), the label of metrics and logs.
func (c Command) Request() string {
	switch c {
	case CmdReAuth:
		return "RAR"
	case CmdAA:
		return "AAR"
	case CmdAbortSession:
		return "ASR"
	case CmdSessionTermination:
		return "STR"
	}
	return strconv.FormatUint(uint64(c), 10)
}

// AVPCode is a Diameter AVP code; codes are unique only together with the vendor.
type AVPCode uint32

// Base protocol and IETF AVPs Rx carries (vendor 0).
const (
	AVPFramedIPAddress        AVPCode = 8   // RFC 7155 §4.4.10.5.1, OctetString (4 bytes)
	AVPClass                  AVPCode = 25  // RFC 6733 §8.20, OctetString
	AVPCalledStationID        AVPCode = 30  // RFC 7155 §4.3.1, UTF8String
	AVPFramedIPv6Prefix       AVPCode = 97  // RFC 7155 §4.4.10.5.4, OctetString
	AVPAuthApplicationID      AVPCode = 258 // RFC 6733 §6.8, Unsigned32
	AVPSessionID              AVPCode = 263 // RFC 6733 §8.8, UTF8String
	AVPOriginHost             AVPCode = 264 // RFC 6733 §6.3, DiameterIdentity
	AVPVendorID               AVPCode = 266 // RFC 6733 §5.3.3, Unsigned32
	AVPResultCode             AVPCode = 268 // RFC 6733 §7.1, Unsigned32
	AVPAuthSessionState       AVPCode = 277 // RFC 6733 §8.11, Enumerated
	AVPOriginStateID          AVPCode = 278 // RFC 6733 §8.16, Unsigned32
	AVPFailedAVP              AVPCode = 279 // RFC 6733 §7.5, Grouped
	AVPProxyHost              AVPCode = 280 // RFC 6733 §6.7.3, DiameterIdentity
	AVPErrorMessage           AVPCode = 281 // RFC 6733 §7.3, UTF8String
	AVPRouteRecord            AVPCode = 282 // RFC 6733 §6.7.1, DiameterIdentity
	AVPDestinationRealm       AVPCode = 283 // RFC 6733 §6.6, DiameterIdentity
	AVPProxyInfo              AVPCode = 284 // RFC 6733 §6.7.2, Grouped
	AVPDestinationHost        AVPCode = 293 // RFC 6733 §6.5, DiameterIdentity
	AVPErrorReportingHost     AVPCode = 294 // RFC 6733 §7.4, DiameterIdentity
	AVPTerminationCause       AVPCode = 295 // RFC 6733 §8.15, Enumerated
	AVPOriginRealm            AVPCode = 296 // RFC 6733 §6.4, DiameterIdentity
	AVPExperimentalResult     AVPCode = 297 // RFC 6733 §7.6, Grouped
	AVPExperimentalResultCode AVPCode = 298 // RFC 6733 §7.7, Unsigned32
	AVPProxyState             AVPCode = 33  // RFC 6733 §6.7.4, OctetString
	AVPSubscriptionID         AVPCode = 443 // RFC 8506 §8.46, Grouped
	AVPSubscriptionIDData     AVPCode = 444 // RFC 8506 §8.48, UTF8String
	AVPSubscriptionIDType     AVPCode = 450 // RFC 8506 §8.47, Enumerated
)

// 3GPP AVPs (vendor 10415): TS 29.214 §5.3 unless noted.
const (
	AVPAbortCause                      AVPCode = 500  // §5.3.1, Enumerated
	AVPAccessNetworkChargingAddress    AVPCode = 501  // §5.3.2, Address
	AVPAccessNetworkChargingIdentifier AVPCode = 502  // §5.3.3, Grouped
	AVPAccessNetworkChargingIDValue    AVPCode = 503  // §5.3.4, OctetString
	AVPAFApplicationIdentifier         AVPCode = 504  // §5.3.5, OctetString
	AVPAFChargingIdentifier            AVPCode = 505  // §5.3.6, OctetString
	AVPFlowDescription                 AVPCode = 507  // §5.3.8, IPFilterRule
	AVPFlowNumber                      AVPCode = 509  // §5.3.9, Unsigned32
	AVPFlows                           AVPCode = 510  // §5.3.10, Grouped
	AVPFlowStatus                      AVPCode = 511  // §5.3.11, Enumerated
	AVPFlowUsage                       AVPCode = 512  // §5.3.12, Enumerated
	AVPSpecificAction                  AVPCode = 513  // §5.3.13, Enumerated
	AVPMaxRequestedBandwidthDL         AVPCode = 515  // §5.3.14, Unsigned32 (bit/s)
	AVPMaxRequestedBandwidthUL         AVPCode = 516  // §5.3.15, Unsigned32 (bit/s)
	AVPMediaComponentDescription       AVPCode = 517  // §5.3.16, Grouped
	AVPMediaComponentNumber            AVPCode = 518  // §5.3.17, Unsigned32
	AVPMediaSubComponent               AVPCode = 519  // §5.3.18, Grouped
	AVPMediaType                       AVPCode = 520  // §5.3.19, Enumerated
	AVPRRBandwidth                     AVPCode = 521  // §5.3.20, Unsigned32 (bit/s)
	AVPRSBandwidth                     AVPCode = 522  // §5.3.21, Unsigned32 (bit/s)
	AVPSIPForkingIndication            AVPCode = 523  // §5.3.22, Enumerated
	AVPCodecData                       AVPCode = 524  // §5.3.7, OctetString
	AVPServiceURN                      AVPCode = 525  // §5.3.23, OctetString
	AVPAcceptableServiceInfo           AVPCode = 526  // §5.3.24, Grouped
	AVPServiceInfoStatus               AVPCode = 527  // §5.3.25, Enumerated
	AVPAFSignallingProtocol            AVPCode = 529  // §5.3.26, Enumerated
	AVPRxRequestType                   AVPCode = 533  // §5.3.31, Enumerated
	AVPMinRequestedBandwidthDL         AVPCode = 534  // §5.3.32, Unsigned32
	AVPMinRequestedBandwidthUL         AVPCode = 535  // §5.3.33, Unsigned32
	AVPSupportedFeatures               AVPCode = 628  // TS 29.229 §6.3.29, Grouped
	AVPFeatureListID                   AVPCode = 629  // TS 29.229 §6.3.30, Unsigned32
	AVPFeatureList                     AVPCode = 630  // TS 29.229 §6.3.31, Unsigned32
	AVPIPCANType                       AVPCode = 1027 // TS 29.212 §5.3.27, Enumerated
	AVPRATType                         AVPCode = 1032 // TS 29.212 §5.3.31, Enumerated
	AVPANGWAddress                     AVPCode = 1050 // TS 29.212 §5.3.49, Address
)

// avpType is the data type of an AVP (RFC 6733 §4.2, §4.3), as go-diameter's dictionary names it.
type avpType string

const (
	tOctets   avpType = "OctetString"
	tUTF8     avpType = "UTF8String"
	tIdent    avpType = "DiameterIdentity"
	tU32      avpType = "Unsigned32"
	tEnum     avpType = "Enumerated"
	tGrouped  avpType = "Grouped"
	tAddress  avpType = "Address"
	tIPFilter avpType = "IPFilterRule"
)

// avpKey names an AVP definition: code and vendor (0 for IETF AVPs).
type avpKey struct {
	code   AVPCode
	vendor uint32
}

func base(c AVPCode) avpKey { return avpKey{c, 0} }
func tgpp(c AVPCode) avpKey { return avpKey{c, Vendor3GPP} }

// avpDef is one AVP of the Rx dictionary: what the encoder's flags, the decoder's checks and the
// go-diameter dictionary (dict.go) are all built from.
type avpDef struct {
	key  avpKey
	name string
	typ  avpType
	m    bool // 'M' set: TS 29.214 Table 5.3.1 "Must" column (RFC 6733 §4.5 for base AVPs)
}

// rxAVPs are the AVPs the Rx dictionary adds to the base protocol. The 'M' column follows TS 29.214
// Table 5.3.1: the Rel-6/7 AVPs (500–527) are M,V; the later ones (529, 533–535) and Supported-Features
// are V with M not set (§5.3.0: "shall not be set"). TS 29.212 Table 5.3.1 gives IP-CAN-Type (M,V),
// RAT-Type and AN-GW-Address (V).
var rxAVPs = []avpDef{
	{base(AVPFramedIPAddress), "Framed-IP-Address", tOctets, true},
	{base(AVPCalledStationID), "Called-Station-Id", tUTF8, true},
	{base(AVPFramedIPv6Prefix), "Framed-IPv6-Prefix", tOctets, true},
	{base(AVPSubscriptionID), "Subscription-Id", tGrouped, true},
	{base(AVPSubscriptionIDData), "Subscription-Id-Data", tUTF8, true},
	{base(AVPSubscriptionIDType), "Subscription-Id-Type", tEnum, true},
	{tgpp(AVPAbortCause), "Abort-Cause", tEnum, true},
	{tgpp(AVPAccessNetworkChargingAddress), "Access-Network-Charging-Address", tAddress, true},
	{tgpp(AVPAccessNetworkChargingIdentifier), "Access-Network-Charging-Identifier", tGrouped, true},
	{tgpp(AVPAccessNetworkChargingIDValue), "Access-Network-Charging-Identifier-Value", tOctets, true},
	{tgpp(AVPAFApplicationIdentifier), "AF-Application-Identifier", tOctets, true},
	{tgpp(AVPAFChargingIdentifier), "AF-Charging-Identifier", tOctets, true},
	{tgpp(AVPFlowDescription), "Flow-Description", tIPFilter, true},
	{tgpp(AVPFlowNumber), "Flow-Number", tU32, true},
	{tgpp(AVPFlows), "Flows", tGrouped, true},
	{tgpp(AVPFlowStatus), "Flow-Status", tEnum, true},
	{tgpp(AVPFlowUsage), "Flow-Usage", tEnum, true},
	{tgpp(AVPSpecificAction), "Specific-Action", tEnum, true},
	{tgpp(AVPMaxRequestedBandwidthDL), "Max-Requested-Bandwidth-DL", tU32, true},
	{tgpp(AVPMaxRequestedBandwidthUL), "Max-Requested-Bandwidth-UL", tU32, true},
	{tgpp(AVPMediaComponentDescription), "Media-Component-Description", tGrouped, true},
	{tgpp(AVPMediaComponentNumber), "Media-Component-Number", tU32, true},
	{tgpp(AVPMediaSubComponent), "Media-Sub-Component", tGrouped, true},
	{tgpp(AVPMediaType), "Media-Type", tEnum, true},
	{tgpp(AVPRRBandwidth), "RR-Bandwidth", tU32, true},
	{tgpp(AVPRSBandwidth), "RS-Bandwidth", tU32, true},
	{tgpp(AVPSIPForkingIndication), "SIP-Forking-Indication", tEnum, true},
	{tgpp(AVPCodecData), "Codec-Data", tOctets, true},
	{tgpp(AVPServiceURN), "Service-URN", tOctets, true},
	{tgpp(AVPAcceptableServiceInfo), "Acceptable-Service-Info", tGrouped, true},
	{tgpp(AVPServiceInfoStatus), "Service-Info-Status", tEnum, true},
	{tgpp(AVPAFSignallingProtocol), "AF-Signalling-Protocol", tEnum, false},
	{tgpp(AVPRxRequestType), "Rx-Request-Type", tEnum, false},
	{tgpp(AVPMinRequestedBandwidthDL), "Min-Requested-Bandwidth-DL", tU32, false},
	{tgpp(AVPMinRequestedBandwidthUL), "Min-Requested-Bandwidth-UL", tU32, false},
	{tgpp(AVPSupportedFeatures), "Supported-Features", tGrouped, false},
	{tgpp(AVPFeatureListID), "Feature-List-ID", tU32, false},
	{tgpp(AVPFeatureList), "Feature-List", tU32, false},
	{tgpp(AVPIPCANType), "IP-CAN-Type", tEnum, true},
	{tgpp(AVPRATType), "RAT-Type", tEnum, false},
	{tgpp(AVPANGWAddress), "AN-GW-Address", tAddress, false},
}

// baseMandatory are the RFC 6733 base AVPs Rx messages carry, all with 'M' set (§4.5 table);
// Error-Message and Error-Reporting-Host are the base AVPs whose 'M' bit must not be set.
var baseMandatory = []AVPCode{AVPClass, AVPProxyState, AVPAuthApplicationID, AVPSessionID,
	AVPOriginHost, AVPVendorID, AVPResultCode, AVPAuthSessionState, AVPOriginStateID, AVPFailedAVP,
	AVPProxyHost, AVPRouteRecord, AVPDestinationRealm, AVPProxyInfo, AVPDestinationHost,
	AVPTerminationCause, AVPOriginRealm, AVPExperimentalResult, AVPExperimentalResultCode,
	// Re-Auth-Request-Type (285), Redirect-Host (292), -Usage (261), -Max-Cache-Time (262): in
	// answers and some PCRFs' RAR; known, kept in Unknown.
	285, 292, 261, 262}

// avpRules reports whether k is an AVP Rx knows, and whether its 'M' bit is set.
func avpRules(k avpKey) (known, mandatory bool) {
	for i := range rxAVPs {
		if rxAVPs[i].key == k {
			return true, rxAVPs[i].m
		}
	}
	if k.vendor != 0 {
		return false, false
	}
	for _, c := range baseMandatory {
		if c == k.code {
			return true, true
		}
	}
	switch k.code {
	case AVPErrorMessage, AVPErrorReportingHost, 301 /* DRMP, RFC 7944 */, 621, 622, 623, 624, 625, 626,
		627 /* OC-*, RFC 7683 */, 648, 649, 650, 651, 652 /* RFC 8581, RFC 8583 */ :
		return true, false
	}
	return false, false
}

// avpFlags are the flags we send AVP k with: 'V' when it has a vendor, 'M' as avpRules says.
func avpFlags(k avpKey) uint8 {
	var f uint8
	if k.vendor != 0 {
		f |= avp.Vbit
	}
	if _, m := avpRules(k); m {
		f |= avp.Mbit
	}
	return f
}
