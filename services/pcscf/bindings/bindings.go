// Package bindings is the P-CSCF's registration state as its store sees it: one Binding per contact of a
// registration (TS 24.229 §5.2.2; RFC 5626 §4.2 and RFC 5627 §4.2: a UE's +sip.instance and reg-id, else its
// contact URI, under the registered public identity), with the UE's address, transport and IMS-AKA SA sets, and
// the Store the P-CSCF journals them to. Memory (services/pcscf) is authoritative; the store is written behind,
// row per binding, with a version per row compared and set on every write (docs/pcscf.md "State").
package bindings

import (
	"context"
	"net/netip"
	"time"

	"github.com/imscore/imscore/sip/ipsec"
)

// Key names a binding: the registered IMPU (its identity.Key) and the contact identity (Binding.Contact).
type Key struct {
	IMPU    string
	Contact string
}

// Binding is one registered contact as the P-CSCF keeps it: who, where, the identities the S-CSCF associated
// with the registration, its Service-Route, the reg event subscription and the SA sets towards the UE.
type Binding struct {
	// IMPU is the public identity registered (To of the REGISTER).
	IMPU string `json:"impu"`
	// IMPI is the private identity (Authorization username).
	IMPI string `json:"impi"`
	// Contact is the contact identity (RFC 5626 §4.2, RFC 5627 §4.2): "<+sip.instance>;reg-id=N" when the UE
	// sent both, the instance alone without reg-id, else the contact URI as user@host:port, lower case.
	Contact string `json:"contact_id,omitempty"`
	// ContactHost and ContactPort are the registered contact's address: a request whose Request-URI names them
	// goes to this binding's UE.
	ContactHost string `json:"contact_host"`
	ContactPort uint16 `json:"contact_port"`
	// Transport is UDP or TCP, as the UE's REGISTER came.
	Transport string `json:"transport"`
	// Source is where the unprotected REGISTER came from; for a UE without sec-agree, where its requests come
	// from and where requests to it go.
	Source netip.AddrPort `json:"source"`
	// Associated are the P-Associated-URI values of the 200 (RFC 7315 §4.1), the first being the default public
	// identity (TS 24.229 §5.2.6.3.1).
	Associated []string `json:"associated,omitempty"`
	// ServiceRoute are the Service-Route values of the 200 (RFC 3608), top first.
	ServiceRoute []string `json:"service_route,omitempty"`
	// Expires is when the binding ends; zero while not yet registered.
	Expires time.Time `json:"expires"`
	// RegEvent is the P-CSCF's subscription to the reg event for this binding (TS 24.229 §5.2.3).
	RegEvent *RegEvent `json:"reg_event,omitempty"`
	// SAs are the IMS-AKA SA sets towards this UE, newest first. More than one exists only during a
	// re-registration: the old set stays until the UE uses the new (TS 33.203 §7.4).
	SAs []SASet `json:"sas,omitempty"`
}

// Registered reports whether the binding is in force at now.
func (b *Binding) Registered(now time.Time) bool { return !b.Expires.IsZero() && now.Before(b.Expires) }

// SecAgree reports whether the UE uses IMS-AKA SAs.
func (b *Binding) SecAgree() bool { return len(b.SAs) > 0 }

// SASet is one set of four SAs and what was negotiated for it.
type SASet struct {
	Pair ipsec.Pair `json:"pair"` // holds CK and IK (docs/security.md: the store is protected as they are)
	// SecurityServer is the Security-Server value sent in the 401, which Security-Verify must equal
	// (TS 24.229 §5.2.2); SecurityClient the UE's offer, which a later Security-Client must equal.
	SecurityServer string    `json:"security_server"`
	SecurityClient string    `json:"security_client"`
	Expires        time.Time `json:"expires"`
	// Confirmed: a REGISTER came over this set and was answered 200.
	Confirmed bool `json:"confirmed"`
	// OutboundSeq is the highest ESP sequence number the P-CSCF had sent over this set when it last recorded it
	// (a clean stop); a restart installs the set again with numbers after it.
	OutboundSeq uint32 `json:"outbound_seq,omitempty"`
}

// RegEvent is a reg event subscription the P-CSCF created: the dialog its NOTIFYs must name and the S-CSCF
// they must come from (RFC 6665 §4.1.2.4: the notifier's tag is not part of the match).
type RegEvent struct {
	CallID   string `json:"call_id"`
	LocalTag string `json:"local_tag"`
	// Peer is the address the SUBSCRIBE was sent to (the S-CSCF, top of the Service-Route).
	Peer netip.Addr `json:"peer"`
	// IMPU and Contact name the binding the subscription serves.
	IMPU    string    `json:"impu"`
	Contact string    `json:"contact_id,omitempty"`
	Expires time.Time `json:"expires"`
}

// Stored is a binding as a store holds it, with its row version.
type Stored struct {
	Binding
	Version int64
}

// Change is one write of the journal: Binding nil deletes the row. Version is the row version this node last
// loaded or wrote, 0 when it never did (a binding new here).
type Change struct {
	Key     Key
	Binding *Binding
	Version int64
}

// Outcome is what a Change did: the row's new Version, or Lost when the row was not at the version the change
// expected (another P-CSCF of the pool wrote or removed it since: the binding is no longer this node's).
type Outcome struct {
	Version int64
	Lost    bool
}

// Store is the P-CSCF's journal (storage/sqlite, storage/postgres). Every write is a compare-and-set on the
// row version: an update or a delete applies only to the version the change names; a new binding (Version 0)
// is inserted, or takes over the row of another node at its next version (a UE that registered again through
// this P-CSCF). Owner is the node writing (Config.NodeID); LoadBindings returns the rows owner wrote last.
type Store interface {
	LoadBindings(ctx context.Context, owner string) ([]Stored, error)
	// ApplyBindings runs changes in one transaction and returns one Outcome per change, in order.
	ApplyBindings(ctx context.Context, owner string, changes []Change) ([]Outcome, error)
}
