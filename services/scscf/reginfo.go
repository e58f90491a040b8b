package scscf

// The registration information document of the reg event package, RFC 3680 §5.3, as TS 24.229
// §5.4.2.1.2 fills it: one <registration> per non-barred public identity of the implicit set, each with
// every contact of the registration.

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
)

// ReginfoContentType is the MIME type of the document (RFC 3680 §5.3).
const ReginfoContentType = "application/reginfo+xml"

// reginfoNS is the XML namespace (RFC 3680 §5.3).
const reginfoNS = "urn:ietf:params:xml:ns:reginfo"

// maxReginfoSize bounds a document ParseReginfo accepts.
const maxReginfoSize = 256 * 1024

// ErrReginfo means a document is not a valid reginfo document.
var ErrReginfo = errors.New("invalid reginfo document")

// Reginfo is the <reginfo> root element.
type Reginfo struct {
	XMLName       xml.Name          `xml:"urn:ietf:params:xml:ns:reginfo reginfo"`
	Version       uint32            `xml:"version,attr"`
	State         string            `xml:"state,attr"` // "full" or "partial"
	Registrations []RegRegistration `xml:"registration"`
}

// RegRegistration is one <registration>: an address-of-record and its contacts.
type RegRegistration struct {
	AOR      string       `xml:"aor,attr"`
	ID       string       `xml:"id,attr"`
	State    string       `xml:"state,attr"` // init, active, terminated
	Contacts []RegContact `xml:"contact"`
}

// RegContact is one <contact>.
type RegContact struct {
	ID    string `xml:"id,attr"`
	State string `xml:"state,attr"` // active, terminated
	// Event: registered, created, refreshed, shortened, expired, deactivated, probation, unregistered,
	// rejected (RFC 3680 §5.3).
	Event       string     `xml:"event,attr"`
	Expires     *uint32    `xml:"expires,attr,omitempty"`
	RetryAfter  *uint32    `xml:"retry-after,attr,omitempty"`
	CallID      string     `xml:"callid,attr,omitempty"`
	CSeq        *uint32    `xml:"cseq,attr,omitempty"`
	URI         string     `xml:"uri"`
	DisplayName string     `xml:"display-name,omitempty"`
	Unknown     []xml.Attr `xml:",any,attr"`
}

// Registration and contact states and events of RFC 3680 §5.3.
const (
	RegStateInit       = "init"
	RegStateActive     = "active"
	RegStateTerminated = "terminated"

	EventRegistered   = "registered"
	EventCreated      = "created"
	EventRefreshed    = "refreshed"
	EventShortened    = "shortened"
	EventExpired      = "expired"
	EventDeactivated  = "deactivated"
	EventProbation    = "probation"
	EventUnregistered = "unregistered"
	EventRejected     = "rejected"
)

// Marshal writes the document with the XML declaration. Attributes follow the struct order, which is
// what RFC 3680's examples show; handsets do not depend on it.
func (r *Reginfo) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("reginfo: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// ParseReginfo reads and checks a reginfo document: the namespace, the state and each element's
// mandatory attributes (RFC 3680 §5.4 schema).
func ParseReginfo(b []byte) (*Reginfo, error) {
	if len(b) > maxReginfoSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrReginfo, len(b))
	}
	var r Reginfo
	if err := xml.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReginfo, err)
	}
	if r.State != "full" && r.State != "partial" {
		return nil, fmt.Errorf("%w: reginfo state %q", ErrReginfo, r.State)
	}
	for i, reg := range r.Registrations {
		if reg.AOR == "" || reg.ID == "" {
			return nil, fmt.Errorf("%w: registration %d: aor and id are required", ErrReginfo, i)
		}
		switch reg.State {
		case RegStateInit, RegStateActive, RegStateTerminated:
		default:
			return nil, fmt.Errorf("%w: registration %s: state %q", ErrReginfo, reg.AOR, reg.State)
		}
		for j, c := range reg.Contacts {
			if c.ID == "" || c.URI == "" {
				return nil, fmt.Errorf("%w: registration %s contact %d: id and uri are required", ErrReginfo, reg.AOR, j)
			}
			if c.State != RegStateActive && c.State != RegStateTerminated {
				return nil, fmt.Errorf("%w: contact %s: state %q", ErrReginfo, c.ID, c.State)
			}
			switch c.Event {
			case EventRegistered, EventCreated, EventRefreshed, EventShortened, EventExpired, EventDeactivated,
				EventProbation, EventUnregistered, EventRejected:
			default:
				return nil, fmt.Errorf("%w: contact %s: event %q", ErrReginfo, c.ID, c.Event)
			}
		}
	}
	return &r, nil
}

// registrationID names a <registration> element by its AOR, stable across documents (RFC 3680 §5.3:
// "the same id for the same registration").
func registrationID(aor string) string {
	var h uint32 = 2166136261 // FNV-1a
	for i := 0; i < len(aor); i++ {
		h ^= uint32(aor[i])
		h *= 16777619
	}
	return "r" + strconv.FormatUint(uint64(h), 36)
}
