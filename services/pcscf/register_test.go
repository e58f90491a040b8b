package pcscf

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
)

// TestRegisterAndMessage registers two UEs through the P-CSCF to the fake core and sends a
// MESSAGE from one to the other: without sec-agree (a SIPp-like UE, IPsec off) and with
// sec-agree negotiated over plaintext (the SA installer is a fake on this host without ESP).
func TestRegisterAndMessage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport string
		secAgree  bool
	}{
		{"udp/plain", "udp", false},
		{"tcp/plain", "tcp", false},
		{"udp/sec-agree", "udp", true},
		{"tcp/sec-agree", "tcp", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
			core := startFakeCore(t, "127.0.0.1:0", alice, bob)
			var sas *fakeSAs
			var mgr SAManager
			if tc.secAgree {
				sas = newFakeSAs()
				mgr = sas
			}
			n := startPCSCF(t, "127.0.0.1", core.addr, mgr)
			ua := newUE(t, alice, n.CoreAddr(), tc.transport, tc.secAgree)
			ub := newUE(t, bob, n.CoreAddr(), tc.transport, tc.secAgree)
			ctx := ctxT(t)
			for _, u := range []interface{ Contact() any }{} {
				_ = u
			}
			regA, err := ua.Register(ctx)
			if err != nil {
				t.Fatalf("alice register: %v", err)
			}
			if _, err := ub.Register(ctx); err != nil {
				t.Fatalf("bob register: %v", err)
			}
			if regA.SecAgree != tc.secAgree {
				t.Errorf("registration sec-agree = %v, want %v", regA.SecAgree, tc.secAgree)
			}
			if len(regA.ServiceRoute) != 1 || !strings.Contains(regA.ServiceRoute[0], "orig@") {
				t.Errorf("Service-Route at the UE = %v", regA.ServiceRoute)
			}
			regs := core.requests(sip.REGISTER)
			if len(regs) != 4 {
				t.Fatalf("core saw %d REGISTERs, want 4 (two per UE)", len(regs))
			}
			first, second := regs[0], regs[1]
			for _, r := range []*sip.Request{first, second} {
				for _, h := range []string{header.SecurityClient, header.SecurityVerify} {
					if header.Has(r, h) {
						t.Errorf("forwarded REGISTER still has %s", h)
					}
				}
				for _, h := range []string{header.Require, header.ProxyRequire} {
					if strings.Contains(lastValue(r, h), "sec-agree") {
						t.Errorf("forwarded REGISTER still has %s: sec-agree", h)
					}
				}
				if p := lastValue(r, header.Path); !strings.HasPrefix(p, "<sip:term@127.0.0.1:") || !strings.HasSuffix(p, ";lr>") {
					t.Errorf("Path = %q", p)
				}
				if v := lastValue(r, header.PVisitedNetworkID); v != domain {
					t.Errorf("P-Visited-Network-ID = %q", v)
				}
				cv, err := header.ParseChargingVector(lastValue(r, header.PChargingVector))
				if err != nil || len(cv.ICIDValue) != 32 {
					t.Errorf("P-Charging-Vector %q: %v", lastValue(r, header.PChargingVector), err)
				}
			}
			wantSecond := digest.IntegrityNo
			if tc.secAgree {
				wantSecond = digest.IntegrityYes
			}
			for _, c := range []struct {
				r    *sip.Request
				want string
			}{{first, digest.IntegrityNo}, {second, wantSecond}} {
				cred, err := digest.ParseCredentials(lastValue(c.r, header.Authorization))
				if err != nil {
					t.Fatalf("Authorization: %v", err)
				}
				if cred.IntegrityProtected != c.want {
					t.Errorf("integrity-protected = %q, want %q", cred.IntegrityProtected, c.want)
				}
			}
			if tc.secAgree {
				if got := sas.count(); got != 2 {
					t.Errorf("SA sets installed = %d, want 2", got)
				}
				reg, ok := n.Registration(alice.impu)
				if !ok || len(reg.SAs) != 1 || !reg.SAs[0].Confirmed {
					t.Errorf("P-CSCF registration = %+v", reg)
				}
			}

			res, err := ua.Message(ctx, bob.impu, "hello bob")
			if err != nil {
				t.Fatalf("MESSAGE: %v", err)
			}
			if res.StatusCode != 200 {
				t.Fatalf("MESSAGE answered %d", res.StatusCode)
			}
			select {
			case got := <-ub.Incoming():
				if string(got.Body()) != "hello bob" {
					t.Errorf("bob got %q", got.Body())
				}
				// TS 24.229 §5.2.7: what reaches the UE carries the asserted identity.
				if pai := lastValue(got, header.PAssertedIdentity); pai != "<"+alice.impu+">" {
					t.Errorf("P-Asserted-Identity at bob = %q", pai)
				}
			case <-time.After(waitLong):
				t.Fatal("bob got nothing")
			}

			if err := ua.Deregister(ctx); err != nil {
				t.Fatalf("de-register: %v", err)
			}
			if _, ok := n.Registration(alice.impu); ok {
				t.Error("alice still registered at the P-CSCF")
			}
			if tc.secAgree {
				deadline := time.Now().Add(waitLong)
				for sas.count() != 1 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if got := sas.count(); got != 1 {
					t.Errorf("SA sets after alice de-registered = %d, want 1 (bob's)", got)
				}
			}
		})
	}
}

// TestIPAssociation: a UE without sec-agree registering again from the address of its registration is marked
// integrity-protected="ip-assoc-yes" towards the S-CSCF (TS 24.229 §7.2A.2), unless ip_association is off;
// its first REGISTER never is. It is off by default: behind a shared NAT one host could take over another's
// binding without a challenge; only GIBA-like deployments turn it on.
func TestIPAssociation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     *bool
		enabled bool
	}{{"default", nil, false}, {"ip_association=true", ptr(true), true}, {"ip_association=false", ptr(false), false}} {
		t.Run(tc.name, func(t *testing.T) {
			enabled := tc.enabled
			alice := newSubscriber(t, 1)
			core := startFakeCore(t, "127.0.0.1:0", alice)
			n := startPCSCF(t, "127.0.0.1", core.addr, nil, func(c *Config) {
				if tc.set != nil {
					c.IPAssociation = *tc.set
				}
			})
			u := newUE(t, alice, n.CoreAddr(), "udp", false)
			for range 2 {
				if _, err := u.Register(ctxT(t)); err != nil {
					t.Fatalf("register: %v", err)
				}
			}
			var marks []string
			for _, r := range core.requests(sip.REGISTER) {
				cred, err := digest.ParseCredentials(header.Values(r, header.Authorization)[0])
				if err != nil {
					t.Fatal(err)
				}
				marks = append(marks, cred.IntegrityProtected)
			}
			if len(marks) < 3 {
				t.Fatalf("REGISTERs at the core: %v", marks)
			}
			want := digest.IntegrityNo
			if enabled {
				want = digest.IntegrityIPAssocYes
			}
			if marks[0] != digest.IntegrityNo || marks[2] != want {
				t.Errorf("integrity-protected of the REGISTERs: %v, want %s first and %s on re-registration", marks, digest.IntegrityNo, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
