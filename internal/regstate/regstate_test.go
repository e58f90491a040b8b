package regstate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestContactInstance(t *testing.T) {
	for _, tc := range []struct{ params, inst, regID string }{
		{`+sip.instance="<urn:gsma:imei:35209900-176148-0>";reg-id=1`, "urn:gsma:imei:35209900-176148-0", "1"},
		{`expires=600;+SIP.INSTANCE="<urn:uuid:a;b>"`, "urn:uuid:a;b", ""},
		{`reg-id=2`, "", "2"},
		{``, "", ""},
		{`q=0.5;+sip.instance`, "", ""},
	} {
		inst, regID := ContactInstance(tc.params)
		if inst != tc.inst || regID != tc.regID {
			t.Errorf("%q: %q %q, want %q %q", tc.params, inst, regID, tc.inst, tc.regID)
		}
	}
}

// The client sends the token and the query, decodes the answer, and turns a refusal into a StatusError
// carrying the node's message.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid token","code":"unauthorized"}`))
			return
		}
		switch r.URL.Path + "?" + r.URL.RawQuery {
		case SCSCFPath + "?impi=a%40b":
			_, _ = w.Write([]byte(`{"registrations":[{"impu":"sip:x@b","contacts":[{"uri":"sip:ue@h"}]}]}`))
		case PCSCFPath + "?impu=sip%3Ax%40b":
			_, _ = w.Write([]byte(`{"bindings":[{"impu":"sip:x@b","sas":[{"ue":{"port_c":5100}}]}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c := &Client{Token: "good"}
	regs, err := c.SCSCF(ctx, srv.URL+"/", "", "a@b")
	if err != nil || len(regs) != 1 || regs[0].Contacts[0].URI != "sip:ue@h" {
		t.Fatalf("SCSCF: %+v %v", regs, err)
	}
	bs, err := c.PCSCF(ctx, srv.URL, "sip:x@b")
	if err != nil || len(bs) != 1 || bs[0].SAs[0].UE.PortC != 5100 {
		t.Fatalf("PCSCF: %+v %v", bs, err)
	}
	_, err = (&Client{Token: "bad"}).PCSCF(ctx, srv.URL, "sip:x@b")
	if !IsStatus(err, http.StatusUnauthorized) || !strings.Contains(err.Error(), "invalid token") {
		t.Errorf("bad token: %v", err)
	}
	if _, err := c.SCSCF(ctx, srv.URL, "sip:other@b", ""); !IsStatus(err, http.StatusNotFound) {
		t.Errorf("an older node without the route: %v", err)
	}
}

// FuzzContactInstance: Contact parameters come from a UE's REGISTER: any text gives an answer, no panic, and
// both values are pieces of the text.
func FuzzContactInstance(f *testing.F) {
	for _, s := range []string{`+sip.instance="<urn:gsma:imei:35209900-176148-0>";reg-id=1`, `+sip.instance="<a;b>"`, `"`, `;;=;`, `reg-id=`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, params string) {
		inst, regID := ContactInstance(params)
		if !strings.Contains(params, inst) || !strings.Contains(params, regID) {
			t.Errorf("%q: instance %q, reg-id %q are not pieces of it", params, inst, regID)
		}
	})
}
