package pcscf

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestCall: alice calls bob through the P-CSCF and the fake core; bob answers, alice ACKs
// and hangs up. The in-dialog requests follow the Record-Route set the P-CSCF wrote, which
// for a sec-agree UE names our protected server port (TS 24.229 §5.2.7.2).
func TestCall(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport string
		secAgree  bool
	}{
		{"udp/plain", "udp", false},
		{"udp/sec-agree", "udp", true},
		{"tcp/sec-agree", "tcp", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice, bob := newSubscriber(t, 1), newSubscriber(t, 2)
			core := startFakeCore(t, "127.0.0.1:0", alice, bob)
			var mgr SAManager
			if tc.secAgree {
				mgr = newFakeSAs()
			}
			n := startPCSCF(t, "127.0.0.1", core.addr, mgr)
			ua := newUE(t, alice, n.CoreAddr(), tc.transport, tc.secAgree)
			ub := newUE(t, bob, n.CoreAddr(), tc.transport, tc.secAgree)
			ctx := ctxT(t)
			if _, err := ua.Register(ctx); err != nil {
				t.Fatalf("register: %v", err)
			}
			if _, err := ub.Register(ctx); err != nil {
				t.Fatalf("register: %v", err)
			}
			call, err := ua.Invite(ctx, bob.impu)
			if err != nil {
				t.Fatalf("INVITE: %v", err)
			}
			want := []sip.RequestMethod{sip.INVITE, sip.ACK}
			for _, m := range want {
				select {
				case got := <-ub.Incoming():
					if got.Method != m {
						t.Fatalf("bob got %s, want %s", got.Method, m)
					}
				case <-time.After(waitLong):
					t.Fatalf("bob got no %s", m)
				}
			}
			if err := call.Hangup(ctx); err != nil {
				t.Fatalf("BYE: %v", err)
			}
			select {
			case got := <-ub.Incoming():
				if got.Method != sip.BYE {
					t.Fatalf("bob got %s, want BYE", got.Method)
				}
			case <-time.After(waitLong):
				t.Fatal("bob got no BYE")
			}
			if len(core.requests(sip.BYE)) != 1 {
				t.Errorf("BYE did not pass the core (Record-Route)")
			}
		})
	}
}
