// Package regstate is the read-only view of registration state that the S-CSCF and the P-CSCF serve on their
// admin listener (behind a token with the read scope, as the HSS's provisioning API): the S-CSCF's
// registrations with their contacts (TS 24.229 §5.4.1.2: contact, +sip.instance and reg-id, Path, expiry) and
// the P-CSCF's bindings with the UE's address and its IMS-AKA SA sets (TS 33.203 §7.1: ports, SPIs, algorithms,
// never CK or IK). The nodes fill these types; imsctl contacts and the console read them with Client.
package regstate

import (
	"strings"
	"time"
)

// Paths of the admin routes.
const (
	// SCSCFPath is the S-CSCF's route: ?impu=URI (any identity of the implicit set) or ?impi=IMPI.
	SCSCFPath = "/admin/v1/registrations"
	// PCSCFPath is the P-CSCF's route: ?impu=URI, the IMPU the UE registered (the S-CSCF's registration key).
	PCSCFPath = "/admin/v1/bindings"
)

// Registrations is the S-CSCF's answer.
type Registrations struct {
	Registrations []Registration `json:"registrations"`
}

// Registration is one registration at the S-CSCF: the registered IMPU, its implicit set and its contacts.
type Registration struct {
	IMPU string `json:"impu"`
	IMPI string `json:"impi"`
	// Identities is the implicit registration set (TS 23.228 §5.2.1a).
	Identities []Identity `json:"identities"`
	// SCSCFName is the server name the HSS assigned the registration to.
	SCSCFName string    `json:"scscf_name,omitempty"`
	Expires   time.Time `json:"expires"`
	Contacts  []Contact `json:"contacts"`
}

// Identity is one public identity of the implicit set.
type Identity struct {
	URI    string `json:"uri"`
	Barred bool   `json:"barred,omitempty"`
}

// Contact is one registered contact at the S-CSCF.
type Contact struct {
	URI string `json:"uri"`
	// Instance and RegID are the +sip.instance and reg-id parameters (RFC 5626 §4.2), "" when absent.
	Instance string `json:"instance,omitempty"`
	RegID    string `json:"reg_id,omitempty"`
	// Params are the Contact parameters as registered (features included).
	Params string `json:"params,omitempty"`
	// Path is the Path of the REGISTER, topmost first: the P-CSCF (RFC 3327).
	Path      []string  `json:"path,omitempty"`
	Expires   time.Time `json:"expires"`
	CallID    string    `json:"call_id,omitempty"`
	CSeq      uint32    `json:"cseq,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
}

// Bindings is the P-CSCF's answer.
type Bindings struct {
	Bindings []Binding `json:"bindings"`
}

// Binding is one registered contact at the P-CSCF: where the UE is and how it is protected.
type Binding struct {
	IMPU string `json:"impu"`
	IMPI string `json:"impi"`
	// ContactID is the P-CSCF's name of the contact: "<+sip.instance>;reg-id=N", or user@host:port.
	ContactID string `json:"contact_id"`
	// Contact is the registered contact's host:port; Source where the REGISTER came from; Transport UDP or TCP.
	Contact    string    `json:"contact"`
	Source     string    `json:"source"`
	Transport  string    `json:"transport"`
	Registered bool      `json:"registered"`
	Expires    time.Time `json:"expires"`
	// Associated are the P-Associated-URIs, ServiceRoute the Service-Route of the 200.
	Associated   []string `json:"associated,omitempty"`
	ServiceRoute []string `json:"service_route,omitempty"`
	// SAs are the IMS-AKA SA sets, newest first; empty without sec-agree.
	SAs []SASet `json:"sas,omitempty"`
}

// SASet is one set of four SAs (TS 33.203 §7.1) without its keys.
type SASet struct {
	UE    Endpoint `json:"ue"`
	PCSCF Endpoint `json:"pcscf"`
	// Integrity and Encryption are the negotiated algorithms (hmac-sha-1-96, aes-cbc, null …).
	Integrity  string    `json:"integrity"`
	Encryption string    `json:"encryption"`
	Proto      string    `json:"proto"`
	Expires    time.Time `json:"expires"`
	Confirmed  bool      `json:"confirmed"`
}

// Endpoint is one end of an SA set: its address, protected ports and the SPIs it chose (RFC 3329 §2.3).
type Endpoint struct {
	Addr  string `json:"addr"`
	PortC uint16 `json:"port_c"`
	PortS uint16 `json:"port_s"`
	SPIC  uint32 `json:"spi_c"`
	SPIS  uint32 `json:"spi_s"`
}

// ContactInstance returns the +sip.instance (without its quotes and angle brackets) and reg-id parameters of
// a Contact's parameters (RFC 5626 §4.2), "" for those absent. A ; inside quotes does not split.
func ContactInstance(params string) (instance, regID string) {
	start, quoted := 0, false
	for i := 0; i <= len(params); i++ {
		if i < len(params) && params[i] == '"' {
			quoted = !quoted
		}
		if i < len(params) && (params[i] != ';' || quoted) {
			continue
		}
		name, value, _ := strings.Cut(strings.TrimSpace(params[start:i]), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "+sip.instance":
			instance = strings.TrimSuffix(strings.TrimPrefix(strings.Trim(strings.TrimSpace(value), `"`), "<"), ">")
		case "reg-id":
			regID = strings.TrimSpace(value)
		}
		start = i + 1
	}
	return instance, regID
}
