// Package registrar holds the S-CSCF's registration state: what TS 24.229 §5.4.1.2 makes the S-CSCF keep
// for each registered public user identity (contacts with their Path and expiry, the implicit set, the
// user profile, the Call-ID and CSeq of the registration, the HSS session) and the reg event
// subscriptions of RFC 3680. The S-CSCF (services/scscf) is its consumer and declares here the interface
// it needs; storage/sqlite and storage/postgres implement it, Memory is the in-process implementation for
// tests. It is a leaf package so that the storage backends can implement it without importing the S-CSCF.
package registrar

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/imscore/imscore/diameter/userdata"
)

// ErrNotFound means no registration or subscription matches.
var ErrNotFound = errors.New("registrar: not found")

// Registrar is the S-CSCF's registration store. Several S-CSCFs may share one (PostgreSQL), so every
// method is a single atomic operation and callers re-read before they decide.
type Registrar interface {
	// SaveRegistration stores r under r.IMPU, replacing the earlier record and re-indexing its implicit set
	// (every Identities URI then finds r).
	SaveRegistration(ctx context.Context, r *Registration) error
	// Registration returns the registration whose IMPU or implicit set holds impu, else ErrNotFound.
	Registration(ctx context.Context, impu string) (*Registration, error)
	// RegistrationsByIMPI returns every registration of the private identity, ordered by IMPU.
	RegistrationsByIMPI(ctx context.Context, impi string) ([]*Registration, error)
	// DeleteRegistration removes the registration stored under impu (its key), else ErrNotFound.
	DeleteRegistration(ctx context.Context, impu string) error
	// ExpiredRegistrations returns the registrations whose Expires is not after now.
	ExpiredRegistrations(ctx context.Context, now time.Time) ([]*Registration, error)
	// CountRegistrations returns how many registrations the store holds and how many contacts they bind,
	// expired ones not yet swept included (the S-CSCF's registration gauges start from it).
	CountRegistrations(ctx context.Context) (registrations, contacts int, err error)

	// SaveSubscription stores s under s.ID, replacing the earlier record.
	SaveSubscription(ctx context.Context, s *Subscription) error
	// Subscription returns the subscription stored under id, else ErrNotFound.
	Subscription(ctx context.Context, id string) (*Subscription, error)
	// Subscriptions returns the subscriptions to the registration state of impu (the key IMPU of a
	// registration), ordered by ID.
	Subscriptions(ctx context.Context, impu string) ([]*Subscription, error)
	// DeleteSubscription removes one subscription, else ErrNotFound.
	DeleteSubscription(ctx context.Context, id string) error
	// ExpiredSubscriptions returns the subscriptions whose Expires is not after now.
	ExpiredSubscriptions(ctx context.Context, now time.Time) ([]*Subscription, error)

	// SaveChallenge stores c under c.IMPI, replacing the IMPI's earlier challenge (only the latest 401 counts).
	SaveChallenge(ctx context.Context, c *Challenge) error
	// TakeChallenge removes and returns the IMPI's challenge when its nonce is nonce, else ErrNotFound and the
	// stored one stays. Atomic: of several S-CSCFs answering the same response, one gets it (a vector is used
	// once, TS 33.203 §6.1.1).
	TakeChallenge(ctx context.Context, impi, nonce string) (*Challenge, error)
	// TakeExpiredChallenges removes and returns the challenges whose Expires is not after now, so that one
	// S-CSCF alone reports each authentication timeout.
	TakeExpiredChallenges(ctx context.Context, now time.Time) ([]*Challenge, error)
}

// Challenge is an authentication vector handed out in a 401 and not answered yet (TS 24.229 §5.4.1.2.1: the
// S-CSCF stores RAND and XRES; TS 33.203 §6.1.1). It holds XRES, CK and IK: a store keeping it must be
// protected as the HSS's is.
type Challenge struct {
	IMPI string `json:"impi"`
	IMPU string `json:"impu"`
	// Scheme is the SIP-Authentication-Scheme of the MAA, Algorithm the Digest algorithm of the 401.
	Scheme    string `json:"scheme"`
	Algorithm string `json:"algorithm"`
	Nonce     string `json:"nonce"`
	Realm     string `json:"realm"`
	RAND      []byte `json:"rand,omitempty"`
	XRES      []byte `json:"xres,omitempty"`
	CK        []byte `json:"ck,omitempty"`
	IK        []byte `json:"ik,omitempty"`
	// HA1 is the SIP Digest (MD5) hash of the MAA.
	HA1     string    `json:"ha1,omitempty"`
	Expires time.Time `json:"expires"`
}

// Registration is one registered public user identity with its implicit registration set
// (TS 24.229 §5.4.1.2.2, TS 23.228 §5.2.1a).
type Registration struct {
	// IMPU is the identity the UE registered (the To of the REGISTER): the key.
	IMPU string `json:"impu"`
	// IMPI is the private identity that authenticated.
	IMPI string `json:"impi"`
	// Identities is the implicit set from the User-Data (IMPU first when it is part of it).
	Identities []Identity `json:"identities"`
	// Contacts are the registered contacts.
	Contacts []Contact `json:"contacts"`
	// Profile is the User-Data XML of the SAA or the latest PPR (TS 29.228 Annex E).
	Profile []byte `json:"profile,omitempty"`
	// HSS is what the S-CSCF needs to talk to the HSS about this registration.
	HSS HSSSession `json:"hss"`
	// Expires is the earliest expiry among Contacts: the registrar sweeps the registration then.
	Expires time.Time `json:"expires"`
	// Version counts the changes of the registration: Table bumps it on every save, the SQL stores keep it
	// in the registration row and write by compare-and-set on it (VersionedStore).
	Version uint64 `json:"version,omitempty"`
	// Parsed is Profile parsed (once per SAA or PPR, or at load). Shared by clones: never modified.
	Parsed *userdata.IMSSubscription `json:"-"`
}

// Identity is one public identity of the implicit set.
type Identity struct {
	URI         string `json:"uri"`
	Barred      bool   `json:"barred,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// Contact is one registered contact address (RFC 3261 §10.3) with what came with it.
type Contact struct {
	// URI is the Contact URI as registered.
	URI string `json:"uri"`
	// Params are the Contact header parameters other than expires (+sip.instance, reg-id, features).
	Params string `json:"params,omitempty"`
	// Path is the Path header values of the REGISTER, topmost first (RFC 3327 §5.3).
	Path []string `json:"path,omitempty"`
	// Expires is when the binding ends.
	Expires time.Time `json:"expires"`
	// CallID and CSeq are those of the REGISTER that last refreshed it (RFC 3261 §10.3 step 7).
	CallID string `json:"call_id"`
	CSeq   uint32 `json:"cseq"`
	// ID names the contact in reginfo documents (RFC 3680 §5.3 contact id).
	ID string `json:"id"`
	// UserAgent is the User-Agent of the REGISTER, if any.
	UserAgent string `json:"user_agent,omitempty"`
}

// HSSSession is the Cx state of a registration (TS 29.228 §6.1.2).
type HSSSession struct {
	// Host and Realm are the HSS's Origin-Host and Origin-Realm from the SAA: the Destination-* of later SARs.
	Host  string `json:"host,omitempty"`
	Realm string `json:"realm,omitempty"`
	// ServerName is the S-CSCF name the registration was assigned to.
	ServerName string `json:"server_name,omitempty"`
}

// Subscription is one reg event subscription (RFC 3680, RFC 6665 §4.2): the notifier's side of the dialog.
type Subscription struct {
	// ID is the dialog: Call-ID, the subscriber's tag and ours.
	ID string `json:"id"`
	// IMPU is the resource watched: the key IMPU of a registration.
	IMPU string `json:"impu"`
	// Watcher is the subscriber's identity (P-Asserted-Identity or From).
	Watcher string `json:"watcher"`
	// CallID, LocalTag (ours, the To tag of our 200) and RemoteTag (the subscriber's From tag).
	CallID    string `json:"call_id"`
	LocalTag  string `json:"local_tag"`
	RemoteTag string `json:"remote_tag"`
	// LocalURI and RemoteURI are the From and To URIs of our NOTIFYs.
	LocalURI  string `json:"local_uri"`
	RemoteURI string `json:"remote_uri"`
	// RemoteTarget is the subscriber's Contact; RouteSet the Record-Route of the SUBSCRIBE, in order
	// (RFC 3261 §12.1.1).
	RemoteTarget string   `json:"remote_target"`
	RouteSet     []string `json:"route_set,omitempty"`
	// CSeq is the last CSeq we used in the dialog.
	CSeq uint32 `json:"cseq"`
	// Version is the reginfo version of the next NOTIFY (RFC 3680 §5.3: 0 first, +1 per NOTIFY).
	Version uint32 `json:"version"`
	// Expires is when the subscription ends.
	Expires time.Time `json:"expires"`
	// Created is when the subscription was accepted: changes from before it are in its first NOTIFY already.
	Created time.Time `json:"created"`
}

// Clone returns a deep copy.
func (r *Registration) Clone() *Registration {
	c := *r
	c.Identities = append([]Identity(nil), r.Identities...)
	c.Contacts = make([]Contact, len(r.Contacts))
	for i, ct := range r.Contacts {
		ct.Path = append([]string(nil), ct.Path...)
		c.Contacts[i] = ct
	}
	// Profile is shared: it is replaced, never modified in place.
	return &c
}

// Clone returns a deep copy.
func (s *Subscription) Clone() *Subscription {
	c := *s
	c.RouteSet = append([]string(nil), s.RouteSet...)
	if s.RouteSet == nil {
		c.RouteSet = nil
	}
	return &c
}

// IdentityURIs lists the implicit set's URIs, with IMPU included once even when the set lacks it.
func (r *Registration) IdentityURIs() []string {
	out := []string{r.IMPU}
	for _, id := range r.Identities {
		if id.URI != r.IMPU {
			out = append(out, id.URI)
		}
	}
	return out
}

// BindingKey names the binding a contact is (RFC 5626 §4.1, §4.2; TS 24.229 §5.4.1.2.2): its instance-id and
// reg-id when it has a "+sip.instance" parameter, else its URI. The stores key contact rows by it. The S-CSCF
// matches a REGISTER's Contact to a binding by the same rule (services/scscf sameBinding), URNs compared as
// RFC 8141 §3 says.
func BindingKey(c Contact) string {
	inst, regID := "", ""
	for p := range splitParams(c.Params) {
		name, value, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "+sip.instance":
			inst = strings.TrimSuffix(strings.TrimPrefix(strings.Trim(strings.TrimSpace(value), `"`), "<"), ">")
			if scheme, rest, ok := strings.Cut(inst, ":"); ok {
				nid, nss, _ := strings.Cut(rest, ":")
				inst = strings.ToLower(scheme) + ":" + strings.ToLower(nid) + ":" + nss
			}
		case "reg-id":
			regID = strings.TrimSpace(value)
		}
	}
	if inst == "" {
		return "uri " + c.URI
	}
	return "instance " + inst + " " + regID
}

// splitParams yields the ;-separated parameters of a Contact, a ; inside quotes kept.
func splitParams(s string) func(func(string) bool) {
	return func(yield func(string) bool) {
		start, quoted := 0, false
		for i := 0; i <= len(s); i++ {
			if i < len(s) && s[i] == '"' {
				quoted = !quoted
			}
			if i == len(s) || s[i] == ';' && !quoted {
				if p := strings.TrimSpace(s[start:i]); p != "" && !yield(p) {
					return
				}
				start = i + 1
			}
		}
	}
}
