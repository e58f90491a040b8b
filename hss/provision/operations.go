package provision

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
)

// Operations: the network-initiated procedures (RTR, PPR) the API starts run in the background of the Cx
// server (hss.Operations). A route that starts one answers 202 Accepted at once with the operation and its
// Location (RFC 9110 §15.3.3: "the request has been accepted for processing, but the processing has not been
// completed"); GET /api/v1/operations/{id} reads its outcome. With ?wait=true the route waits for the
// outcome and answers as a synchronous call would (200, or the error).

// operationsPath is where the operations are read.
const operationsPath = "/api/v1/operations/"

// Default and largest page of GET /api/v1/operations.
const (
	defaultOperationsLimit = 100
	maxOperationsLimit     = hss.DefaultMaxOperations
)

// wantWait reports whether the request asks to wait for the outcome (?wait=true). route has already
// refused a value that is not a boolean.
func wantWait(r *http.Request) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get("wait"))
	return v
}

// checkWait refuses a wait parameter that is not a boolean (400, field wait).
func checkWait(r *http.Request) error {
	q := r.URL.Query()
	if !q.Has("wait") {
		return nil
	}
	if _, err := strconv.ParseBool(q.Get("wait")); err != nil {
		return fieldError("wait", "%q: want true or false", q.Get("wait"))
	}
	return nil
}

// operationLocation is the URL path of operation id.
func operationLocation(id string) string { return operationsPath + url.PathEscape(id) }

// operationOut is op as the API returns it.
func operationOut(op hss.Operation) Operation {
	out := Operation{ID: op.ID, Location: operationLocation(op.ID), Command: op.Command.Request(), IMPI: op.IMPI,
		IMPUs: op.IMPUs, State: string(op.State), Outcome: op.Outcome(), CreatedAt: op.Created.UTC()}
	if op.Command == cx.CmdRegistrationTermination {
		out.Reason = op.Reason.String()
	}
	if !op.Finished.IsZero() {
		out.FinishedAt = op.Finished.UTC()
	}
	if op.Err != nil {
		out.Error = op.Err.Error()
	}
	if a := op.Answer(); a != nil {
		out.Answer = &DiameterAnswer{Peer: a.Host, ResultCode: uint32(a.Code), VendorID: a.VendorID}
		if a.VendorID == cx.Vendor3GPP {
			out.Answer.Name = cx.ExperimentalResultName(a.Code)
		}
	}
	return out
}

// accepted answers 202 with the pending operation and its Location (RFC 9110 §15.3.3, §10.2.2).
func accepted(w http.ResponseWriter, op hss.Operation) {
	w.Header().Set("Location", operationLocation(op.ID))
	writeJSON(w, http.StatusAccepted, operationOut(op))
}

// answerOperation answers a route that started op: 202 with it (RFC 9110 §15.3.3), or with wait=true once
// it has finished: 200 with done, or its failure as an error (cxError: 502 cx_failed for a Cx failure).
func (h *handler) answerOperation(w http.ResponseWriter, r *http.Request, procedure string, op hss.Operation, done any) error {
	noteAudit(r, func(n *auditNote) { n.operation = op.ID })
	if !wantWait(r) {
		accepted(w, op)
		return nil
	}
	op, err := h.network.Operations().Wait(r.Context(), op.ID)
	if err != nil {
		return err
	}
	if op.Err != nil {
		return cxError(procedure, op.IMPI, op.Err)
	}
	writeJSON(w, http.StatusOK, done)
	return nil
}

// startError maps a failure to start an operation: a full operation table or a stopping HSS is a 503 the
// client may retry (Retry-After, RFC 9110 §10.2.3); the rest as cxError.
func startError(w http.ResponseWriter, procedure, impi string, err error) *Error {
	switch {
	case errors.Is(err, hss.ErrTooManyOperations):
		w.Header().Set("Retry-After", "1")
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeTooManyOperations, cause: err,
			Message: fmt.Sprintf("%s for %s not started: %v", procedure, impi, err)}
	case errors.Is(err, hss.ErrServerClosed):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, cause: err,
			Message: fmt.Sprintf("%s for %s not started: the HSS is stopping", procedure, impi)}
	}
	return cxError(procedure, impi, err)
}

func (h *handler) getOperation(w http.ResponseWriter, r *http.Request) error {
	if h.network == nil {
		return errNoNetwork()
	}
	id := r.PathValue("id")
	op, err := h.network.Operations().Get(id)
	if err != nil {
		return notFound("operation %s: unknown, or finished longer ago than the HSS keeps operations", id)
	}
	if wantWait(r) && op.State == hss.OperationPending {
		// ?wait=true: answer once it has finished (at most the Diameter timeout after it starts), or as it is
		// when the client gives up.
		if done, err := h.network.Operations().Wait(r.Context(), id); err == nil {
			op = done
		}
	}
	writeJSON(w, http.StatusOK, operationOut(op))
	return nil
}

func (h *handler) listOperations(w http.ResponseWriter, r *http.Request) error {
	if h.network == nil {
		return errNoNetwork()
	}
	q := r.URL.Query()
	limit := defaultOperationsLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxOperationsLimit {
			return fieldError("limit", "%q: want 1 to %d", v, maxOperationsLimit)
		}
		limit = n
	}
	state := q.Get("state")
	switch hss.OperationState(state) {
	case "", hss.OperationPending, hss.OperationSucceeded, hss.OperationFailed:
	default:
		return fieldError("state", "%q: want pending, succeeded or failed", state)
	}
	out := OperationList{Operations: []Operation{}}
	for _, op := range h.network.Operations().List(q.Get("impi")) {
		if state != "" && string(op.State) != state {
			continue
		}
		if len(out.Operations) == limit {
			out.Truncated = true
			break
		}
		out.Operations = append(out.Operations, operationOut(op))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
