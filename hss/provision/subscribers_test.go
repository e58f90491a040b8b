package provision

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
)

func TestNewHandlerOptions(t *testing.T) {
	store := sqliteStore(t)
	guard := httpauth.NewGuard(nil, nil)
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "no store", opts: Options{Guard: guard}, wantErr: "Store is nil"},
		{name: "no guard", opts: Options{Store: store}, wantErr: "Guard is nil"},
		{name: "domain with space", opts: Options{Store: store, Guard: guard, Domain: "ims example"}, wantErr: "domain"},
		{name: "domain with at", opts: Options{Store: store, Guard: guard, Domain: "a@b"}, wantErr: "want a host name"},
		{name: "defaults", opts: Options{Store: store, Guard: guard}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHandler(tt.opts)
			if tt.wantErr == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHandler = %v, %v", h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewHandler error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// testCreateDefaults checks the conventional identities of docs/design.md §2 / TS 23.003 §13.
func testCreateDefaults(t *testing.T, e *env) {
	status, body := e.call("POST", "/api/v1/subscribers",
		`{"imsi":"001010000000101","msisdn":"15550000101","k":"`+testK+`","op":"`+testOP+`"}`)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, body)
	}
	var got Subscriber
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	const impi = "001010000000101@" + domain
	if got.IMPI != impi || got.IMSI != "001010000000101" || got.MSISDN != "15550000101" {
		t.Errorf("identity = %s %s %s", got.IMPI, got.IMSI, got.MSISDN)
	}
	want := []IMPU{
		{IMPU: "sip:001010000000101@" + domain, Type: "PUBLIC_USER_IDENTITY", Barred: true, ImplicitSet: impi,
			ProfileID: DefaultProfileID, Registration: Registration{State: "NOT_REGISTERED"}},
		{IMPU: "sip:15550000101@" + domain, Type: "PUBLIC_USER_IDENTITY", ImplicitSet: impi,
			ProfileID: DefaultProfileID, Registration: Registration{State: "NOT_REGISTERED"}},
		{IMPU: "tel:15550000101", Type: "PUBLIC_USER_IDENTITY", ImplicitSet: impi,
			ProfileID: DefaultProfileID, Registration: Registration{State: "NOT_REGISTERED"}},
	}
	if !reflect.DeepEqual(got.IMPUs, want) {
		t.Errorf("impus =\n%+v\nwant\n%+v", got.IMPUs, want)
	}
	if !got.HasK || !got.HasOP || got.HasOPc || got.AMF != DefaultAMF || got.SQN != 0 || got.HasPassword {
		t.Errorf("key flags = k %v op %v opc %v amf %s sqn %d password %v", got.HasK, got.HasOP, got.HasOPc,
			got.AMF, got.SQN, got.HasPassword)
	}
	if !reflect.DeepEqual(got.Schemes, []string{"AKAv1-MD5", "AKAv2-MD5"}) {
		t.Errorf("schemes = %v", got.Schemes)
	}
	if len(got.Profiles) != 1 || got.Profiles[0].ID != DefaultProfileID {
		t.Errorf("profiles = %+v, want the default one", got.Profiles)
	}
	// The store holds exactly what was sent.
	p, err := e.store.GetIMPI(testCtx(t), impi)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%x", p.K) != testK || fmt.Sprintf("%x", p.OP) != testOP || p.OPc != nil || p.AMF != [2]byte{0x80, 0} {
		t.Errorf("stored keys differ from the request")
	}
	if p.AuthSchemes != hss.AuthAKAv1MD5|hss.AuthAKAv2MD5 {
		t.Errorf("stored schemes = %s", p.AuthSchemes)
	}
}

func TestCreateSubscriberDefaults(t *testing.T) {
	testCreateDefaults(t, newEnv(t, sqliteStore(t), nil))
}

func TestCreateSubscriberOptions(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	sqn := uint64(4242)
	got, err := e.client.CreateSubscriber(ctx, SubscriberRequest{
		IMSI: "001010000000102", MSISDN: "+15550000102", K: testK, OP: testOP, StoreOPc: true, AMF: "0000",
		SQN: &sqn, Password: "secret-pass", AllowedVisitedNetworks: []string{"ims.mnc002.mcc001.3gppnetwork.org"},
		Charging: &hss.ChargingInfo{PrimaryCCF: "aaa://ccf.ims:3868"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.MSISDN != "15550000102" || got.HasOP || !got.HasOPc || got.AMF != "0000" || got.SQN != 4242 || !got.HasPassword {
		t.Errorf("got %+v", got)
	}
	if !reflect.DeepEqual(got.Schemes, []string{"AKAv1-MD5", "AKAv2-MD5", "SIP-Digest"}) {
		t.Errorf("schemes = %v", got.Schemes)
	}
	if got.Charging == nil || got.Charging.PrimaryCCF != "aaa://ccf.ims:3868" {
		t.Errorf("charging = %+v", got.Charging)
	}
	p, err := e.store.GetIMPI(ctx, got.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	// TS 35.208 Test Set 1: OPc = cd63cb71954a9f4e48a5994e37a02baf.
	if fmt.Sprintf("%x", p.OPc) != "cd63cb71954a9f4e48a5994e37a02baf" || p.OP != nil {
		t.Errorf("stored OPc = %x, OP = %x", p.OPc, p.OP)
	}

	// Explicit identities, another domain, a PSI.
	e2 := newEnv(t, sqliteStore(t), nil)
	got, err = e2.client.CreateSubscriber(ctx, SubscriberRequest{
		IMPI: "alice@example.net", Password: "pw", Schemes: []string{"SIP-Digest"},
		IMPUs: []IMPURequest{{IMPU: "sip:alice@example.net", DisplayName: "Alice"},
			{IMPU: "sip:conf-!.*!@example.net", Type: "WILDCARDED_PSI", ImplicitSet: "psi"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.IMPI != "alice@example.net" || len(got.IMPUs) != 2 || got.HasK || got.IMPUs[1].Type != "WILDCARDED_PSI" ||
		got.IMPUs[1].ImplicitSet != "psi" || got.IMPUs[0].DisplayName != "Alice" || got.IMPUs[0].ImplicitSet != "alice@example.net" {
		t.Errorf("got %+v", got)
	}
}

func TestCustomDomain(t *testing.T) {
	e := newEnvOpts(t, Options{Store: sqliteStore(t), Domain: "ims.mnc002.mcc208.3gppnetwork.org"})
	sub := e.createDefault("208020000000001", "33600000001")
	if sub.IMPI != "208020000000001@ims.mnc002.mcc208.3gppnetwork.org" ||
		sub.IMPUs[0].IMPU != "sip:208020000000001@ims.mnc002.mcc208.3gppnetwork.org" {
		t.Errorf("identities %s %v", sub.IMPI, impusOf(sub))
	}
}

func TestCreateSubscriberInvalid(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	base := map[string]any{"imsi": "001010000000103", "msisdn": "15550000103", "k": testK, "op": testOP}
	with := func(kv ...any) string {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	shortK := testK[:31]
	badHexK := "zz" + testK[2:]
	tests := []struct {
		name   string
		body   string
		status int
		code   Code
		field  string
		secret string // must not appear in the answer
	}{
		{name: "k too short", body: with("k", shortK), status: 400, code: CodeInvalidField, field: "k", secret: shortK},
		{name: "k not hex", body: with("k", badHexK), status: 400, code: CodeInvalidField, field: "k", secret: badHexK},
		{name: "op not hex", body: with("op", "0g"+testOP[2:]), status: 400, code: CodeInvalidField, field: "op", secret: testOP[2:]},
		{name: "opc too long", body: with("op", nil, "opc", testOPc+"00"), status: 400, code: CodeInvalidField, field: "opc", secret: testOPc},
		{name: "op and opc", body: with("opc", testOPc), status: 400, code: CodeInvalidField, field: "opc", secret: testOPc},
		{name: "k without op", body: with("op", nil), status: 400, code: CodeInvalidField, field: "op", secret: testK},
		{name: "op without k", body: with("k", nil), status: 400, code: CodeInvalidField, field: "k", secret: testOP},
		{name: "no credentials", body: with("k", nil, "op", nil), status: 400, code: CodeInvalidField, field: "k"},
		{name: "amf three digits", body: with("amf", "800"), status: 400, code: CodeInvalidField, field: "amf"},
		{name: "amf not hex", body: with("amf", "80x0"), status: 400, code: CodeInvalidField, field: "amf"},
		{name: "imsi letters", body: with("imsi", "00101abc"), status: 400, code: CodeInvalidField, field: "imsi"},
		{name: "imsi 16 digits", body: with("imsi", "0010100000001030"), status: 400, code: CodeInvalidField, field: "imsi"},
		{name: "no imsi", body: with("imsi", nil), status: 400, code: CodeInvalidField, field: "imsi"},
		{name: "no msisdn", body: with("msisdn", nil), status: 400, code: CodeInvalidField, field: "msisdn"},
		{name: "msisdn letters", body: with("msisdn", "1555abc"), status: 400, code: CodeInvalidField, field: "msisdn"},
		{name: "sqn over 48 bits", body: with("sqn", uint64(1)<<48), status: 400, code: CodeInvalidField, field: "sqn"},
		{name: "sqn a string", body: with("sqn", "12"), status: 400, code: CodeInvalidField, field: "sqn"},
		{name: "negative sqn", body: with("sqn", -1), status: 400, code: CodeInvalidField, field: "sqn"},
		{name: "unknown scheme", body: with("schemes", []string{"AKAv1-MD5", "Digest-SHA"}), status: 400, code: CodeInvalidField, field: "schemes[1]"},
		{name: "digest without password", body: with("schemes", []string{"SIP-Digest"}), status: 400, code: CodeInvalidField, field: "password"},
		{name: "password and ha1", body: with("password", "p", "ha1", strings.Repeat("a", 32)), status: 400, code: CodeInvalidField, field: "ha1"},
		{name: "bad impu", body: with("impus", []map[string]any{{"impu": "sip:ok@x"}, {"impu": "mailto:x@y"}}), status: 400, code: CodeInvalidField, field: "impus[1].impu"},
		{name: "bad identity type", body: with("impus", []map[string]any{{"impu": "sip:ok@x", "type": "PSI"}}), status: 400, code: CodeInvalidField, field: "impus[0].type"},
		{name: "bad wildcard", body: with("impus", []map[string]any{{"impu": "sip:ok@x", "type": "WILDCARDED_PSI"}}), status: 400, code: CodeInvalidField, field: "impus[0].impu"},
		{name: "impu twice", body: with("impus", []map[string]any{{"impu": "sip:a@x"}, {"impu": "sip:a@x"}}), status: 400, code: CodeInvalidField, field: "impus[1].impu"},
		{name: "visited network space", body: with("allowed_visited_networks", []string{"a b"}), status: 400, code: CodeInvalidField, field: "allowed_visited_networks[0]"},
		{name: "unknown member", body: with("opc2", "x"), status: 400, code: CodeUnknownField, field: "opc2"},
		{name: "not json", body: `{"imsi": `, status: 400, code: CodeInvalidJSON},
		{name: "array", body: `[]`, status: 400, code: CodeInvalidJSON},
		{name: "trailing data", body: with() + `{}`, status: 400, code: CodeInvalidJSON},
		{name: "empty", body: ``, status: 400, code: CodeInvalidJSON},
		{name: "too large", body: `{"impi":"` + strings.Repeat("a", maxJSONBody) + `"}`, status: 413, code: CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call("POST", "/api/v1/subscribers", tt.body)
			var got Error
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("status %d, body %s: %v", status, body, err)
			}
			if status != tt.status || got.Code != tt.code || got.Field != tt.field || got.Message == "" {
				t.Fatalf("= %d %s, want %d code %q field %q", status, body, tt.status, tt.code, tt.field)
			}
			if tt.secret != "" && strings.Contains(strings.ToLower(string(body)), strings.ToLower(tt.secret)) {
				t.Errorf("answer %s echoes key material", body)
			}
		})
	}
	page, err := e.store.ListSubscribers(testCtx(t), hss.SubscriberQuery{})
	if err != nil || len(page.Subscribers) != 0 {
		t.Errorf("invalid requests stored subscribers: %v %v", page, err)
	}
	if strings.Contains(e.logText(), testK) || strings.Contains(e.logText(), testOPc) {
		t.Error("a key reached the log")
	}
}

func TestCreateSubscriberConflicts(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	e.createDefault("001010000000104", "15550000104")
	tests := []struct {
		name   string
		req    SubscriberRequest
		status int
		code   Code
		field  string
	}{
		{name: "same imsi", req: SubscriberRequest{IMSI: "001010000000104", MSISDN: "15550000999", K: testK, OP: testOP},
			status: 409, code: CodeAlreadyExists},
		{name: "same msisdn identities", req: SubscriberRequest{IMSI: "001010000000105", MSISDN: "15550000104", K: testK, OP: testOP},
			status: 409, code: CodeAlreadyExists},
		{name: "missing profile", req: SubscriberRequest{IMSI: "001010000000106", MSISDN: "15550000106", K: testK, OP: testOP, ProfileID: "gold"},
			status: 409, code: CodeConflict, field: "profile_id"},
		{name: "missing shared impu", req: SubscriberRequest{IMSI: "001010000000107", MSISDN: "15550000107", K: testK, OP: testOP,
			SharedIMPUs: []string{"sip:nobody@" + domain}}, status: 409, code: CodeConflict, field: "shared_impus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.CreateSubscriber(ctx, tt.req)
			wantAPIError(t, err, tt.status, tt.code, tt.field)
		})
	}
	// Nothing of the refused requests was stored.
	for _, impi := range []string{"001010000000105@" + domain, "001010000000106@" + domain, "001010000000107@" + domain} {
		if _, err := e.client.GetSubscriber(ctx, impi); !IsNotFound(err) {
			t.Errorf("GET %s = %v, want 404", impi, err)
		}
	}
}

func testGetDelete(t *testing.T, e *env) {
	ctx := testCtx(t)
	sub := e.createDefault("001010000000110", "15550000110")
	got, err := e.client.GetSubscriber(ctx, sub.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(impusOf(got), impusOf(sub)) || got.IMPI != sub.IMPI {
		t.Errorf("GET = %+v, want %+v", got, sub)
	}
	res, err := e.client.DeleteSubscriber(ctx, sub.IMPI)
	if err != nil {
		t.Fatal(err)
	}
	if res.IMPI != sub.IMPI || res.Deregistered || res.DeregisterError != "" {
		t.Errorf("delete = %+v", res)
	}
	_, err = e.client.GetSubscriber(ctx, sub.IMPI)
	wantAPIError(t, err, 404, CodeNotFound, "")
	_, err = e.client.DeleteSubscriber(ctx, sub.IMPI)
	wantAPIError(t, err, 404, CodeNotFound, "")
	// The identities went with it: the same subscriber can be created again.
	e.createDefault("001010000000110", "15550000110")
}

func TestGetDelete(t *testing.T) { testGetDelete(t, newEnv(t, sqliteStore(t), nil)) }

func testListPaging(t *testing.T, e *env) {
	ctx := testCtx(t)
	var all []string
	for i := range 25 {
		s := e.createDefault(fmt.Sprintf("0010100000002%02d", i), fmt.Sprintf("155500002%02d", i))
		all = append(all, s.IMPI)
	}
	e.createDefault("001020000000001", "16660000001") // another PLMN, outside the prefix

	var seen []string
	cursor := ""
	pages := 0
	for {
		page, err := e.client.ListSubscribers(ctx, ListQuery{IMSIPrefix: "00101", Limit: 10, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range page.Subscribers {
			seen = append(seen, s.IMPI)
			if len(s.IMPUs) != 3 {
				t.Errorf("%s: %d identities in the list, want 3", s.IMPI, len(s.IMPUs))
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if pages != 3 || !reflect.DeepEqual(seen, all) {
		t.Errorf("%d pages, listed %v\nwant %v", pages, seen, all)
	}

	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "imsi exact", query: "imsi=001010000000207", want: []string{"001010000000207@" + domain}},
		{name: "imsi exact unknown", query: "imsi=00101000000020", want: nil},
		{name: "msisdn exact with plus", query: "msisdn=%2B15550000212", want: []string{"001010000000212@" + domain}},
		{name: "impu exact tel", query: "impu=tel:15550000224", want: []string{"001010000000224@" + domain}},
		{name: "impu exact sip", query: "impu=" + url.QueryEscape("sip:15550000201@"+domain), want: []string{"001010000000201@" + domain}},
		{name: "impu unknown", query: "impu=tel:1", want: nil},
		{name: "impu prefix", query: "impu_prefix=tel:155500002&limit=3", want: all[:3]},
		{name: "msisdn prefix", query: "msisdn_prefix=1666", want: []string{"001020000000001@" + domain}},
		{name: "prefix and imsi", query: "prefix=00102&imsi=001010000000207", want: nil},
		{name: "imsi prefix alias", query: "imsi_prefix=0010100000002&limit=2", want: all[:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var list SubscriberList
			e.callJSON("GET", "/api/v1/subscribers?"+tt.query, "", 200, &list)
			var got []string
			for _, s := range list.Subscribers {
				got = append(got, s.IMPI)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("listed %v, want %v", got, tt.want)
			}
		})
	}
	for _, q := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=x", "limit"}, {"imsi=12", "imsi"},
		{"msisdn=abc", "msisdn"}, {"prefix=0010a", "prefix"}, {"prefix=1&imsi_prefix=2", "prefix"},
	} {
		var got Error
		e.callJSON("GET", "/api/v1/subscribers?"+q.query, "", 400, &got)
		if got.Field != q.field || got.Code != CodeInvalidField {
			t.Errorf("%s: error %+v, want field %s", q.query, got, q.field)
		}
	}
}

func TestListPaging(t *testing.T) { testListPaging(t, newEnv(t, sqliteStore(t), nil)) }

// TestKeysNeverReturned reads every answer that shows a subscriber, and the log, for key material.
func TestKeysNeverReturned(t *testing.T) {
	e := newEnv(t, sqliteStore(t), &fakeNetwork{})
	const password = "correct-horse-battery"
	kBytes, _ := hex.DecodeString(testK)
	secrets := []string{testK, testOP, testOPc, password, strings.ToUpper(testK), base64.StdEncoding.EncodeToString(kBytes)}
	var bodies []string
	check := func(method, path, body string, status int) {
		t.Helper()
		got, b := e.call(method, path, body)
		if got != status {
			t.Fatalf("%s %s = %d %s, want %d", method, path, got, b, status)
		}
		bodies = append(bodies, string(b))
	}
	impi := "001010000000120@" + domain
	check("POST", "/api/v1/subscribers", `{"imsi":"001010000000120","msisdn":"15550000120","k":"`+testK+
		`","op":"`+testOP+`","password":"`+password+`"}`, 201)
	check("GET", "/api/v1/subscribers/"+impi, "", 200)
	check("GET", "/api/v1/subscribers?imsi=001010000000120", "", 200)
	check("GET", "/api/v1/subscribers?impu=tel:15550000120", "", 200)
	check("PUT", "/api/v1/subscribers/"+impi+"/keys", `{"k":"`+testK+`","opc":"`+testOPc+`","sqn":96}`, 200)
	check("PATCH", "/api/v1/subscribers/"+impi, `{"password":"`+password+`"}`, 200)
	check("POST", "/api/v1/subscribers/"+impi+"/impus", `{"impu":"sip:extra@`+domain+`"}`, 201)
	check("GET", "/api/v1/subscribers/"+impi+"/registration", "", 200)
	for _, b := range bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("answer contains secret %q: %s", s, b)
			}
		}
	}
	logs := e.logText()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains secret %q", s)
		}
	}
	if !strings.Contains(logs, "impi") || e.logs.FilterMessage("request").Len() != len(bodies) {
		t.Errorf("want one Debug request line with impi per request, log:\n%s", logs)
	}
	var sub Subscriber
	if err := json.Unmarshal([]byte(bodies[4]), &sub); err != nil {
		t.Fatal(err)
	}
	if !sub.HasK || sub.HasOP || !sub.HasOPc || sub.SQN != 96 || sub.AMF != DefaultAMF || !sub.HasPassword {
		t.Errorf("after PUT keys: %+v", sub)
	}
}

func TestSetKeys(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000121", "15550000121")
	if err := e.store.UpdateSQN(ctx, sub.IMPI, func(uint64) (uint64, error) { return 500, nil }); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.SetKeys(ctx, sub.IMPI, KeysRequest{K: testK, OP: testOP, AMF: "9001"})
	if err != nil {
		t.Fatal(err)
	}
	if got.AMF != "9001" || got.SQN != 500 || !got.HasOP {
		t.Errorf("without sqn: %+v (SQN must be kept)", got)
	}
	zero := uint64(0)
	if got, err = e.client.SetKeys(ctx, sub.IMPI, KeysRequest{K: testK, OPc: testOPc, SQN: &zero}); err != nil {
		t.Fatal(err)
	}
	if got.AMF != "9001" || got.SQN != 0 || got.HasOP || !got.HasOPc {
		t.Errorf("with sqn reset: %+v (AMF must be kept)", got)
	}
	_, err = e.client.SetKeys(ctx, sub.IMPI, KeysRequest{OP: testOP})
	wantAPIError(t, err, 400, CodeInvalidField, "k")
	_, err = e.client.SetKeys(ctx, sub.IMPI, KeysRequest{K: testK})
	wantAPIError(t, err, 400, CodeInvalidField, "op")
	_, err = e.client.SetKeys(ctx, sub.IMPI, KeysRequest{K: testK, OP: testOP, AMF: "1"})
	wantAPIError(t, err, 400, CodeInvalidField, "amf")
	big := hss.MaxSQN + 1
	_, err = e.client.SetKeys(ctx, sub.IMPI, KeysRequest{K: testK, OP: testOP, SQN: &big})
	wantAPIError(t, err, 400, CodeInvalidField, "sqn")
	_, err = e.client.SetKeys(ctx, "nobody@"+domain, KeysRequest{K: testK, OP: testOP})
	wantAPIError(t, err, 404, CodeNotFound, "")
}

func TestPatchSubscriber(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000122", "15550000122")
	pw := "pw"
	schemes := []string{"AKAv1-MD5", "SIP-Digest"}
	nets := []string{"ims.mnc002.mcc001.3gppnetwork.org"}
	got, err := e.client.PatchSubscriber(ctx, sub.IMPI, SubscriberPatch{Password: &pw, Schemes: &schemes,
		AllowedVisitedNetworks: &nets, RequiredCapabilities: &hss.Capabilities{Mandatory: []uint32{7}},
		Charging: &hss.ChargingInfo{PrimaryCCF: "aaa://ccf"}})
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasPassword || !reflect.DeepEqual(got.Schemes, schemes) || !reflect.DeepEqual(got.AllowedVisitedNetworks, nets) ||
		got.RequiredCapabilities == nil || got.RequiredCapabilities.Mandatory[0] != 7 || got.Charging.PrimaryCCF != "aaa://ccf" ||
		!got.HasK || got.ProfilePush != nil {
		t.Errorf("after patch: %+v", got)
	}
	// Absent members are kept; an empty charging object removes the subscriber's own addresses.
	if got, err = e.client.PatchSubscriber(ctx, sub.IMPI, SubscriberPatch{Charging: &hss.ChargingInfo{}}); err != nil {
		t.Fatal(err)
	}
	if got.Charging != nil || !got.HasPassword || len(got.AllowedVisitedNetworks) != 1 {
		t.Errorf("after second patch: %+v", got)
	}
	none := []string{}
	_, err = e.client.PatchSubscriber(ctx, sub.IMPI, SubscriberPatch{Schemes: &[]string{"SIP-Digest"}, Password: new(string)})
	wantAPIError(t, err, 400, CodeInvalidField, "password")
	_, err = e.client.PatchSubscriber(ctx, sub.IMPI, SubscriberPatch{AllowedVisitedNetworks: &[]string{""}})
	wantAPIError(t, err, 400, CodeInvalidField, "allowed_visited_networks[0]")
	if _, err = e.client.PatchSubscriber(ctx, sub.IMPI, SubscriberPatch{Schemes: &none}); err != nil {
		t.Errorf("no scheme at all must be allowed (a PSI user): %v", err)
	}
	_, err = e.client.PatchSubscriber(ctx, "nobody@x", SubscriberPatch{})
	wantAPIError(t, err, 404, CodeNotFound, "")
}

func TestIMPUs(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	alice := e.createDefault("001010000000130", "15550000130")
	bob := e.createDefault("001010000000131", "15550000131")

	got, err := e.client.AddIMPU(ctx, alice.IMPI, IMPURequest{IMPU: "sip:alice@" + domain, DisplayName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.IMPUs) != 4 {
		t.Fatalf("identities after add: %v", impusOf(got))
	}
	_, err = e.client.AddIMPU(ctx, alice.IMPI, IMPURequest{IMPU: "sip:alice@" + domain})
	wantAPIError(t, err, 409, CodeAlreadyExists, "")
	_, err = e.client.AddIMPU(ctx, alice.IMPI, IMPURequest{IMPU: "alice"})
	wantAPIError(t, err, 400, CodeInvalidField, "impu")
	_, err = e.client.AddIMPU(ctx, alice.IMPI, IMPURequest{IMPU: "sip:x@" + domain, ProfileID: "nope"})
	wantAPIError(t, err, 409, CodeConflict, "profile_id")
	_, err = e.client.AddIMPU(ctx, "nobody@x", IMPURequest{IMPU: "sip:y@" + domain})
	wantAPIError(t, err, 404, CodeNotFound, "")

	if got, err = e.client.UpdateIMPU(ctx, alice.IMPI, "sip:alice@"+domain, IMPURequest{Barred: true}); err != nil {
		t.Fatal(err)
	}
	for _, u := range got.IMPUs {
		if u.IMPU == "sip:alice@"+domain && (!u.Barred || u.DisplayName != "" || u.ProfileID != DefaultProfileID) {
			t.Errorf("after update: %+v", u)
		}
	}
	_, err = e.client.UpdateIMPU(ctx, alice.IMPI, "tel:15550000131", IMPURequest{})
	wantAPIError(t, err, 404, CodeNotFound, "") // bob's identity, not alice's
	_, err = e.client.UpdateIMPU(ctx, alice.IMPI, "sip:alice@"+domain, IMPURequest{IMPU: "sip:other@x"})
	wantAPIError(t, err, 400, CodeInvalidField, "impu")

	// Share alice's identity with bob, then undo it.
	if got, err = e.client.LinkIMPU(ctx, bob.IMPI, "sip:alice@"+domain); err != nil {
		t.Fatal(err)
	}
	if len(got.IMPUs) != 4 {
		t.Errorf("bob after link: %v", impusOf(got))
	}
	_, err = e.client.LinkIMPU(ctx, bob.IMPI, "sip:ghost@"+domain)
	wantAPIError(t, err, 404, CodeNotFound, "")
	var list SubscriberList
	e.callJSON("GET", "/api/v1/subscribers?impu="+url.QueryEscape("sip:alice@"+domain), "", 200, &list)
	if len(list.Subscribers) != 2 {
		t.Errorf("subscribers of the shared identity: %d, want 2", len(list.Subscribers))
	}
	if got, err = e.client.UnlinkIMPU(ctx, bob.IMPI, "sip:alice@"+domain); err != nil {
		t.Fatal(err)
	}
	if len(got.IMPUs) != 3 {
		t.Errorf("bob after unlink: %v", impusOf(got))
	}
	_, err = e.client.UnlinkIMPU(ctx, bob.IMPI, "sip:alice@"+domain)
	wantAPIError(t, err, 404, CodeNotFound, "")

	if got, err = e.client.DeleteIMPU(ctx, alice.IMPI, "sip:alice@"+domain); err != nil {
		t.Fatal(err)
	}
	if len(got.IMPUs) != 3 {
		t.Errorf("alice after delete: %v", impusOf(got))
	}
	_, err = e.client.DeleteIMPU(ctx, alice.IMPI, "sip:alice@"+domain)
	wantAPIError(t, err, 404, CodeNotFound, "")
}

func TestRouteMiss(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	tests := []struct {
		name, method, path string
		status             int
		code               Code
	}{
		{"unknown route", "GET", "/api/v1/nothing", 404, CodeNotFound},
		{"wrong method", "DELETE", "/api/v1/subscribers", 405, CodeMethodNotAllowed},
		{"wrong method on import", "GET", "/api/v1/subscribers:import", 405, CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(tt.method, tt.path, "")
			var got Error
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if status != tt.status || got.Code != tt.code {
				t.Errorf("= %d %s, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}
}
