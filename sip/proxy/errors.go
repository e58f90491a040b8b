package proxy

import (
	"errors"
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrClosed is returned by Run, Send and others once Close has started.
	ErrClosed = errors.New("sip proxy closed")
	// ErrAlreadyRunning is returned by a second call to Run.
	ErrAlreadyRunning = errors.New("sip proxy already running")
	// ErrTimeout means a client transaction got no final response in time (Timer F, RFC 3261 §17.1.2.2).
	ErrTimeout = errors.New("sip transaction timed out")
	// ErrTransport means the request could not be handed to the network (RFC 3261 §18.4), e.g. TCP refused.
	ErrTransport = errors.New("sip transport error")
	// ErrNotSendable is returned by Send for methods that need dialog state it does not keep (INVITE, ACK, CANCEL).
	ErrNotSendable = errors.New("method cannot be sent with Send")
	// ErrInvalidRequest is returned by Send for a request missing a mandatory header (RFC 3261 §8.1.1).
	ErrInvalidRequest = errors.New("invalid SIP request")
	// ErrNoRoute means no next hop could be derived: the URI is not a SIP URI and no Route or NextHop was given.
	ErrNoRoute = errors.New("no route to next hop")
	// ErrUnsupportedTransport means the next hop asks for a transport this proxy does not speak: UDP and TCP,
	// and TLS with Config.TLS.
	ErrUnsupportedTransport = errors.New("unsupported transport")
	// ErrNoListener means no listener of the needed transport and address family is configured.
	ErrNoListener = errors.New("no listener for transport and address family")
)

// StatusError is an error that carries the SIP final response the proxy sends for it. A Router returns one to
// answer a request with a specific failure (`&StatusError{Code: 403, Reason: "Forbidden"}`); the proxy uses it for
// its own rejections too (400, 420, 482, 483).
type StatusError struct {
	Code   int
	Reason string
	// Headers are added to the response, e.g. Unsupported for a 420 (RFC 3261 §20.40).
	Headers []sip.Header
	// Err is the underlying cause, if any (not sent on the wire).
	Err error

	quiet bool // the caller logs it (rate-limited): replyStateless does not
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("sip %d %s: %v", e.Code, e.Reason, e.Err)
	}
	return fmt.Sprintf("sip %d %s", e.Code, e.Reason)
}

func (e *StatusError) Unwrap() error { return e.Err }

// reasonPhrase returns the RFC 3261 §21 default reason phrase for the codes this package generates itself.
func reasonPhrase(code int) string {
	switch code {
	case sip.StatusTrying:
		return "Trying"
	case sip.StatusOK:
		return "OK"
	case sip.StatusBadRequest:
		return "Bad Request"
	case sip.StatusRequestTimeout:
		return "Request Timeout"
	case 416:
		return "Unsupported URI Scheme"
	case sip.StatusBadExtension:
		return "Bad Extension"
	case sip.StatusCallTransactionDoesNotExists:
		return "Call/Transaction Does Not Exist"
	case sip.StatusLoopDetected:
		return "Loop Detected"
	case sip.StatusTooManyHops:
		return "Too Many Hops"
	case sip.StatusRequestTerminated:
		return "Request Terminated"
	case sip.StatusInternalServerError:
		return "Server Internal Error"
	case sip.StatusServiceUnavailable:
		return "Service Unavailable"
	case sip.StatusGatewayTimeout:
		return "Server Time-out"
	case sip.StatusVersionNotSupported:
		return "Version Not Supported"
	default:
		return "Unknown"
	}
}
