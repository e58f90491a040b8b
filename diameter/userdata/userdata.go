// Package userdata is the Cx User-Data document: the IMS subscription the HSS sends the S-CSCF in the
// Server-Assignment-Answer and Push-Profile-Request (TS 29.228 §6.6, Annex B, XML schema in Annex E).
//
// The HSS builds an IMSSubscription and calls Marshal; the S-CSCF calls Parse and evaluates the
// initial filter criteria. Element order and names follow the Annex E schema exactly, because
// S-CSCFs in the field (Kamailio's ims_registrar_scscf among them) read it with validating or
// order-sensitive parsers.
package userdata

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// IMSSubscription is the root element, TS 29.228 Annex B.2 / E (tIMSSubscription).
type IMSSubscription struct {
	XMLName         xml.Name         `xml:"IMSSubscription"`
	PrivateID       string           `xml:"PrivateID"`
	ServiceProfiles []ServiceProfile `xml:"ServiceProfile"`
}

// ServiceProfile groups the public identities that share one set of services (tServiceProfile).
type ServiceProfile struct {
	PublicIdentities []PublicIdentity `xml:"PublicIdentity"`
	// CoreNetworkServicesAuthorization carries the subscribed media profile (Annex B.2.5).
	CoreNetworkServicesAuthorization *CoreNetworkServicesAuthorization `xml:"CoreNetworkServicesAuthorization,omitempty"`
	InitialFilterCriteria            []InitialFilterCriteria           `xml:"InitialFilterCriteria"`
	Extension                        *ServiceProfileExtension          `xml:"Extension,omitempty"`
}

// CoreNetworkServicesAuthorization is tCoreNetworkServicesAuthorization.
type CoreNetworkServicesAuthorization struct {
	SubscribedMediaProfileID *int `xml:"SubscribedMediaProfileId,omitempty"`
}

// ServiceProfileExtension holds the shared iFC set references (Annex B.2.6, Rel-6 SharedIFCSetID).
type ServiceProfileExtension struct {
	SharedIFCSetIDs []int `xml:"SharedIFCSetID"`
}

// PublicIdentity is tPublicIdentity: one IMPU or PSI of the implicit set.
type PublicIdentity struct {
	// BarringIndication true means the identity must not be used for any IMS communication
	// except registration and re-registration (TS 29.228 §6.1.1, TS 23.228 §4.3.3.3).
	BarringIndication *Bool                    `xml:"BarringIndication,omitempty"`
	Identity          string                   `xml:"Identity"`
	Extension         *PublicIdentityExtension `xml:"Extension,omitempty"`
}

// Barred reports whether the identity carries BarringIndication=1.
func (p PublicIdentity) Barred() bool {
	return p.BarringIndication != nil && bool(*p.BarringIndication)
}

// IdentityType values, Annex E tIdentityType.
type IdentityType int

const (
	IdentityPublicUser     IdentityType = 0
	IdentityDistinctPSI    IdentityType = 1
	IdentityWildcardedPSI  IdentityType = 2
	IdentityWildcardedIMPU IdentityType = 3 // Rel-10
	IdentityNonDistinctPSI IdentityType = 4 // not produced by this HSS; accepted when parsed
)

// PublicIdentityExtension is tPublicIdentityExtension (Rel-6 onwards).
type PublicIdentityExtension struct {
	IdentityType  *IdentityType             `xml:"IdentityType,omitempty"`
	WildcardedPSI string                    `xml:"WildcardedPSI,omitempty"`
	Extension     *PublicIdentityExtension2 `xml:"Extension,omitempty"`
}

// PublicIdentityExtension2 is tPublicIdentityExtension2 (Rel-7: display name).
type PublicIdentityExtension2 struct {
	DisplayName string `xml:"DisplayName,omitempty"`
}

// DefaultHandling tells the S-CSCF what to do when the AS does not answer, Annex B.2.3.
type DefaultHandling int

const (
	SessionContinued  DefaultHandling = 0
	SessionTerminated DefaultHandling = 1
)

// SessionCase values for an SPT, Annex B.2.2 (tDirectionOfRequest).
type SessionCase int

const (
	SessionOriginating             SessionCase = 0
	SessionTerminatingRegistered   SessionCase = 1
	SessionTerminatingUnregistered SessionCase = 2
	SessionOriginatingUnregistered SessionCase = 3
	SessionOriginatingCDIV         SessionCase = 4
)

// InitialFilterCriteria is tInitialFilterCriteria, Annex B.2.2.
type InitialFilterCriteria struct {
	// Priority orders evaluation: lower values first (Annex B.2.2).
	Priority int `xml:"Priority"`
	// TriggerPoint absent means the AS is always contacted (unconditional iFC).
	TriggerPoint         *TriggerPoint     `xml:"TriggerPoint,omitempty"`
	ApplicationServer    ApplicationServer `xml:"ApplicationServer"`
	ProfilePartIndicator *int              `xml:"ProfilePartIndicator,omitempty"` // 0 REGISTERED, 1 UNREGISTERED
}

// TriggerPoint is tTrigger: SPTs combined in conjunctive (CNF) or disjunctive (DNF) normal form.
type TriggerPoint struct {
	// ConditionTypeCNF true: groups are ORed inside and ANDed across (CNF); false: the reverse (DNF).
	ConditionTypeCNF Bool  `xml:"ConditionTypeCNF"`
	SPTs             []SPT `xml:"SPT"`
}

// SPT is one Service Point Trigger, tSePoTri. Exactly one of the condition fields is set.
type SPT struct {
	ConditionNegated   *Bool               `xml:"ConditionNegated,omitempty"`
	Groups             []int               `xml:"Group"`
	RequestURI         *string             `xml:"RequestURI,omitempty"`
	Method             *string             `xml:"Method,omitempty"`
	SIPHeader          *HeaderCondition    `xml:"SIPHeader,omitempty"`
	SessionCase        *SessionCase        `xml:"SessionCase,omitempty"`
	SessionDescription *SessionDescription `xml:"SessionDescription,omitempty"`
	Extension          *SPTExtension       `xml:"Extension,omitempty"`
}

// Negated reports whether the SPT's condition is negated.
func (s SPT) Negated() bool { return s.ConditionNegated != nil && bool(*s.ConditionNegated) }

// HeaderCondition is tHeader: a header name and an optional regular expression on its content.
type HeaderCondition struct {
	Header  string  `xml:"Header"`
	Content *string `xml:"Content,omitempty"`
}

// SessionDescription is tSessionDescription: an SDP line type and optional content pattern.
type SessionDescription struct {
	Line    string  `xml:"Line"`
	Content *string `xml:"Content,omitempty"`
}

// SPTExtension is tSePoTriExtension: registration types for REGISTER SPTs (Rel-7).
type SPTExtension struct {
	RegistrationTypes []int `xml:"RegistrationType"` // 0 INITIAL, 1 RE-REGISTRATION, 2 DE-REGISTRATION
}

// ApplicationServer is tApplicationServer, Annex B.2.3.
type ApplicationServer struct {
	ServerName      string                `xml:"ServerName"`
	DefaultHandling *DefaultHandling      `xml:"DefaultHandling,omitempty"`
	ServiceInfo     string                `xml:"ServiceInfo,omitempty"`
	Extension       *ApplicationServerExt `xml:"Extension,omitempty"`
}

// ApplicationServerExt is tApplicationServerExtension (Rel-9: REGISTER contents to the AS).
type ApplicationServerExt struct {
	IncludeRegisterRequest  *struct{} `xml:"IncludeRegisterRequest,omitempty"`
	IncludeRegisterResponse *struct{} `xml:"IncludeRegisterResponse,omitempty"`
}

// Bool is the schema's tBool (xs:boolean): written as 0/1, read from 0, 1, true or false.
type Bool bool

// MarshalText writes 0 or 1, the form every deployed S-CSCF accepts.
func (b Bool) MarshalText() ([]byte, error) {
	if b {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

// UnmarshalText accepts the xs:boolean lexical space.
func (b *Bool) UnmarshalText(t []byte) error {
	switch strings.TrimSpace(string(t)) {
	case "1", "true":
		*b = true
	case "0", "false":
		*b = false
	default:
		return fmt.Errorf("boolean %q: want 0, 1, true or false", t)
	}
	return nil
}

// NewBool returns a pointer to b, for optional elements.
func NewBool(b bool) *Bool { v := Bool(b); return &v }

// MaxSize bounds a User-Data document we accept or produce. The HSS answers
// DIAMETER_ERROR_TOO_MUCH_DATA (5008) when a profile would not fit (TS 29.228 §6.1.2.1).
const MaxSize = 256 * 1024

// ErrTooMuchData is returned by Marshal when the document exceeds MaxSize.
var ErrTooMuchData = errors.New("user data exceeds the maximum size")

// Marshal validates s and writes it as a User-Data document with the XML declaration.
func Marshal(s *IMSSubscription) ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("encode user data: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode user data: %w", err)
	}
	if buf.Len() > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooMuchData, buf.Len())
	}
	return buf.Bytes(), nil
}

// Parse reads and validates a User-Data document.
func Parse(b []byte) (*IMSSubscription, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooMuchData, len(b))
	}
	var s IMSSubscription
	dec := xml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse user data: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// ValidationError names the element that breaks the Annex E schema.
type ValidationError struct {
	Path   string
	Reason string
}

func (e *ValidationError) Error() string { return "user data " + e.Path + ": " + e.Reason }

func invalid(path, format string, args ...any) error {
	return &ValidationError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks the cardinalities and value ranges of Annex E that encoding/xml cannot express.
func (s *IMSSubscription) Validate() error {
	if strings.TrimSpace(s.PrivateID) == "" {
		return invalid("IMSSubscription/PrivateID", "required")
	}
	if len(s.ServiceProfiles) == 0 {
		return invalid("IMSSubscription/ServiceProfile", "at least one required")
	}
	for i, sp := range s.ServiceProfiles {
		if err := sp.validate(fmt.Sprintf("ServiceProfile[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (sp *ServiceProfile) validate(path string) error {
	if len(sp.PublicIdentities) == 0 {
		return invalid(path+"/PublicIdentity", "at least one required")
	}
	for i, p := range sp.PublicIdentities {
		pp := fmt.Sprintf("%s/PublicIdentity[%d]", path, i)
		if strings.TrimSpace(p.Identity) == "" {
			return invalid(pp+"/Identity", "required")
		}
		if p.Extension != nil && p.Extension.IdentityType != nil {
			if t := *p.Extension.IdentityType; t < IdentityPublicUser || t > IdentityNonDistinctPSI {
				return invalid(pp+"/Extension/IdentityType", "value %d out of range", t)
			}
		}
	}
	for i, ifc := range sp.InitialFilterCriteria {
		if err := ifc.validate(fmt.Sprintf("%s/InitialFilterCriteria[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func (ifc *InitialFilterCriteria) validate(path string) error {
	if ifc.Priority < 0 {
		return invalid(path+"/Priority", "negative")
	}
	if strings.TrimSpace(ifc.ApplicationServer.ServerName) == "" {
		return invalid(path+"/ApplicationServer/ServerName", "required")
	}
	if dh := ifc.ApplicationServer.DefaultHandling; dh != nil && *dh != SessionContinued && *dh != SessionTerminated {
		return invalid(path+"/ApplicationServer/DefaultHandling", "value %d out of range", *dh)
	}
	if ppi := ifc.ProfilePartIndicator; ppi != nil && *ppi != 0 && *ppi != 1 {
		return invalid(path+"/ProfilePartIndicator", "value %d out of range", *ppi)
	}
	if ifc.TriggerPoint == nil {
		return nil
	}
	if len(ifc.TriggerPoint.SPTs) == 0 {
		return invalid(path+"/TriggerPoint/SPT", "at least one required")
	}
	for i, spt := range ifc.TriggerPoint.SPTs {
		if err := spt.validate(fmt.Sprintf("%s/TriggerPoint/SPT[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func (s *SPT) validate(path string) error {
	if len(s.Groups) == 0 {
		return invalid(path+"/Group", "at least one required")
	}
	n := 0
	for _, set := range []bool{s.RequestURI != nil, s.Method != nil, s.SIPHeader != nil, s.SessionCase != nil, s.SessionDescription != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return invalid(path, "exactly one of RequestURI, Method, SIPHeader, SessionCase, SessionDescription required, found %d", n)
	}
	if s.SessionCase != nil && (*s.SessionCase < SessionOriginating || *s.SessionCase > SessionOriginatingCDIV) {
		return invalid(path+"/SessionCase", "value %d out of range", *s.SessionCase)
	}
	if s.SIPHeader != nil && strings.TrimSpace(s.SIPHeader.Header) == "" {
		return invalid(path+"/SIPHeader/Header", "required")
	}
	if s.SessionDescription != nil && strings.TrimSpace(s.SessionDescription.Line) == "" {
		return invalid(path+"/SessionDescription/Line", "required")
	}
	return nil
}

// String names the session case as TS 29.228 Annex B.2.2 does.
func (c SessionCase) String() string {
	switch c {
	case SessionOriginating:
		return "ORIGINATING_SESSION"
	case SessionTerminatingRegistered:
		return "TERMINATING_REGISTERED"
	case SessionTerminatingUnregistered:
		return "TERMINATING_UNREGISTERED"
	case SessionOriginatingUnregistered:
		return "ORIGINATING_UNREGISTERED"
	case SessionOriginatingCDIV:
		return "ORIGINATING_CDIV"
	}
	return "SessionCase(" + strconv.Itoa(int(c)) + ")"
}
