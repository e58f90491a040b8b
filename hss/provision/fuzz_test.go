package provision

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/httpauth"
)

// FuzzDecodeSubscriber feeds arbitrary bytes to the decoding of a subscriber (a POST body or one import
// line). It must never panic; what it accepts the store's validation accepts too, with the keys as sent;
// what it refuses is a 400-class *Error that never echoes the K, OP or OPc sent.
func FuzzDecodeSubscriber(f *testing.F) {
	data, err := os.ReadFile("testdata/subscribers.ndjson")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		sub, err := decodeSubscriberLine(line, domain)
		// What was sent, read leniently, to compare with.
		var sent map[string]any
		_ = json.Unmarshal(line, &sent)
		str := func(k string) string { s, _ := sent[k].(string); return s }
		exactKeys := true // encoding/json matches members case-insensitively: "K" sets k too
		for k := range sent {
			exactKeys = exactKeys && k == strings.ToLower(k)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status/100 != 4 || e.Code == "" || e.Message == "" {
				t.Fatalf("error %v (%T) is not a 4xx *Error with a code", err, err)
			}
			for _, k := range []string{"k", "op", "opc"} {
				if v := str(k); len(v) >= 8 && strings.Contains(e.Message, v) {
					t.Fatalf("error %q echoes %s", e.Message, k)
				}
			}
			return
		}
		if err := sub.Validate(); err != nil {
			t.Fatalf("accepted %q but the store refuses it: %v", line, err)
		}
		if !exactKeys {
			return
		}
		if k := str("k"); !strings.EqualFold(hex.EncodeToString(sub.Private.K), k) {
			t.Fatalf("K stored %x, sent %q", sub.Private.K, k)
		}
		if op := str("op"); sent["store_opc"] != true && !strings.EqualFold(hex.EncodeToString(sub.Private.OP), op) {
			t.Fatalf("OP stored %x, sent %q", sub.Private.OP, op)
		}
		if len(sub.Public) == 0 {
			t.Fatalf("accepted %q without public identities", line)
		}
		if sub.Private.IMPI == "" || len(sub.Private.OP) > 0 && len(sub.Private.OPc) > 0 {
			t.Fatalf("accepted %q as %v", line, sub.Private)
		}
	})
}

// fuzzRoutes are the routes that take a body, with a valid body each as the seed: every body the API accepts
// (JSON objects, and NDJSON for the import) goes through FuzzRoutes.
var fuzzRoutes = []struct{ method, path, media, seed string }{
	{"POST", "/api/v1/subscribers", "application/json", `{"imsi":"001010000000777","msisdn":"15550000777","k":"` + testK + `","op":"` + testOP + `"}`},
	{"POST", "/api/v1/subscribers:import", "application/x-ndjson", `{"imsi":"001010000000778","msisdn":"15550000778","k":"` + testK + `","opc":"` + testOPc + `"}` + "\n"},
	{"PATCH", "/api/v1/subscribers/{impi}", "application/json", `{"msisdn":"15550000779","schemes":["AKAv1-MD5"],"password":"p"}`},
	{"PUT", "/api/v1/subscribers/{impi}/keys", "application/json", `{"k":"` + testK + `","opc":"` + testOPc + `","amf":"8000","sqn":32}`},
	{"POST", "/api/v1/subscribers/{impi}/impus", "application/json", `{"impu":"sip:fuzz@` + domain + `","barred":false,"type":"PUBLIC_USER_IDENTITY"}`},
	{"PUT", "/api/v1/subscribers/{impi}/impus/tel:15550000001", "application/json", `{"impu":"tel:15550000001","display_name":"x"}`},
	{"POST", "/api/v1/subscribers/{impi}/links", "application/json", `{"impu":"sip:shared@` + domain + `"}`},
	{"POST", "/api/v1/subscribers/{impi}/deregister", "application/json", `{"reason":"PERMANENT_TERMINATION","info":"fuzz"}`},
	{"POST", "/api/v1/profiles", "application/json", `{"id":"fz","ifcs":[{"priority":1,"trigger_point":{"condition_type_cnf":true,"spt":[{"group":0,"method":"INVITE"}]},"application_server":{"server_name":"sip:as.example","default_handling":"SESSION_CONTINUED"}}]}`},
	{"PUT", "/api/v1/profiles/default", "application/json", `{"id":"default","ifcs":[]}`},
	{"POST", "/api/v1/ifc-sets", "application/json", `{"id":7,"ifcs":[{"priority":2,"application_server":{"server_name":"sip:as.example"}}]}`},
	{"PUT", "/api/v1/ifc-sets/7", "application/json", `{"ifcs":[]}`},
	{"PUT", "/api/v1/scscfs/sip:fuzz.example", "application/json", `{"mandatory_capabilities":[1],"optional_capabilities":[2]}`},
	{"PUT", "/api/v1/charging/default", "application/json", `{"primary_ccf":"aaa://ccf.example"}`},
}

// FuzzRoutes sends arbitrary bodies to every route that takes one, through the whole handler over a real
// store: the answer is never a 500 (a panic or an unexpected failure), always JSON, and never echoes a K, OP
// or OPc sent.
func FuzzRoutes(f *testing.F) {
	for i, r := range fuzzRoutes {
		f.Add(uint8(i), []byte(r.seed))
	}
	e := newEnv(f, sqliteStore(f), &fakeNetwork{})
	sub := e.createDefault("001010000000001", "15550000001")
	e.createDefault("001010000000002", "15550000002")
	h := http.Header{"Authorization": {"Bearer " + e.tokens[httpauth.ScopeAdmin]}}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		hdr := h.Clone()
		hdr.Set("Content-Type", r.media)
		path := strings.ReplaceAll(r.path, "{impi}", url.PathEscape(sub.IMPI))
		te := *e // the env of the fuzz target, failing this input's t
		te.t = t
		status, _, answer := te.callHeader(r.method, path, string(body), hdr)
		if status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusBadGateway {
			t.Fatalf("%s %s %q: %d %s", r.method, r.path, body, status, answer)
		}
		if !json.Valid(answer) {
			t.Fatalf("%s %s %q: answer is not JSON: %q", r.method, r.path, body, answer)
		}
		var sent map[string]any
		_ = json.Unmarshal(body, &sent)
		for _, k := range []string{"k", "op", "opc"} {
			if v, _ := sent[k].(string); len(v) >= 8 && bytes.Contains(answer, []byte(v)) {
				t.Fatalf("%s %s: the answer echoes %s: %s", r.method, r.path, k, answer)
			}
		}
	})
}
