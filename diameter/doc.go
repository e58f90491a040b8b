// Package diameter holds what every part of the Cx stack shares: the base protocol result codes
// (RFC 6733 §7.1) and Error, the error type that carries a Diameter outcome from a handler or a
// decoder to the one place that writes the answer.
//
// The stack itself lives below: diameter/cx is the Cx/Dx dictionary and typed messages (TS 29.229),
// diameter/peer the peer layer (RFC 6733 §5, RFC 3539) that go-diameter v4.3.0 lacks.
package diameter
