package pana

import "errors"

var (
	// ErrBadLength is a Message Length or AVP Length that does not fit the datagram.
	ErrBadLength = errors.New("bad length")
	// ErrTooLong is a message longer than a UDP datagram.
	ErrTooLong = errors.New("message too long")
	// ErrAuth is an AUTH AVP missing or not matching the PANA_AUTH_KEY (RFC 5191 §5.3).
	ErrAuth = errors.New("AUTH AVP does not verify")
	// ErrAlgorithm is a PRF or integrity algorithm this codec does not implement.
	ErrAlgorithm = errors.New("unsupported algorithm")
)
