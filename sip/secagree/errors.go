package secagree

import "errors"

// Sentinels for errors.Is. Parse errors are *header.ParseError values that unwrap to these (or
// to header.ErrSyntax, header.ErrDuplicate, header.ErrMissing).
var (
	// ErrInvalidSPI: spi-c or spi-s is not a decimal in 256..4294967295.
	ErrInvalidSPI = errors.New("invalid SPI")
	// ErrInvalidPort: port-c or port-s is not a decimal in 1..65535.
	ErrInvalidPort = errors.New("invalid port")
	// ErrInvalidQ: q is not a qvalue.
	ErrInvalidQ = errors.New("invalid q")
	// ErrIncomplete: an ipsec-3gpp mechanism lacks what setting up its SAs needs.
	ErrIncomplete = errors.New("mechanism incomplete for IPsec")
	// ErrNoAcceptableMechanism: nothing the client offers is acceptable; the server answers
	// 494 Security Agreement Required with its Security-Server (RFC 3329 §2.3.1).
	ErrNoAcceptableMechanism = errors.New("no acceptable security mechanism")
)
