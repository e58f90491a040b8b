package scscf

import "errors"

// Sentinel errors, for errors.Is.
var (
	// ErrHSS means the HSS could not be reached or answered with a failure the S-CSCF cannot act on.
	ErrHSS = errors.New("scscf: HSS failure")
	// ErrHSSOverloaded means a Cx request was not sent: the HSS's overload report asks for it to be
	// throttled (DOIC, RFC 7683 §5.5.1).
	ErrHSSOverloaded = errors.New("scscf: HSS overloaded, request throttled")
	// ErrUserUnknown means the HSS does not know the identity (DIAMETER_ERROR_USER_UNKNOWN).
	ErrUserUnknown = errors.New("scscf: user unknown")
	// ErrIdentitiesDontMatch means the IMPI and IMPU do not belong together (DIAMETER_ERROR_IDENTITIES_DONT_MATCH).
	ErrIdentitiesDontMatch = errors.New("scscf: identities don't match")
	// ErrNoVector means the MAA carried no usable authentication vector.
	ErrNoVector = errors.New("scscf: no authentication vector")
	// ErrBadRequest means a request misses what the procedure needs.
	ErrBadRequest = errors.New("scscf: bad request")
)

// SchemeAKAv2MD5 is the SIP-Authentication-Scheme of AKAv2 (TS 29.229 §6.3.9), which diameter/cx does not name.
const SchemeAKAv2MD5 = "Digest-AKAv2-MD5"
