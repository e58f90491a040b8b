package n5

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Callback is a request the PCF sent to the AF's notification URI (TS 29.514 §4.2.5): the session
// it concerns (the last path segment before /notify or /terminate, as the AF built its notifUri)
// and one of the two bodies.
type Callback struct {
	Session   string
	Notify    *EventsNotification // POST {notifUri}/notify
	Terminate *TerminationInfo    // POST {notifUri}/terminate
}

// ParseCallback reads a PCF callback. An error is the HTTP status to answer with (400 for a body
// that is not the schema's, 404 for another path, 405 for another method) and why.
func ParseCallback(r *http.Request, prefix string) (Callback, int, error) {
	if r.Method != http.MethodPost {
		return Callback{}, http.StatusMethodNotAllowed, fmt.Errorf("%s %s", r.Method, r.URL.Path)
	}
	rest, ok := strings.CutPrefix(r.URL.Path, strings.TrimSuffix(prefix, "/")+"/")
	session, op, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || session == "" {
		return Callback{}, http.StatusNotFound, fmt.Errorf("no callback at %s", r.URL.Path)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		return Callback{}, http.StatusBadRequest, fmt.Errorf("callback body: %v", err)
	}
	cb := Callback{Session: session}
	switch op {
	case "notify":
		cb.Notify = new(EventsNotification)
		if err := json.Unmarshal(raw, cb.Notify); err != nil || cb.Notify.EvSubsURI == "" || len(cb.Notify.EvNotifs) == 0 {
			return Callback{}, http.StatusBadRequest, fmt.Errorf("EventsNotification: %v", err)
		}
	case "terminate":
		cb.Terminate = new(TerminationInfo)
		if err := json.Unmarshal(raw, cb.Terminate); err != nil || cb.Terminate.TermCause == "" || cb.Terminate.ResURI == "" {
			return Callback{}, http.StatusBadRequest, fmt.Errorf("TerminationInfo: %v", err)
		}
	default:
		return Callback{}, http.StatusNotFound, fmt.Errorf("no callback %q", op)
	}
	return cb, 0, nil
}
