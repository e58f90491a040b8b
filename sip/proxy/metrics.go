package proxy

// Direction says whether a message was received from the network or sent to it.
type Direction uint8

// Directions. Explicit values: they may be stored or exported as labels.
const (
	DirectionIn  Direction = 1
	DirectionOut Direction = 2
)

func (d Direction) String() string {
	switch d {
	case DirectionIn:
		return "in"
	case DirectionOut:
		return "out"
	default:
		return "unknown"
	}
}

// Metrics receives the proxy's counters. Implementations must be safe for concurrent use and cheap: they are
// called on the hot path. cmd/* adapts it to Prometheus; this package does not import it.
type Metrics interface {
	// Request counts one request message (retransmissions included) by direction and method.
	Request(dir Direction, method string)
	// Response counts one response message by direction, the CSeq method it answers and its status code.
	Response(dir Direction, method string, code int)
	// InFlight moves the gauge of server transactions that have not yet been given a final response.
	InFlight(delta int)
	// Limited counts one act of a transport or overload limit (Limits): a connection refused, shed or closed, a
	// datagram dropped, an Accept retried, a request shed with 503.
	Limited(reason LimitReason)
}

// NopMetrics discards everything.
type NopMetrics struct{}

// Request does nothing.
func (NopMetrics) Request(Direction, string) {}

// Response does nothing.
func (NopMetrics) Response(Direction, string, int) {}

// InFlight does nothing.
func (NopMetrics) InFlight(int) {}

// Limited does nothing.
func (NopMetrics) Limited(LimitReason) {}

var _ Metrics = NopMetrics{}
