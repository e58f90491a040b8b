package rx

import "fmt"

// enum is an Enumerated AVP type: valid reports whether TS 29.214 (or the RFC) defines the value.
type enum interface {
	~int32
	valid() bool
	String() string
}

func enumName(kind string, v int32, names []string) string {
	if v >= 0 && int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, v)
}

// AbortCause is Abort-Cause, TS 29.214 §5.3.1: why the PCRF aborts the AF session (ASR) or
// reports a release (RAR).
type AbortCause int32

const (
	BearerReleased                      AbortCause = 0
	InsufficientServerResources         AbortCause = 1
	InsufficientBearerResources         AbortCause = 2
	PSToCSHandover                      AbortCause = 3
	SponsoredDataConnectivityDisallowed AbortCause = 4
)

var abortCauseNames = []string{"BEARER_RELEASED", "INSUFFICIENT_SERVER_RESOURCES",
	"INSUFFICIENT_BEARER_RESOURCES", "PS_TO_CS_HANDOVER", "SPONSORED_DATA_CONNECTIVITY_DISALLOWED"}

func (v AbortCause) valid() bool    { return v >= 0 && int(v) < len(abortCauseNames) }
func (v AbortCause) String() string { return enumName("Abort-Cause", int32(v), abortCauseNames) }

// FlowStatus is Flow-Status, TS 29.214 §5.3.11: which directions of the IP flows are enabled.
type FlowStatus int32

const (
	FlowEnabledUplink   FlowStatus = 0
	FlowEnabledDownlink FlowStatus = 1
	FlowEnabled         FlowStatus = 2
	FlowDisabled        FlowStatus = 3
	FlowRemoved         FlowStatus = 4
)

var flowStatusNames = []string{"ENABLED-UPLINK", "ENABLED-DOWNLINK", "ENABLED", "DISABLED", "REMOVED"}

func (v FlowStatus) valid() bool    { return v >= 0 && int(v) < len(flowStatusNames) }
func (v FlowStatus) String() string { return enumName("Flow-Status", int32(v), flowStatusNames) }

// FlowUsage is Flow-Usage, TS 29.214 §5.3.12.
type FlowUsage int32

const (
	FlowUsageNoInformation FlowUsage = 0
	FlowUsageRTCP          FlowUsage = 1
	FlowUsageAFSignalling  FlowUsage = 2
)

var flowUsageNames = []string{"NO_INFORMATION", "RTCP", "AF_SIGNALLING"}

func (v FlowUsage) valid() bool    { return v >= 0 && int(v) < len(flowUsageNames) }
func (v FlowUsage) String() string { return enumName("Flow-Usage", int32(v), flowUsageNames) }

// SpecificAction is Specific-Action, TS 29.214 §5.3.13: in an AAR the events the AF subscribes
// to, in an RAR the event the PCRF reports. Values 0 and 5 are void.
type SpecificAction int32

const (
	ChargingCorrelationExchange                   SpecificAction = 1
	IndicationOfLossOfBearer                      SpecificAction = 2
	IndicationOfRecoveryOfBearer                  SpecificAction = 3
	IndicationOfReleaseOfBearer                   SpecificAction = 4
	IPCANChange                                   SpecificAction = 6
	IndicationOfOutOfCredit                       SpecificAction = 7
	IndicationOfSuccessfulResourcesAllocation     SpecificAction = 8
	IndicationOfFailedResourcesAllocation         SpecificAction = 9
	IndicationOfLimitedPCCDeployment              SpecificAction = 10
	UsageReport                                   SpecificAction = 11
	AccessNetworkInfoReport                       SpecificAction = 12
	IndicationOfRecoveryFromLimitedPCC            SpecificAction = 13
	IndicationOfAccessNetworkInfoReportingFailure SpecificAction = 14
	IndicationOfTransferPolicyExpired             SpecificAction = 15
	PLMNChange                                    SpecificAction = 16
	EPSFallback                                   SpecificAction = 17
	IndicationOfReallocationOfCredit              SpecificAction = 18
	SuccessfulQoSUpdate                           SpecificAction = 19
	FailedQoSUpdate                               SpecificAction = 20
)

var specificActionNames = []string{"", "CHARGING_CORRELATION_EXCHANGE", "INDICATION_OF_LOSS_OF_BEARER",
	"INDICATION_OF_RECOVERY_OF_BEARER", "INDICATION_OF_RELEASE_OF_BEARER", "", "IP-CAN_CHANGE",
	"INDICATION_OF_OUT_OF_CREDIT", "INDICATION_OF_SUCCESSFUL_RESOURCES_ALLOCATION",
	"INDICATION_OF_FAILED_RESOURCES_ALLOCATION", "INDICATION_OF_LIMITED_PCC_DEPLOYMENT", "USAGE_REPORT",
	"ACCESS_NETWORK_INFO_REPORT", "INDICATION_OF_RECOVERY_FROM_LIMITED_PCC_DEPLOYMENT",
	"INDICATION_OF_ACCESS_NETWORK_INFO_REPORTING_FAILURE", "INDICATION_OF_TRANSFER_POLICY_EXPIRED",
	"PLMN_CHANGE", "EPS_FALLBACK", "INDICATION_OF_REALLOCATION_OF_CREDIT", "SUCCESSFUL_QOS_UPDATE",
	"FAILED_QOS_UPDATE"}

func (v SpecificAction) valid() bool {
	return v > 0 && int(v) < len(specificActionNames) && specificActionNames[v] != ""
}
func (v SpecificAction) String() string {
	return enumName("Specific-Action", int32(v), specificActionNames)
}

// MediaType is Media-Type, TS 29.214 §5.3.19 (the SDP media of the component).
type MediaType int32

const (
	MediaAudio       MediaType = 0
	MediaVideo       MediaType = 1
	MediaData        MediaType = 2
	MediaApplication MediaType = 3
	MediaControl     MediaType = 4
	MediaText        MediaType = 5
	MediaMessage     MediaType = 6
	MediaOther       MediaType = -1 // 0xFFFFFFFF on the wire
)

var mediaTypeNames = []string{"AUDIO", "VIDEO", "DATA", "APPLICATION", "CONTROL", "TEXT", "MESSAGE"}

func (v MediaType) valid() bool { return v == MediaOther || v >= 0 && int(v) < len(mediaTypeNames) }
func (v MediaType) String() string {
	if v == MediaOther {
		return "OTHER"
	}
	return enumName("Media-Type", int32(v), mediaTypeNames)
}

// SIPForkingIndication is SIP-Forking-Indication, TS 29.214 §5.3.22.
type SIPForkingIndication int32

const (
	SingleDialogue   SIPForkingIndication = 0
	SeveralDialogues SIPForkingIndication = 1
)

func (v SIPForkingIndication) valid() bool { return v == SingleDialogue || v == SeveralDialogues }
func (v SIPForkingIndication) String() string {
	return enumName("SIP-Forking-Indication", int32(v), []string{"SINGLE_DIALOGUE", "SEVERAL_DIALOGUES"})
}

// ServiceInfoStatus is Service-Info-Status, TS 29.214 §5.3.25.
type ServiceInfoStatus int32

const (
	FinalServiceInformation       ServiceInfoStatus = 0
	PreliminaryServiceInformation ServiceInfoStatus = 1
)

func (v ServiceInfoStatus) valid() bool { return v == 0 || v == 1 }
func (v ServiceInfoStatus) String() string {
	return enumName("Service-Info-Status", int32(v), []string{"FINAL_SERVICE_INFORMATION", "PRELIMINARY_SERVICE_INFORMATION"})
}

// AFSignallingProtocol is AF-Signalling-Protocol, TS 29.214 §5.3.26.
type AFSignallingProtocol int32

const (
	SignallingNoInformation AFSignallingProtocol = 0
	SignallingSIP           AFSignallingProtocol = 1
)

func (v AFSignallingProtocol) valid() bool { return v == 0 || v == 1 }
func (v AFSignallingProtocol) String() string {
	return enumName("AF-Signalling-Protocol", int32(v), []string{"NO_INFORMATION", "SIP"})
}

// RxRequestType is Rx-Request-Type, TS 29.214 §5.3.31.
type RxRequestType int32

const (
	InitialRequest   RxRequestType = 0
	UpdateRequest    RxRequestType = 1
	PCSCFRestoration RxRequestType = 2
)

func (v RxRequestType) valid() bool { return v >= 0 && v <= 2 }
func (v RxRequestType) String() string {
	return enumName("Rx-Request-Type", int32(v), []string{"INITIAL_REQUEST", "UPDATE_REQUEST", "PCSCF_RESTORATION"})
}

// SubscriptionIDType is Subscription-Id-Type, RFC 8506 §8.47.
type SubscriptionIDType int32

const (
	EndUserE164    SubscriptionIDType = 0
	EndUserIMSI    SubscriptionIDType = 1
	EndUserSIPURI  SubscriptionIDType = 2
	EndUserNAI     SubscriptionIDType = 3
	EndUserPrivate SubscriptionIDType = 4
)

func (v SubscriptionIDType) valid() bool { return v >= 0 && v <= 4 }
func (v SubscriptionIDType) String() string {
	return enumName("Subscription-Id-Type", int32(v),
		[]string{"END_USER_E164", "END_USER_IMSI", "END_USER_SIP_URI", "END_USER_NAI", "END_USER_PRIVATE"})
}

// TerminationCause is Termination-Cause, RFC 6733 §8.15 (TS 29.214 §4.4.4 uses DIAMETER_LOGOUT).
type TerminationCause int32

const (
	DiameterLogout             TerminationCause = 1
	DiameterServiceNotProvided TerminationCause = 2
	DiameterBadAnswer          TerminationCause = 3
	DiameterAdministrative     TerminationCause = 4
	DiameterLinkBroken         TerminationCause = 5
	DiameterAuthExpired        TerminationCause = 6
	DiameterUserMoved          TerminationCause = 7
	DiameterSessionTimeout     TerminationCause = 8
)

var terminationCauseNames = []string{"", "DIAMETER_LOGOUT", "DIAMETER_SERVICE_NOT_PROVIDED",
	"DIAMETER_BAD_ANSWER", "DIAMETER_ADMINISTRATIVE", "DIAMETER_LINK_BROKEN", "DIAMETER_AUTH_EXPIRED",
	"DIAMETER_USER_MOVED", "DIAMETER_SESSION_TIMEOUT"}

func (v TerminationCause) valid() bool { return v >= 1 && v <= 8 }
func (v TerminationCause) String() string {
	return enumName("Termination-Cause", int32(v), terminationCauseNames)
}

// AuthSessionState is Auth-Session-State, RFC 6733 §8.11.
type AuthSessionState int32

const (
	StateMaintained   AuthSessionState = 0
	NoStateMaintained AuthSessionState = 1
)

func (v AuthSessionState) valid() bool { return v == 0 || v == 1 }
func (v AuthSessionState) String() string {
	return enumName("Auth-Session-State", int32(v), []string{"STATE_MAINTAINED", "NO_STATE_MAINTAINED"})
}

// IPCANType is IP-CAN-Type, TS 29.212 §5.3.27.
type IPCANType int32

const (
	IPCAN3GPPGPRS   IPCANType = 0
	IPCANDOCSIS     IPCANType = 1
	IPCANxDSL       IPCANType = 2
	IPCANWiMAX      IPCANType = 3
	IPCAN3GPP2      IPCANType = 4
	IPCAN3GPPEPS    IPCANType = 5
	IPCANNon3GPPEPS IPCANType = 6
	IPCANFBA        IPCANType = 7
	IPCAN3GPP5GS    IPCANType = 8
	IPCANNon3GPP5GS IPCANType = 9
)

func (v IPCANType) valid() bool { return v >= 0 && v <= 9 }
func (v IPCANType) String() string {
	return enumName("IP-CAN-Type", int32(v), []string{"3GPP-GPRS", "DOCSIS", "xDSL", "WiMAX", "3GPP2",
		"3GPP-EPS", "Non-3GPP-EPS", "FBA", "3GPP-5GS", "Non-3GPP-5GS"})
}

// RATType is RAT-Type, TS 29.212 §5.3.31; values are not checked (the table grows every release).
type RATType int32

func (v RATType) valid() bool    { return v >= 0 }
func (v RATType) String() string { return fmt.Sprintf("RAT-Type(%d)", int32(v)) }
