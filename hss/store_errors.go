package hss

import "errors"

// Sentinel errors of the subscriber store. Store methods wrap them with the operation and the key
// (`get impi 001010000000001@…: hss: not found`); test with errors.Is.
var (
	// ErrNotFound: the identity, profile, iFC set or S-CSCF does not exist. On Cx it usually becomes
	// DIAMETER_ERROR_USER_UNKNOWN (5001, TS 29.229 §6.2.2.1).
	ErrNotFound = errors.New("hss: not found")
	// ErrAlreadyExists: a create would duplicate an IMPI, IMSI, IMPU, profile or iFC set.
	ErrAlreadyExists = errors.New("hss: already exists")
	// ErrConflict: the change would break a reference (an identity naming a missing service profile, a
	// profile naming a missing shared iFC set, deleting a profile or set still in use).
	ErrConflict = errors.New("hss: conflict")
	// ErrNotAssociated: both identities exist but the public identity is not associated with the private
	// one. On Cx it becomes DIAMETER_ERROR_IDENTITIES_DONT_MATCH (5002, TS 29.229 §6.2.2.2).
	ErrNotAssociated = errors.New("hss: identities not associated")
	// ErrInvalid: the data does not satisfy the model (wrong key length, both OP and OPc, an SQN over
	// 48 bits, a malformed wildcard, an iFC trigger with no condition, …).
	ErrInvalid = errors.New("hss: invalid")
)

// ErrFastRegOff: the access-bound fast registration is off for the private identity (TokenStore.PutToken).
var ErrFastRegOff = errors.New("hss: fast registration is off for this private identity")
