package header

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for errors.Is; every parse error is a *ParseError that unwraps to one of them.
var (
	// ErrSyntax: the value does not follow the header's grammar.
	ErrSyntax = errors.New("syntax error")
	// ErrMissing: a parameter the grammar requires is absent.
	ErrMissing = errors.New("required parameter missing")
	// ErrDuplicate: a parameter that may appear once appears twice.
	ErrDuplicate = errors.New("parameter repeated")
	// ErrInvalidValue: a value that cannot be written into a header (CR, LF, NUL, or a name that
	// is not a token), refused before it reaches the wire.
	ErrInvalidValue = errors.New("invalid header value")
	// ErrUnsupportedMessage: the sip.Message is not one of sipgo's own types, so its header list
	// cannot be edited.
	ErrUnsupportedMessage = errors.New("message type does not allow header edits")
)

// ParseError says where a header value stopped making sense.
type ParseError struct {
	// Header is the header field name, e.g. "P-Charging-Vector".
	Header string
	// Param is the parameter concerned, when there is one.
	Param string
	// Pos is the byte offset in the header value.
	Pos int
	// Msg says what was wrong.
	Msg string
	// Err is the sentinel the error unwraps to (ErrSyntax when nil).
	Err error
}

// Error implements error: "P-Charging-Vector: offset 12: parameter orig-ioi: repeated".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Header)
	fmt.Fprintf(&b, ": offset %d", e.Pos)
	if e.Param != "" {
		b.WriteString(": parameter ")
		b.WriteString(e.Param)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap gives the sentinel.
func (e *ParseError) Unwrap() error {
	if e.Err == nil {
		return ErrSyntax
	}
	return e.Err
}

var _ error = (*ParseError)(nil)
