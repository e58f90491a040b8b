package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/internal/pcrftest"
	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/sip/ue"
)

// The P-CSCF's Diameter identity towards the test PCRF.
const qosAFHost = "pcscf." + Domain

// TestQoSRx: cmd/pcscf as the Rx Application Function of two UEs, against the in-test PCRF
// (internal/pcrftest; no PCRF is packaged here). A registration opens the signalling AF session, a
// call gets an AAR per UE leg with its Media-Component-Description and an STR on BYE, a loss-of-
// bearer RAR releases the next call with a BYE to both UEs, a call the PCRF refuses gets the
// configured 488 (on_failure reject), an ASR on a signalling session releases that UE's call (BYE to
// both UEs) and de-registers it at the S-CSCF, whose reg event NOTIFY ends the P-CSCF's binding, and
// every Rx message decodes in tshark.
func TestQoSRx(t *testing.T) {
	alice, bob := NthSubscriber(91), NthSubscriber(92)
	pcrf := pcrftest.Start(t, pcrftest.Options{AFHost: qosAFHost, AFRealm: Domain})
	// on_failure reject with 488: the operator policy the last subtest checks.
	extra := fmt.Sprintf("qos: {mode: rx, pcrf: %q, pcrf_realm: %q, origin_host: %q, origin_realm: %q, on_failure: reject, reject_code: 488}\n",
		pcrf.Addr, pcrftest.Realm, qosAFHost, Domain)
	c := startCoreWith(t, coreOptions{pcscf: true, pcscfExtra: extra}, alice, bob)
	ua, _ := c.newUE(t, alice)
	ub, _ := c.newUE(t, bob)

	signalling := func(s Subscriber) func(rx.Message) bool {
		return func(m rx.Message) bool {
			a, ok := m.(*rx.AAR)
			return ok && len(a.MediaComponents) == 1 && a.MediaComponents[0].Number == 0 &&
				len(a.SubscriptionIDs) == 1 && isUser(a.SubscriptionIDs[0].Data, s)
		}
	}
	for _, s := range []Subscriber{alice, bob} {
		aar := pcrf.Wait(t, "signalling AAR of "+s.IMSI, signalling(s)).(*rx.AAR)
		sub := aar.MediaComponents[0].SubComponents[0]
		if sub.FlowUsage == nil || *sub.FlowUsage != rx.FlowUsageAFSignalling || len(aar.SpecificActions) != 2 ||
			!aar.FramedIPAddress.IsValid() {
			t.Errorf("signalling AAR of %s: %+v", s.IMSI, aar)
		}
	}

	// mediaAARs are the AARs of call legs (component 1, audio), per Session-Id.
	mediaAARs := func() map[string][]*rx.AAR {
		out := map[string][]*rx.AAR{}
		for _, m := range pcrf.Requests() {
			if a, ok := m.(*rx.AAR); ok && len(a.MediaComponents) > 0 && a.MediaComponents[0].Number == 1 {
				out[a.SessionID] = append(out[a.SessionID], a)
			}
		}
		return out
	}
	// newLegs waits for the two call legs (final information) that were not there before.
	newLegs := func(t *testing.T, before map[string][]*rx.AAR) map[string][]*rx.AAR {
		t.Helper()
		return waitLegs(t, func() map[string][]*rx.AAR {
			out := map[string][]*rx.AAR{}
			for id, a := range mediaAARs() {
				if _, old := before[id]; !old {
					out[id] = a
				}
			}
			return out
		}, 2)
	}
	stopped := func(id string) func(rx.Message) bool {
		return func(m rx.Message) bool { s, ok := m.(*rx.STR); return ok && s.SessionID == id }
	}

	t.Run("call: AAR per leg, STR on BYE", func(t *testing.T) {
		// On the wire: the P-CSCF's SIP packets carry qos.dscp_sip's default AF31 (26), and the real Rx
		// traffic between cmd/pcscf and the PCRF dissects cleanly.
		bin := tshark.Find(t)
		_, sipPort, _ := strings.Cut(c.pcscf.SIP, ":")
		_, rxPort, _ := strings.Cut(pcrf.Addr, ":")
		capture := tshark.StartCapture(t, bin, "lo", "udp src port "+sipPort+" or tcp port "+rxPort)
		defer func() {
			path := capture.Stop(t)
			dscp := tshark.Run(t, bin, "-r", path, "-Y", "sip", "-T", "fields", "-e", "ip.dsfield.dscp")
			if strings.TrimSpace(dscp) == "" {
				t.Error("no SIP packet from the P-CSCF captured")
			}
			for _, v := range strings.Fields(dscp) {
				if v != "26" {
					t.Errorf("a SIP packet from the P-CSCF has DSCP %s, want 26 (AF31)", v)
				}
			}
			port, _ := strconv.Atoi(rxPort)
			rxText := tshark.DecodeDiameter(t, bin, path, port) // no malformed packet, error or unknown AVP
			if !strings.Contains(rxText, "3GPP Rx") || !strings.Contains(rxText, "Session-Termination") {
				t.Errorf("no AAR/STR in the live capture:\n%.3000s", rxText)
			}
		}()
		call, err := ua.Invite(uctx(t), number(bob))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		legs := waitLegs(t, mediaAARs, 2)
		for id, aars := range legs {
			last := aars[len(aars)-1]
			mcd := last.MediaComponents[0]
			if *mcd.MediaType != rx.MediaAudio || len(mcd.SubComponents) != 2 || *mcd.FlowStatus != rx.FlowEnabled ||
				last.ServiceInfoStatus == nil || *last.ServiceInfoStatus != rx.FinalServiceInformation {
				t.Errorf("leg %s: %+v", id, last)
			}
			if !strings.Contains(mcd.SubComponents[0].FlowDescriptions[0], " 49170") {
				t.Errorf("leg %s: flows %q do not name the SDP port", id, mcd.SubComponents[0].FlowDescriptions)
			}
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Fatalf("BYE: %v", err)
		}
		for id := range legs {
			pcrf.Wait(t, "STR of "+id, stopped(id))
		}
	})

	t.Run("loss of bearer releases the call to both UEs", func(t *testing.T) {
		before := mediaAARs()
		call, err := ua.Invite(uctx(t), number(bob))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		var aliceLeg string
		legs := newLegs(t, before)
		for id, aars := range legs {
			if len(aars[0].SubscriptionIDs) == 1 && isUser(aars[0].SubscriptionIDs[0].Data, alice) {
				aliceLeg = id
			}
		}
		if aliceLeg == "" {
			t.Fatalf("no leg of alice among %d", len(legs))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		raa, err := pcrf.SendRAR(ctx, aliceLeg, []rx.SpecificAction{rx.IndicationOfLossOfBearer}, nil, nil)
		if err != nil || !raa.Success() {
			t.Fatalf("RAA %v %+v", err, raa)
		}
		waitBYEs(t, call.CallID(), "cause=503", map[string]*ue.UE{"alice": ua, "bob": ub})
		for id := range legs {
			pcrf.Wait(t, "STR of "+id, stopped(id))
		}
	})
	t.Run("refused by the PCRF: the configured 488", func(t *testing.T) {
		pcrf.Refuse(rx.RequestedServiceNotAuthorized)
		defer pcrf.Refuse(0)
		if _, err := ua.Invite(uctx(t), number(bob)); statusOf(err) != 488 {
			t.Fatalf("INVITE = %v, want 488", err)
		}
	})
	t.Run("ASR on the signalling session de-registers the UE and releases its call", func(t *testing.T) {
		// TS 29.214 §4.4.6.7 and TS 23.228 §5.10.3.1: the PCRF says bob's signalling path is gone. The P-CSCF
		// releases bob's call on both sides, de-registers bob at the S-CSCF (which notifies its reg event
		// watchers, the P-CSCF among them) and drops the binding.
		aar := pcrf.Wait(t, "signalling AAR of bob", signalling(bob)).(*rx.AAR)
		deregBefore := scscfDeregistered(t, c)
		before := mediaAARs()
		call, err := ua.Invite(uctx(t), number(bob))
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		legs := newLegs(t, before)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		asa, err := pcrf.SendASR(ctx, aar.SessionID, rx.InsufficientBearerResources)
		if err != nil || !asa.Success() {
			t.Fatalf("ASA %v %+v", err, asa)
		}
		waitBYEs(t, call.CallID(), "signalling path lost", map[string]*ue.UE{"alice": ua, "bob": ub})
		pcrf.Wait(t, "STR of bob's signalling session", stopped(aar.SessionID))
		for id := range legs { // both legs' Rx sessions end: bob's with the signalling loss, alice's with the BYE
			pcrf.Wait(t, "STR of call leg "+id, stopped(id))
		}
		waitDeregistered(t, c, deregBefore, bob)
		// TS 24.229 §5.2.6.3.1: a request from a UE the P-CSCF no longer holds a binding for is refused.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := ub.Message(uctx(t), number(alice), "after the ASR")
			if statusOf(err) == 403 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("MESSAGE from bob after the ASR = %v, want 403", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	pcrf.CheckTshark(t)
}

// waitLegs waits until get returns n sessions each with a final-information AAR.
func waitLegs(t *testing.T, get func() map[string][]*rx.AAR, n int) map[string][]*rx.AAR {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		legs := get()
		final := 0
		for _, aars := range legs {
			last := aars[len(aars)-1]
			if last.ServiceInfoStatus != nil && *last.ServiceInfoStatus == rx.FinalServiceInformation {
				final++
			}
		}
		if final >= n {
			return legs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d call legs with final service information, want %d: %d sessions", final, n, len(legs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitBYE waits for a BYE of call callID at u.
func waitBYE(t *testing.T, u *ue.UE, callID string) *sip.Request {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case req := <-u.Incoming():
			if req.Method == sip.BYE && req.CallID() != nil && req.CallID().Value() == callID {
				return req
			}
		case <-deadline:
			t.Fatalf("no BYE for %s within 15 s", callID)
			return nil
		}
	}
}

// waitBYEs waits for a BYE of call callID at each UE and checks that its Reason contains reason.
func waitBYEs(t *testing.T, callID, reason string, ues map[string]*ue.UE) {
	t.Helper()
	for name, u := range ues {
		bye := waitBYE(t, u, callID)
		if r := bye.GetHeader("Reason"); r == nil || !strings.Contains(r.Value(), reason) {
			t.Errorf("%s's BYE has no Reason with %q: %v", name, reason, bye)
		}
	}
}

// isUser reports whether a Subscription-Id names s (its MSISDN IMPU or its IMSI one).
func isUser(data string, s Subscriber) bool {
	return strings.Contains(data, ":"+s.MSISDN+"@") || strings.Contains(data, ":"+s.IMSI+"@")
}

// waitDeregistered waits until the S-CSCF has counted a de-registration more than before and the P-CSCF ended
// s's binding on the S-CSCF's reg event NOTIFY.
func waitDeregistered(t *testing.T, c *core, before float64, s Subscriber) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for scscfDeregistered(t, c) <= before || !isUser(grepLines(c.pcscf.Logs(), "binding ended by the network"), s) {
		if time.Now().After(deadline) {
			t.Fatalf("S-CSCF de-registrations %v (before %v); P-CSCF lines:\n%s", scscfDeregistered(t, c), before,
				grepLines(c.pcscf.Logs(), "signalling"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scscfDeregistered reads the S-CSCF's count of de-registrations (scscf_registrations_total{outcome="deregistered"}).
func scscfDeregistered(t *testing.T, c *core) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^scscf_registrations_total\{outcome="deregistered"\} ([0-9.e+]+)$`).FindStringSubmatch(Metrics(t, c.scscf.HTTP))
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
