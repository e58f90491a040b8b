package qos

import (
	"errors"
	"fmt"
)

// ErrNoSession: the PCRF named an Rx session this AF does not hold (answered
// DIAMETER_UNKNOWN_SESSION_ID, RFC 6733 §8.8).
var ErrNoSession = errors.New("qos: no such session")

// RejectError is a policy failure the P-CSCF turns into a SIP answer (Config.OnFailure reject):
// Code is Config.RejectCode, Reason the text for the Warning/Reason header.
type RejectError struct {
	Code   int
	Reason string
	Err    error
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("qos: reject with %d (%s): %v", e.Code, e.Reason, e.Err)
}

func (e *RejectError) Unwrap() error { return e.Err }
