package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/pcftest"
	"github.com/imscore/imscore/sip/ue"
)

// TestQoSN5: cmd/pcscf with qos.mode n5 against the in-test PCF (internal/pcftest: Npcf_PolicyAuthorization
// over h2c, every body validated against TS 29.514's OpenAPI). Registrations create signalling application
// sessions, a call one per UE leg (patched with the answer) deleted on BYE, the PCF's /terminate releases the
// next call with a BYE to both UEs, a refused call gets 503, and a /terminate of a registration's session
// releases that UE's call and de-registers it at the S-CSCF.
func TestQoSN5(t *testing.T) {
	alice, bob := NthSubscriber(93), NthSubscriber(94)
	pcf := pcftest.Start(t, false)
	notify := Addr(FreePort(t))
	extra := fmt.Sprintf("qos: {mode: n5, pcf: %q, notify_uri: %q, notify_listen: %q, on_failure: reject}\n",
		pcf.Root, "http://"+notify+"/npcf-callback/v1", notify)
	c := startCoreWith(t, coreOptions{pcscf: true, pcscfExtra: extra}, alice, bob)
	ua, _ := c.newUE(t, alice)
	ub, _ := c.newUE(t, bob)

	// sessions with component n, and at least patches PATCHes.
	wait := func(t *testing.T, what string, comp string, patches, want int) []pcftest.Session {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			var got []pcftest.Session
			for _, s := range pcf.Sessions() {
				if _, ok := s.Context.AscReqData.MedComponents[comp]; ok && s.Patches >= patches {
					got = append(got, s)
				}
			}
			if len(got) >= want {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d %s, want %d", len(got), what, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	gone := func(t *testing.T, ids []pcftest.Session) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			left := 0
			held := pcf.Sessions()
			for _, s := range ids {
				if _, ok := held[s.ID]; ok {
					left++
				}
			}
			if left == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d application sessions not deleted", left)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	sig := wait(t, "signalling sessions", "0", 0, 2)
	if sub := sig[0].Context.AscReqData.MedComponents["0"].MedSubComps["1"]; sub.FlowUsage != "AF_SIGNALLING" || sub.AfSigProtocol != "SIP" {
		t.Errorf("signalling session %+v", sub)
	}

	t.Run("call: an application session per leg, deleted on BYE", func(t *testing.T) {
		call, err := ua.Invite(uctx(t), number(bob))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		legs := wait(t, "call legs answered", "1", 1, 2)
		for _, l := range legs {
			mc := l.Context.AscReqData.MedComponents["1"]
			if mc.MedType != "AUDIO" || mc.FStatus != "ENABLED" || len(mc.MedSubComps) != 2 {
				t.Errorf("leg %s: %+v", l.ID, mc)
			}
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE: %v", err)
		}
		gone(t, legs)
	})

	t.Run("PCF terminate releases the call to both UEs", func(t *testing.T) {
		call, err := ua.Invite(uctx(t), number(bob))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		legs := wait(t, "call legs answered", "1", 1, 2)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if code, err := pcf.Terminate(ctx, http.DefaultClient, legs[0].ID, "ALL_SDF_DEACTIVATION"); err != nil || code != http.StatusNoContent {
			t.Fatalf("terminate: %d %v", code, err)
		}
		waitBYEs(t, call.CallID(), "cause=503", map[string]*ue.UE{"alice": ua, "bob": ub})
		gone(t, legs)
	})

	t.Run("refused by the PCF: 503", func(t *testing.T) {
		pcf.Refuse("REQUESTED_SERVICE_NOT_AUTHORIZED")
		defer pcf.Refuse("")
		if _, err := ua.Invite(uctx(t), number(bob)); statusOf(err) != 503 {
			t.Fatalf("INVITE = %v, want 503", err)
		}
	})

	t.Run("PCF terminate of the signalling session de-registers the UE and releases its call", func(t *testing.T) {
		// TS 29.514 §4.2.5.3 on the registration's application session: as TestQoSRx's ASR.
		port := " " + strconv.Itoa(int(ub.Contact().Port()))
		var bobSig string
		for _, s := range sig {
			for _, f := range s.Context.AscReqData.MedComponents["0"].MedSubComps["1"].FDescs {
				if strings.Contains(f, port) {
					bobSig = s.ID
				}
			}
		}
		if bobSig == "" {
			t.Fatalf("no signalling session names bob's port%s: %+v", port, sig)
		}
		deregBefore := scscfDeregistered(t, c)
		call, err := ua.Invite(uctx(t), number(bob))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if code, err := pcf.Terminate(ctx, http.DefaultClient, bobSig, "UNSPECIFIED"); err != nil || code != http.StatusNoContent {
			t.Fatalf("terminate: %d %v", code, err)
		}
		waitBYEs(t, call.CallID(), "signalling path lost", map[string]*ue.UE{"alice": ua, "bob": ub})
		waitDeregistered(t, c, deregBefore, bob)
		gone(t, []pcftest.Session{{ID: bobSig}})
	})
	pcf.Check(t)
}
