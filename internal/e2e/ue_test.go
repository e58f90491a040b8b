package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/imscore/imscore/sip/ue"
)

// The UE simulator (sip/ue, the engine of cmd/imsue) through the real P-, I-, S-CSCF and HSS. On the
// host there is no ESP, so the UEs register without sec-agree (the P-CSCF has IPsec off); they send
// the other handset headers: +sip.instance, reg-id, Supported path, gruu, outbound, 100rel, timer.

// newUE makes a UE of s towards the core's entry (the P-CSCF) and registers its MSISDN IMPU (the IMSI-based one
// is barred, as with SIPp).
func (c *core) newUE(t *testing.T, s Subscriber, mutate ...func(*ue.Config)) (*ue.UE, *ue.Registration) {
	t.Helper()
	cfg := ue.Config{IMPI: s.IMPI(), IMPU: number(s), PCSCF: netip.MustParseAddrPort(c.entry), Keys: akaKeys(t),
		Timeout: 10 * time.Second}
	for _, m := range mutate {
		m(&cfg)
	}
	u, err := ue.New(cfg, zaptest.NewLogger(t).Named(s.IMSI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	reg, err := u.Register(uctx(t))
	if err != nil {
		t.Fatalf("register %s: %v", s.IMSI, err)
	}
	return u, reg
}

func uctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func statusOf(err error) int {
	var se *ue.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestUECalls: calls between UEs sending handset headers, through P-CSCF, I-CSCF (LIR), S-CSCF
// (originating and terminating) and back through the callee's P-CSCF (Path).
func TestUECalls(t *testing.T) {
	alice, bob, carol, dave := NthSubscriber(81), NthSubscriber(82), NthSubscriber(83), NthSubscriber(84)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob, carol, dave)
	ua, _ := c.newUE(t, alice)
	c.newUE(t, bob)
	c.newUE(t, carol, func(cfg *ue.Config) { cfg.NoAnswer = true })
	// dave is provisioned and never registers.

	t.Run("INVITE 183 100rel PRACK UPDATE 200 ACK, re-INVITE, BYE", func(t *testing.T) {
		call, err := ua.InviteWith(uctx(t), number(bob), ue.InviteOptions{Precondition: true})
		if err != nil {
			t.Fatalf("INVITE: %v", err)
		}
		if got := call.PRACKed(); len(got) != 1 || got[0] != 1 {
			t.Errorf("PRACKed %v, want the 183's RSeq 1; provisionals %v", got, call.Provisionals())
		}
		if !call.Updated() {
			t.Error("the UPDATE of the early dialog did not succeed")
		}
		if p := call.Provisionals(); !contains(p, 183) || !contains(p, 180) {
			t.Errorf("provisionals %v, want 183 and 180", p)
		}
		if err := call.Reinvite(uctx(t)); err != nil {
			t.Errorf("re-INVITE: %v", err)
		}
		if err := call.Update(uctx(t)); err != nil {
			t.Errorf("UPDATE in the confirmed dialog: %v", err)
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Errorf("BYE: %v", err)
		}
	})
	t.Run("CANCEL of a ringing call", func(t *testing.T) {
		call, err := ua.InviteWith(uctx(t), number(carol), ue.InviteOptions{CancelOn: 180})
		if statusOf(err) != 487 {
			t.Fatalf("INVITE = %v, want 487 after the CANCEL", err)
		}
		if !contains(call.Provisionals(), 180) {
			t.Errorf("provisionals %v, want the 180", call.Provisionals())
		}
	})
	t.Run("call to an unregistered user", func(t *testing.T) {
		// TS 24.229 §5.4.3.3: no unregistered services (no iFC) → 480.
		if _, err := ua.Invite(uctx(t), number(dave)); statusOf(err) != 480 {
			t.Fatalf("INVITE to an unregistered user = %v, want 480", err)
		}
	})
	t.Run("call to a tel: number", func(t *testing.T) {
		call, err := ua.Invite(uctx(t), "tel:"+bob.MSISDN)
		if err != nil {
			t.Fatalf("INVITE tel:%s: %v", bob.MSISDN, err)
		}
		if err := call.Hangup(uctx(t)); err != nil {
			t.Errorf("BYE: %v", err)
		}
	})
	t.Run("MESSAGE", func(t *testing.T) {
		if _, err := ua.Message(uctx(t), "tel:"+bob.MSISDN, "hello"); err != nil {
			t.Fatal(err)
		}
	})
	// Every node keys an identity by package identity: visual separators (RFC 3966 §3), user=phone
	// (RFC 3261 §19.1.6), host case and escaped unreserved characters (RFC 3261 §19.1.4) name the same user.
	t.Run("MESSAGE to other spellings of a number", func(t *testing.T) {
		m := bob.MSISDN
		escaped := ""
		for i := 0; i < len(m); i++ {
			escaped += fmt.Sprintf("%%%02X", m[i])
		}
		for _, to := range []string{
			"tel:" + m[:1] + "-" + m[1:4] + "-" + m[4:],
			"sip:" + m[:1] + "(" + m[1:4] + ")" + m[4:] + "@" + Domain + ";user=phone",
			"sip:" + escaped + "@" + strings.ToUpper(Domain),
		} {
			if _, err := ua.Message(uctx(t), to, "hello"); err != nil {
				t.Errorf("MESSAGE to %s: %v", to, err)
			}
		}
	})
}

// number is s's sip: URI with its MSISDN, the identity other users call (the IMSI-derived IMPU is
// for registration only, TS 23.003 §13.4B).
func number(s Subscriber) string { return "sip:" + s.MSISDN + "@" + Domain }

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// instances lists the +sip.instance values of a registration's bindings.
func instances(reg *ue.Registration) []string {
	var out []string
	for _, c := range reg.Contacts {
		for _, p := range strings.Split(c, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "+sip.instance="); ok {
				out = append(out, strings.Trim(v, `"<>`))
			}
		}
	}
	return out
}

// TestUETwoDevicesOneIMPU: two devices (two instance IDs, RFC 5626 §4.1) register the same IMPU: the
// registrar keeps both bindings, a call to the IMPU reaches one of them, and a device that comes back
// from another port with its instance ID replaces its own binding instead of adding one (RFC 5626
// §6, TS 24.229 §5.4.1.2.2).
func TestUETwoDevicesOneIMPU(t *testing.T) {
	alice, bob := NthSubscriber(91), NthSubscriber(92)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice, bob)
	const phone, tablet = "urn:uuid:00000000-0000-4000-8000-0000000000a1", "urn:uuid:00000000-0000-4000-8000-0000000000a2"
	c.newUE(t, alice, func(cfg *ue.Config) { cfg.Instance = phone })
	_, reg := c.newUE(t, alice, func(cfg *ue.Config) { cfg.Instance = tablet })
	if got := instances(reg); len(got) != 2 || !containsStr(got, phone) || !containsStr(got, tablet) {
		t.Fatalf("after the second device: bindings %v, want the phone and the tablet", reg.Contacts)
	}
	ub, _ := c.newUE(t, bob)
	call, err := ub.Invite(uctx(t), number(alice))
	if err != nil {
		t.Fatalf("call to the IMPU of two devices: %v", err)
	}
	if err := call.Hangup(uctx(t)); err != nil {
		t.Errorf("BYE: %v", err)
	}
	t.Run("a device back with its instance ID replaces its binding", func(t *testing.T) {
		// The phone restarts: a new socket, the same instance ID.
		_, reg := c.newUE(t, alice, func(cfg *ue.Config) { cfg.Instance = phone })
		if got := instances(reg); len(got) != 2 || !containsStr(got, phone) || !containsStr(got, tablet) {
			t.Errorf("after the phone came back: bindings %v, want its new one and the tablet's", reg.Contacts)
		}
	})
}

func containsStr(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// TestUEMinExpires: a UE asking for less than the S-CSCF's Min-Expires (60 s by default) gets 423 through
// the P- and I-CSCF and registers again with the Min-Expires (RFC 3261 §10.2.8); its REGISTER carried the
// handset headers, which the S-CSCF keeps in the binding.
func TestUEMinExpires(t *testing.T) {
	alice := NthSubscriber(95)
	c := startCoreWith(t, coreOptions{pcscf: true}, alice)
	const imei = "urn:gsma:imei:35209900-176148-1"
	_, reg := c.newUE(t, alice, func(cfg *ue.Config) { cfg.Expires = 20 * time.Second; cfg.Instance = imei })
	if reg.Expires != 60*time.Second {
		t.Errorf("registered for %v, want the S-CSCF's Min-Expires 60s", reg.Expires)
	}
	if got := instances(reg); len(got) != 1 || got[0] != imei {
		t.Errorf("bindings %v, want one with +sip.instance %s", reg.Contacts, imei)
	}
}
