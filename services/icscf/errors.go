package icscf

import "errors"

// Sentinel errors, for errors.Is.
var (
	// ErrBadServerName means an S-CSCF name (configured or from the HSS) is not a SIP URI with a host.
	ErrBadServerName = errors.New("icscf: bad S-CSCF name")
	// ErrNoSCSCF means no configured S-CSCF satisfies the capabilities the HSS asked for.
	ErrNoSCSCF = errors.New("icscf: no suitable S-CSCF")
	// ErrHSSUnavailable means a Cx query could not be completed (no peer, timeout, a protocol or
	// transient error answer).
	ErrHSSUnavailable = errors.New("icscf: HSS query could not be completed")
	// ErrHSSOverloaded means a Cx request was not sent: the HSS's overload report asks for it to be
	// throttled (DOIC, RFC 7683 §5.5.1).
	ErrHSSOverloaded = errors.New("icscf: HSS overloaded, request throttled")
	// ErrNoIdentity means the request carries no public identity the HSS could be asked about.
	ErrNoIdentity = errors.New("icscf: no public user identity in request")
)
