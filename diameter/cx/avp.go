package cx

import (
	"fmt"
	"strconv"

	"github.com/fiorix/go-diameter/v4/diam/avp"
)

// Application and vendor identifiers.
const (
	// AppID is the Cx/Dx Diameter application, TS 29.229 §5.6 (IANA-assigned 16777216).
	AppID uint32 = 16777216
	// Vendor3GPP is the 3GPP IANA enterprise number, the Vendor-Id of every Cx AVP (TS 29.229 §6.3).
	Vendor3GPP uint32 = 10415
	// VendorETSI is ETSI's enterprise number, the vendor of Line-Identifier (ETSI TS 183 033).
	VendorETSI uint32 = 13019
)

// Command is a Diameter Command-Code.
type Command uint32

// Cx/Dx command codes, TS 29.229 §6.1 (Table 6.1.1). Requests set 'R'; all are proxiable ('P').
const (
	CmdUserAuthorization       Command = 300 // UAR/UAA, §6.1.1 and §6.1.2
	CmdServerAssignment        Command = 301 // SAR/SAA, §6.1.3 and §6.1.4
	CmdLocationInfo            Command = 302 // LIR/LIA, §6.1.5 and §6.1.6
	CmdMultimediaAuth          Command = 303 // MAR/MAA, §6.1.7 and §6.1.8
	CmdRegistrationTermination Command = 304 // RTR/RTA, §6.1.9 and §6.1.10
	CmdPushProfile             Command = 305 // PPR/PPA, §6.1.11 and §6.1.12
)

// String returns the command name as TS 29.229 Table 6.1.1 and Wireshark spell it.
func (c Command) String() string {
	switch c {
	case CmdUserAuthorization:
		return "User-Authorization"
	case CmdServerAssignment:
		return "Server-Assignment"
	case CmdLocationInfo:
		return "Location-Info"
	case CmdMultimediaAuth:
		return "Multimedia-Auth"
	case CmdRegistrationTermination:
		return "Registration-Termination"
	case CmdPushProfile:
		return "Push-Profile"
	}
	return fmt.Sprintf("Command(%d)", uint32(c))
}

// Request returns the request's abbreviation (TS 29.229 Table 6.1.1: UAR, SAR, LIR, MAR, RTR, PPR), the label
// every node's Cx metrics use; the decimal code for a command that is not Cx's.
func (c Command) Request() string {
	switch c {
	case CmdUserAuthorization:
		return "UAR"
	case CmdServerAssignment:
		return "SAR"
	case CmdLocationInfo:
		return "LIR"
	case CmdMultimediaAuth:
		return "MAR"
	case CmdRegistrationTermination:
		return "RTR"
	case CmdPushProfile:
		return "PPR"
	}
	return strconv.FormatUint(uint64(c), 10)
}

// AVPCode is a Diameter AVP code. Codes are only unique together with the vendor: Cx's
// Primary-Charging-Collection-Function-Name (621, vendor 10415) and RFC 7683's
// OC-Supported-Features (621, vendor 0) share a number.
type AVPCode uint32

// Base protocol AVPs, RFC 6733 (§4.5 table; vendor 0).
const (
	AVPUserName                    AVPCode = 1   // §8.14, UTF8String; the IMPI on Cx
	AVPClass                       AVPCode = 25  // §8.20, OctetString
	AVPSessionTimeout              AVPCode = 27  // §8.13, Unsigned32
	AVPProxyState                  AVPCode = 33  // §6.7.4, OctetString
	AVPAcctSessionID               AVPCode = 44  // §9.8.4, OctetString
	AVPAcctMultiSessionID          AVPCode = 50  // §9.8.5, UTF8String
	AVPEventTimestamp              AVPCode = 55  // §8.21, Time
	AVPAcctInterimInterval         AVPCode = 85  // §9.8.2, Unsigned32
	AVPHostIPAddress               AVPCode = 257 // §5.3.5, Address
	AVPAuthApplicationID           AVPCode = 258 // §6.8, Unsigned32
	AVPAcctApplicationID           AVPCode = 259 // §6.9, Unsigned32
	AVPVendorSpecificApplicationID AVPCode = 260 // §6.11, Grouped
	AVPRedirectHostUsage           AVPCode = 261 // §6.13, Enumerated
	AVPRedirectMaxCacheTime        AVPCode = 262 // §6.14, Unsigned32
	AVPSessionID                   AVPCode = 263 // §8.8, UTF8String
	AVPOriginHost                  AVPCode = 264 // §6.3, DiameterIdentity
	AVPSupportedVendorID           AVPCode = 265 // §5.3.6, Unsigned32
	AVPVendorID                    AVPCode = 266 // §5.3.3, Unsigned32
	AVPFirmwareRevision            AVPCode = 267 // §5.3.4, Unsigned32
	AVPResultCode                  AVPCode = 268 // §7.1, Unsigned32
	AVPProductName                 AVPCode = 269 // §5.3.7, UTF8String
	AVPSessionBinding              AVPCode = 270 // §8.17, Unsigned32
	AVPSessionServerFailover       AVPCode = 271 // §8.18, Enumerated
	AVPMultiRoundTimeOut           AVPCode = 272 // §8.19, Unsigned32
	AVPDisconnectCause             AVPCode = 273 // §5.4.3, Enumerated
	AVPAuthRequestType             AVPCode = 274 // §8.7, Enumerated
	AVPAuthGracePeriod             AVPCode = 276 // §8.10, Unsigned32
	AVPAuthSessionState            AVPCode = 277 // §8.11, Enumerated
	AVPOriginStateID               AVPCode = 278 // §8.16, Unsigned32
	AVPFailedAVP                   AVPCode = 279 // §7.5, Grouped
	AVPProxyHost                   AVPCode = 280 // §6.7.3, DiameterIdentity
	AVPErrorMessage                AVPCode = 281 // §7.3, UTF8String
	AVPRouteRecord                 AVPCode = 282 // §6.7.1, DiameterIdentity
	AVPDestinationRealm            AVPCode = 283 // §6.6, DiameterIdentity
	AVPProxyInfo                   AVPCode = 284 // §6.7.2, Grouped
	AVPReAuthRequestType           AVPCode = 285 // §8.12, Enumerated
	AVPAccountingSubSessionID      AVPCode = 287 // §9.8.6, Unsigned64
	AVPAuthorizationLifetime       AVPCode = 291 // §8.9, Unsigned32
	AVPRedirectHost                AVPCode = 292 // §6.12, DiameterURI
	AVPDestinationHost             AVPCode = 293 // §6.5, DiameterIdentity
	AVPErrorReportingHost          AVPCode = 294 // §7.4, DiameterIdentity
	AVPTerminationCause            AVPCode = 295 // §8.15, Enumerated
	AVPOriginRealm                 AVPCode = 296 // §6.4, DiameterIdentity
	AVPExperimentalResult          AVPCode = 297 // §7.6, Grouped
	AVPExperimentalResultCode      AVPCode = 298 // §7.7, Unsigned32
	AVPInbandSecurityID            AVPCode = 299 // §6.10, Unsigned32
	AVPAccountingRecordType        AVPCode = 480 // §9.8.1, Enumerated
	AVPAccountingRealtimeRequired  AVPCode = 483 // §9.8.7, Enumerated
	AVPAccountingRecordNumber      AVPCode = 485 // §9.8.3, Unsigned32
)

// IETF extension AVPs that Cx commands carry (vendor 0).
const (
	AVPDRMP                  AVPCode = 301 // RFC 7944 §9.1, Enumerated
	AVPOCSupportedFeatures   AVPCode = 621 // RFC 7683 §7.1, Grouped
	AVPOCFeatureVector       AVPCode = 622 // RFC 7683 §7.2, Unsigned64
	AVPOCOLR                 AVPCode = 623 // RFC 7683 §7.3, Grouped
	AVPOCSequenceNumber      AVPCode = 624 // RFC 7683 §7.4, Unsigned64
	AVPOCValidityDuration    AVPCode = 625 // RFC 7683 §7.5, Unsigned32
	AVPOCReportType          AVPCode = 626 // RFC 7683 §7.6, Enumerated
	AVPOCReductionPercentage AVPCode = 627 // RFC 7683 §7.7, Unsigned32
	AVPOCPeerAlgo            AVPCode = 648 // RFC 8581 §7.1.1, Unsigned64
	AVPSourceID              AVPCode = 649 // RFC 8581 §7.3, DiameterIdentity
	AVPLoad                  AVPCode = 650 // RFC 8583 §7.1, Grouped
	AVPLoadType              AVPCode = 651 // RFC 8583 §7.2, Enumerated
	AVPLoadValue             AVPCode = 652 // RFC 8583 §7.3, Unsigned64

	AVPFramedIPAddress   AVPCode = 8  // RFC 7155 §4.4.10.5, OctetString; in SIP-Auth-Data-Item
	AVPFramedInterfaceID AVPCode = 96 // RFC 7155 §4.4.10.5, Unsigned64; in SIP-Auth-Data-Item
	AVPFramedIPv6Prefix  AVPCode = 97 // RFC 7155 §4.4.10.5, OctetString; in SIP-Auth-Data-Item

	// RFC 4740 §9.5 Digest AVPs (UTF8String); TS 29.229 §6.3.36 uses Realm, QoP, Algorithm, HA1.
	AVPDigestResponse       AVPCode = 103
	AVPDigestRealm          AVPCode = 104
	AVPDigestNonce          AVPCode = 105
	AVPDigestResponseAuth   AVPCode = 106
	AVPDigestNextnonce      AVPCode = 107
	AVPDigestMethod         AVPCode = 108
	AVPDigestURI            AVPCode = 109
	AVPDigestQoP            AVPCode = 110
	AVPDigestAlgorithm      AVPCode = 111
	AVPDigestEntityBodyHash AVPCode = 112
	AVPDigestCNonce         AVPCode = 113
	AVPDigestNonceCount     AVPCode = 114
	AVPDigestUsername       AVPCode = 115
	AVPDigestOpaque         AVPCode = 116
	AVPDigestAuthParam      AVPCode = 117
	AVPDigestAKAAuts        AVPCode = 118
	AVPDigestDomain         AVPCode = 119
	AVPDigestStale          AVPCode = 120
	AVPDigestHA1            AVPCode = 121
)

// AVPLineIdentifier is ETSI TS 183 033 §6.3.34 Line-Identifier (vendor VendorETSI), OctetString.
const AVPLineIdentifier AVPCode = 500

// Cx/Dx AVPs, TS 29.229 §6.3 Table 6.3.1, vendor Vendor3GPP. Codes 600–626 and 633 carry the 'M'
// bit; the others only 'V' (Supported-Features may set 'M'; we do not).
const (
	AVPVisitedNetworkIdentifier                AVPCode = 600 // §6.3.1, OctetString
	AVPPublicIdentity                          AVPCode = 601 // §6.3.2, UTF8String; an IMPU
	AVPServerName                              AVPCode = 602 // §6.3.3, UTF8String; S-CSCF SIP URI
	AVPServerCapabilities                      AVPCode = 603 // §6.3.4, Grouped
	AVPMandatoryCapability                     AVPCode = 604 // §6.3.5, Unsigned32
	AVPOptionalCapability                      AVPCode = 605 // §6.3.6, Unsigned32
	AVPUserData                                AVPCode = 606 // §6.3.7, OctetString; TS 29.228 Annex E XML
	AVPSIPNumberAuthItems                      AVPCode = 607 // §6.3.8, Unsigned32
	AVPSIPAuthenticationScheme                 AVPCode = 608 // §6.3.9, UTF8String
	AVPSIPAuthenticate                         AVPCode = 609 // §6.3.10, OctetString
	AVPSIPAuthorization                        AVPCode = 610 // §6.3.11, OctetString
	AVPSIPAuthenticationContext                AVPCode = 611 // §6.3.12, OctetString
	AVPSIPAuthDataItem                         AVPCode = 612 // §6.3.13, Grouped
	AVPSIPItemNumber                           AVPCode = 613 // §6.3.14, Unsigned32
	AVPServerAssignmentType                    AVPCode = 614 // §6.3.15, Enumerated
	AVPDeregistrationReason                    AVPCode = 615 // §6.3.16, Grouped
	AVPReasonCode                              AVPCode = 616 // §6.3.17, Enumerated
	AVPReasonInfo                              AVPCode = 617 // §6.3.18, UTF8String
	AVPChargingInformation                     AVPCode = 618 // §6.3.19, Grouped
	AVPPrimaryEventChargingFunctionName        AVPCode = 619 // §6.3.20, DiameterURI
	AVPSecondaryEventChargingFunctionName      AVPCode = 620 // §6.3.21, DiameterURI
	AVPPrimaryChargingCollectionFunctionName   AVPCode = 621 // §6.3.22, DiameterURI
	AVPSecondaryChargingCollectionFunctionName AVPCode = 622 // §6.3.23, DiameterURI
	AVPUserAuthorizationType                   AVPCode = 623 // §6.3.24, Enumerated
	AVPUserDataAlreadyAvailable                AVPCode = 624 // §6.3.26, Enumerated
	AVPConfidentialityKey                      AVPCode = 625 // §6.3.27, OctetString; CK
	AVPIntegrityKey                            AVPCode = 626 // §6.3.28, OctetString; IK
	AVPUserDataRequestType                     AVPCode = 627 // §6.3.25 (void since Rel-6), Enumerated
	AVPSupportedFeatures                       AVPCode = 628 // §6.3.29, Grouped
	AVPFeatureListID                           AVPCode = 629 // §6.3.30, Unsigned32
	AVPFeatureList                             AVPCode = 630 // §6.3.31, Unsigned32
	AVPSupportedApplications                   AVPCode = 631 // §6.3.32, Grouped
	AVPAssociatedIdentities                    AVPCode = 632 // §6.3.33, Grouped
	AVPOriginatingRequest                      AVPCode = 633 // §6.3.34, Enumerated
	AVPWildcardedPublicIdentity                AVPCode = 634 // §6.3.35, UTF8String
	AVPSIPDigestAuthenticate                   AVPCode = 635 // §6.3.36, Grouped
	AVPWildcardedIMPU                          AVPCode = 636 // Table 6.3.1, UTF8String
	AVPUARFlags                                AVPCode = 637 // §6.3.44, Unsigned32
	AVPLooseRouteIndication                    AVPCode = 638 // §6.3.45, Enumerated
	AVPSCSCFRestorationInfo                    AVPCode = 639 // §6.3.46, Grouped
	AVPPath                                    AVPCode = 640 // §6.3.47, OctetString
	AVPContact                                 AVPCode = 641 // §6.3.48, OctetString
	AVPSubscriptionInfo                        AVPCode = 642 // §6.3.49, Grouped
	AVPCallIDSIPHeader                         AVPCode = 643 // §6.3.49.1, OctetString
	AVPFromSIPHeader                           AVPCode = 644 // §6.3.49.2, OctetString
	AVPToSIPHeader                             AVPCode = 645 // §6.3.49.3, OctetString
	AVPRecordRoute                             AVPCode = 646 // §6.3.49.4, OctetString
	AVPAssociatedRegisteredIdentities          AVPCode = 647 // §6.3.50, Grouped
	AVPMultipleRegistrationIndication          AVPCode = 648 // §6.3.51, Enumerated
	AVPRestorationInfo                         AVPCode = 649 // §6.3.52, Grouped
	AVPSessionPriority                         AVPCode = 650 // §6.3.56, Enumerated
	AVPIdentityWithEmergencyRegistration       AVPCode = 651 // §6.3.57, Grouped
	AVPPriviledgedSenderIndication             AVPCode = 652 // §6.3.58, Enumerated (spelling as in the spec)
	AVPLIAFlags                                AVPCode = 653 // Table 6.3.1, Unsigned32
	AVPInitialCSeqSequenceNumber               AVPCode = 654 // §6.3.62, Unsigned32
	AVPSARFlags                                AVPCode = 655 // §6.3.63, Unsigned32
	AVPAllowedWAFWWSFIdentities                AVPCode = 656 // §6.3.64, Grouped
	AVPWebRTCAuthenticationFunctionName        AVPCode = 657 // §6.3.65, UTF8String
	AVPWebRTCWebServerFunctionName             AVPCode = 658 // §6.3.66, UTF8String
	AVPRTRFlags                                AVPCode = 659 // §6.3.69, Unsigned32
	AVPPCSCFSubscriptionInfo                   AVPCode = 660 // §6.3.70, Grouped
	AVPRegistrationTimeOut                     AVPCode = 661 // §6.3.71, Time
	AVPAlternateDigestAlgorithm                AVPCode = 662 // Table 6.3.1 (Rel-17), UTF8String
	AVPAlternateDigestHA1                      AVPCode = 663 // Table 6.3.1 (Rel-17), UTF8String
	AVPFailedPCSCF                             AVPCode = 664 // Table 6.3.1 (Rel-17), Grouped
	AVPPCSCFFQDN                               AVPCode = 665 // Table 6.3.1 (Rel-17), DiameterIdentity
	AVPPCSCFIPAddress                          AVPCode = 666 // Table 6.3.1 (Rel-17), Address
	AVPOCRegTimerExt                           AVPCode = 667 // Table 6.3.1 (Rel-17), Unsigned32; in OC-OLR
)

// avpKey identifies an AVP definition: code and vendor together (RFC 6733 §4.1).
type avpKey struct {
	code   AVPCode
	vendor uint32
}

// avpRules reports whether k is an AVP our dictionary defines and whether the sender sets its
// 'M' bit (the "MUST" column of RFC 6733 §4.5, TS 29.229 Table 6.3.1 and the RFCs named on the
// constants). The dictionary test checks this against dict/*.xml entry by entry.
func avpRules(k avpKey) (known, mandatory bool) {
	switch k.vendor {
	case Vendor3GPP:
		switch {
		case k.code >= AVPVisitedNetworkIdentifier && k.code <= AVPUserDataRequestType,
			k.code == AVPOriginatingRequest:
			return true, true
		case k.code >= AVPSupportedFeatures && k.code <= AVPOCRegTimerExt:
			return true, false
		}
		return false, false
	case VendorETSI:
		return k.code == AVPLineIdentifier, false
	case 0:
		switch k.code {
		case AVPFirmwareRevision, AVPProductName, AVPErrorMessage, AVPErrorReportingHost,
			AVPDRMP, AVPOCSupportedFeatures, AVPOCFeatureVector, AVPOCOLR, AVPOCSequenceNumber,
			AVPOCValidityDuration, AVPOCReportType, AVPOCReductionPercentage, AVPOCPeerAlgo,
			AVPSourceID, AVPLoad, AVPLoadType, AVPLoadValue:
			return true, false
		case AVPUserName, AVPClass, AVPSessionTimeout, AVPProxyState, AVPAcctSessionID,
			AVPAcctMultiSessionID, AVPEventTimestamp, AVPAcctInterimInterval, AVPHostIPAddress,
			AVPAuthApplicationID, AVPAcctApplicationID, AVPVendorSpecificApplicationID,
			AVPRedirectHostUsage, AVPRedirectMaxCacheTime, AVPSessionID, AVPOriginHost,
			AVPSupportedVendorID, AVPVendorID, AVPResultCode, AVPSessionBinding,
			AVPSessionServerFailover, AVPMultiRoundTimeOut, AVPDisconnectCause,
			AVPAuthRequestType, AVPAuthGracePeriod, AVPAuthSessionState, AVPOriginStateID,
			AVPFailedAVP, AVPProxyHost, AVPRouteRecord, AVPDestinationRealm, AVPProxyInfo,
			AVPReAuthRequestType, AVPAccountingSubSessionID, AVPAuthorizationLifetime,
			AVPRedirectHost, AVPDestinationHost, AVPTerminationCause, AVPOriginRealm,
			AVPExperimentalResult, AVPExperimentalResultCode, AVPInbandSecurityID,
			AVPAccountingRecordType, AVPAccountingRealtimeRequired, AVPAccountingRecordNumber,
			AVPFramedIPAddress, AVPFramedInterfaceID, AVPFramedIPv6Prefix:
			return true, true
		}
		if k.code >= AVPDigestResponse && k.code <= AVPDigestHA1 {
			return true, true
		}
	}
	return false, false
}

// isGrouped reports whether our dictionary defines k as Grouped (RFC 6733 §4.4); the dictionary
// test checks this against dict/*.xml.
func isGrouped(k avpKey) bool {
	switch k.vendor {
	case 0:
		switch k.code {
		case AVPVendorSpecificApplicationID, AVPFailedAVP, AVPProxyInfo, AVPExperimentalResult,
			AVPOCSupportedFeatures, AVPOCOLR, AVPLoad:
			return true
		}
	case Vendor3GPP:
		switch k.code {
		case AVPServerCapabilities, AVPSIPAuthDataItem, AVPDeregistrationReason, AVPChargingInformation,
			AVPSupportedFeatures, AVPSupportedApplications, AVPAssociatedIdentities, AVPSIPDigestAuthenticate,
			AVPSCSCFRestorationInfo, AVPSubscriptionInfo, AVPAssociatedRegisteredIdentities, AVPRestorationInfo,
			AVPIdentityWithEmergencyRegistration, AVPAllowedWAFWWSFIdentities, AVPPCSCFSubscriptionInfo,
			AVPFailedPCSCF:
			return true
		}
	}
	return false
}

// avpFlags returns the header flags we send for k: 'V' when it has a vendor, 'M' per avpRules.
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
