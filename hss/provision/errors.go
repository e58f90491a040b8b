package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
)

// Code is the machine-readable kind of an API error, the "code" member of every error body.
type Code string

// Error codes. They are part of the API: never rename one.
const (
	CodeInvalidJSON       Code = "invalid_json"           // the body is not the JSON the route expects
	CodeUnknownField      Code = "unknown_field"          // the body has a member the route does not know (a typo?)
	CodeInvalidField      Code = "invalid_field"          // one field has a bad value; "field" names it
	CodeInvalid           Code = "invalid"                // the store rejected the data as a whole (ErrInvalid)
	CodeNotFound          Code = "not_found"              // the subscriber, identity, profile, set or S-CSCF does not exist
	CodeAlreadyExists     Code = "already_exists"         // a create would duplicate something
	CodeConflict          Code = "conflict"               // a broken reference, or deleting something still in use
	CodeNotRegistered     Code = "not_registered"         // a network-initiated procedure for a user no S-CSCF serves
	CodeTooLarge          Code = "too_large"              // the body is over the route's limit
	CodeMethodNotAllowed  Code = "method_not_allowed"     // the route exists, not with this method (see Allow)
	CodeUnavailable       Code = "unavailable"            // no Cx server attached (Options.Network is nil)
	CodeCxFailed          Code = "cx_failed"              // the Cx server could not complete RTR or PPR
	CodeDeregisterFailed  Code = "deregister_failed"      // a registered user not deleted: its RTR failed (force=true deletes)
	CodeTooManyOperations Code = "too_many_operations"    // RTR or PPR not started: cx.operations.max are pending (retry)
	CodeInternal          Code = "internal"               // a storage failure or a bug; details are in the server log
	CodeUnsupportedMedia  Code = "unsupported_media_type" // a body that is not application/json (x-ndjson for import)
	// Answers of the authorisation in front of every route (internal/httpauth).
	CodeUnauthorized      Code = httpauth.CodeUnauthorized   // 401: no bearer token, or an unknown one
	CodeInsufficientScope Code = httpauth.CodeForbidden      // 403: the token lacks the route's scope
	CodeInvalidRequest    Code = httpauth.CodeInvalidRequest // 400: an Authorization header that is not one bearer token
	CodeCrossOrigin       Code = httpauth.CodeCrossOrigin    // 403: a state-changing request from a browser on another origin
)

// Error is an API error: the JSON body `{"error": "...", "field": "k", "code": "invalid_field"}` and the
// HTTP status it is sent with. Handlers return it (or a store error, which errorOf maps); Client methods
// return it when the server answered with an error.
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"error"`
	Field   string `json:"field,omitempty"`
	Code    Code   `json:"code"`
	// cause is the underlying error, kept for errors.Is and for the server log; never sent.
	cause error
}

func (e *Error) Error() string {
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field) {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the cause (a store sentinel such as hss.ErrNotFound), if any.
func (e *Error) Unwrap() error { return e.cause }

// fieldError is a 400 naming the offending field. The message must never contain a key or password.
func fieldError(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: field,
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf(format, args...),
		cause: hss.ErrNotFound}
}

// errorOf turns any error a handler returns into the API error to send. Store sentinels keep their
// message (store messages name identities and fields, never key material); anything else is a storage
// failure or a bug, answered with a generic 500 and logged in full by the caller.
func errorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body over %d bytes", tooLarge.Limit), cause: err}
	case errors.Is(err, hss.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error(), cause: err}
	case errors.Is(err, hss.ErrAlreadyExists):
		return &Error{Status: http.StatusConflict, Code: CodeAlreadyExists, Message: err.Error(), cause: err}
	case errors.Is(err, hss.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error(), cause: err}
	case errors.Is(err, hss.ErrNotAssociated):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: err.Error(), cause: err}
	case errors.Is(err, hss.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: err.Error(), cause: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
			Message: "request cancelled or timed out", cause: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", cause: err}
}

// jsonError turns an encoding/json decoding error into a 400 naming the field where json can tell.
func jsonError(err error) *Error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		tooLarge  *http.MaxBytesError
		fieldDesc string
	)
	switch {
	case errors.As(err, &tooLarge):
		return errorOf(err)
	case errors.As(err, &syntax):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, syntax), cause: err}
	case errors.As(err, &typ):
		fieldDesc = typ.Field
		if fieldDesc == "" {
			return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
				Message: fmt.Sprintf("want %s, got JSON %s", jsonKind(typ.Type.Kind().String()), typ.Value), cause: err}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: fieldDesc,
			Message: fmt.Sprintf("%s: want %s, got JSON %s", fieldDesc, jsonKind(typ.Type.Kind().String()), typ.Value),
			cause:   err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "invalid JSON: unexpected end of input", cause: err}
	case errors.Is(err, errEmptyBody):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "empty body: want a JSON object", cause: err}
	}
	// encoding/json reports unknown members only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &Error{Status: http.StatusBadRequest, Code: CodeUnknownField, Field: name,
			Message: fmt.Sprintf("unknown field %q", name), cause: err}
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "invalid JSON: " + err.Error(), cause: err}
}

// jsonKind names a Go kind as the JSON type a client should send.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case kind == "slice", kind == "array":
		return "an array"
	}
	return "an object"
}

var errEmptyBody = errors.New("empty body")

// errNoNetwork is the 503 of the network-initiated routes when no Cx server is attached.
func errNoNetwork() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "no Cx server attached: network-initiated procedures are unavailable"}
}

// cxError maps an error of NetworkInitiated: store sentinels and our own errors keep their meaning, the
// rest is a 502 — the HSS answered, the procedure toward the S-CSCF did not complete.
func cxError(procedure, impi string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, s := range []error{hss.ErrNotFound, hss.ErrAlreadyExists, hss.ErrConflict, hss.ErrNotAssociated, hss.ErrInvalid} {
		if errors.Is(err, s) {
			return errorOf(err)
		}
	}
	return &Error{Status: http.StatusBadGateway, Code: CodeCxFailed,
		Message: fmt.Sprintf("%s for %s: %v", procedure, impi, err), cause: err}
}
