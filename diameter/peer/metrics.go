package peer

import "time"

// EventKind says what an Event counts.
type EventKind uint8

// Event kinds. The values are stable so that exporters may use them as label values.
const (
	// EventPeerUp: a connection finished its capabilities exchange (RFC 6733 §5.3).
	EventPeerUp EventKind = 1
	// EventPeerDown: an open connection closed; Err says why.
	EventPeerDown EventKind = 2
	// EventRequestSent: one transmission of a request (a failover retransmission counts again).
	EventRequestSent EventKind = 3
	// EventAnswerReceived: an answer matched a request; Result and Latency are set.
	EventAnswerReceived EventKind = 4
	// EventRequestFailed: Request returned an error (timeout, no peer, connection lost); Err is set.
	EventRequestFailed EventKind = 5
	// EventFailover: a request is retransmitted on another peer (RFC 6733 §5.5.4).
	EventFailover EventKind = 6
	// EventRequestReceived: a request was handed to the Handler.
	EventRequestReceived EventKind = 7
	// EventAnswerSent: the Handler's answer (or the error answer made from its error) was sent; Result is set.
	EventAnswerSent EventKind = 8
	// EventProtocolError: the peer layer answered a bad request itself; Result is the code.
	EventProtocolError EventKind = 9
	// EventUnknownAnswer: an answer matched no outstanding request and was dropped.
	EventUnknownAnswer EventKind = 10
	// EventPeerUnresponsive: Config.MaxConsecutiveTimeouts requests in a row timed out on a
	// connection, which is taken out of routing.
	EventPeerUnresponsive EventKind = 11
	// EventPeerResponsive: an unresponsive connection answered a request and is routed to again.
	EventPeerResponsive EventKind = 12
	// EventPeerRefused: an incoming connection was refused: its CER named no configured peer
	// (Result 3010; Peer is the claimed Origin-Host), or its TLS handshake failed (Result 0). Err says why.
	EventPeerRefused EventKind = 13
	// EventRequestRefused: a request from a peer whose roles may not send it was answered by the
	// peer layer (Result 5003 or 3001, Config.Permissions).
	EventRequestRefused EventKind = 14
)

func (k EventKind) String() string {
	switch k {
	case EventPeerUp:
		return "peer_up"
	case EventPeerDown:
		return "peer_down"
	case EventRequestSent:
		return "request_sent"
	case EventAnswerReceived:
		return "answer_received"
	case EventRequestFailed:
		return "request_failed"
	case EventFailover:
		return "failover"
	case EventRequestReceived:
		return "request_received"
	case EventAnswerSent:
		return "answer_sent"
	case EventProtocolError:
		return "protocol_error"
	case EventUnknownAnswer:
		return "unknown_answer"
	case EventPeerUnresponsive:
		return "peer_unresponsive"
	case EventPeerResponsive:
		return "peer_responsive"
	case EventPeerRefused:
		return "peer_refused"
	case EventRequestRefused:
		return "request_refused"
	}
	return "unknown"
}

// Event is one counted occurrence in the peer layer.
type Event struct {
	Kind EventKind
	// Peer is the peer's Origin-Host ("" before the capabilities exchange).
	Peer string
	// AppID and Command identify the message, when there is one.
	AppID, Command uint32
	// Result is the Result-Code or Experimental-Result-Code of the answer, when there is one.
	Result uint32
	// Latency is the request's round trip, for EventAnswerReceived.
	Latency time.Duration
	// Err is the cause, for EventPeerDown, EventRequestFailed and EventPeerRefused.
	Err error
}

// Observer receives Events, synchronously on the paths that count them: keep it cheap
// (atomic counters, a Prometheus counter vector) and never block.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

// Observe implements Observer.
func (f ObserverFunc) Observe(e Event) { f(e) }

var _ Observer = ObserverFunc(nil)
