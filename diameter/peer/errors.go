package peer

import (
	"errors"
	"fmt"

	"github.com/imscore/imscore/diameter"
)

// Sentinel errors, for errors.Is.
var (
	// ErrClosed is returned by every method once Close has started.
	ErrClosed = errors.New("diameter peer: node closed")
	// ErrNoPeer means no open peer supports the request's application.
	ErrNoPeer = errors.New("diameter peer: no open peer for the request")
	// ErrTimeout means the answer did not arrive within Config.RequestTimeout.
	ErrTimeout = errors.New("diameter peer: request timed out")
	// ErrConnectionLost means the connection carrying a request closed (or its watchdog turned
	// SUSPECT) before the answer came, and no alternate peer could take the retransmission.
	ErrConnectionLost = errors.New("diameter peer: connection lost before the answer")
	// ErrNotRequest is returned by Request for a message without the 'R' bit.
	ErrNotRequest = errors.New("diameter peer: message is not a request")
	// ErrMalformedAnswer means an answer matched a request but could not be decoded.
	ErrMalformedAnswer = errors.New("diameter peer: malformed answer")
	// ErrInvalidConfig wraps every configuration error New and Connect report.
	ErrInvalidConfig = errors.New("diameter peer: invalid config")
	// ErrElectionLost means a connection was dropped because another connection with the same
	// peer was kept (RFC 6733 §5.6.4).
	ErrElectionLost = errors.New("diameter peer: election lost to another connection with the peer")
	// ErrWatchdog means the peer did not answer DWR and the connection was closed (RFC 3539 §3.4.1).
	ErrWatchdog = errors.New("diameter peer: watchdog expired")
	// ErrPeerDisconnected means the peer sent Disconnect-Peer-Request (RFC 6733 §5.4).
	ErrPeerDisconnected = errors.New("diameter peer: peer disconnected")
	// ErrCapabilitiesTimeout means the capabilities exchange did not finish in time (RFC 6733 §5.6, Timeout event).
	ErrCapabilitiesTimeout = errors.New("diameter peer: capabilities exchange timed out")
)

// errSuspect fails requests over when their connection's watchdog turns SUSPECT (RFC 3539 §3.4.1).
var errSuspect = errors.New("watchdog suspect")

// errUnresponsive fails requests over when their connection is marked unresponsive after
// Config.MaxConsecutiveTimeouts timeouts in a row.
var errUnresponsive = errors.New("peer unresponsive: requests in a row timed out")

// CapabilitiesError is a failed capabilities exchange (RFC 6733 §5.3): the peer answered our CER
// with a Result-Code other than DIAMETER_SUCCESS, or its CEA did not match what we expected.
type CapabilitiesError struct {
	// Address is the transport address dialled.
	Address string
	// Code is the CEA Result-Code, or the code we would have answered for a local reason.
	Code diameter.ResultCode
	// Reason explains, from the CEA's Error-Message or from our own check.
	Reason string
}

// Error implements error.
func (e *CapabilitiesError) Error() string {
	return fmt.Sprintf("diameter peer %s: capabilities exchange failed: result-code %d: %s", e.Address, e.Code, e.Reason)
}

var _ error = (*CapabilitiesError)(nil)
