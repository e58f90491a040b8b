package cx

import (
	"net/netip"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/imscore/imscore/diameter"
)

// Grouped AVPs of the Cx commands. Each has an Unknown field for the AVPs inside it that no
// field takes (the "*[ AVP ]" of its ABNF), so that re-encoding loses nothing. Fields follow
// the ABNF order; optional scalars are pointers (or "" / nil), repeated AVPs slices.

// SIP-Authentication-Scheme values, TS 29.229 §6.3.9 (the strings are TS 29.228 Table 6.3.2's).
const (
	SchemeAKAv1MD5         = "Digest-AKAv1-MD5"   // IMS AKA, TS 33.203, RFC 3310
	SchemeSIPDigest        = "SIP Digest"         // TS 33.203 Annex N, RFC 2617 HA1 from the HSS
	SchemeNASSBundled      = "NASS-Bundled"       // ETSI TS 183 033
	SchemeEarlyIMSSecurity = "Early-IMS-Security" // TS 33.978 (GPRS-IMS-Bundled)
	SchemeUnknown          = "Unknown"            // MAR from an S-CSCF that lets the HSS choose
)

// VendorSpecificApplicationID is RFC 6733 §6.11 Vendor-Specific-Application-Id. On Cx it names
// vendor Vendor3GPP and Auth-Application-Id AppID (TS 29.229 §6.1); a nil pointer in a message
// struct encodes exactly that.
type VendorSpecificApplicationID struct {
	VendorID          uint32      // Vendor-Id
	AuthApplicationID uint32      // Auth-Application-Id; 0 when absent
	AcctApplicationID uint32      // Acct-Application-Id; 0 when absent
	Unknown           []*diam.AVP // AVPs RFC 6733 does not allow here, kept as received
}

// CxApplicationID returns the Vendor-Specific-Application-Id every Cx message carries.
func CxApplicationID() *VendorSpecificApplicationID {
	return &VendorSpecificApplicationID{VendorID: Vendor3GPP, AuthApplicationID: AppID}
}

func (x *VendorSpecificApplicationID) put(e *encoder) {
	if x == nil {
		x = CxApplicationID()
	}
	e.group(base(AVPVendorSpecificApplicationID), func(g *encoder) {
		g.u32(base(AVPVendorID), x.VendorID)
		if x.AuthApplicationID != 0 {
			g.u32(base(AVPAuthApplicationID), x.AuthApplicationID)
		}
		if x.AcctApplicationID != 0 {
			g.u32(base(AVPAcctApplicationID), x.AcctApplicationID)
		}
		g.extra(x.Unknown)
	})
}

func decodeVendorSpecificApplicationID(d *decoder, a wireAVP) *VendorSpecificApplicationID {
	x := &VendorSpecificApplicationID{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPVendorID):
			g.setU32(c, &x.VendorID)
		case base(AVPAuthApplicationID):
			g.setU32(c, &x.AuthApplicationID)
		case base(AVPAcctApplicationID):
			g.setU32(c, &x.AcctApplicationID)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPVendorID), "Vendor-Id", datatype.Unsigned32(0))
	})
	return x
}

// ProxyInfo is RFC 6733 §6.7.2 Proxy-Info, added by relays and proxies; an answer returns
// them in the order received (§6.2).
type ProxyInfo struct {
	ProxyHost  string // Proxy-Host (DiameterIdentity)
	ProxyState []byte // Proxy-State, opaque to all but the proxy
	Unknown    []*diam.AVP
}

func (x *ProxyInfo) put(e *encoder) {
	e.group(base(AVPProxyInfo), func(g *encoder) {
		g.ident(base(AVPProxyHost), "Proxy-Host", x.ProxyHost)
		g.octets(base(AVPProxyState), "Proxy-State", x.ProxyState)
		g.extra(x.Unknown)
	})
}

func decodeProxyInfo(d *decoder, a wireAVP) ProxyInfo {
	var x ProxyInfo
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPProxyHost):
			g.setStr(c, &x.ProxyHost)
		case base(AVPProxyState):
			g.setOctets(c, &x.ProxyState)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPProxyHost), "Proxy-Host", datatype.DiameterIdentity(""))
		g.need(base(AVPProxyState), "Proxy-State", datatype.OctetString(""))
	})
	return x
}

// SupportedFeatures is TS 29.229 §6.3.29 Supported-Features (TS 29.229 §7.1/§7.2 feature lists).
type SupportedFeatures struct {
	VendorID      uint32 // Vendor-Id of the feature list's owner
	FeatureListID uint32 // Feature-List-ID (§6.3.30)
	FeatureList   uint32 // Feature-List, a bit mask (§6.3.31)
	Unknown       []*diam.AVP
}

func (x *SupportedFeatures) put(e *encoder) {
	e.group(tgpp(AVPSupportedFeatures), func(g *encoder) {
		g.u32(base(AVPVendorID), x.VendorID)
		g.u32(tgpp(AVPFeatureListID), x.FeatureListID)
		g.u32(tgpp(AVPFeatureList), x.FeatureList)
		g.extra(x.Unknown)
	})
}

func decodeSupportedFeatures(d *decoder, a wireAVP) SupportedFeatures {
	var x SupportedFeatures
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPVendorID):
			g.setU32(c, &x.VendorID)
		case tgpp(AVPFeatureListID):
			g.setU32(c, &x.FeatureListID)
		case tgpp(AVPFeatureList):
			g.setU32(c, &x.FeatureList)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPVendorID), "Vendor-Id", datatype.Unsigned32(0))
		g.need(tgpp(AVPFeatureListID), "Feature-List-ID", datatype.Unsigned32(0))
		g.need(tgpp(AVPFeatureList), "Feature-List", datatype.Unsigned32(0))
	})
	return x
}

// OCSupportedFeatures is RFC 7683 §7.1 OC-Supported-Features (with RFC 8581 additions).
type OCSupportedFeatures struct {
	FeatureVector *uint64 // OC-Feature-Vector (§7.2); bit 0 OLR_DEFAULT_ALGO
	SourceID      string  // SourceID (RFC 8581 §7.3)
	PeerAlgo      *uint64 // OC-Peer-Algo (RFC 8581 §7.1.1)
	Unknown       []*diam.AVP
}

func (x *OCSupportedFeatures) put(e *encoder) {
	e.group(base(AVPOCSupportedFeatures), func(g *encoder) {
		g.optU64(base(AVPOCFeatureVector), x.FeatureVector)
		g.optIdent(base(AVPSourceID), "SourceID", x.SourceID)
		g.optU64(base(AVPOCPeerAlgo), x.PeerAlgo)
		g.extra(x.Unknown)
	})
}

func decodeOCSupportedFeatures(d *decoder, a wireAVP) *OCSupportedFeatures {
	x := &OCSupportedFeatures{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPOCFeatureVector):
			g.setOptU64(c, &x.FeatureVector)
		case base(AVPSourceID):
			g.setStr(c, &x.SourceID)
		case base(AVPOCPeerAlgo):
			g.setOptU64(c, &x.PeerAlgo)
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// OCOLR is RFC 7683 §7.3 OC-OLR, an overload report, with TS 29.229's OC-Reg-Timer-Ext.
type OCOLR struct {
	SequenceNumber      uint64       // OC-Sequence-Number (§7.4)
	ReportType          OCReportType // OC-Report-Type (§7.6)
	ReductionPercentage *uint32      // OC-Reduction-Percentage (§7.7)
	ValidityDuration    *uint32      // OC-Validity-Duration in seconds (§7.5)
	RegTimerExt         *uint32      // OC-Reg-Timer-Ext (TS 29.229, vendor 10415)
	SourceID            string       // SourceID (RFC 8581 §7.3)
	Unknown             []*diam.AVP
}

func (x *OCOLR) put(e *encoder) {
	e.group(base(AVPOCOLR), func(g *encoder) {
		g.u64(base(AVPOCSequenceNumber), x.SequenceNumber)
		encodeEnum(g, base(AVPOCReportType), x.ReportType)
		g.optU32(base(AVPOCReductionPercentage), x.ReductionPercentage)
		g.optU32(base(AVPOCValidityDuration), x.ValidityDuration)
		g.optU32(tgpp(AVPOCRegTimerExt), x.RegTimerExt)
		g.optIdent(base(AVPSourceID), "SourceID", x.SourceID)
		g.extra(x.Unknown)
	})
}

func decodeOCOLR(d *decoder, a wireAVP) *OCOLR {
	x := &OCOLR{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPOCSequenceNumber):
			g.setU64(c, &x.SequenceNumber)
		case base(AVPOCReportType):
			setEnum(g, c, &x.ReportType)
		case base(AVPOCReductionPercentage):
			g.setOptU32(c, &x.ReductionPercentage)
		case base(AVPOCValidityDuration):
			g.setOptU32(c, &x.ValidityDuration)
		case tgpp(AVPOCRegTimerExt):
			g.setOptU32(c, &x.RegTimerExt)
		case base(AVPSourceID):
			g.setStr(c, &x.SourceID)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPOCSequenceNumber), "OC-Sequence-Number", datatype.Unsigned64(0))
		g.need(base(AVPOCReportType), "OC-Report-Type", datatype.Enumerated(0))
	})
	return x
}

// Load is RFC 8583 §7.1 Load: the sender's load, for peers balancing traffic.
type Load struct {
	Type     *LoadType // Load-Type (§7.2)
	Value    *uint64   // Load-Value (§7.3), 0 (idle) … 65535
	SourceID string    // SourceID
	Unknown  []*diam.AVP
}

func (x *Load) put(e *encoder) {
	e.group(base(AVPLoad), func(g *encoder) {
		encodeOptEnum(g, base(AVPLoadType), x.Type)
		g.optU64(base(AVPLoadValue), x.Value)
		g.optIdent(base(AVPSourceID), "SourceID", x.SourceID)
		g.extra(x.Unknown)
	})
}

func decodeLoad(d *decoder, a wireAVP) Load {
	var x Load
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPLoadType):
			setOptEnum(g, c, &x.Type)
		case base(AVPLoadValue):
			g.setOptU64(c, &x.Value)
		case base(AVPSourceID):
			g.setStr(c, &x.SourceID)
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// ServerCapabilities is TS 29.229 §6.3.4 Server-Capabilities: what the I-CSCF needs to pick an
// S-CSCF (TS 29.228 §6.7). Capability numbers are operator-defined.
type ServerCapabilities struct {
	MandatoryCapabilities []uint32 // Mandatory-Capability (§6.3.5)
	OptionalCapabilities  []uint32 // Optional-Capability (§6.3.6)
	ServerNames           []string // Server-Name (§6.3.3): candidate S-CSCF SIP URIs
	Unknown               []*diam.AVP
}

func (x *ServerCapabilities) put(e *encoder) {
	e.group(tgpp(AVPServerCapabilities), func(g *encoder) {
		for _, v := range x.MandatoryCapabilities {
			g.u32(tgpp(AVPMandatoryCapability), v)
		}
		for _, v := range x.OptionalCapabilities {
			g.u32(tgpp(AVPOptionalCapability), v)
		}
		for _, v := range x.ServerNames {
			g.str(tgpp(AVPServerName), "Server-Name", v)
		}
		g.extra(x.Unknown)
	})
}

func decodeServerCapabilities(d *decoder, a wireAVP) *ServerCapabilities {
	x := &ServerCapabilities{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPMandatoryCapability):
			g.addU32(c, &x.MandatoryCapabilities)
		case tgpp(AVPOptionalCapability):
			g.addU32(c, &x.OptionalCapabilities)
		case tgpp(AVPServerName):
			g.addStr(c, &x.ServerNames)
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// SIPDigestAuthenticate is TS 29.229 §6.3.36 SIP-Digest-Authenticate: what the S-CSCF needs for
// SIP Digest (RFC 2617 via RFC 4740 AVPs); the HSS never sends the password, only HA1.
type SIPDigestAuthenticate struct {
	Realm              string // Digest-Realm
	Algorithm          string // Digest-Algorithm; absent means MD5
	QoP                string // Digest-QoP
	HA1                string // Digest-HA1: hex H(username:realm:password)
	AlternateAlgorithm string // Alternate-Digest-Algorithm (Rel-17, e.g. SHA-256)
	AlternateHA1       string // Alternate-Digest-HA1 (Rel-17)
	Unknown            []*diam.AVP
}

func (x *SIPDigestAuthenticate) put(e *encoder) {
	e.group(tgpp(AVPSIPDigestAuthenticate), func(g *encoder) {
		g.str(base(AVPDigestRealm), "Digest-Realm", x.Realm)
		g.optStr(base(AVPDigestAlgorithm), "Digest-Algorithm", x.Algorithm)
		g.str(base(AVPDigestQoP), "Digest-QoP", x.QoP)
		g.str(base(AVPDigestHA1), "Digest-HA1", x.HA1)
		g.optStr(tgpp(AVPAlternateDigestAlgorithm), "Alternate-Digest-Algorithm", x.AlternateAlgorithm)
		g.optStr(tgpp(AVPAlternateDigestHA1), "Alternate-Digest-HA1", x.AlternateHA1)
		g.extra(x.Unknown)
	})
}

func decodeSIPDigestAuthenticate(d *decoder, a wireAVP) *SIPDigestAuthenticate {
	x := &SIPDigestAuthenticate{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPDigestRealm):
			g.setStr(c, &x.Realm)
		case base(AVPDigestAlgorithm):
			g.setStr(c, &x.Algorithm)
		case base(AVPDigestQoP):
			g.setStr(c, &x.QoP)
		case base(AVPDigestHA1):
			g.setStr(c, &x.HA1)
		case tgpp(AVPAlternateDigestAlgorithm):
			g.setStr(c, &x.AlternateAlgorithm)
		case tgpp(AVPAlternateDigestHA1):
			g.setStr(c, &x.AlternateHA1)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPDigestRealm), "Digest-Realm", datatype.UTF8String(""))
		g.need(base(AVPDigestQoP), "Digest-QoP", datatype.UTF8String(""))
		g.need(base(AVPDigestHA1), "Digest-HA1", datatype.UTF8String(""))
	})
	return x
}

// SIPAuthDataItem is TS 29.229 §6.3.13 SIP-Auth-Data-Item: in a MAR the scheme the S-CSCF wants
// (and RAND‖AUTS on resynchronisation), in an MAA one authentication vector.
type SIPAuthDataItem struct {
	ItemNumber            *uint32                // SIP-Item-Number (§6.3.14): order of use
	Scheme                string                 // SIP-Authentication-Scheme (§6.3.9), e.g. SchemeAKAv1MD5
	Authenticate          []byte                 // SIP-Authenticate (§6.3.10): RAND‖AUTN for AKA (MAA)
	Authorization         []byte                 // SIP-Authorization (§6.3.11): XRES (MAA); RAND‖AUTS on resync (MAR)
	AuthenticationContext []byte                 // SIP-Authentication-Context (§6.3.12)
	ConfidentialityKey    []byte                 // Confidentiality-Key (§6.3.27): CK
	IntegrityKey          []byte                 // Integrity-Key (§6.3.28): IK
	DigestAuthenticate    *SIPDigestAuthenticate // SIP-Digest-Authenticate (§6.3.36), SIP Digest only
	FramedIPAddress       []byte                 // Framed-IP-Address (NASS-Bundled / Early IMS)
	FramedIPv6Prefix      []byte                 // Framed-IPv6-Prefix
	FramedInterfaceID     *uint64                // Framed-Interface-Id
	LineIdentifiers       [][]byte               // Line-Identifier (ETSI, vendor 13019)
	Unknown               []*diam.AVP
}

func (x *SIPAuthDataItem) put(e *encoder) {
	e.group(tgpp(AVPSIPAuthDataItem), func(g *encoder) {
		g.optU32(tgpp(AVPSIPItemNumber), x.ItemNumber)
		g.optStr(tgpp(AVPSIPAuthenticationScheme), "SIP-Authentication-Scheme", x.Scheme)
		g.optOctets(tgpp(AVPSIPAuthenticate), x.Authenticate)
		g.optOctets(tgpp(AVPSIPAuthorization), x.Authorization)
		g.optOctets(tgpp(AVPSIPAuthenticationContext), x.AuthenticationContext)
		g.optOctets(tgpp(AVPConfidentialityKey), x.ConfidentialityKey)
		g.optOctets(tgpp(AVPIntegrityKey), x.IntegrityKey)
		if x.DigestAuthenticate != nil {
			x.DigestAuthenticate.put(g)
		}
		g.optOctets(base(AVPFramedIPAddress), x.FramedIPAddress)
		g.optOctets(base(AVPFramedIPv6Prefix), x.FramedIPv6Prefix)
		g.optU64(base(AVPFramedInterfaceID), x.FramedInterfaceID)
		for _, v := range x.LineIdentifiers {
			g.octets(avpKey{AVPLineIdentifier, VendorETSI}, "Line-Identifier", v)
		}
		g.extra(x.Unknown)
	})
}

func decodeSIPAuthDataItem(d *decoder, a wireAVP) SIPAuthDataItem {
	var x SIPAuthDataItem
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPSIPItemNumber):
			g.setOptU32(c, &x.ItemNumber)
		case tgpp(AVPSIPAuthenticationScheme):
			g.setStr(c, &x.Scheme)
		case tgpp(AVPSIPAuthenticate):
			g.setOctets(c, &x.Authenticate)
		case tgpp(AVPSIPAuthorization):
			g.setOctets(c, &x.Authorization)
		case tgpp(AVPSIPAuthenticationContext):
			g.setOctets(c, &x.AuthenticationContext)
		case tgpp(AVPConfidentialityKey):
			g.setOctets(c, &x.ConfidentialityKey)
		case tgpp(AVPIntegrityKey):
			g.setOctets(c, &x.IntegrityKey)
		case tgpp(AVPSIPDigestAuthenticate):
			if g.once(c) {
				x.DigestAuthenticate = decodeSIPDigestAuthenticate(g, c)
			}
		case base(AVPFramedIPAddress):
			g.setOctets(c, &x.FramedIPAddress)
		case base(AVPFramedIPv6Prefix):
			g.setOctets(c, &x.FramedIPv6Prefix)
		case base(AVPFramedInterfaceID):
			g.setOptU64(c, &x.FramedInterfaceID)
		case avpKey{AVPLineIdentifier, VendorETSI}:
			g.addOctets(c, &x.LineIdentifiers)
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// DeregistrationReason is TS 29.229 §6.3.16 Deregistration-Reason (RTR).
type DeregistrationReason struct {
	Code    ReasonCode // Reason-Code (§6.3.17)
	Info    string     // Reason-Info (§6.3.18): text for the user
	Unknown []*diam.AVP
}

func (x *DeregistrationReason) put(e *encoder) {
	e.group(tgpp(AVPDeregistrationReason), func(g *encoder) {
		encodeEnum(g, tgpp(AVPReasonCode), x.Code)
		g.optStr(tgpp(AVPReasonInfo), "Reason-Info", x.Info)
		g.extra(x.Unknown)
	})
}

func decodeDeregistrationReason(d *decoder, a wireAVP) DeregistrationReason {
	var x DeregistrationReason
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPReasonCode):
			setEnum(g, c, &x.Code)
		case tgpp(AVPReasonInfo):
			g.setStr(c, &x.Info)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(tgpp(AVPReasonCode), "Reason-Code", datatype.Enumerated(0))
	})
	return x
}

// ChargingInformation is TS 29.229 §6.3.19 Charging-Information: the charging functions (CCF,
// ECF) as DiameterURIs.
type ChargingInformation struct {
	PrimaryEventChargingFunctionName        string // §6.3.20
	SecondaryEventChargingFunctionName      string // §6.3.21
	PrimaryChargingCollectionFunctionName   string // §6.3.22
	SecondaryChargingCollectionFunctionName string // §6.3.23
	Unknown                                 []*diam.AVP
}

func (x *ChargingInformation) put(e *encoder) {
	e.group(tgpp(AVPChargingInformation), func(g *encoder) {
		g.optURI(tgpp(AVPPrimaryEventChargingFunctionName), "Primary-Event-Charging-Function-Name", x.PrimaryEventChargingFunctionName)
		g.optURI(tgpp(AVPSecondaryEventChargingFunctionName), "Secondary-Event-Charging-Function-Name", x.SecondaryEventChargingFunctionName)
		g.optURI(tgpp(AVPPrimaryChargingCollectionFunctionName), "Primary-Charging-Collection-Function-Name", x.PrimaryChargingCollectionFunctionName)
		g.optURI(tgpp(AVPSecondaryChargingCollectionFunctionName), "Secondary-Charging-Collection-Function-Name", x.SecondaryChargingCollectionFunctionName)
		g.extra(x.Unknown)
	})
}

func decodeChargingInformation(d *decoder, a wireAVP) *ChargingInformation {
	x := &ChargingInformation{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPPrimaryEventChargingFunctionName):
			g.setStr(c, &x.PrimaryEventChargingFunctionName)
		case tgpp(AVPSecondaryEventChargingFunctionName):
			g.setStr(c, &x.SecondaryEventChargingFunctionName)
		case tgpp(AVPPrimaryChargingCollectionFunctionName):
			g.setStr(c, &x.PrimaryChargingCollectionFunctionName)
		case tgpp(AVPSecondaryChargingCollectionFunctionName):
			g.setStr(c, &x.SecondaryChargingCollectionFunctionName)
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// AssociatedIdentities is TS 29.229 §6.3.33 Associated-Identities: the private identities
// (User-Name) that share the public identities of the request.
type AssociatedIdentities struct {
	UserNames []string
	Unknown   []*diam.AVP
}

func (x *AssociatedIdentities) put(e *encoder) {
	putUserNames(e, tgpp(AVPAssociatedIdentities), x.UserNames, x.Unknown)
}

func decodeAssociatedIdentities(d *decoder, a wireAVP) *AssociatedIdentities {
	x := &AssociatedIdentities{}
	x.UserNames = decodeUserNames(d, a, &x.Unknown)
	return x
}

// AssociatedRegisteredIdentities is TS 29.229 §6.3.50 Associated-Registered-Identities: the
// private identities registered with the same public identity.
type AssociatedRegisteredIdentities struct {
	UserNames []string
	Unknown   []*diam.AVP
}

func (x *AssociatedRegisteredIdentities) put(e *encoder) {
	putUserNames(e, tgpp(AVPAssociatedRegisteredIdentities), x.UserNames, x.Unknown)
}

func decodeAssociatedRegisteredIdentities(d *decoder, a wireAVP) *AssociatedRegisteredIdentities {
	x := &AssociatedRegisteredIdentities{}
	x.UserNames = decodeUserNames(d, a, &x.Unknown)
	return x
}

// putUserNames encodes a grouped AVP whose content is User-Name AVPs: Associated-Identities
// (§6.3.33) and Associated-Registered-Identities (§6.3.50) differ only in their code.
func putUserNames(e *encoder, k avpKey, names []string, unknown []*diam.AVP) {
	e.group(k, func(g *encoder) {
		for _, v := range names {
			g.str(base(AVPUserName), "User-Name", v)
		}
		g.extra(unknown)
	})
}

// decodeUserNames reads the User-Names of such a grouped AVP; other AVPs go to unknown.
func decodeUserNames(d *decoder, a wireAVP, unknown *[]*diam.AVP) []string {
	var names []string
	d.group(a, unknown, func(g *decoder, c wireAVP) bool {
		if keyOf(c) != base(AVPUserName) {
			return false
		}
		g.addStr(c, &names)
		return true
	}, nil)
	return names
}

// SubscriptionInfo is TS 29.229 §6.3.49 Subscription-Info: the reg-event subscription dialog of
// a registration, kept by the HSS for S-CSCF restoration (TS 23.380).
type SubscriptionInfo struct {
	CallIDSIPHeader []byte // Call-ID-SIP-Header (§6.3.49.1)
	FromSIPHeader   []byte // From-SIP-Header (§6.3.49.2)
	ToSIPHeader     []byte // To-SIP-Header (§6.3.49.3)
	RecordRoute     []byte // Record-Route (§6.3.49.4)
	Contact         []byte // Contact (§6.3.48)
	Unknown         []*diam.AVP
}

func (x *SubscriptionInfo) put(e *encoder) {
	e.group(tgpp(AVPSubscriptionInfo), func(g *encoder) {
		g.octets(tgpp(AVPCallIDSIPHeader), "Call-ID-SIP-Header", x.CallIDSIPHeader)
		g.octets(tgpp(AVPFromSIPHeader), "From-SIP-Header", x.FromSIPHeader)
		g.octets(tgpp(AVPToSIPHeader), "To-SIP-Header", x.ToSIPHeader)
		g.octets(tgpp(AVPRecordRoute), "Record-Route", x.RecordRoute)
		g.octets(tgpp(AVPContact), "Contact", x.Contact)
		g.extra(x.Unknown)
	})
}

func decodeSubscriptionInfo(d *decoder, a wireAVP) *SubscriptionInfo {
	x := &SubscriptionInfo{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPCallIDSIPHeader):
			g.setOctets(c, &x.CallIDSIPHeader)
		case tgpp(AVPFromSIPHeader):
			g.setOctets(c, &x.FromSIPHeader)
		case tgpp(AVPToSIPHeader):
			g.setOctets(c, &x.ToSIPHeader)
		case tgpp(AVPRecordRoute):
			g.setOctets(c, &x.RecordRoute)
		case tgpp(AVPContact):
			g.setOctets(c, &x.Contact)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(tgpp(AVPCallIDSIPHeader), "Call-ID-SIP-Header", datatype.OctetString(""))
		g.need(tgpp(AVPFromSIPHeader), "From-SIP-Header", datatype.OctetString(""))
		g.need(tgpp(AVPToSIPHeader), "To-SIP-Header", datatype.OctetString(""))
		g.need(tgpp(AVPRecordRoute), "Record-Route", datatype.OctetString(""))
		g.need(tgpp(AVPContact), "Contact", datatype.OctetString(""))
	})
	return x
}

// PCSCFSubscriptionInfo is TS 29.229 §6.3.70 P-CSCF-Subscription-Info: the P-CSCF's reg-event
// subscription, for restoration.
type PCSCFSubscriptionInfo struct {
	CallIDSIPHeader []byte
	FromSIPHeader   []byte
	ToSIPHeader     []byte
	Contact         []byte
	Unknown         []*diam.AVP
}

func (x *PCSCFSubscriptionInfo) put(e *encoder) {
	e.group(tgpp(AVPPCSCFSubscriptionInfo), func(g *encoder) {
		g.octets(tgpp(AVPCallIDSIPHeader), "Call-ID-SIP-Header", x.CallIDSIPHeader)
		g.octets(tgpp(AVPFromSIPHeader), "From-SIP-Header", x.FromSIPHeader)
		g.octets(tgpp(AVPToSIPHeader), "To-SIP-Header", x.ToSIPHeader)
		g.octets(tgpp(AVPContact), "Contact", x.Contact)
		g.extra(x.Unknown)
	})
}

func decodePCSCFSubscriptionInfo(d *decoder, a wireAVP) *PCSCFSubscriptionInfo {
	x := &PCSCFSubscriptionInfo{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPCallIDSIPHeader):
			g.setOctets(c, &x.CallIDSIPHeader)
		case tgpp(AVPFromSIPHeader):
			g.setOctets(c, &x.FromSIPHeader)
		case tgpp(AVPToSIPHeader):
			g.setOctets(c, &x.ToSIPHeader)
		case tgpp(AVPContact):
			g.setOctets(c, &x.Contact)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(tgpp(AVPCallIDSIPHeader), "Call-ID-SIP-Header", datatype.OctetString(""))
		g.need(tgpp(AVPFromSIPHeader), "From-SIP-Header", datatype.OctetString(""))
		g.need(tgpp(AVPToSIPHeader), "To-SIP-Header", datatype.OctetString(""))
		g.need(tgpp(AVPContact), "Contact", datatype.OctetString(""))
	})
	return x
}

// RestorationInfo is TS 29.229 §6.3.52 Restoration-Info: one registered contact's routing data.
type RestorationInfo struct {
	Path                      []byte                 // Path (§6.3.47): the Path header value
	Contact                   []byte                 // Contact (§6.3.48)
	InitialCSeqSequenceNumber *uint32                // Initial-CSeq-Sequence-Number (§6.3.62)
	CallIDSIPHeader           []byte                 // Call-ID-SIP-Header of the REGISTER
	SubscriptionInfo          *SubscriptionInfo      // §6.3.49
	PCSCFSubscriptionInfo     *PCSCFSubscriptionInfo // §6.3.70
	Unknown                   []*diam.AVP
}

func (x *RestorationInfo) put(e *encoder) {
	e.group(tgpp(AVPRestorationInfo), func(g *encoder) {
		g.octets(tgpp(AVPPath), "Path", x.Path)
		g.octets(tgpp(AVPContact), "Contact", x.Contact)
		g.optU32(tgpp(AVPInitialCSeqSequenceNumber), x.InitialCSeqSequenceNumber)
		g.optOctets(tgpp(AVPCallIDSIPHeader), x.CallIDSIPHeader)
		if x.SubscriptionInfo != nil {
			x.SubscriptionInfo.put(g)
		}
		if x.PCSCFSubscriptionInfo != nil {
			x.PCSCFSubscriptionInfo.put(g)
		}
		g.extra(x.Unknown)
	})
}

func decodeRestorationInfo(d *decoder, a wireAVP) RestorationInfo {
	var x RestorationInfo
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPPath):
			g.setOctets(c, &x.Path)
		case tgpp(AVPContact):
			g.setOctets(c, &x.Contact)
		case tgpp(AVPInitialCSeqSequenceNumber):
			g.setOptU32(c, &x.InitialCSeqSequenceNumber)
		case tgpp(AVPCallIDSIPHeader):
			g.setOctets(c, &x.CallIDSIPHeader)
		case tgpp(AVPSubscriptionInfo):
			if g.once(c) {
				x.SubscriptionInfo = decodeSubscriptionInfo(g, c)
			}
		case tgpp(AVPPCSCFSubscriptionInfo):
			if g.once(c) {
				x.PCSCFSubscriptionInfo = decodePCSCFSubscriptionInfo(g, c)
			}
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(tgpp(AVPPath), "Path", datatype.OctetString(""))
		g.need(tgpp(AVPContact), "Contact", datatype.OctetString(""))
	})
	return x
}

// SCSCFRestorationInfo is TS 29.229 §6.3.46 SCSCF-Restoration-Info: what another S-CSCF needs to
// serve a registered user after a failure (TS 23.380 §4).
type SCSCFRestorationInfo struct {
	UserName                string            // User-Name: the IMPI
	RestorationInfo         []RestorationInfo // 1*{ Restoration-Info } (§6.3.52)
	RegistrationTimeOut     *time.Time        // Registration-Time-Out (§6.3.71)
	SIPAuthenticationScheme string            // SIP-Authentication-Scheme used at registration
	Unknown                 []*diam.AVP
}

func (x *SCSCFRestorationInfo) put(e *encoder) {
	e.group(tgpp(AVPSCSCFRestorationInfo), func(g *encoder) {
		g.str(base(AVPUserName), "User-Name", x.UserName)
		if len(x.RestorationInfo) == 0 {
			g.invalid("SCSCF-Restoration-Info has no Restoration-Info")
		}
		for i := range x.RestorationInfo {
			x.RestorationInfo[i].put(g)
		}
		g.optTime(tgpp(AVPRegistrationTimeOut), x.RegistrationTimeOut)
		g.optStr(tgpp(AVPSIPAuthenticationScheme), "SIP-Authentication-Scheme", x.SIPAuthenticationScheme)
		g.extra(x.Unknown)
	})
}

func decodeSCSCFRestorationInfo(d *decoder, a wireAVP) SCSCFRestorationInfo {
	var x SCSCFRestorationInfo
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPUserName):
			g.setStr(c, &x.UserName)
		case tgpp(AVPRestorationInfo):
			if g.many(c) {
				x.RestorationInfo = append(x.RestorationInfo, decodeRestorationInfo(g, c))
			}
		case tgpp(AVPRegistrationTimeOut):
			g.setOptTime(c, &x.RegistrationTimeOut)
		case tgpp(AVPSIPAuthenticationScheme):
			g.setStr(c, &x.SIPAuthenticationScheme)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPUserName), "User-Name", datatype.UTF8String(""))
		g.need(tgpp(AVPRestorationInfo), "Restoration-Info", &diam.GroupedAVP{})
	})
	return x
}

// IdentityWithEmergencyRegistration is TS 29.229 §6.3.57 Identity-with-Emergency-Registration
// (RTA): a private/public identity pair with an emergency registration the S-CSCF keeps.
type IdentityWithEmergencyRegistration struct {
	UserName       string // User-Name: IMPI
	PublicIdentity string // Public-Identity: IMPU
	Unknown        []*diam.AVP
}

func (x *IdentityWithEmergencyRegistration) put(e *encoder) {
	e.group(tgpp(AVPIdentityWithEmergencyRegistration), func(g *encoder) {
		g.str(base(AVPUserName), "User-Name", x.UserName)
		g.str(tgpp(AVPPublicIdentity), "Public-Identity", x.PublicIdentity)
		g.extra(x.Unknown)
	})
}

func decodeIdentityWithEmergencyRegistration(d *decoder, a wireAVP) IdentityWithEmergencyRegistration {
	var x IdentityWithEmergencyRegistration
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPUserName):
			g.setStr(c, &x.UserName)
		case tgpp(AVPPublicIdentity):
			g.setStr(c, &x.PublicIdentity)
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPUserName), "User-Name", datatype.UTF8String(""))
		g.need(tgpp(AVPPublicIdentity), "Public-Identity", datatype.UTF8String(""))
	})
	return x
}

// AllowedWAFWWSFIdentities is TS 29.229 §6.3.64 Allowed-WAF-WWSF-Identities (WebRTC, TS 23.228
// Annex U).
type AllowedWAFWWSFIdentities struct {
	WebRTCAuthenticationFunctionNames []string // §6.3.65
	WebRTCWebServerFunctionNames      []string // §6.3.66
	Unknown                           []*diam.AVP
}

func (x *AllowedWAFWWSFIdentities) put(e *encoder) {
	e.group(tgpp(AVPAllowedWAFWWSFIdentities), func(g *encoder) {
		for _, v := range x.WebRTCAuthenticationFunctionNames {
			g.str(tgpp(AVPWebRTCAuthenticationFunctionName), "WebRTC-Authentication-Function-Name", v)
		}
		for _, v := range x.WebRTCWebServerFunctionNames {
			g.str(tgpp(AVPWebRTCWebServerFunctionName), "WebRTC-Web-Server-Function-Name", v)
		}
		g.extra(x.Unknown)
	})
}

func decodeAllowedWAFWWSFIdentities(d *decoder, a wireAVP) *AllowedWAFWWSFIdentities {
	x := &AllowedWAFWWSFIdentities{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPWebRTCAuthenticationFunctionName):
			g.addStr(c, &x.WebRTCAuthenticationFunctionNames)
		case tgpp(AVPWebRTCWebServerFunctionName):
			g.addStr(c, &x.WebRTCWebServerFunctionNames)
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// FailedPCSCF is TS 29.229 Failed-PCSCF (Rel-17, SAR): the P-CSCF that failed, for HSS-based
// P-CSCF restoration (TS 23.380 §5).
type FailedPCSCF struct {
	PCSCFFQDN        string       // PCSCF-FQDN (DiameterIdentity)
	PCSCFIPAddresses []netip.Addr // PCSCF-IP-Address (Address)
	Unknown          []*diam.AVP
}

func (x *FailedPCSCF) put(e *encoder) {
	e.group(tgpp(AVPFailedPCSCF), func(g *encoder) {
		g.optIdent(tgpp(AVPPCSCFFQDN), "PCSCF-FQDN", x.PCSCFFQDN)
		for _, v := range x.PCSCFIPAddresses {
			g.addr(tgpp(AVPPCSCFIPAddress), "PCSCF-IP-Address", v)
		}
		g.extra(x.Unknown)
	})
}

func decodeFailedPCSCF(d *decoder, a wireAVP) *FailedPCSCF {
	x := &FailedPCSCF{}
	d.group(a, &x.Unknown, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case tgpp(AVPPCSCFFQDN):
			g.setStr(c, &x.PCSCFFQDN)
		case tgpp(AVPPCSCFIPAddress):
			if g.many(c) {
				if v, ok := g.addr(c); ok {
					x.PCSCFIPAddresses = append(x.PCSCFIPAddresses, v)
				}
			}
		default:
			return false
		}
		return true
	}, nil)
	return x
}

// ExperimentalResult encoding and decoding (RFC 6733 §7.6: both children required).

func (x *ExperimentalResult) put(e *encoder) {
	e.group(base(AVPExperimentalResult), func(g *encoder) {
		g.u32(base(AVPVendorID), x.VendorID)
		g.u32(base(AVPExperimentalResultCode), uint32(x.Code))
	})
}

func decodeExperimentalResult(d *decoder, a wireAVP) *ExperimentalResult {
	x := &ExperimentalResult{}
	var ignored []*diam.AVP // RFC 6733 §7.6 allows no other AVPs; extra ones are dropped
	d.group(a, &ignored, func(g *decoder, c wireAVP) bool {
		switch keyOf(c) {
		case base(AVPVendorID):
			g.setU32(c, &x.VendorID)
		case base(AVPExperimentalResultCode):
			if g.once(c) {
				if v, ok := g.u32(c); ok {
					x.Code = diameter.ResultCode(v)
				}
			}
		default:
			return false
		}
		return true
	}, func(g *decoder) {
		g.need(base(AVPVendorID), "Vendor-Id", datatype.Unsigned32(0))
		g.need(base(AVPExperimentalResultCode), "Experimental-Result-Code", datatype.Unsigned32(0))
	})
	return x
}

// putFailedAVP encodes Failed-AVP (RFC 6733 §7.5): a grouped AVP holding the offending AVPs
// as they were.
func putFailedAVP(e *encoder, avps []*diam.AVP) {
	if len(avps) == 0 {
		return
	}
	e.group(base(AVPFailedAVP), func(g *encoder) { g.extra(avps) })
}

// decodeFailedAVP returns the AVPs inside Failed-AVP as go-diameter AVPs: those our model knows
// as Grouped with their children split (so that a receiver can see which child failed, §7.5),
// the others with their data opaque.
func decodeFailedAVP(d *decoder, a wireAVP) []*diam.AVP {
	var out []*diam.AVP
	d.each(a.data, func(c wireAVP) { out = append(out, c.toDiamTree(0)) })
	return out
}

// toDiamTree is toDiam with Grouped AVPs (isGrouped) split into their children, when they frame.
func (a wireAVP) toDiamTree(depth int) *diam.AVP {
	if !isGrouped(keyOf(a)) || depth >= maxGroupDepth {
		return a.toDiam()
	}
	var kids []*diam.AVP
	for b := a.data; len(b) > 0; {
		h, err := parseAVPHeader(b)
		if err != nil {
			return a.toDiam()
		}
		kids = append(kids, wireAVP{h.code, h.flags, h.vendor, h.payload}.toDiamTree(depth+1))
		b = b[h.padded:]
	}
	return &diam.AVP{Code: a.code, Flags: a.flags, VendorID: a.vendor, Length: a.headerLen() + len(a.data),
		Data: &diam.GroupedAVP{AVP: kids}}
}
