package diameter

import (
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
)

// ResultCode is a Diameter Result-Code or Experimental-Result-Code value.
type ResultCode uint32

// Base protocol Result-Code values, RFC 6733 §7.1.
const (
	// Informational and success, §7.1.1–7.1.2.
	MultiRoundAuth ResultCode = 1001
	Success        ResultCode = 2001
	LimitedSuccess ResultCode = 2002

	// Protocol errors, §7.1.3: answered with the 'E' bit set.
	CommandUnsupported     ResultCode = 3001
	UnableToDeliver        ResultCode = 3002
	RealmNotServed         ResultCode = 3003
	TooBusy                ResultCode = 3004
	LoopDetected           ResultCode = 3005
	RedirectIndication     ResultCode = 3006
	ApplicationUnsupported ResultCode = 3007
	InvalidHdrBits         ResultCode = 3008
	InvalidAVPBits         ResultCode = 3009
	UnknownPeer            ResultCode = 3010

	// Transient failures, §7.1.4.
	AuthenticationRejected ResultCode = 4001
	OutOfSpace             ResultCode = 4002
	ElectionLost           ResultCode = 4003

	// Permanent failures, §7.1.5.
	AVPUnsupported        ResultCode = 5001
	UnknownSessionID      ResultCode = 5002
	AuthorizationRejected ResultCode = 5003
	InvalidAVPValue       ResultCode = 5004
	MissingAVP            ResultCode = 5005
	ResourcesExceeded     ResultCode = 5006
	ContradictingAVPs     ResultCode = 5007
	AVPNotAllowed         ResultCode = 5008
	AVPOccursTooManyTimes ResultCode = 5009
	NoCommonApplication   ResultCode = 5010
	UnsupportedVersion    ResultCode = 5011
	UnableToComply        ResultCode = 5012
	InvalidBitInHeader    ResultCode = 5013
	InvalidAVPLength      ResultCode = 5014
	InvalidMessageLength  ResultCode = 5015
	InvalidAVPBitCombo    ResultCode = 5016
	NoCommonSecurity      ResultCode = 5017
)

// IsProtocolError reports whether c is a 3xxx protocol error, whose answer carries the 'E' bit
// (RFC 6733 §7.1.3) and is built from the request header alone.
func (c ResultCode) IsProtocolError() bool { return c >= 3000 && c < 4000 }

// IsSuccess reports whether c is in the 2xxx success class.
func (c ResultCode) IsSuccess() bool { return c >= 2000 && c < 3000 }

// Error carries a Diameter outcome. Handlers and decoders return it (wrapped or not); the peer layer
// finds it with errors.As and answers with its code, so one place writes every error answer.
type Error struct {
	// Code is the Result-Code, or the Experimental-Result-Code when VendorID is not zero.
	Code ResultCode
	// VendorID, when not zero, makes Code an Experimental-Result-Code of that vendor
	// (RFC 6733 §7.6), as the 3GPP Cx codes are (vendor 10415, TS 29.229 §6.2).
	VendorID uint32
	// FailedAVPs are put in the answer's Failed-AVP (RFC 6733 §7.5): the offending AVP, or for a
	// missing AVP an example of it with a zero-filled value (§7.5, DIAMETER_MISSING_AVP).
	FailedAVPs []*diam.AVP
	// Err is the cause, for logs; it is never sent.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	kind := "result-code"
	if e.VendorID != 0 {
		kind = fmt.Sprintf("experimental-result-code (vendor %d)", e.VendorID)
	}
	if e.Err != nil {
		return fmt.Sprintf("diameter %s %d: %v", kind, e.Code, e.Err)
	}
	return fmt.Sprintf("diameter %s %d", kind, e.Code)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a base Result-Code and a formatted cause.
func Errorf(code ResultCode, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}
