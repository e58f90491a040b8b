package hss

import (
	"fmt"
	"strings"
	"time"
)

// The HSS data model of TS 23.008 §5 (IMS subscription data) as the Cx procedures of TS 29.228 §6 read it.
// Types whose values are persisted as JSON carry explicit json tags: those tags are the on-disk format of
// the storage backends, so a tag must never be renamed (add a new field instead).

// DefaultDomain is the home network domain of the test PLMN 001/01 (TS 23.003 §13.2), the realm of the
// conventional identities `<IMSI>@<domain>`, `sip:<MSISDN>@<domain>` and `tel:<MSISDN>`.
const DefaultDomain = "ims.mnc001.mcc001.3gppnetwork.org"

// MaxSQN is the largest sequence number: SQN is 48 bits (TS 33.102 §6.3.2, Annex C).
const MaxSQN uint64 = 1<<48 - 1

// AuthSchemes is the set of authentication schemes a private identity may use, as a bit set.
// The Cx SIP-Authentication-Scheme names (TS 29.229 §6.3.2) are the diameter layer's business; here each
// bit is one scheme and its value is stored in the database, so bits never change meaning.
type AuthSchemes uint32

// Authentication schemes.
const (
	// AuthAKAv1MD5 is IMS AKA with HTTP Digest AKAv1-MD5 (RFC 3310, TS 33.203 §6.1).
	AuthAKAv1MD5 AuthSchemes = 1 << 0
	// AuthAKAv2MD5 is HTTP Digest AKAv2-MD5 (RFC 4169).
	AuthAKAv2MD5 AuthSchemes = 1 << 1
	// AuthSIPDigest is SIP Digest with MD5 (RFC 2617, TS 33.203 Annex N; "SIP Digest" in TS 29.229 §6.3.2).
	AuthSIPDigest AuthSchemes = 1 << 2

	// authSchemesKnown is every bit defined above.
	authSchemesKnown = AuthAKAv1MD5 | AuthAKAv2MD5 | AuthSIPDigest
)

// Has reports whether every scheme in x is allowed.
func (s AuthSchemes) Has(x AuthSchemes) bool { return s&x == x && x != 0 }

// AKA reports whether any AKA scheme is allowed (and so K and OP/OPc are needed).
func (s AuthSchemes) AKA() bool { return s&(AuthAKAv1MD5|AuthAKAv2MD5) != 0 }

// String lists the allowed schemes, e.g. "AKAv1-MD5|SIP-Digest".
func (s AuthSchemes) String() string {
	var names []string
	for _, n := range []struct {
		bit  AuthSchemes
		name string
	}{{AuthAKAv1MD5, "AKAv1-MD5"}, {AuthAKAv2MD5, "AKAv2-MD5"}, {AuthSIPDigest, "SIP-Digest"}} {
		if s&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if rest := s &^ authSchemesKnown; rest != 0 {
		names = append(names, fmt.Sprintf("0x%x", uint32(rest)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

// PrivateIdentity is an IMPI (TS 23.003 §13.3) and its authentication data (TS 23.008 §5.1.1, §5.2).
// K, OP and OPc are secrets: never log them (String omits them).
type PrivateIdentity struct {
	// IMPI is the private identity, by convention `<IMSI>@<domain>` (TS 23.003 §13.3).
	IMPI string
	// IMSI of the ISIM/USIM; empty for private service identities. Unique when not empty.
	IMSI string
	// MSISDN in international format without '+', for search; may be empty.
	MSISDN string
	// K is the 128-bit subscriber key (TS 33.102 §6.3). Required when an AKA scheme is allowed.
	K []byte
	// OP is the 128-bit operator variant configuration field (TS 35.206 §2.3); exactly one of OP and OPc is
	// set when K is set.
	OP []byte
	// OPc is OP encrypted under K (TS 35.206 §2.3).
	OPc []byte
	// AMF is the authentication management field (TS 33.102 §6.3.2).
	AMF [2]byte
	// SQN is SQN_HE, the 48-bit sequence number of the last authentication vector issued (TS 33.102
	// Annex C; a new subscriber starts at 0, so its first vector has SEQ 1): the next vector's SQN is
	// allocated after it with aka.NextSQNs. It is read here but changed only through Store.UpdateSQN (and
	// Store.UpdateKeys when SIM keys are replaced).
	SQN uint64
	// AuthSchemes the subscriber may use; zero allows none (a private service identity, for example).
	AuthSchemes AuthSchemes
	// DigestPassword is the clear SIP Digest password; DigestHA1 is H(username:realm:password) instead.
	// At most one of the two is set; one is needed when AuthSIPDigest is allowed.
	DigestPassword string
	DigestHA1      string
	// AllowedVisitedNetworks lists the Visited-Network-Identifier values from which registration is
	// allowed (TS 29.228 §6.1.1.1 roaming check). Empty means home network only; the HSS decides how the
	// home network itself is recognised.
	AllowedVisitedNetworks []string
	// RequiredCapabilities are the S-CSCF capabilities this subscriber needs, returned in the UAA
	// Server-Capabilities AVP (TS 29.228 §6.1.1.1, §6.7). Empty means any S-CSCF.
	RequiredCapabilities Capabilities
	// Charging overrides the default charging function addresses for this subscriber; nil uses the default
	// (Store.ChargingInfo resolves it).
	Charging *ChargingInfo
	// CreatedAt and UpdatedAt are set by the store (UTC, microsecond precision).
	CreatedAt time.Time
	UpdatedAt time.Time
}

// String identifies the private identity without any secret, so that %v in a log line is safe.
func (p PrivateIdentity) String() string {
	return fmt.Sprintf("PrivateIdentity{IMPI:%s IMSI:%s MSISDN:%s SQN:%d AuthSchemes:%s}",
		p.IMPI, p.IMSI, p.MSISDN, p.SQN, p.AuthSchemes)
}

// IdentityType is the type of a public identity, with the values of the User-Data IdentityType element
// (TS 29.228 Annex B, tIdentityType).
type IdentityType uint8

// Identity types.
const (
	IdentityPublicUser     IdentityType = 0 // PUBLIC_USER_IDENTITY: a SIP or tel URI of a user
	IdentityDistinctPSI    IdentityType = 1 // DISTINCT_PSI: a public service identity (TS 23.003 §13.5)
	IdentityWildcardedPSI  IdentityType = 2 // WILDCARDED_PSI: a PSI pattern (TS 23.003 §13.5)
	IdentityWildcardedIMPU IdentityType = 3 // WILDCARDED_IMPU: a wildcarded public user identity (TS 23.003 §13.4a)
)

// Wildcarded reports whether identities of this type are patterns (TS 23.003 §13.4a, §13.5).
func (t IdentityType) Wildcarded() bool {
	return t == IdentityWildcardedPSI || t == IdentityWildcardedIMPU
}

// String returns the TS 29.228 Annex B name.
func (t IdentityType) String() string {
	switch t {
	case IdentityPublicUser:
		return "PUBLIC_USER_IDENTITY"
	case IdentityDistinctPSI:
		return "DISTINCT_PSI"
	case IdentityWildcardedPSI:
		return "WILDCARDED_PSI"
	case IdentityWildcardedIMPU:
		return "WILDCARDED_IMPU"
	}
	return fmt.Sprintf("IdentityType(%d)", uint8(t))
}

// RegistrationState is the registration state of a public identity in the HSS (TS 29.228 §6.1.2,
// TS 23.008 §5.1.2.1: "registered", "unregistered" (an S-CSCF is assigned for unregistered services) and
// "not registered").
type RegistrationState uint8

// Registration states.
const (
	NotRegistered RegistrationState = 0 // NOT_REGISTERED
	Registered    RegistrationState = 1 // REGISTERED
	Unregistered  RegistrationState = 2 // UNREGISTERED: S-CSCF kept for services to the unregistered user
)

// String returns the state name as TS 29.228 writes it.
func (s RegistrationState) String() string {
	switch s {
	case NotRegistered:
		return "NOT_REGISTERED"
	case Registered:
		return "REGISTERED"
	case Unregistered:
		return "UNREGISTERED"
	}
	return fmt.Sprintf("RegistrationState(%d)", uint8(s))
}

// Registration is the registration data the HSS keeps for a public identity. All identities of one implicit
// registration set share it (TS 29.228 §6.5): the store changes it for the whole set at once.
type Registration struct {
	State RegistrationState
	// SCSCFName is the Server-Name (SIP URI) of the assigned S-CSCF (TS 29.228 §6.1.2); empty when none.
	SCSCFName string
	// SCSCFOriginHost is the Diameter Origin-Host of that S-CSCF, the Destination-Host of RTR and PPR
	// (TS 29.228 §6.1.3, §6.2.2).
	SCSCFOriginHost string
	// PendingSCSCF is the Server-Name stored by a MAR while no S-CSCF is assigned and authentication is in
	// progress (TS 29.228 §6.3.1 "authentication pending"); the SAR that completes registration clears it.
	PendingSCSCF string
}

// PublicIdentity is an IMPU or a PSI (TS 23.003 §13.4, §13.5) with its provisioned attributes and its
// registration data.
type PublicIdentity struct {
	// IMPU is the identity: a SIP URI, a tel URI, or for wildcarded types the pattern whose wildcarded part
	// is delimited by '!' (TS 23.003 §13.5, e.g. "sip:chatroom-!.*!@example.com"). Matched exactly, byte
	// for byte: the store does not normalise URIs.
	IMPU string
	Type IdentityType
	// Barred is the BarringIndication (TS 29.228 Annex B; TS 23.228 §4.3.3.4).
	Barred bool
	// DisplayName is the optional DisplayName of User-Data (TS 29.228 Annex B).
	DisplayName string
	// ImplicitSetID names the implicit registration set (TS 23.228 §5.2.1a): identities with the same value
	// register together. Empty on creation means the IMPI of the subscriber it is created with.
	ImplicitSetID string
	// ServiceProfileID names the service profile (and so the iFCs) of this identity.
	ServiceProfileID string
	// Registration is maintained by the Cx procedures; provisioning ignores it on create and update.
	Registration Registration
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultHandling says what the S-CSCF does when the application server does not answer
// (TS 29.228 Annex B, tDefaultHandling).
type DefaultHandling uint8

// Default handling values.
const (
	SessionContinued  DefaultHandling = 0 // SESSION_CONTINUED
	SessionTerminated DefaultHandling = 1 // SESSION_TERMINATED
)

// SessionCase is the session case of a service point trigger (TS 29.228 Annex B, tDirectionOfRequest).
type SessionCase uint8

// Session cases.
const (
	SessionOriginating             SessionCase = 0 // ORIGINATING_REGISTERED
	SessionTerminatingRegistered   SessionCase = 1 // TERMINATING_REGISTERED
	SessionTerminatingUnregistered SessionCase = 2 // TERMINATING_UNREGISTERED
	SessionOriginatingUnregistered SessionCase = 3 // ORIGINATING_UNREGISTERED
	SessionOriginatingCDIV         SessionCase = 4 // ORIGINATING_CDIV
)

// ProfilePartIndicator says whether an iFC applies to registered or unregistered users
// (TS 29.228 Annex B, tProfilePartIndicator).
type ProfilePartIndicator uint8

// Profile part indicator values.
const (
	ProfilePartRegistered   ProfilePartIndicator = 0 // REGISTERED
	ProfilePartUnregistered ProfilePartIndicator = 1 // UNREGISTERED
)

// RegistrationType restricts a REGISTER trigger (TS 29.228 Annex B, tRegistrationType extension).
type RegistrationType uint8

// Registration types.
const (
	RegistrationInitial RegistrationType = 0 // INITIAL_REGISTRATION
	RegistrationRe      RegistrationType = 1 // RE-REGISTRATION
	RegistrationDe      RegistrationType = 2 // DE-REGISTRATION
)

// InitialFilterCriteria is one iFC (TS 29.228 Annex B.2.2, TS 23.218 §5.2).
type InitialFilterCriteria struct {
	// Priority orders the iFCs of a profile; lower is evaluated first. Unique within a profile.
	Priority int32 `json:"priority"`
	// TriggerPoint is absent for an unconditional iFC.
	TriggerPoint      *TriggerPoint     `json:"trigger_point,omitempty"`
	ApplicationServer ApplicationServer `json:"application_server"`
	// ProfilePartIndicator is absent when the iFC applies whatever the registration state.
	ProfilePartIndicator *ProfilePartIndicator `json:"profile_part_indicator,omitempty"`
}

// TriggerPoint is a boolean expression of service point triggers (TS 29.228 Annex B, tTrigger).
type TriggerPoint struct {
	// ConditionTypeCNF: true is Conjunctive Normal Form (AND of ORed groups), false is Disjunctive Normal
	// Form (OR of ANDed groups); SPTs with the same Group number form a group.
	ConditionTypeCNF bool                  `json:"condition_type_cnf"`
	SPTs             []ServicePointTrigger `json:"spt"`
}

// ServicePointTrigger is one SPT (TS 29.228 Annex B, tSePoTri). Exactly one of RequestURI, Method,
// SIPHeader, SessionCase and SessionDescription is set.
type ServicePointTrigger struct {
	ConditionNegated bool    `json:"condition_negated,omitempty"`
	Group            []int32 `json:"group"`
	// RequestURI is matched against the Request-URI (a regular expression, TS 29.228 Annex B).
	RequestURI string `json:"request_uri,omitempty"`
	// Method is a SIP method name.
	Method string `json:"method,omitempty"`
	// RegistrationTypes restrict a Method "REGISTER" trigger (Extension; empty means all).
	RegistrationTypes []RegistrationType `json:"registration_types,omitempty"`
	// SIPHeader matches a header by name and, optionally, content (a regular expression).
	SIPHeader *HeaderMatch `json:"sip_header,omitempty"`
	// SessionCase matches the direction of the request.
	SessionCase *SessionCase `json:"session_case,omitempty"`
	// SessionDescription matches an SDP line by type ("m", "c", …) and, optionally, content.
	SessionDescription *SDPLineMatch `json:"session_description,omitempty"`
}

// HeaderMatch is tHeader of TS 29.228 Annex B.
type HeaderMatch struct {
	Header  string `json:"header"`
	Content string `json:"content,omitempty"`
}

// SDPLineMatch is tSessionDescription of TS 29.228 Annex B.
type SDPLineMatch struct {
	Line    string `json:"line"`
	Content string `json:"content,omitempty"`
}

// ApplicationServer is the AS an iFC routes to (TS 29.228 Annex B, tApplicationServer).
type ApplicationServer struct {
	// ServerName is the SIP URI of the AS.
	ServerName      string          `json:"server_name"`
	DefaultHandling DefaultHandling `json:"default_handling"`
	// ServiceInfo is transparent data for the AS (sent in the third-party REGISTER body).
	ServiceInfo string `json:"service_info,omitempty"`
	// IncludeRegisterRequest and IncludeRegisterResponse ask for the REGISTER / 200 in the third-party
	// REGISTER body (Extension, TS 24.229 §5.4.1.7).
	IncludeRegisterRequest  bool `json:"include_register_request,omitempty"`
	IncludeRegisterResponse bool `json:"include_register_response,omitempty"`
}

// ServiceProfile is a service profile (TS 29.228 Annex B.2.1): the iFCs and the core network service
// authorization shared by the public identities that name it.
type ServiceProfile struct {
	// ID names the profile (operator-chosen, e.g. "default").
	ID string
	// SubscribedMediaProfileID is CoreNetworkServicesAuthorization/SubscribedMediaProfileId; nil when absent.
	SubscribedMediaProfileID *int32
	// IFCs are the initial filter criteria, in any order (Priority decides).
	IFCs []InitialFilterCriteria
	// SharedIFCSetIDs reference shared iFC sets (TS 29.228 Annex E, SharedIFCSetID); each must exist.
	SharedIFCSetIDs []int32
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// SharedIFCSet is a set of iFCs that S-CSCFs supporting the SharedIFCSets feature know by number
// (TS 29.228 Annex E); the HSS expands it for S-CSCFs that do not.
type SharedIFCSet struct {
	ID        int32
	IFCs      []InitialFilterCriteria
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Capabilities are S-CSCF capability numbers (TS 29.228 §6.7, TS 29.229 §6.3.6–6.3.7): operator-defined
// Unsigned32 values.
type Capabilities struct {
	Mandatory []uint32 `json:"mandatory,omitempty"`
	Optional  []uint32 `json:"optional,omitempty"`
}

// SCSCF is an S-CSCF the HSS knows with the capabilities it offers, for the UAA Server-Capabilities
// and the I-CSCF's choice (TS 29.228 §6.7).
type SCSCF struct {
	// Name is the Server-Name (SIP URI) of the S-CSCF.
	Name         string
	Capabilities Capabilities
	UpdatedAt    time.Time
}

// ChargingInfo holds the charging function addresses sent in the SAA Charging-Information AVP
// (TS 29.229 §6.3.19): DiameterURIs of the CCFs and ECFs, empty when absent.
type ChargingInfo struct {
	PrimaryCCF   string `json:"primary_ccf,omitempty"`
	SecondaryCCF string `json:"secondary_ccf,omitempty"`
	PrimaryECF   string `json:"primary_ecf,omitempty"`
	SecondaryECF string `json:"secondary_ecf,omitempty"`
}

// Subscriber is one private identity with the public identities created with it: the unit of provisioning.
type Subscriber struct {
	Private PrivateIdentity
	// Public are the public identities created with the subscriber (CreateSubscriber, BulkCreate). Read back
	// (GetSubscriber, ListSubscribers) it holds every identity associated with the IMPI, shared ones included.
	Public []PublicIdentity
	// SharedIMPUs names existing public identities to associate with this IMPI as well (a public identity
	// shared by several private identities, TS 23.228 §4.3.3.4). Used only on creation.
	SharedIMPUs []string
	// ServiceProfiles are created in the same transaction (CreateSubscriber, BulkCreate). Read back
	// (GetSubscriber) it holds the profiles the subscriber's identities reference.
	ServiceProfiles []ServiceProfile
}

// UserProfile is what the HSS needs for the User-Data of an SAA or PPR (TS 29.228 §6.6, Annex B): the
// identities of one implicit registration set, the service profiles they reference and the shared iFC sets
// those reference.
type UserProfile struct {
	IMPUs           []PublicIdentity
	ServiceProfiles []ServiceProfile
	SharedIFCSets   []SharedIFCSet
}

// ImplicitSetState is the registration data of an implicit registration set as UpdateRegistration's
// function sees it, read under lock.
type ImplicitSetState struct {
	// SetID is the implicit set of the identity the update was made for.
	SetID string
	// IMPUs are the identities of the set, sorted.
	IMPUs []string
	// Registration is the set's current registration data.
	Registration Registration
	// RegisteredIMPIs are the private identities that hold a registration of the set, sorted
	// (several when the identities are shared).
	RegisteredIMPIs []string
	// IMPIRegistered reports whether the IMPI of the update is among RegisteredIMPIs.
	IMPIRegistered bool
}

// RegistrationChange is what UpdateRegistration's function returns: the set's new registration data and
// whether the update's IMPI holds a registration of the set afterwards.
type RegistrationChange struct {
	Registration   Registration
	IMPIRegistered bool
	// Restoration, when not nil, is stored as the update's IMPI's S-CSCF restoration information for the
	// set (one SCSCF-Restoration-Info AVP in wire form, TS 29.229 §6.3.46; TS 29.228 §6.1.2.1), replacing
	// the earlier one, in the same transaction. Only with an IMPI that holds a registration of a Registered
	// set afterwards; otherwise ignored.
	Restoration []byte
}

// SubscriberQuery selects and pages subscribers for ListSubscribers. Prefix filters combine with AND.
type SubscriberQuery struct {
	IMSIPrefix   string
	MSISDNPrefix string
	// IMPUPrefix selects subscribers with at least one public identity starting with it.
	IMPUPrefix string
	// After is the cursor: only IMPIs sorting strictly after it (byte order) are returned.
	After string
	// Limit is the page size; 0 means DefaultPageSize, and it is capped at MaxPageSize.
	Limit int
}

// Page sizes of ListSubscribers.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// SubscriberPage is one page of ListSubscribers, ordered by IMPI.
type SubscriberPage struct {
	// Subscribers have Private and Public filled (not ServiceProfiles).
	Subscribers []Subscriber
	// Next is the After of the following page; empty when this page is the last.
	Next string
}

// KeyUpdate replaces the AKA key material of a private identity (e.g. a new SIM).
type KeyUpdate struct {
	K   []byte
	OP  []byte
	OPc []byte
	AMF [2]byte
	// SQN, when set, resets the sequence number (a new SIM starts from its own SQN); nil keeps it.
	SQN *uint64
}
