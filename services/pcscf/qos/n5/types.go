package n5

// The resources and notifications the AF uses, TS 29.514 §5.6.2 (field names as the OpenAPI spells
// them). Only what a P-CSCF sends or reads is modelled; the PCF's extra fields are ignored on decode.

// AppSessionContext is an Individual Application Session Context, TS 29.514 §5.6.2.2.
type AppSessionContext struct {
	AscReqData  *AppSessionContextReqData  `json:"ascReqData,omitempty"`
	AscRespData *AppSessionContextRespData `json:"ascRespData,omitempty"`
	EvsNotif    *EventsNotification        `json:"evsNotif,omitempty"`
}

// AppSessionContextReqData is what the AF asks for, TS 29.514 §5.6.2.3: notifUri and suppFeat are
// required, and exactly one of ueIpv4, ueIpv6, ueMac.
type AppSessionContextReqData struct {
	AfAppID       string                    `json:"afAppId,omitempty"`
	AfChargID     string                    `json:"afChargId,omitempty"` // the ICID
	EvSubsc       *EventsSubscReqData       `json:"evSubsc,omitempty"`
	MedComponents map[string]MediaComponent `json:"medComponents,omitempty"` // keyed by medCompN
	ServInfStatus string                    `json:"servInfStatus,omitempty"` // FINAL or PRELIMINARY
	NotifURI      string                    `json:"notifUri"`                // where /terminate goes
	Gpsi          string                    `json:"gpsi,omitempty"`          // "msisdn-<digits>"
	SuppFeat      string                    `json:"suppFeat"`                // hex; "0": no optional feature
	UeIpv4        string                    `json:"ueIpv4,omitempty"`
	UeIpv6        string                    `json:"ueIpv6,omitempty"`
}

// AppSessionContextRespData is the PCF's answer data, TS 29.514 §5.6.2.4.
type AppSessionContextRespData struct {
	SuppFeat string `json:"suppFeat,omitempty"`
}

// AppSessionContextUpdateDataPatch is the body of a PATCH (JSON merge patch, RFC 7396), TS 29.514 §5.6.2.?.
type AppSessionContextUpdateDataPatch struct {
	AscReqData *AppSessionContextUpdateData `json:"ascReqData,omitempty"`
}

// AppSessionContextUpdateData is the modification of an application session, TS 29.514 §5.6.2.6.
type AppSessionContextUpdateData struct {
	AfAppID       string                    `json:"afAppId,omitempty"`
	EvSubsc       *EventsSubscReqData       `json:"evSubsc,omitempty"`
	MedComponents map[string]MediaComponent `json:"medComponents,omitempty"`
	ServInfStatus string                    `json:"servInfStatus,omitempty"`
}

// MediaComponent is one media component, TS 29.514 §5.6.2.7 (Rx's Media-Component-Description).
type MediaComponent struct {
	MedCompN    int                          `json:"medCompN"`
	Codecs      []string                     `json:"codecs,omitempty"` // 1..2 CodecData, Rx Codec-Data text
	FStatus     string                       `json:"fStatus,omitempty"`
	MarBwDl     string                       `json:"marBwDl,omitempty"` // BitRate: "<n> bps" (TS 29.571)
	MarBwUl     string                       `json:"marBwUl,omitempty"`
	MirBwDl     string                       `json:"mirBwDl,omitempty"`
	MirBwUl     string                       `json:"mirBwUl,omitempty"`
	MedSubComps map[string]MediaSubComponent `json:"medSubComps,omitempty"` // keyed by fNum
	MedType     string                       `json:"medType,omitempty"`
	RrBw        string                       `json:"rrBw,omitempty"`
	RsBw        string                       `json:"rsBw,omitempty"`
}

// MediaSubComponent is one flow of a component, TS 29.514 §5.6.2.8.
type MediaSubComponent struct {
	AfSigProtocol string   `json:"afSigProtocol,omitempty"` // NO_INFORMATION or SIP (TS 29.512)
	FNum          int      `json:"fNum"`
	FDescs        []string `json:"fDescs,omitempty"` // IPFilterRule text, as Rx Flow-Description
	FStatus       string   `json:"fStatus,omitempty"`
	FlowUsage     string   `json:"flowUsage,omitempty"` // NO_INFO, RTCP, AF_SIGNALLING
}

// EventsSubscReqData subscribes to events, TS 29.514 §5.6.2.10.
type EventsSubscReqData struct {
	Events   []AfEventSubscription `json:"events"`
	NotifURI string                `json:"notifUri,omitempty"` // where /notify goes
}

// AfEventSubscription is one event subscribed to, TS 29.514 §5.6.2.11.
type AfEventSubscription struct {
	Event string `json:"event"`
}

// AF events (TS 29.514 §5.6.3.3, AfEvent) the P-CSCF subscribes to.
const (
	EventFailedResourcesAllocation     = "FAILED_RESOURCES_ALLOCATION"
	EventSuccessfulResourcesAllocation = "SUCCESSFUL_RESOURCES_ALLOCATION"
	EventAccessTypeChange              = "ACCESS_TYPE_CHANGE"
)

// EventsNotification is the body of a POST {notifUri}/notify, TS 29.514 §5.6.2.12.
type EventsNotification struct {
	EvSubsURI string                `json:"evSubsUri"`
	EvNotifs  []AfEventNotification `json:"evNotifs"`
}

// AfEventNotification is one event reported, TS 29.514 §5.6.2.13.
type AfEventNotification struct {
	Event string  `json:"event"`
	Flows []Flows `json:"flows,omitempty"`
}

// Flows names the flows of one media component, TS 29.512 §5.6.2.14.
type Flows struct {
	MedCompN int   `json:"medCompN"`
	FNums    []int `json:"fNums,omitempty"`
}

// TerminationInfo is the body of a POST {notifUri}/terminate, TS 29.514 §5.6.2.14: the PCF asks the
// AF to end the application session (ALL_SDF_DEACTIVATION, PDU_SESSION_TERMINATION, PS_TO_CS_HO).
type TerminationInfo struct {
	TermCause string `json:"termCause"`
	ResURI    string `json:"resUri"`
}

// ProblemDetails is the error body of TS 29.571 §5.2.4.1 (RFC 7807).
type ProblemDetails struct {
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
	Cause  string `json:"cause,omitempty"`
}
