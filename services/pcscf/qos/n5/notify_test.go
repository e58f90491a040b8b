package n5

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestParseCallback(t *testing.T) {
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
	}{
		{"terminate", "POST", "/cb/v1/s1/terminate", `{"termCause":"PDU_SESSION_TERMINATION","resUri":"http://pcf/a/1"}`, 0},
		{"notify", "POST", "/cb/v1/s1/notify", `{"evSubsUri":"http://pcf/a/1/events-subscription","evNotifs":[{"event":"FAILED_RESOURCES_ALLOCATION","flows":[{"medCompN":1}]}]}`, 0},
		{"GET", "GET", "/cb/v1/s1/notify", ``, http.StatusMethodNotAllowed},
		{"other prefix", "POST", "/other/s1/notify", `{}`, http.StatusNotFound},
		{"no session", "POST", "/cb/v1//notify", `{}`, http.StatusNotFound},
		{"notify without events", "POST", "/cb/v1/s1/notify", `{"evSubsUri":"x","evNotifs":[]}`, http.StatusBadRequest},
		{"terminate without resUri", "POST", "/cb/v1/s1/terminate", `{"termCause":"X"}`, http.StatusBadRequest},
		{"not JSON", "POST", "/cb/v1/s1/terminate", `<xml/>`, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			cb, status, err := ParseCallback(r, "/cb/v1/")
			if status != tt.status || (err == nil) != (tt.status == 0) {
				t.Fatalf("status %d err %v, want %d", status, err, tt.status)
			}
			if tt.status == 0 && cb.Session != "s1" {
				t.Fatalf("session %q", cb.Session)
			}
		})
	}
}

// FuzzParseCallback: whatever a PCF (or anyone reaching the listener) sends gets a status, never a panic.
func FuzzParseCallback(f *testing.F) {
	f.Add("/cb/v1/s1/terminate", []byte(`{"termCause":"PDU_SESSION_TERMINATION","resUri":"http://pcf/a/1"}`))
	f.Add("/cb/v1/s1/notify", []byte(`{"evSubsUri":"u","evNotifs":[{"event":"QOS_NOTIF","flows":[{"medCompN":1,"fNums":[1]}]}]}`))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		// Built by hand: the server has parsed the path already, whatever bytes it holds.
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: path}, Body: io.NopCloser(bytes.NewReader(body))}
		cb, status, err := ParseCallback(r, "/cb/v1")
		if (err == nil) != (status == 0) || (err == nil && cb.Notify == nil && cb.Terminate == nil) {
			t.Fatalf("status %d err %v cb %+v", status, err, cb)
		}
	})
}
