package load

import (
	"context"
	"errors"
	"net"
	"strconv"
	"syscall"

	"github.com/imscore/imscore/sip/ue"
)

// Errors for errors.Is.
var (
	// ErrConfig: the configuration is unusable; the message says which field.
	ErrConfig = errors.New("load: bad configuration")
	// ErrNoUsableUE: the setup registration failed for every UE, so no operation can run.
	ErrNoUsableUE = errors.New("load: no UE could register")
	// ErrNoCallee: a MESSAGE or call found no other registered UE to address.
	ErrNoCallee = errors.New("load: no registered callee")
	// ErrFileLimit: the hard limit on open files is below what the pool needs.
	ErrFileLimit = errors.New("load: too few file descriptors")
	// ErrOverload: an operation was due but no UE was idle to start it on.
	ErrOverload = errors.New("load: no idle UE when the operation was due")
)

// Failure causes besides SIP status codes (which are reported as their number, "403").
const (
	CauseTimeout       = "timeout"        // no final answer within the UE's transaction timeout
	CauseTransport     = "transport"      // a socket or connection error
	CauseAuth          = "auth"           // the challenge could not be answered (AUTN MAC failure, …)
	CauseOverload      = "overload"       // due by the schedule, but no idle UE to start it on
	CauseNotRegistered = "not_registered" // the UE lost its registration before the operation
	CauseNoCallee      = "no_callee"      // no registered UE to send the MESSAGE or INVITE to
	CauseCancelled     = "cancelled"      // the run was stopped (Ctrl-C) while it was in flight
	CauseOther         = "other"          // anything else (see the debug log)
)

// baseCauses appear in every report, with 0 when nothing failed that way.
func baseCauses() []string { return []string{CauseTimeout, CauseTransport, CauseAuth, CauseOverload} }

// Cause classifies an operation's error for failures_by_cause: the status code of a failure
// response, else one of the Cause constants. nil has no cause ("").
func Cause(err error) string {
	var se *ue.StatusError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	case errors.Is(err, ue.ErrAuth):
		return CauseAuth
	case errors.Is(err, context.DeadlineExceeded):
		return CauseTimeout
	case errors.Is(err, context.Canceled), errors.Is(err, ue.ErrClosed):
		return CauseCancelled
	case errors.Is(err, ue.ErrNotRegistered):
		return CauseNotRegistered
	case errors.Is(err, ErrOverload):
		return CauseOverload
	case errors.Is(err, ErrNoCallee):
		return CauseNoCallee
	case errors.As(err, &ne), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CauseTransport
	default:
		return CauseOther
	}
}
