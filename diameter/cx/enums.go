package cx

import "fmt"

// enum is an Enumerated AVP value type (RFC 6733 §4.3.1: Integer32 on the wire). valid reports
// whether the specification defines the value; decoding any other value is
// DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5), encoding one is ErrInvalidField.
type enum interface {
	~int32
	valid() bool
	String() string
}

func enumString(kind string, v int32, names ...string) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, v)
}

// AuthSessionState is RFC 6733 §8.11 Auth-Session-State. Cx is stateless:
// TS 29.229 §6.1 commands carry NoStateMaintained.
type AuthSessionState int32

// Auth-Session-State values, RFC 6733 §8.11.
const (
	StateMaintained   AuthSessionState = 0
	NoStateMaintained AuthSessionState = 1
)

func (v AuthSessionState) valid() bool { return v == StateMaintained || v == NoStateMaintained }
func (v AuthSessionState) String() string {
	return enumString("AuthSessionState", int32(v), "STATE_MAINTAINED", "NO_STATE_MAINTAINED")
}

// DRMP is RFC 7944 §9.1 Diameter Routing Message Priority: PRIORITY_0 (highest) … PRIORITY_15.
type DRMP int32

func (v DRMP) valid() bool { return v >= 0 && v <= 15 }
func (v DRMP) String() string {
	if v.valid() {
		return fmt.Sprintf("PRIORITY_%d", int32(v))
	}
	return fmt.Sprintf("DRMP(%d)", int32(v))
}

// OCReportType is RFC 7683 §7.6 OC-Report-Type (PEER_REPORT from RFC 8581 §7.2.1).
type OCReportType int32

// OC-Report-Type values.
const (
	OCHostReport  OCReportType = 0
	OCRealmReport OCReportType = 1
	OCPeerReport  OCReportType = 2
)

func (v OCReportType) valid() bool { return v >= OCHostReport && v <= OCPeerReport }
func (v OCReportType) String() string {
	return enumString("OCReportType", int32(v), "HOST_REPORT", "REALM_REPORT", "PEER_REPORT")
}

// LoadType is RFC 8583 §7.2 Load-Type.
type LoadType int32

// Load-Type values.
const (
	LoadTypeHost LoadType = 0
	LoadTypePeer LoadType = 1
)

func (v LoadType) valid() bool    { return v == LoadTypeHost || v == LoadTypePeer }
func (v LoadType) String() string { return enumString("LoadType", int32(v), "HOST", "PEER") }

// ServerAssignmentType is TS 29.229 §6.3.15 Server-Assignment-Type: why the S-CSCF sends the SAR
// (TS 29.228 §6.1.2 Table 6.1.2.1 tells what the HSS does for each).
type ServerAssignmentType int32

// Server-Assignment-Type values, TS 29.229 §6.3.15.
const (
	SATNoAssignment                         ServerAssignmentType = 0
	SATRegistration                         ServerAssignmentType = 1
	SATReRegistration                       ServerAssignmentType = 2
	SATUnregisteredUser                     ServerAssignmentType = 3
	SATTimeoutDeregistration                ServerAssignmentType = 4
	SATUserDeregistration                   ServerAssignmentType = 5
	SATTimeoutDeregistrationStoreServerName ServerAssignmentType = 6
	SATUserDeregistrationStoreServerName    ServerAssignmentType = 7
	SATAdministrativeDeregistration         ServerAssignmentType = 8
	SATAuthenticationFailure                ServerAssignmentType = 9
	SATAuthenticationTimeout                ServerAssignmentType = 10
	SATDeregistrationTooMuchData            ServerAssignmentType = 11
	SATAAAUserDataRequest                   ServerAssignmentType = 12 // Rel-8, for the 3GPP AAA server (TS 29.273)
	SATPGWUpdate                            ServerAssignmentType = 13 // Rel-8, TS 29.273
	SATRestoration                          ServerAssignmentType = 14 // Rel-11 S-CSCF restoration, TS 23.380
)

func (v ServerAssignmentType) valid() bool { return v >= SATNoAssignment && v <= SATRestoration }
func (v ServerAssignmentType) String() string {
	return enumString("ServerAssignmentType", int32(v),
		"NO_ASSIGNMENT", "REGISTRATION", "RE_REGISTRATION", "UNREGISTERED_USER",
		"TIMEOUT_DEREGISTRATION", "USER_DEREGISTRATION", "TIMEOUT_DEREGISTRATION_STORE_SERVER_NAME",
		"USER_DEREGISTRATION_STORE_SERVER_NAME", "ADMINISTRATIVE_DEREGISTRATION",
		"AUTHENTICATION_FAILURE", "AUTHENTICATION_TIMEOUT", "DEREGISTRATION_TOO_MUCH_DATA",
		"AAA_USER_DATA_REQUEST", "PGW_UPDATE", "RESTORATION")
}

// ReasonCode is TS 29.229 §6.3.17 Reason-Code, inside Deregistration-Reason of an RTR.
type ReasonCode int32

// Reason-Code values, TS 29.229 §6.3.17.
const (
	ReasonPermanentTermination ReasonCode = 0
	ReasonNewServerAssigned    ReasonCode = 1
	ReasonServerChange         ReasonCode = 2
	ReasonRemoveSCSCF          ReasonCode = 3
)

func (v ReasonCode) valid() bool { return v >= ReasonPermanentTermination && v <= ReasonRemoveSCSCF }
func (v ReasonCode) String() string {
	return enumString("ReasonCode", int32(v),
		"PERMANENT_TERMINATION", "NEW_SERVER_ASSIGNED", "SERVER_CHANGE", "REMOVE_S-CSCF")
}

// UserAuthorizationType is TS 29.229 §6.3.24 User-Authorization-Type (UAR, LIR). Absent means
// REGISTRATION (TS 29.228 §6.1.1).
type UserAuthorizationType int32

// User-Authorization-Type values, TS 29.229 §6.3.24.
const (
	UATRegistration                UserAuthorizationType = 0
	UATDeRegistration              UserAuthorizationType = 1
	UATRegistrationAndCapabilities UserAuthorizationType = 2
)

func (v UserAuthorizationType) valid() bool {
	return v >= UATRegistration && v <= UATRegistrationAndCapabilities
}
func (v UserAuthorizationType) String() string {
	return enumString("UserAuthorizationType", int32(v),
		"REGISTRATION", "DE_REGISTRATION", "REGISTRATION_AND_CAPABILITIES")
}

// UserDataAlreadyAvailable is TS 29.229 §6.3.26 User-Data-Already-Available (SAR).
type UserDataAlreadyAvailable int32

// User-Data-Already-Available values, TS 29.229 §6.3.26.
const (
	UserDataNotAvailable UserDataAlreadyAvailable = 0
	UserDataAvailable    UserDataAlreadyAvailable = 1
)

func (v UserDataAlreadyAvailable) valid() bool {
	return v == UserDataNotAvailable || v == UserDataAvailable
}
func (v UserDataAlreadyAvailable) String() string {
	return enumString("UserDataAlreadyAvailable", int32(v),
		"USER_DATA_NOT_AVAILABLE", "USER_DATA_ALREADY_AVAILABLE")
}

// OriginatingRequest is TS 29.229 §6.3.34 Originating-Request (LIR): present when the I-CSCF
// asks on behalf of an originating user (TS 29.228 §6.1.4).
type OriginatingRequest int32

// Originating-Request values, TS 29.229 §6.3.34.
const Originating OriginatingRequest = 0

func (v OriginatingRequest) valid() bool { return v == Originating }
func (v OriginatingRequest) String() string {
	return enumString("OriginatingRequest", int32(v), "ORIGINATING")
}

// LooseRouteIndication is TS 29.229 §6.3.45 Loose-Route-Indication (SAA).
type LooseRouteIndication int32

// Loose-Route-Indication values, TS 29.229 §6.3.45.
const (
	LooseRouteNotRequired LooseRouteIndication = 0
	LooseRouteRequired    LooseRouteIndication = 1
)

func (v LooseRouteIndication) valid() bool {
	return v == LooseRouteNotRequired || v == LooseRouteRequired
}
func (v LooseRouteIndication) String() string {
	return enumString("LooseRouteIndication", int32(v),
		"LOOSE_ROUTE_NOT_REQUIRED", "LOOSE_ROUTE_REQUIRED")
}

// MultipleRegistrationIndication is TS 29.229 §6.3.51 Multiple-Registration-Indication (SAR).
type MultipleRegistrationIndication int32

// Multiple-Registration-Indication values, TS 29.229 §6.3.51.
const (
	NotMultipleRegistration MultipleRegistrationIndication = 0
	MultipleRegistration    MultipleRegistrationIndication = 1
)

func (v MultipleRegistrationIndication) valid() bool {
	return v == NotMultipleRegistration || v == MultipleRegistration
}
func (v MultipleRegistrationIndication) String() string {
	return enumString("MultipleRegistrationIndication", int32(v),
		"NOT_MULTIPLE_REGISTRATION", "MULTIPLE_REGISTRATION")
}

// SessionPriority is TS 29.229 Session-Priority (SAR, LIR): PRIORITY-0 (highest) … PRIORITY-4.
type SessionPriority int32

// Session-Priority values.
const (
	Priority0 SessionPriority = 0
	Priority1 SessionPriority = 1
	Priority2 SessionPriority = 2
	Priority3 SessionPriority = 3
	Priority4 SessionPriority = 4
)

func (v SessionPriority) valid() bool { return v >= Priority0 && v <= Priority4 }
func (v SessionPriority) String() string {
	return enumString("SessionPriority", int32(v),
		"PRIORITY-0", "PRIORITY-1", "PRIORITY-2", "PRIORITY-3", "PRIORITY-4")
}

// PriviledgedSenderIndication is TS 29.229 §6.3.58 Priviledged-Sender-Indication (SAA); the
// misspelling is the specification's.
type PriviledgedSenderIndication int32

// Priviledged-Sender-Indication values, TS 29.229 §6.3.58.
const (
	NotPriviledgedSender PriviledgedSenderIndication = 0
	PriviledgedSender    PriviledgedSenderIndication = 1
)

func (v PriviledgedSenderIndication) valid() bool {
	return v == NotPriviledgedSender || v == PriviledgedSender
}
func (v PriviledgedSenderIndication) String() string {
	return enumString("PriviledgedSenderIndication", int32(v),
		"NOT_PRIVILEDGED_SENDER", "PRIVILEDGED_SENDER")
}

// UARFlags is TS 29.229 §6.3.44 UAR-Flags, a bit mask.
type UARFlags uint32

// UARFlagIMSEmergencyRegistration (bit 0): the UAR is for an IMS emergency registration.
const UARFlagIMSEmergencyRegistration UARFlags = 1 << 0

// LIAFlags is TS 29.229 LIA-Flags, a bit mask.
type LIAFlags uint32

// LIAFlagPSIDirectRouting (bit 0): PSI direct routing is allowed for the PSI user.
const LIAFlagPSIDirectRouting LIAFlags = 1 << 0

// SARFlags is TS 29.229 §6.3.63 SAR-Flags, a bit mask.
type SARFlags uint32

// SARFlagPCSCFRestoration (bit 0): the SAR is part of the P-CSCF restoration procedure
// (TS 23.380).
const SARFlagPCSCFRestoration SARFlags = 1 << 0

// RTRFlags is TS 29.229 §6.3.69 RTR-Flags, a bit mask.
type RTRFlags uint32

// RTRFlagReferenceLocationChange (bit 0): the RTR is sent because the Reference Location
// Information changed.
const RTRFlagReferenceLocationChange RTRFlags = 1 << 0

// Compile-time guards: every enum type satisfies the enum constraint.
var (
	_ = decodeEnum[AuthSessionState]
	_ = decodeEnum[DRMP]
	_ = decodeEnum[OCReportType]
	_ = decodeEnum[LoadType]
	_ = decodeEnum[ServerAssignmentType]
	_ = decodeEnum[ReasonCode]
	_ = decodeEnum[UserAuthorizationType]
	_ = decodeEnum[UserDataAlreadyAvailable]
	_ = decodeEnum[OriginatingRequest]
	_ = decodeEnum[LooseRouteIndication]
	_ = decodeEnum[MultipleRegistrationIndication]
	_ = decodeEnum[SessionPriority]
	_ = decodeEnum[PriviledgedSenderIndication]
)
