package gaa

import "fmt"

// Application and vendor identifiers.
const (
	// AppZn is the Zn application, NAF ↔ BSF (TS 29.109 §6.2, IANA 16777220).
	AppZn uint32 = 16777220
	// AppZh is the Zh application, BSF ↔ HSS (TS 29.109 §6.2, IANA 16777221).
	AppZh uint32 = 16777221
	// Vendor3GPP is the 3GPP enterprise number, the Vendor-Id of the GAA and SIP AVPs.
	Vendor3GPP uint32 = 10415
)

// Command is a Diameter Command-Code.
type Command uint32

// GAA command codes, TS 29.109 §6.1 (Table 6.1.1). Both are proxiable.
const (
	CmdMultimediaAuth    Command = 303 // MAR/MAA on Zh, §6.1.1 and §6.1.2 (the Cx code, TS 29.229 §6.1.7)
	CmdBootstrappingInfo Command = 310 // BIR/BIA on Zn, §6.1.3 and §6.1.4
)

// String returns the command name.
func (c Command) String() string {
	switch c {
	case CmdMultimediaAuth:
		return "Multimedia-Auth"
	case CmdBootstrappingInfo:
		return "Bootstrapping-Info"
	}
	return fmt.Sprintf("Command(%d)", uint32(c))
}

// AVPCode is a Diameter AVP code; codes are unique only together with the vendor.
type AVPCode uint32

// Base protocol AVPs (vendor 0), RFC 6733.
const (
	AVPUserName                    AVPCode = 1   // §8.14, UTF8String
	AVPAuthApplicationID           AVPCode = 258 // §6.8, Unsigned32
	AVPVendorSpecificApplicationID AVPCode = 260 // §6.11, Grouped
	AVPSessionID                   AVPCode = 263 // §8.8, UTF8String
	AVPOriginHost                  AVPCode = 264 // §6.3, DiameterIdentity
	AVPVendorID                    AVPCode = 266 // §5.3.3, Unsigned32
	AVPResultCode                  AVPCode = 268 // §7.1, Unsigned32
	AVPAuthSessionState            AVPCode = 277 // §8.11, Enumerated
	AVPFailedAVP                   AVPCode = 279 // §7.5, Grouped
	AVPErrorMessage                AVPCode = 281 // §7.3, UTF8String
	AVPRouteRecord                 AVPCode = 282 // §6.7.1, DiameterIdentity
	AVPDestinationRealm            AVPCode = 283 // §6.6, DiameterIdentity
	AVPProxyInfo                   AVPCode = 284 // §6.7.2, Grouped
	AVPDestinationHost             AVPCode = 293 // §6.5, DiameterIdentity
	AVPOriginRealm                 AVPCode = 296 // §6.4, DiameterIdentity
	AVPExperimentalResult          AVPCode = 297 // §7.6, Grouped
	AVPExperimentalResultCode      AVPCode = 298 // §7.7, Unsigned32
)

// Cx AVPs Zh carries (vendor 10415, 'M' set), TS 29.229 §6.3, as TS 29.109 §6.1.1 and §6.1.2 list them.
const (
	AVPPublicIdentity          AVPCode = 601 // §6.3.2, UTF8String
	AVPServerName              AVPCode = 602 // §6.3.4, UTF8String
	AVPSIPNumberAuthItems      AVPCode = 607 // §6.3.14, Unsigned32
	AVPSIPAuthenticationScheme AVPCode = 608 // §6.3.9, UTF8String
	AVPSIPAuthenticate         AVPCode = 609 // §6.3.10, OctetString: RAND ‖ AUTN
	AVPSIPAuthorization        AVPCode = 610 // §6.3.11, OctetString: XRES, or RAND ‖ AUTS on resync
	AVPSIPAuthDataItem         AVPCode = 612 // §6.3.13, Grouped
	AVPConfidentialityKey      AVPCode = 625 // §6.3.27, OctetString: CK
	AVPIntegrityKey            AVPCode = 626 // §6.3.28, OctetString: IK
)

// GAA AVPs (vendor 10415, 'M' and 'V' set), TS 29.109 §6.3 (Table 6.3.1).
const (
	AVPGBAUserSecSettings        AVPCode = 400 // §6.3.1.1, OctetString: the GUSS XML document (Annex A)
	AVPTransactionIdentifier     AVPCode = 401 // §6.3.1.2, OctetString: the B-TID
	AVPNAFID                     AVPCode = 402 // §6.3.1.3, OctetString: NAF_Id = FQDN ‖ Ua security protocol id
	AVPGAAServiceIdentifier      AVPCode = 403 // §6.3.1.4, OctetString
	AVPKeyExpiryTime             AVPCode = 404 // §6.3.1.5, Time
	AVPMEKeyMaterial             AVPCode = 405 // §6.3.1.6, OctetString: Ks_NAF (GBA_ME)
	AVPUICCKeyMaterial           AVPCode = 406 // §6.3.1.7, OctetString
	AVPGBAUAwarenessIndicator    AVPCode = 407 // §6.3.1.8, Enumerated
	AVPBootstrapInfoCreationTime AVPCode = 408 // §6.3.1.9, Time
	AVPGUSSTimestamp             AVPCode = 409 // §6.3.1.10, Time
	AVPGBAType                   AVPCode = 410 // §6.3.1.11, Enumerated
)

// AuthSessionState NO_STATE_MAINTAINED: Zh and Zn are stateless (TS 29.109 §6.1, RFC 6733 §8.11).
const NoStateMaintained uint32 = 1

// GBAType3G is GBA-Type 3G GBA (TS 29.109 §6.3.1.11): the bootstrapping ran UMTS AKA.
const GBAType3G uint32 = 0

// Experimental-Result-Codes of TS 29.109 §6.4 and those Zh shares with Cx (TS 29.229 §6.2).
const (
	ErrorUserUnknown                  uint32 = 5001 // TS 29.229 §6.2.2.1 (Zh: the IMPI is not known)
	ErrorIdentitiesDontMatch          uint32 = 5002 // TS 29.229 §6.2.2.2
	ErrorAuthSchemeNotSupported       uint32 = 5006 // TS 29.229 §6.2.2.6
	ErrorImpiUnknown                  uint32 = 5401 // TS 29.109 §6.4.1: B-TID unknown at the BSF (Zn)
	ErrorNotAuthorized                uint32 = 5402 // TS 29.109 §6.4.2: the NAF may not get the key
	ErrorTransactionIdentifierInvalid uint32 = 5403 // TS 29.109 §6.4.3
)

// avpKey identifies an AVP definition.
type avpKey struct {
	code   AVPCode
	vendor uint32
}

// avpType is the data format of an AVP (RFC 6733 §4.2, §4.3).
type avpType string

const (
	tOctets  avpType = "OctetString"
	tUTF8    avpType = "UTF8String"
	tIdent   avpType = "DiameterIdentity"
	tU32     avpType = "Unsigned32"
	tEnum    avpType = "Enumerated"
	tTime    avpType = "Time"
	tGrouped avpType = "Grouped"
)

// avpDef is one row of the AVP table.
type avpDef struct {
	key  avpKey
	name string
	typ  avpType
	m    bool
}

// gaaAVPs are the application AVPs of Zh and Zn with the flags and types TS 29.109 Table 6.3.1 and TS
// 29.229 Table 6.3.1 give; the dictionary is built from this table (dict.go).
var gaaAVPs = []avpDef{
	{avpKey{AVPPublicIdentity, Vendor3GPP}, "Public-Identity", tUTF8, true},
	{avpKey{AVPServerName, Vendor3GPP}, "Server-Name", tUTF8, true},
	{avpKey{AVPSIPNumberAuthItems, Vendor3GPP}, "SIP-Number-Auth-Items", tU32, true},
	{avpKey{AVPSIPAuthenticationScheme, Vendor3GPP}, "SIP-Authentication-Scheme", tUTF8, true},
	{avpKey{AVPSIPAuthenticate, Vendor3GPP}, "SIP-Authenticate", tOctets, true},
	{avpKey{AVPSIPAuthorization, Vendor3GPP}, "SIP-Authorization", tOctets, true},
	{avpKey{AVPSIPAuthDataItem, Vendor3GPP}, "SIP-Auth-Data-Item", tGrouped, true},
	{avpKey{AVPConfidentialityKey, Vendor3GPP}, "Confidentiality-Key", tOctets, true},
	{avpKey{AVPIntegrityKey, Vendor3GPP}, "Integrity-Key", tOctets, true},
	{avpKey{AVPGBAUserSecSettings, Vendor3GPP}, "GBA-UserSecSettings", tOctets, true},
	{avpKey{AVPTransactionIdentifier, Vendor3GPP}, "Transaction-Identifier", tOctets, true},
	{avpKey{AVPNAFID, Vendor3GPP}, "NAF-Id", tOctets, true},
	{avpKey{AVPGAAServiceIdentifier, Vendor3GPP}, "GAA-Service-Identifier", tOctets, true},
	{avpKey{AVPKeyExpiryTime, Vendor3GPP}, "Key-ExpiryTime", tTime, true},
	{avpKey{AVPMEKeyMaterial, Vendor3GPP}, "ME-Key-Material", tOctets, true},
	{avpKey{AVPUICCKeyMaterial, Vendor3GPP}, "UICC-Key-Material", tOctets, true},
	{avpKey{AVPGBAUAwarenessIndicator, Vendor3GPP}, "GBA_U-Awareness-Indicator", tEnum, true},
	{avpKey{AVPBootstrapInfoCreationTime, Vendor3GPP}, "BootstrapInfoCreationTime", tTime, true},
	{avpKey{AVPGUSSTimestamp, Vendor3GPP}, "GUSS-Timestamp", tTime, true},
	{avpKey{AVPGBAType, Vendor3GPP}, "GBA-Type", tEnum, true},
}

// flagsOf returns the AVP flags we send for k: 'V' for a vendor AVP, 'M' for every AVP Zh and Zn carry
// (TS 29.109 Table 6.3.1 and TS 29.229 Table 6.3.1 mark them "M"; the base AVPs are 'M' per RFC 6733 §4.5).
func flagsOf(k avpKey) uint8 {
	f := uint8(0x40) // M
	if k.vendor != 0 {
		f |= 0x80 // V
	}
	return f
}
