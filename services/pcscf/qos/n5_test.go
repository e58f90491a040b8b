package qos

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/internal/pcftest"
	"github.com/imscore/imscore/services/pcscf/qos/n5"
)

type n5Rig struct {
	af     *AF
	pcf    *pcftest.PCF
	ev     *events
	client *http.Client // the PCF's client towards the AF's callbacks (h2c)
}

// newN5Rig runs the AF over N5 against the test PCF (HTTP/2 over TLS or h2c), with the AF's
// callback server on h2c.
func newN5Rig(t testing.TB, withTLS bool, cfg Config) *n5Rig {
	t.Helper()
	pcf := pcftest.Start(t, withTLS)
	var tlsCfg = pcf.TLSConfig
	c, err := n5.NewClient(pcf.Root, func() *tls.Config {
		if withTLS {
			return tlsCfg()
		}
		return nil
	}())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var af *AF
	cb := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { af.ServeHTTP(w, r) }))
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	cb.Config.Protocols = &protos
	cb.Start()
	t.Cleanup(cb.Close)
	cfg.Mode, cfg.PCF, cfg.NotifyURI = ModeN5, pcf.Root, cb.URL+"/npcf-callback/v1"
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	af, err = New(cfg, Deps{N5: c, Events: ev, Log: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(af.Close)
	tr := &http.Transport{}
	tr.Protocols = &protos
	t.Cleanup(func() { pcf.Check(t) })
	return &n5Rig{af: af, pcf: pcf, ev: ev, client: &http.Client{Transport: tr}}
}

func onlySession(t *testing.T, p *pcftest.PCF) pcftest.Session {
	t.Helper()
	s := p.Sessions()
	if len(s) != 1 {
		t.Fatalf("PCF holds %d sessions, want 1", len(s))
	}
	for _, v := range s {
		return v
	}
	return pcftest.Session{}
}

// TestN5CallLifecycle: over h2c and over TLS, a call creates an application session with the
// offer's media (PRELIMINARY), patches it with the answer and the re-INVITE's video, and deletes it
// on End; every body validates against TS 29.514's OpenAPI (pcftest.Check).
func TestN5CallLifecycle(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		name := map[bool]string{false: "h2c", true: "tls"}[withTLS]
		t.Run(name, func(t *testing.T) {
			r := newN5Rig(t, withTLS, Config{})
			ctx := context.Background()
			call := Call{CallID: "n5-call@ue", IMPU: impu, UE: ueAddr, ICID: "icid-n5"}
			if err := r.af.Offer(ctx, call, []byte(ueAudioOffer), true); err != nil {
				t.Fatal(err)
			}
			s := onlySession(t, r.pcf)
			rd := s.Context.AscReqData
			if rd.ServInfStatus != "PRELIMINARY" || rd.UeIpv4 != "10.45.0.2" || rd.AfChargID != "icid-n5" ||
				len(rd.MedComponents) != 1 || rd.EvSubsc == nil || rd.EvSubsc.Events[0].Event != n5.EventFailedResourcesAllocation ||
				!strings.HasSuffix(rd.NotifURI, "/npcf-callback/v1/"+strings.ReplaceAll(rd.NotifURI[strings.LastIndex(rd.NotifURI, "/")+1:], "/", "")) {
				t.Fatalf("created %+v", rd)
			}
			if err := r.af.Answer(ctx, call, []byte(remoteAudioAnswer), false); err != nil {
				t.Fatal(err)
			}
			if err := r.af.Offer(ctx, call, []byte(ueVideoOffer), true); err != nil {
				t.Fatal(err)
			}
			if err := r.af.Answer(ctx, call, []byte(remoteVideoAnswer), false); err != nil {
				t.Fatal(err)
			}
			s = onlySession(t, r.pcf)
			mc := s.Context.AscReqData.MedComponents
			if s.Patches != 3 || len(mc) != 2 || mc["1"].MarBwUl != "38000 bps" || mc["2"].FStatus != "ENABLED-UPLINK" ||
				mc["1"].MedSubComps["2"].FlowUsage != "RTCP" || len(mc["1"].Codecs) != 2 {
				t.Fatalf("after the re-INVITE: %d patches, %+v", s.Patches, mc)
			}
			if err := r.af.End(ctx, call.CallID); err != nil {
				t.Fatal(err)
			}
			if len(r.pcf.Sessions()) != 0 || len(r.pcf.Deleted()) != 1 {
				t.Fatal("the application session was not deleted")
			}
		})
	}
}

// TestN5Signalling: the registration's signalling session over N5 (component 0, AF_SIGNALLING, SIP).
func TestN5Signalling(t *testing.T) {
	r := newN5Rig(t, false, Config{})
	b := Binding{Key: "b1", IMPU: impu, UE: ueAddr, Flows: []Flow{{UE: netip.MustParseAddrPort("10.45.0.2:5060"),
		PCSCF: netip.MustParseAddrPort("10.45.0.1:5060")}}}
	if err := r.af.RegisterSignalling(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	sub := onlySession(t, r.pcf).Context.AscReqData.MedComponents["0"].MedSubComps["1"]
	if sub.FlowUsage != "AF_SIGNALLING" || sub.AfSigProtocol != "SIP" || len(sub.FDescs) != 2 {
		t.Fatalf("signalling component %+v", sub)
	}
	if err := r.af.EndSignalling(context.Background(), "b1"); err != nil || len(r.pcf.Deleted()) != 1 {
		t.Fatalf("EndSignalling: %v, deleted %v", err, r.pcf.Deleted())
	}
}

// TestN5Callbacks: the PCF's /terminate releases the call and the AF deletes the session; a
// FAILED_RESOURCES_ALLOCATION for one of two components does not, for both does; bad callbacks get
// 400 and 404.
func TestN5Callbacks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	setup := func(t *testing.T) (*n5Rig, string) {
		r := newN5Rig(t, false, Config{})
		call := Call{CallID: "cb@ue", IMPU: impu, UE: ueAddr}
		if err := r.af.Offer(ctx, call, []byte(ueVideoOffer), true); err != nil {
			t.Fatal(err)
		}
		if err := r.af.Answer(ctx, call, []byte(remoteVideoAnswer), false); err != nil {
			t.Fatal(err)
		}
		return r, onlySession(t, r.pcf).ID
	}
	waitDeleted := func(t *testing.T, r *n5Rig) {
		deadline := time.Now().Add(10 * time.Second)
		for len(r.pcf.Deleted()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the AF did not delete the application session")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Run("terminate", func(t *testing.T) {
		r, id := setup(t)
		if code, err := r.pcf.Terminate(ctx, r.client, id, "ALL_SDF_DEACTIVATION"); err != nil || code != http.StatusNoContent {
			t.Fatalf("terminate: %d %v", code, err)
		}
		r.ev.wait(t)
		if !strings.HasPrefix(r.ev.released[0], "cb@ue: ") {
			t.Fatalf("released %v", r.ev.released)
		}
		waitDeleted(t, r)
	})
	t.Run("failed resources", func(t *testing.T) {
		r, id := setup(t)
		if code, err := r.pcf.Notify(ctx, r.client, id, n5.EventFailedResourcesAllocation, 2); err != nil || code != http.StatusNoContent {
			t.Fatalf("notify: %d %v", code, err)
		}
		if !r.af.Active("cb@ue") {
			t.Fatal("a failure of the video alone ended the call")
		}
		if code, err := r.pcf.Notify(ctx, r.client, id, n5.EventFailedResourcesAllocation, 1, 2); err != nil || code != http.StatusNoContent {
			t.Fatalf("notify: %d %v", code, err)
		}
		r.ev.wait(t)
		waitDeleted(t, r)
	})
	t.Run("bad callbacks", func(t *testing.T) {
		r, _ := setup(t)
		base := r.af.cfg.NotifyURI
		for _, tt := range []struct {
			path, body string
			want       int
		}{
			{"/nosuch/terminate", `{"termCause":"ALL_SDF_DEACTIVATION","resUri":"http://pcf/x"}`, http.StatusNotFound},
			{"/x/terminate", `{"termCause":`, http.StatusBadRequest},
			{"/x/other", `{}`, http.StatusNotFound},
		} {
			res, err := r.client.Post(base+tt.path, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("%s: %d, want %d", tt.path, res.StatusCode, tt.want)
			}
		}
	})
}

// TestN5Refused: a PCF refusal (403 ProblemDetails) with the reject policy; an unreachable PCF.
func TestN5Refused(t *testing.T) {
	r := newN5Rig(t, false, Config{OnFailure: FailReject, RejectCode: 488})
	r.pcf.Refuse("REQUESTED_SERVICE_NOT_AUTHORIZED")
	err := r.af.Offer(context.Background(), Call{CallID: "refused", IMPU: impu, UE: ueAddr}, []byte(ueAudioOffer), true)
	var rej *RejectError
	var pe *n5.ProblemError
	if !errors.As(err, &rej) || rej.Code != 488 || !errors.As(err, &pe) || pe.Problem.Cause != "REQUESTED_SERVICE_NOT_AUTHORIZED" {
		t.Fatalf("err %v", err)
	}
	dead, _ := n5.NewClient("http://127.0.0.1:1", nil)
	cfg := Config{Mode: ModeN5, PCF: "http://127.0.0.1:1", NotifyURI: "http://127.0.0.1:2/cb", OnFailure: FailReject}.WithDefaults()
	af, _ := New(cfg, Deps{N5: dead, Events: newEvents()})
	defer af.Close()
	err = af.Offer(context.Background(), Call{CallID: "c", UE: ueAddr}, []byte(ueAudioOffer), true)
	if !errors.As(err, &rej) || rej.Reason != "policy server unreachable" {
		t.Fatalf("unreachable PCF: %v", err)
	}
}
