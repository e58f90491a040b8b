package provision

import (
	"time"

	"github.com/imscore/imscore/hss"
)

// The JSON documents of the API. Requests and responses are separate types because keys are write-only:
// a request carries K, OP, OPc and passwords, a response only says whether they are set (has_k, …).
// docs/provisioning.md describes every member; keep the two in step.

// SubscriberRequest is the body of POST /api/v1/subscribers and one line of POST
// /api/v1/subscribers:import. Without IMPUs it creates the conventional identities of TS 23.003 §13 as
// docker_open5gs and the Kamailio IMS examples do: IMPI `<imsi>@<domain>`, and in one implicit set
// `sip:<imsi>@<domain>` (barred), `sip:<msisdn>@<domain>` and `tel:<msisdn>`.
type SubscriberRequest struct {
	// IMPI defaults to `<imsi>@<domain>`.
	IMPI   string `json:"impi,omitempty"`
	IMSI   string `json:"imsi,omitempty"`
	MSISDN string `json:"msisdn,omitempty"`
	// K, OP and OPc are 32 hex digits; OP and OPc exclusive. AMF is 4 hex digits, default "8000".
	K   string `json:"k,omitempty"`
	OP  string `json:"op,omitempty"`
	OPc string `json:"opc,omitempty"`
	AMF string `json:"amf,omitempty"`
	// StoreOPc derives OPc from K and OP (TS 35.206 §4.1) and stores OPc only, so that OP never reaches
	// the database.
	StoreOPc bool `json:"store_opc,omitempty"`
	// SQN is the starting sequence number (TS 33.102 Annex C), default 0.
	SQN *uint64 `json:"sqn,omitempty"`
	// Password is the SIP Digest password; HA1 is H(A1) = MD5(impi:realm:password) in hex instead.
	Password string `json:"password,omitempty"`
	HA1      string `json:"ha1,omitempty"`
	// Schemes are the authentication schemes allowed: "AKAv1-MD5", "AKAv2-MD5", "SIP-Digest". Default:
	// both AKA schemes when K is given, SIP-Digest when a password or HA1 is given.
	Schemes                []string          `json:"schemes,omitempty"`
	AllowedVisitedNetworks []string          `json:"allowed_visited_networks,omitempty"`
	RequiredCapabilities   *hss.Capabilities `json:"required_capabilities,omitempty"`
	Charging               *hss.ChargingInfo `json:"charging,omitempty"`
	// ProfileID is the service profile of the identities created, default "default" (created empty on
	// first use).
	ProfileID string `json:"profile_id,omitempty"`
	// IMPUs replace the conventional identities when given.
	IMPUs []IMPURequest `json:"impus,omitempty"`
	// SharedIMPUs are existing public identities to associate as well (TS 23.228 §4.3.3.4).
	SharedIMPUs []string `json:"shared_impus,omitempty"`
}

// IMPURequest is a public identity to create (in SubscriberRequest or POST …/impus) or the new
// attributes of one (PUT …/impus/{impu}).
type IMPURequest struct {
	IMPU string `json:"impu"`
	// Type is PUBLIC_USER_IDENTITY (default), DISTINCT_PSI, WILDCARDED_PSI or WILDCARDED_IMPU
	// (TS 29.228 Annex B tIdentityType).
	Type        string `json:"type,omitempty"`
	Barred      bool   `json:"barred,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// ImplicitSet names the implicit registration set; default: the IMPI's own set.
	ImplicitSet string `json:"implicit_set,omitempty"`
	// ProfileID defaults to the subscriber's profile (create) or is kept (update).
	ProfileID string `json:"profile_id,omitempty"`
}

// SubscriberPatch is the body of PATCH /api/v1/subscribers/{impi}: members present replace the stored
// value, members absent keep it. Keys have their own route (PUT …/keys).
type SubscriberPatch struct {
	IMSI                   *string           `json:"imsi,omitempty"`
	MSISDN                 *string           `json:"msisdn,omitempty"`
	Schemes                *[]string         `json:"schemes,omitempty"`
	Password               *string           `json:"password,omitempty"`
	HA1                    *string           `json:"ha1,omitempty"`
	AllowedVisitedNetworks *[]string         `json:"allowed_visited_networks,omitempty"`
	RequiredCapabilities   *hss.Capabilities `json:"required_capabilities,omitempty"`
	// Charging replaces the subscriber's charging addresses; an empty object removes them (the default
	// applies again).
	Charging *hss.ChargingInfo `json:"charging,omitempty"`
}

// KeysRequest is the body of PUT /api/v1/subscribers/{impi}/keys (a new SIM).
type KeysRequest struct {
	K   string `json:"k"`
	OP  string `json:"op,omitempty"`
	OPc string `json:"opc,omitempty"`
	// AMF is kept when absent.
	AMF      string `json:"amf,omitempty"`
	StoreOPc bool   `json:"store_opc,omitempty"`
	// SQN, when present, resets the sequence number.
	SQN *uint64 `json:"sqn,omitempty"`
}

// Subscriber is a subscriber as the API returns it. Keys and passwords are never returned.
type Subscriber struct {
	IMPI                   string            `json:"impi"`
	IMSI                   string            `json:"imsi,omitempty"`
	MSISDN                 string            `json:"msisdn,omitempty"`
	HasK                   bool              `json:"has_k"`
	HasOP                  bool              `json:"has_op"`
	HasOPc                 bool              `json:"has_opc"`
	AMF                    string            `json:"amf"`
	SQN                    uint64            `json:"sqn"`
	Schemes                []string          `json:"schemes"`
	HasPassword            bool              `json:"has_password"`
	HasHA1                 bool              `json:"has_ha1"`
	AllowedVisitedNetworks []string          `json:"allowed_visited_networks"`
	RequiredCapabilities   *hss.Capabilities `json:"required_capabilities,omitempty"`
	Charging               *hss.ChargingInfo `json:"charging,omitempty"`
	IMPUs                  []IMPU            `json:"impus"`
	// Profiles are the service profiles the identities reference (GET of one subscriber only).
	Profiles  []Profile `json:"profiles,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// ProfilePush reports the PPRs sent because this change touched a registered user.
	ProfilePush *PushReport `json:"profile_push,omitempty"`
}

// IMPU is a public identity as the API returns it.
type IMPU struct {
	IMPU         string       `json:"impu"`
	Type         string       `json:"type"`
	Barred       bool         `json:"barred"`
	DisplayName  string       `json:"display_name,omitempty"`
	ImplicitSet  string       `json:"implicit_set"`
	ProfileID    string       `json:"profile_id"`
	Registration Registration `json:"registration"`
}

// Registration is the registration data of a public identity (TS 29.228 §6.1.2).
type Registration struct {
	// State is NOT_REGISTERED, REGISTERED or UNREGISTERED.
	State           string `json:"state"`
	SCSCFName       string `json:"scscf_name,omitempty"`
	SCSCFOriginHost string `json:"scscf_origin_host,omitempty"`
	PendingSCSCF    string `json:"pending_scscf,omitempty"`
}

// SubscriberList is one page of GET /api/v1/subscribers.
type SubscriberList struct {
	Subscribers []Subscriber `json:"subscribers"`
	// NextCursor is the cursor of the next page; absent on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// RegistrationStatus is GET /api/v1/subscribers/{impi}/registration.
type RegistrationStatus struct {
	IMPI string `json:"impi"`
	// Registered reports whether this IMPI holds a registration of any of its identities.
	Registered bool               `json:"registered"`
	IMPUs      []IMPURegistration `json:"impus"`
}

// IMPURegistration is the registration state of one identity of RegistrationStatus.
type IMPURegistration struct {
	IMPU        string `json:"impu"`
	ImplicitSet string `json:"implicit_set"`
	Registration
	// RegisteredByIMPI: this IMPI holds the registration (several IMPIs may share an identity).
	RegisteredByIMPI bool `json:"registered_by_impi"`
}

// LinkRequest is the body of POST /api/v1/subscribers/{impi}/links.
type LinkRequest struct {
	IMPU string `json:"impu"`
}

// DeregisterRequest is the body of POST /api/v1/subscribers/{impi}/deregister (an RTR, TS 29.228 §6.1.3).
type DeregisterRequest struct {
	// Reason is a Reason-Code (TS 29.229 §6.3.17) by name (PERMANENT_TERMINATION, NEW_SERVER_ASSIGNED,
	// SERVER_CHANGE, REMOVE_S-CSCF) or number; default PERMANENT_TERMINATION.
	Reason ReasonCode `json:"reason,omitempty"`
	// Info is the Reason-Info text shown to the user.
	Info string `json:"info,omitempty"`
	// IMPUs to de-register; empty means every identity of the IMPI.
	IMPUs []string `json:"impus,omitempty"`
}

// DeregisterResult is the answer of a successful deregister with wait=true.
type DeregisterResult struct {
	IMPI   string   `json:"impi"`
	Reason string   `json:"reason"`
	IMPUs  []string `json:"impus,omitempty"`
	// Operation is the id of the RTR's operation (GET /api/v1/operations/{id}).
	Operation string `json:"operation,omitempty"`
}

// PushResult is the answer of POST /api/v1/subscribers/{impi}/push-profile with wait=true.
type PushResult struct {
	IMPI string `json:"impi"`
	// Operation is the id of the PPR's operation.
	Operation string `json:"operation,omitempty"`
}

// Operation is a network-initiated procedure (RTR or PPR) the API started: the 202 answer of the route
// that started it, and GET /api/v1/operations/{id}. Operations are kept for cx.operations.retention after
// they finish (at most cx.operations.max of them).
type Operation struct {
	ID string `json:"id"`
	// Location is where to read it again: /api/v1/operations/{id}.
	Location string `json:"location"`
	// Command is RTR (TS 29.228 §6.1.3) or PPR (§6.2.2).
	Command string `json:"command"`
	IMPI    string `json:"impi"`
	// IMPUs are the identities an RTR was asked for (empty: every one of the IMPI).
	IMPUs []string `json:"impus,omitempty"`
	// Reason is the Deregistration-Reason of an RTR.
	Reason string `json:"reason,omitempty"`
	// State is pending, succeeded or failed.
	State string `json:"state"`
	// Outcome, once finished: succeeded, refused (the S-CSCF answered an error: see Answer), timeout (no
	// answer within diameter.request_timeout), unreachable (the S-CSCF is not connected), cancelled (the HSS
	// stopped) or error.
	Outcome string `json:"outcome,omitempty"`
	// Error says why a failed operation failed.
	Error string `json:"error,omitempty"`
	// Answer is the S-CSCF's error answer of a refused operation.
	Answer     *DiameterAnswer `json:"answer,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
}

// Done reports whether the operation has finished (succeeded or failed).
func (o *Operation) Done() bool { return o.State != "" && o.State != string(hss.OperationPending) }

// DiameterAnswer is an S-CSCF's error answer to an RTR or PPR.
type DiameterAnswer struct {
	// Peer is the S-CSCF's Origin-Host.
	Peer string `json:"peer"`
	// ResultCode is the Result-Code, or the Experimental-Result-Code when VendorID is 10415 (3GPP; Name
	// then names it, TS 29.229 §6.2).
	ResultCode uint32 `json:"result_code"`
	VendorID   uint32 `json:"vendor_id,omitempty"`
	Name       string `json:"name,omitempty"`
}

// OperationList is GET /api/v1/operations: the kept operations, newest first.
type OperationList struct {
	Operations []Operation `json:"operations"`
	// Truncated is set when more operations matched than limit.
	Truncated bool `json:"truncated,omitempty"`
}

// PushReport lists the Push-Profile-Requests (TS 29.228 §6.2.2) a change caused: one per IMPI of a
// registered user whose profile, identities or charging addresses changed. The change answers at once with
// the PPRs as pending Operations; with wait=true it waits for them and fills Pushed and Failed.
type PushReport struct {
	// Operations are the PPRs started, one per IMPI, as they were when the change answered.
	Operations []Operation `json:"operations,omitempty"`
	// Pushed are the IMPIs whose PPR succeeded (wait=true).
	Pushed []string `json:"pushed,omitempty"`
	// Failed are the IMPIs whose PPR failed or could not be started, with the reason.
	Failed []PushFailure `json:"failed,omitempty"`
	// Skipped says why no PPR was sent although one was due (no Cx server attached).
	Skipped string `json:"skipped,omitempty"`
}

// PushFailure is one failed PPR.
type PushFailure struct {
	IMPI  string `json:"impi"`
	Error string `json:"error"`
}

// DeleteResult is the answer of DELETE /api/v1/subscribers/{impi}. A registered subscriber is first
// de-registered (RTR with PERMANENT_TERMINATION, TS 29.228 §6.1.3).
type DeleteResult struct {
	IMPI         string `json:"impi"`
	Deregistered bool   `json:"deregistered"`
	// DeregisterError says why the RTR was not sent or failed, when the deletion was forced (force=true);
	// without force such a deletion is refused with 409 deregister_failed.
	DeregisterError string `json:"deregister_error,omitempty"`
	// Warning is set when the subscriber was deleted while an S-CSCF may still serve it.
	Warning string `json:"warning,omitempty"`
	// Operation is the id of the RTR's operation, when one was sent.
	Operation string `json:"operation,omitempty"`
}

// Profile is a service profile (TS 29.228 Annex B.2.1) as sent and returned.
type Profile struct {
	ID                       string    `json:"id"`
	SubscribedMediaProfileID *int32    `json:"subscribed_media_profile_id,omitempty"`
	IFCs                     []IFC     `json:"ifcs"`
	SharedIFCSetIDs          []int32   `json:"shared_ifc_set_ids,omitempty"`
	CreatedAt                time.Time `json:"created_at,omitzero"`
	UpdatedAt                time.Time `json:"updated_at,omitzero"`
	// ProfilePush reports the PPRs sent to registered users of the profile after a change.
	ProfilePush *PushReport `json:"profile_push,omitempty"`
}

// IFCSet is a shared iFC set (TS 29.228 Annex E) as sent and returned.
type IFCSet struct {
	ID          int32       `json:"id"`
	IFCs        []IFC       `json:"ifcs"`
	CreatedAt   time.Time   `json:"created_at,omitzero"`
	UpdatedAt   time.Time   `json:"updated_at,omitzero"`
	ProfilePush *PushReport `json:"profile_push,omitempty"`
}

// IFC is an initial filter criteria (TS 29.228 Annex B.2.2). Enumerations are by TS 29.228 name.
type IFC struct {
	Priority          int32             `json:"priority"`
	TriggerPoint      *TriggerPoint     `json:"trigger_point,omitempty"`
	ApplicationServer ApplicationServer `json:"application_server"`
	// ProfilePartIndicator is REGISTERED or UNREGISTERED; absent means both.
	ProfilePartIndicator string `json:"profile_part_indicator,omitempty"`
}

// TriggerPoint is tTrigger: CNF (AND of ORed groups) when ConditionTypeCNF, else DNF.
type TriggerPoint struct {
	ConditionTypeCNF bool  `json:"condition_type_cnf"`
	SPTs             []SPT `json:"spt"`
}

// SPT is one service point trigger; exactly one of RequestURI, Method, SIPHeader, SessionCase and
// SessionDescription is set.
type SPT struct {
	ConditionNegated bool    `json:"condition_negated,omitempty"`
	Group            []int32 `json:"group"`
	RequestURI       string  `json:"request_uri,omitempty"`
	Method           string  `json:"method,omitempty"`
	// RegistrationTypes (INITIAL_REGISTRATION, RE-REGISTRATION, DE-REGISTRATION) restrict a REGISTER trigger.
	RegistrationTypes []string         `json:"registration_types,omitempty"`
	SIPHeader         *hss.HeaderMatch `json:"sip_header,omitempty"`
	// SessionCase is ORIGINATING_REGISTERED, TERMINATING_REGISTERED, TERMINATING_UNREGISTERED,
	// ORIGINATING_UNREGISTERED or ORIGINATING_CDIV.
	SessionCase        string            `json:"session_case,omitempty"`
	SessionDescription *hss.SDPLineMatch `json:"session_description,omitempty"`
}

// ApplicationServer is tApplicationServer.
type ApplicationServer struct {
	ServerName string `json:"server_name"`
	// DefaultHandling is SESSION_CONTINUED (default) or SESSION_TERMINATED.
	DefaultHandling         string `json:"default_handling,omitempty"`
	ServiceInfo             string `json:"service_info,omitempty"`
	IncludeRegisterRequest  bool   `json:"include_register_request,omitempty"`
	IncludeRegisterResponse bool   `json:"include_register_response,omitempty"`
}

// SCSCF is an S-CSCF and its capabilities (TS 29.228 §6.7).
type SCSCF struct {
	Name         string           `json:"name"`
	Capabilities hss.Capabilities `json:"capabilities"`
	UpdatedAt    time.Time        `json:"updated_at,omitzero"`
}

// ImportResult is the answer of POST /api/v1/subscribers:import.
type ImportResult struct {
	// Lines is the number of lines read, blank ones included (line numbers start at 1).
	Lines    int `json:"lines"`
	Imported int `json:"imported"`
	Failed   int `json:"failed"`
	// Errors are the first MaxImportErrors failed lines, by line number.
	Errors          []ImportError `json:"errors,omitempty"`
	ErrorsTruncated bool          `json:"errors_truncated,omitempty"`
	// Error and Code are set when the import stopped before the end of the body; what was imported
	// before stays imported.
	Error string `json:"error,omitempty"`
	Code  Code   `json:"code,omitempty"`
}

// ImportError is one line that was not imported.
type ImportError struct {
	Line  int    `json:"line"`
	IMPI  string `json:"impi,omitempty"`
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	Code  Code   `json:"code"`
}
