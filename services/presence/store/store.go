// Package store is the state of the presence server and the XDMS: publications (RFC 3903), presence
// subscriptions (RFC 6665), the registration state third-party REGISTERs tell (TS 24.229 §5.7.1.1), and
// XCAP documents (RFC 4825). It is defined here, by its consumer; storage/sqlite and storage/postgres
// implement it (migration presence), Memory is for tests and for `--db memory`.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors of every Store.
var (
	// ErrNotFound: no such publication, subscription or document.
	ErrNotFound = errors.New("presence store: not found")
	// ErrConflict: a conditional write found another version than the one it was based on.
	ErrConflict = errors.New("presence store: changed concurrently")
)

// Publication is one event state a publisher holds at the server (RFC 3903 §6): one PIDF document of one
// device, identified by its entity-tag.
type Publication struct {
	Presentity string    `json:"presentity"` // identity key (sip/identity) of the presentity
	ETag       string    `json:"etag"`
	Expires    time.Time `json:"expires"`
	Updated    time.Time `json:"updated"`
	Body       []byte    `json:"body"` // application/pidf+xml as published, validated
}

// Subscription is one dialog of the presence (or presence.winfo) event package, this server its notifier
// (RFC 6665 §4.2.2).
type Subscription struct {
	ID           string    `json:"id"` // Call-ID;remote-tag;local-tag
	Presentity   string    `json:"presentity"`
	Event        string    `json:"event"`
	Watcher      string    `json:"watcher"` // asserted identity of the subscriber (key)
	CallID       string    `json:"call_id"`
	LocalTag     string    `json:"local_tag"`
	RemoteTag    string    `json:"remote_tag"`
	LocalURI     string    `json:"local_uri"`
	RemoteURI    string    `json:"remote_uri"`
	RemoteTarget string    `json:"remote_target"`
	RouteSet     []string  `json:"route_set"`
	CSeq         uint32    `json:"cseq"` // of the last NOTIFY sent
	Expires      time.Time `json:"expires"`
	State        string    `json:"state"` // active, pending (RFC 6665 §4.1.3)
	Handling     string    `json:"handling"`
	// List is set on a back-end subscription of a resource list server (RFC 4662 §4.3): the ID of the
	// list subscription it belongs to. Its NOTIFYs go into that subscription's RLMI, not on a dialog.
	List string `json:"list,omitempty"`
	// Resources are the members of a list subscription (RFC 4662: the flattened resource list of its
	// service URI), in the list's order; empty for a subscription to one presentity.
	Resources []string `json:"resources,omitempty"`
	// RLS marks a list subscription (to a service URI, RFC 4662); its NOTIFYs carry RLMI.
	RLS bool `json:"rls,omitempty"`
}

// Document is one XCAP document (RFC 4825 §6): its application usage, owner and name.
type Document struct {
	AUID string `json:"auid"`
	User string `json:"user"` // XUI as an identity key
	Name string `json:"name"`
	ETag string `json:"etag"`
	Body []byte `json:"body"`
}

// Store is what the presence server and the XDMS keep. Implementations are safe for concurrent use;
// every lookup of a presentity or user is by the identity key the caller passes.
type Store interface {
	// SavePublication creates or replaces the publication (Presentity, ETag); it removes the one named
	// replaces when that is not empty (a modification or refresh gets a new entity-tag, RFC 3903 §4.4).
	SavePublication(ctx context.Context, p *Publication, replaces string) error
	// Publication returns one publication, ErrNotFound when it does not exist.
	Publication(ctx context.Context, presentity, etag string) (*Publication, error)
	// DeletePublication removes one, ErrNotFound when it does not exist.
	DeletePublication(ctx context.Context, presentity, etag string) error
	// Publications returns the presentity's publications, expired ones included, oldest update first.
	Publications(ctx context.Context, presentity string) ([]Publication, error)
	// DeletePublications removes all of the presentity's publications.
	DeletePublications(ctx context.Context, presentity string) error
	// ExpirePublications removes the publications whose Expires is not after now and returns them.
	ExpirePublications(ctx context.Context, now time.Time) ([]Publication, error)

	// SaveSubscription creates or replaces a subscription by ID.
	SaveSubscription(ctx context.Context, s *Subscription) error
	// Subscription returns one, ErrNotFound when it does not exist.
	Subscription(ctx context.Context, id string) (*Subscription, error)
	// DeleteSubscription removes one, ErrNotFound when it does not exist.
	DeleteSubscription(ctx context.Context, id string) error
	// Subscriptions returns the subscriptions to a presentity's events.
	Subscriptions(ctx context.Context, presentity string) ([]Subscription, error)
	// ExpireSubscriptions removes the subscriptions whose Expires is not after now and returns them.
	ExpireSubscriptions(ctx context.Context, now time.Time) ([]Subscription, error)

	// SetRegistration records the presentity's registration state from a third-party REGISTER:
	// registered until the time given, the zero time when de-registered.
	SetRegistration(ctx context.Context, presentity string, until time.Time) error
	// Registration returns what SetRegistration recorded; known is false when nothing was.
	Registration(ctx context.Context, presentity string) (until time.Time, known bool, err error)

	// PutDocument writes d if the stored document's entity-tag is still prev ("" : the document must
	// not exist), else ErrConflict. d.ETag is the new entity-tag.
	PutDocument(ctx context.Context, d *Document, prev string) error
	// Document returns one, ErrNotFound when it does not exist.
	Document(ctx context.Context, auid, user, name string) (*Document, error)
	// Documents returns every document of an application usage (the resource list server looks up a
	// service URI in the users' rls-services documents, RFC 4826 §4.4), ordered by user and name.
	Documents(ctx context.Context, auid string) ([]Document, error)
	// DeleteDocument removes d if its entity-tag is still prev, else ErrConflict; ErrNotFound when absent.
	DeleteDocument(ctx context.Context, auid, user, name, prev string) error
}
