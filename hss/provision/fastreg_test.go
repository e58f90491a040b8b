package provision

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/httpauth"
)

// TestFastRegSwitch: the per-subscriber switch through the API; off drops a stored token; read scope may
// look, not change; an unknown subscriber is 404.
func TestFastRegSwitch(t *testing.T) {
	e := newEnv(t, sqliteStore(t), nil)
	ctx := testCtx(t)
	sub := e.createDefault("001010000000301", "15550000301")
	impi := sub.IMPI
	st, err := e.client.FastReg(ctx, impi)
	if err != nil || st.Enabled || st.Token {
		t.Fatalf("new subscriber: %+v %v", st, err)
	}
	if st, err = e.client.SetFastReg(ctx, impi, true); err != nil || !st.Enabled {
		t.Fatalf("switch on: %+v %v", st, err)
	}
	ts := e.store.(hss.TokenStore)
	exp := time.Now().Add(time.Hour)
	if err := ts.PutToken(ctx, impi, bytes.Repeat([]byte{1}, 32), exp); err != nil {
		t.Fatal(err)
	}
	if st, err = e.client.FastReg(ctx, impi); err != nil || !st.Token || st.Expires == nil {
		t.Fatalf("with a token: %+v %v", st, err)
	}
	if _, err := e.clientFor(httpauth.ScopeRead).SetFastReg(ctx, impi, false); err == nil {
		t.Fatal("read scope changed the switch")
	}
	if st, err = e.client.SetFastReg(ctx, impi, false); err != nil || st.Enabled || st.Token {
		t.Fatalf("switch off: %+v %v", st, err)
	}
	_, err = e.client.SetFastReg(ctx, "nobody@nowhere", true)
	wantAPIError(t, err, http.StatusNotFound, CodeNotFound, "")
	if code, _ := e.call(http.MethodPut, "/api/v1/subscribers/"+impi+"/fastreg", `{}`); code != http.StatusBadRequest {
		t.Fatalf("PUT without enabled: %d", code)
	}
}
