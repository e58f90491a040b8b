package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
)

// ndjsonLine is the import line of subscriber i of a generated population.
func ndjsonLine(i int) string {
	return fmt.Sprintf(`{"imsi":"00101%010d","msisdn":"1555%07d","k":"%s","op":"%s"}`, i, i, testK, testOP)
}

// countSubscribers pages through the whole store.
func countSubscribers(t testing.TB, s hss.Store) int {
	t.Helper()
	n := 0
	q := hss.SubscriberQuery{Limit: hss.MaxPageSize}
	for {
		page, err := s.ListSubscribers(testCtx(t), q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Subscribers)
		if page.Next == "" {
			return n
		}
		q.After = page.Next
	}
}

// testImport imports total lines (at least 1000) of which a few are bad — refused by validation (never
// reaching the store) or by the store (found by bisecting a batch) — and checks each is reported by line
// number while every other line is imported.
func testImport(t *testing.T, e *env, batch, total int) {
	var body bytes.Buffer
	type badLine struct {
		line  int
		text  string
		code  Code
		field string
	}
	bad := map[int]badLine{
		5:                {text: `{"imsi": `, code: CodeInvalidJSON},
		30:               {text: fmt.Sprintf(`{"imsi":"%015d","msisdn":"1889","k":"%s","op":"%s"}`, 1010000000020, testK, testOP), code: CodeAlreadyExists}, // line 20's IMSI, same batch
		100:              {text: fmt.Sprintf(`{"imsi":"001019999999100","msisdn":"1999","k":"%s","op":"%s"}`, testK[:31], testOP), code: CodeInvalidField, field: "k"},
		total * 6 / 10:   {text: fmt.Sprintf(`{"imsi":"%015d","msisdn":"1888","k":"%s","op":"%s"}`, 1010000000002, testK, testOP), code: CodeAlreadyExists}, // line 2's IMSI
		total * 3 / 4:    {text: `   `},
		total * 85 / 100: {text: fmt.Sprintf(`{"imsi":"001019999917000","msisdn":"1777","k":"%s","op":"%s","profile_id":"nope"}`, testK, testOP), code: CodeConflict},
		total * 9 / 10:   {text: `{"imsi":"` + strings.Repeat("1", maxImportLine) + `"}`, code: CodeTooLarge},
		total - 1:        {text: `{"imsi":"001019999919999","msisdn":"1666","k":"` + testK + `","op":"` + testOP + `","unknown":1}`, code: CodeUnknownField, field: "unknown"},
	}
	for line := 1; line <= total; line++ {
		if b, ok := bad[line]; ok {
			body.WriteString(b.text)
		} else {
			body.WriteString(ndjsonLine(line))
		}
		if line < total { // the last line has no newline
			body.WriteString("\n")
		}
	}
	res, err := e.client.Import(testCtx(t), &body, batch)
	if err != nil {
		t.Fatal(err)
	}
	var wantErrs []int
	for line, b := range bad {
		if b.code != "" {
			wantErrs = append(wantErrs, line)
		}
	}
	wantImported := total - len(bad)
	if res.Lines != total || res.Imported != wantImported || res.Failed != len(wantErrs) || res.ErrorsTruncated || res.Error != "" {
		t.Errorf("result lines %d imported %d failed %d (truncated %v, error %q), want %d %d %d",
			res.Lines, res.Imported, res.Failed, res.ErrorsTruncated, res.Error, total, wantImported, len(wantErrs))
	}
	var gotLines []int
	for _, ie := range res.Errors {
		gotLines = append(gotLines, ie.Line)
		want := bad[ie.Line]
		if ie.Code != want.code || ie.Field != want.field || ie.Error == "" {
			t.Errorf("line %d: error %+v, want code %s field %q", ie.Line, ie, want.code, want.field)
		}
	}
	sortInts(wantErrs)
	if !reflect.DeepEqual(gotLines, wantErrs) {
		t.Errorf("failed lines %v, want %v", gotLines, wantErrs)
	}
	if n := countSubscribers(t, e.store); n != wantImported {
		t.Errorf("store holds %d subscribers, want %d", n, wantImported)
	}
	// An imported subscriber is complete: identities, default profile, keys.
	sub, err := e.client.GetSubscriber(testCtx(t), fmt.Sprintf("00101%010d@%s", total-2, domain))
	if err != nil {
		t.Fatal(err)
	}
	wantIMPUs := []string{fmt.Sprintf("sip:00101%010d@%s", total-2, domain), fmt.Sprintf("sip:1555%07d@%s", total-2, domain),
		fmt.Sprintf("tel:1555%07d", total-2)}
	if !reflect.DeepEqual(impusOf(sub), wantIMPUs) ||
		!sub.HasK || !sub.HasOP || !sub.IMPUs[0].Barred {
		t.Errorf("imported subscriber %+v", sub)
	}
	if strings.Contains(e.logText(), testK) {
		t.Error("a key reached the log")
	}
}

func sortInts(v []int) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

func TestImport(t *testing.T) {
	total := 20000
	if raceEnabled {
		total = 2000
	}
	for _, batch := range []int{0, 777} { // server default, and batches not aligned with anything
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			testImport(t, newEnv(t, sqliteStore(t), nil), batch, total)
		})
	}
}

func TestImportAgainFailsEveryLine(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	var body strings.Builder
	n := 300
	if raceEnabled {
		n = 60
	}
	for i := range n {
		body.WriteString(ndjsonLine(i) + "\n")
	}
	if res, err := e.client.Import(testCtx(t), strings.NewReader(body.String()), 20); err != nil || res.Imported != n {
		t.Fatalf("first import %+v %v", res, err)
	}
	res, err := e.client.Import(testCtx(t), strings.NewReader(body.String()), 20)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 0 || res.Failed != n || len(res.Errors) != n || res.Errors[n-1].Line != n {
		t.Errorf("second import: imported %d failed %d errors %d", res.Imported, res.Failed, len(res.Errors))
	}
	for _, ie := range res.Errors {
		if ie.Code != CodeAlreadyExists || ie.IMPI == "" {
			t.Fatalf("error %+v", ie)
		}
	}
}

// TestImportDefaultProfileLater: the default profile is created for the first batch that needs it, not
// only when the first batch does.
func TestImportDefaultProfileLater(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	if _, err := e.client.CreateProfile(ctx, Profile{ID: "gold", IFCs: []IFC{}}); err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(ndjsonLine(1), `}`, `,"profile_id":"gold"}`, 1) + "\n" +
		strings.Replace(ndjsonLine(2), `}`, `,"profile_id":"gold"}`, 1) + "\n" + ndjsonLine(3) + "\n"
	res, err := e.client.Import(ctx, strings.NewReader(body), 2)
	if err != nil || res.Imported != 3 || res.Failed != 0 {
		t.Fatalf("import %+v %v", res, err)
	}
	if sub, err := e.client.GetSubscriber(ctx, fmt.Sprintf("00101%010d@%s", 3, domain)); err != nil || sub.IMPUs[0].ProfileID != DefaultProfileID {
		t.Errorf("third subscriber %+v %v", sub, err)
	}
}

func TestImportErrorsTruncated(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	body := strings.Repeat("{}\n", MaxImportErrors+5)
	res, err := e.client.Import(testCtx(t), strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != MaxImportErrors+5 || len(res.Errors) != MaxImportErrors || !res.ErrorsTruncated ||
		res.Errors[0].Line != 1 || res.Errors[0].Field != "imsi" {
		t.Errorf("failed %d, %d errors, truncated %v, first %+v", res.Failed, len(res.Errors), res.ErrorsTruncated, res.Errors[0])
	}
}

func TestImportBadBatch(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	for _, q := range []string{"batch=0", "batch=x", fmt.Sprintf("batch=%d", MaxImportBatch+1)} {
		var got Error
		e.callJSON("POST", "/api/v1/subscribers:import?"+q, ndjsonLine(1), 400, &got)
		if got.Field != "batch" {
			t.Errorf("%s: %+v", q, got)
		}
	}
}

// failingReader yields data, then fails as a dropped connection does.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func TestImportBodyCutShort(t *testing.T) {
	tokens, secrets := testTokens(t)
	h, err := NewHandler(Options{Store: sqliteStore(t), Log: zap.NewNop(), Guard: httpauth.NewGuard(tokens, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for i := range 50 {
		body.WriteString(ndjsonLine(i) + "\n")
	}
	req := httptest.NewRequest("POST", "/api/v1/subscribers:import?batch=10", &failingReader{strings.NewReader(body.String())})
	req.Header.Set("Authorization", "Bearer "+secrets[httpauth.ScopeProvision])
	req.Header.Set("Content-Type", "application/x-ndjson")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var res ImportResult
	if err := decodeStrict(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusBadRequest || res.Code != CodeInvalidJSON || !strings.Contains(res.Error, "unexpected EOF") ||
		res.Imported != 50 || res.Lines != 50 {
		t.Errorf("= %d %+v", rec.Code, res)
	}
}

// brokenStore fails BulkCreate as a lost database connection would, after the first call.
type brokenStore struct {
	hss.Store
	calls int
}

func (b *brokenStore) BulkCreate(ctx context.Context, subs []hss.Subscriber) error {
	b.calls++
	if b.calls > 1 {
		return errors.New("connection reset by peer")
	}
	return b.Store.BulkCreate(ctx, subs)
}

func TestImportStopsOnStorageFailure(t *testing.T) {
	store := &brokenStore{Store: sqliteStore(t)}
	e := newEnvOpts(t, Options{Store: store})
	var body strings.Builder
	for i := range 1000 {
		body.WriteString(ndjsonLine(i) + "\n")
	}
	res, err := e.client.Import(testCtx(t), strings.NewReader(body.String()), 100)
	wantAPIError(t, err, 500, CodeInternal, "")
	if res.Imported != 100 || res.Code != CodeInternal || res.Error != "internal error" || res.Failed != 0 {
		t.Errorf("result %+v", res)
	}
	if store.calls != 2 {
		t.Errorf("BulkCreate called %d times: a storage failure must stop the import, not be bisected", store.calls)
	}
	if e.logs.FilterMessage("import stopped by a storage failure").Len() != 1 {
		t.Error("storage failure not logged")
	}
}

// BenchmarkImport measures POST /subscribers:import into SQLite: each iteration streams 10000 new
// subscribers over HTTP, and the result is reported in subscribers/s.
func BenchmarkImport(b *testing.B) {
	const per = 10000
	e := newEnvOpts(b, Options{Store: sqliteStore(b), Log: zap.NewNop()})
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var body bytes.Buffer
		for j := range per {
			body.WriteString(ndjsonLine(i*per + j))
			body.WriteByte('\n')
		}
		b.StartTimer()
		res, err := e.client.Import(ctx, &body, 0)
		if err != nil || res.Imported != per {
			b.Fatalf("import: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "subscribers/s")
}
