// Package hss is the Home Subscriber Server: the Cx procedures of TS 29.228 / TS 29.229 on top of a
// subscriber Store.
package hss

import (
	"context"
)

// Store is the subscriber data the HSS needs: what the Cx procedures read and change (CxStore) and what
// operators provision (ProvisioningStore). The HSS owns this interface; storage/sqlite and storage/postgres
// implement it, and hss/hsstest.RunStore is the contract both pass.
//
// Every method is safe for concurrent use, including by several HSS processes sharing one PostgreSQL
// database. Errors wrap ErrNotFound, ErrAlreadyExists, ErrConflict, ErrNotAssociated or ErrInvalid when
// one of those is the cause; anything else is a storage failure. Public identities are matched byte for
// byte; where a lookup takes a public identity, an identity without an exact match resolves to the stored
// wildcarded identity (WILDCARDED_PSI, WILDCARDED_IMPU) whose pattern matches it (TS 23.003 §13.5,
// TS 29.228 §6.1.1.1 "the HSS shall check ... wildcarded PSI"); when several patterns match, the longest
// pattern wins, then the smallest in byte order.
type Store interface {
	CxStore
	ProvisioningStore
}

// CxStore is what the Cx server reads and changes while serving UAR, SAR, LIR, MAR and while sending RTR
// and PPR (TS 29.228 §6.1–§6.3, §6.6).
type CxStore interface {
	// GetIMPI returns a private identity with its key material and current SQN.
	// ErrNotFound when it does not exist (MAR, UAR: DIAMETER_ERROR_USER_UNKNOWN).
	GetIMPI(ctx context.Context, impi string) (*PrivateIdentity, error)

	// GetIMPU returns the public identity impu, exactly or by wildcard match (see Store). For a wildcard
	// match the returned IMPU is the stored pattern: the Wildcarded-Public-Identity of TS 29.229 §6.3.35.
	// ErrNotFound when nothing matches.
	GetIMPU(ctx context.Context, impu string) (*PublicIdentity, error)

	// IsAssociated reports whether impu (resolved as GetIMPU does) is associated with impi — the first
	// check of UAR and MAR (TS 29.228 §6.1.1.1, §6.3.1). ErrNotFound when either identity does not exist;
	// (false, nil) when both exist but are not associated (DIAMETER_ERROR_IDENTITIES_DONT_MATCH).
	IsAssociated(ctx context.Context, impi, impu string) (bool, error)

	// Identities returns, in one read, the private identity impi, the public identity matching impu exactly
	// (never through a wildcard) and whether the two are associated: the checks UAR, MAR and SAR start with
	// (TS 29.228 §6.1.1.1, §6.3.1, §6.1.2.1). ErrNotFound when either has no exact match; the caller then
	// tells the cases apart with GetIMPI and GetIMPU (a wildcard match, which one is missing).
	Identities(ctx context.Context, impi, impu string) (*PrivateIdentity, *PublicIdentity, bool, error)

	// ImplicitSet returns the identities of impu's implicit registration set (impu's own included), sorted
	// by IMPU (TS 29.228 §6.5: they are registered, de-registered and authenticated together).
	ImplicitSet(ctx context.Context, impu string) ([]PublicIdentity, error)

	// IMPUsOfIMPI returns the public identities associated with impi, sorted by IMPU; ErrNotFound when
	// impi does not exist.
	IMPUsOfIMPI(ctx context.Context, impi string) ([]PublicIdentity, error)

	// IMPIsOfIMPU returns the private identities associated with impu (resolved as GetIMPU does), sorted
	// — needed when a request names no private identity (SAR for an unregistered user, TS 29.228 §6.1.2.1).
	IMPIsOfIMPU(ctx context.Context, impu string) ([]string, error)

	// UserProfile returns the implicit registration set of impu with the service profiles and shared iFC
	// sets it references: the content of User-Data (TS 29.228 §6.6, Annex B). Shared iFC sets are
	// returned as sets; the HSS decides whether to expand them (TS 29.228 Annex E). Service profiles and
	// shared iFC sets may come from a cache: a change made through this Store is seen at once, one made by
	// another process within the store's documented bound (docs/hss.md, "Read cache"). The returned
	// profiles and sets share memory with the cache: do not modify them.
	UserProfile(ctx context.Context, impu string) (*UserProfile, error)

	// UpdateRegistration changes the registration data of impu's implicit registration set atomically:
	// it locks every identity of the set (SELECT … FOR UPDATE in PostgreSQL, a write transaction in
	// SQLite), calls fn once with the current state, writes fn's Registration to every identity of the set,
	// and records whether impi holds a registration of the set (RegistrationChange.IMPIRegistered). When
	// the new state is not Registered, no private identity holds a registration of the set any more.
	// impi may be empty (a SAR without User-Name, an HSS-internal change): then only the Registration is
	// written. Restoration information (RegistrationChange.Restoration, TS 23.380 §5.2) lives and dies with
	// the registration: when the set is no longer Registered every private identity's is deleted, when impi
	// no longer holds a registration of the set its own is. If fn returns an error, nothing changes and that
	// error is returned wrapped.
	// ErrNotFound when impu or impi does not exist; ErrNotAssociated when impi is not associated with
	// impu. fn runs inside a transaction: keep it short and do not call the Store from it.
	UpdateRegistration(ctx context.Context, impi, impu string,
		fn func(cur ImplicitSetState) (RegistrationChange, error)) error

	// Restoration returns the S-CSCF restoration information stored for impu's implicit set (resolved as
	// GetIMPU does), one SCSCF-Restoration-Info AVP in wire form per private identity, ordered by private
	// identity; none when nothing is stored (TS 29.228 §6.1.2.1: "all the S-CSCF Restoration Information
	// groups"). ErrNotFound when impu does not exist.
	Restoration(ctx context.Context, impu string) ([][]byte, error)

	// RegisteredIMPUs returns the public identities whose registration impi holds, sorted, restricted to
	// those assigned to S-CSCF serverName unless it is empty: what an RTR for impi de-registers and where it
	// is sent (TS 29.228 §6.1.3, Registration.SCSCFOriginHost). ErrNotFound when impi does not exist.
	RegisteredIMPUs(ctx context.Context, impi, serverName string) ([]PublicIdentity, error)

	// UpdateSQN changes the sequence number of impi atomically: it locks the row (SELECT … FOR UPDATE in
	// PostgreSQL, BEGIN IMMEDIATE in SQLite), calls fn once with the current SQN and stores what fn returns,
	// so that no two callers — in this process or in another HSS sharing the database — ever see the same
	// current value (TS 33.102 Annex C: SQN freshness). If fn returns an error, SQN is left untouched and
	// the error is returned wrapped. A next value over MaxSQN is ErrInvalid; going backwards is allowed
	// (re-synchronisation, TS 33.102 §6.3.5). ErrNotFound when impi does not exist. fn runs inside a
	// transaction: keep it short and do not call the Store from it.
	UpdateSQN(ctx context.Context, impi string, fn func(current uint64) (next uint64, err error)) error

	// UpdateRegistrationAndSQN is UpdateRegistration(regIMPI, impu, reg) then UpdateSQN(impi, sqn) in one
	// transaction: the first MAR of an authentication stores the pending S-CSCF and reserves SQNs with one
	// write (TS 29.228 §6.3.1 step 5, TS 33.102 Annex C). Either error leaves both unchanged.
	UpdateRegistrationAndSQN(ctx context.Context, regIMPI, impu string,
		reg func(cur ImplicitSetState) (RegistrationChange, error),
		impi string, sqn func(current uint64) (next uint64, err error)) error

	// SCSCFs returns the known S-CSCFs with their capabilities, sorted by name (UAA Server-Capabilities,
	// TS 29.228 §6.7). Cached as UserProfile's profiles are.
	SCSCFs(ctx context.Context) ([]SCSCF, error)

	// ChargingInfo returns the charging function addresses for impi: its own when provisioned, else the
	// default (zero when none is set; cached as UserProfile's profiles are). ErrNotFound when impi does not
	// exist.
	ChargingInfo(ctx context.Context, impi string) (ChargingInfo, error)

	// DefaultChargingInfo returns the charging function addresses of subscribers without their own (zero
	// when none is set); cached as UserProfile's profiles are. With PrivateIdentity.Charging it answers
	// what ChargingInfo does without reading the private identity again.
	DefaultChargingInfo(ctx context.Context) (ChargingInfo, error)
}

// ProvisioningStore is what operators change through imsctl and the provisioning API.
// Validation failures are ErrInvalid; timestamps are set by the store.
type ProvisioningStore interface {
	// CreateSubscriber creates the private identity, its public identities (all associated with it), the
	// associations with sub.SharedIMPUs and the profiles in sub.ServiceProfiles, in one transaction:
	// on any error nothing is written. ErrAlreadyExists when the IMPI, the IMSI, a public identity or a
	// profile exists already; ErrConflict when an identity names a missing service profile; ErrNotFound
	// when a shared IMPU does not exist. Registration data in sub is ignored.
	CreateSubscriber(ctx context.Context, sub Subscriber) error

	// BulkCreate creates many subscribers as CreateSubscriber does, all or nothing, fast enough for a
	// million subscribers in minutes (COPY in PostgreSQL, one prepared transaction in SQLite). Service
	// profiles appearing in several subscribers (same ID) are created once. One difference: a shared IMPU
	// that does not exist is ErrConflict here (a broken reference found while loading), not ErrNotFound.
	// Split very large imports into chunks (100k is a good size) if partial progress matters.
	BulkCreate(ctx context.Context, subs []Subscriber) error

	// GetSubscriber returns impi with every associated public identity and the profiles they reference.
	GetSubscriber(ctx context.Context, impi string) (*Subscriber, error)

	// DeleteSubscriber deletes impi, its associations, and the public identities no other private identity
	// is associated with, in one transaction. ErrNotFound when impi does not exist.
	DeleteSubscriber(ctx context.Context, impi string) error

	// ListSubscribers returns one page of subscribers matching q, ordered by IMPI.
	ListSubscribers(ctx context.Context, q SubscriberQuery) (*SubscriberPage, error)

	// UpdatePrivateIdentity replaces the provisioned attributes of p.IMPI: IMSI, MSISDN, AuthSchemes,
	// digest credentials, allowed visited networks, required capabilities and charging. Keys and SQN are
	// not changed (UpdateKeys, UpdateSQN). ErrNotFound when it does not exist.
	UpdatePrivateIdentity(ctx context.Context, p PrivateIdentity) error

	// UpdateKeys replaces K, OP/OPc and AMF of impi and, when k.SQN is set, its SQN.
	UpdateKeys(ctx context.Context, impi string, k KeyUpdate) error

	// AddIMPU creates a public identity associated with impi. ErrAlreadyExists when it exists (use
	// LinkIMPU to share it); ErrConflict when its service profile does not exist.
	AddIMPU(ctx context.Context, impi string, p PublicIdentity) error

	// UpdateIMPU replaces the provisioned attributes of p.IMPU (type, barring, display name, implicit set,
	// service profile); its registration data is kept. ErrNotFound when it does not exist.
	UpdateIMPU(ctx context.Context, p PublicIdentity) error

	// DeleteIMPU deletes a public identity and its associations. ErrNotFound when it does not exist.
	DeleteIMPU(ctx context.Context, impu string) error

	// LinkIMPU associates an existing public identity with impi (a shared identity). Linking an
	// associated pair again is not an error.
	LinkIMPU(ctx context.Context, impi, impu string) error

	// UnlinkIMPU removes the association; the identity itself stays. ErrNotFound when there is no such
	// association.
	UnlinkIMPU(ctx context.Context, impi, impu string) error

	// CreateServiceProfile, UpdateServiceProfile (ErrNotFound when missing), GetServiceProfile,
	// DeleteServiceProfile (ErrConflict while an identity uses it) and ListServiceProfiles (sorted by ID)
	// manage service profiles and their iFCs.
	CreateServiceProfile(ctx context.Context, p ServiceProfile) error
	UpdateServiceProfile(ctx context.Context, p ServiceProfile) error
	GetServiceProfile(ctx context.Context, id string) (*ServiceProfile, error)
	DeleteServiceProfile(ctx context.Context, id string) error
	ListServiceProfiles(ctx context.Context) ([]ServiceProfile, error)

	// CreateSharedIFCSet, UpdateSharedIFCSet, GetSharedIFCSet, DeleteSharedIFCSet (ErrConflict while a
	// profile references it) and ListSharedIFCSets (sorted by ID) manage shared iFC sets
	// (TS 29.228 Annex E).
	CreateSharedIFCSet(ctx context.Context, s SharedIFCSet) error
	UpdateSharedIFCSet(ctx context.Context, s SharedIFCSet) error
	GetSharedIFCSet(ctx context.Context, id int32) (*SharedIFCSet, error)
	DeleteSharedIFCSet(ctx context.Context, id int32) error
	ListSharedIFCSets(ctx context.Context) ([]SharedIFCSet, error)

	// PutSCSCF creates or replaces an S-CSCF and its capabilities; DeleteSCSCF removes it (ErrNotFound
	// when missing).
	PutSCSCF(ctx context.Context, s SCSCF) error
	DeleteSCSCF(ctx context.Context, name string) error

	// SetDefaultChargingInfo sets the charging function addresses of subscribers without their own.
	SetDefaultChargingInfo(ctx context.Context, c ChargingInfo) error
}

// StoreStats counts the work a store did since it was opened: SQL statements run (reads and writes, in or
// out of transactions) and write transactions begun. The per-procedure budgets (docs/hss.md, "Store work
// per Cx procedure") are checked with it.
type StoreStats struct {
	Statements   uint64
	Transactions uint64
}

// Sub returns s − o: the work done between two readings.
func (s StoreStats) Sub(o StoreStats) StoreStats {
	return StoreStats{Statements: s.Statements - o.Statements, Transactions: s.Transactions - o.Transactions}
}

// StatsStore is implemented by stores that count their work (storage/sqlite, storage/postgres).
type StatsStore interface {
	StoreStats() StoreStats
}
