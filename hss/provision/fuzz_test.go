package provision

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
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

// FuzzAPIBodies sends arbitrary bytes as the JSON body of a route of the provisioning API that reads one
// (subscribers, their keys and identities, profiles, iFC sets, S-CSCFs, default charging, bulk import; route
// picks which), to the real handler over a real SQLite store holding one subscriber. Whatever the body, the
// answer is a 2xx, or a 4xx with the API's JSON error: never a 5xx (an internal error caused by what a client
// sent, or a panic the handler recovered).
// Seeds: testdata/profile.json, testdata/subscribers.ndjson and valid bodies, each for every route.
func FuzzAPIBodies(f *testing.F) {
	var seeds [][]byte
	for _, file := range []string{"testdata/profile.json", "testdata/subscribers.ndjson"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, seed := range []string{`{}`, `[]`, `null`, `{"k":"` + testK + `","opc":"` + testOPc + `","sqn":96}`,
		`{"password":"secret"}`, `{"impu":"sip:extra@` + domain + `"}`, `{"impu":"tel:+15550000999"}`,
		`{"name":"sip:scscf.example:5060","mandatory_capabilities":[1],"optional_capabilities":[2]}`,
		`{"primary_ccf":"aaa://ccf.example"}`, `{"id":"set1","ifcs":[]}`, `{"barring":true}`} {
		seeds = append(seeds, []byte(seed))
	}
	e := newEnv(f, sqliteStore(f), &fakeNetwork{})
	sub := e.createDefault("001010000000777", "15550000777")
	impi, impu := sub.IMPI, sub.IMPUs[0].IMPU
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/subscribers"},
		{"POST", "/api/v1/subscribers:import"},
		{"PATCH", "/api/v1/subscribers/" + impi},
		{"PUT", "/api/v1/subscribers/" + impi + "/keys"},
		{"POST", "/api/v1/subscribers/" + impi + "/impus"},
		{"PUT", "/api/v1/subscribers/" + impi + "/impus/" + impu},
		{"POST", "/api/v1/subscribers/" + impi + "/links"},
		{"POST", "/api/v1/subscribers/" + impi + "/deregister"},
		{"POST", "/api/v1/profiles"},
		{"PUT", "/api/v1/profiles/gold"},
		{"POST", "/api/v1/ifc-sets"},
		{"PUT", "/api/v1/ifc-sets/set1"},
		{"PUT", "/api/v1/scscfs/sip:scscf.example"},
		{"PUT", "/api/v1/charging/default"},
	}
	for i := range routes {
		for _, s := range seeds {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := routes[int(route)%len(routes)]
		req := httptest.NewRequestWithContext(t.Context(), r.method, r.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s answered %d to %q: %s", r.method, r.path, rec.Code, body, rec.Body.Bytes())
		}
		if rec.Code >= 400 {
			var apiErr Error
			if err := json.Unmarshal(rec.Body.Bytes(), &apiErr); err != nil || apiErr.Code == "" {
				t.Fatalf("%s %s answered %d without the API's error body: %q", r.method, r.path, rec.Code, rec.Body.Bytes())
			}
		}
	})
}
