package scscf

import (
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/sip/digest"
)

// A REGISTER waiting for its SAR holds no lock: another device of the same user is challenged meanwhile (its
// MAR answered at once), and when the SARs of both devices' final REGISTERs are answered together, both
// bindings are kept: the second change is applied against the first one's version (checked on apply, the
// REGISTER re-evaluated on conflict), not over it.
func TestRegisterHoldsNoLockAcrossSAR(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000051", "15550000051")
	s := startSCSCF(t, hss, nil)
	phone, tablet := newUE(t, s, sub), newUE(t, s, sub)
	tablet.instance = "urn:uuid:00000000-0000-1000-8000-0000000000b5"

	res := phone.register(600, phone.emptyAuth())
	if res.StatusCode != 401 {
		t.Fatalf("phone's first REGISTER: %d", res.StatusCode)
	}
	release := hss.holdCommand(cx.CmdServerAssignment)
	defer release()
	phone.integrity = digest.IntegrityYes
	phone.sendRegister(600, phone.authFor(res, false))
	hss.waitHeld(t, cx.CmdServerAssignment, 1)

	// The same IMPU, while the phone's SAR is outstanding: challenged at once.
	res = tablet.register(600, tablet.emptyAuth())
	if res.StatusCode != 401 {
		t.Fatalf("tablet's first REGISTER during the phone's SAR: %d, want 401", res.StatusCode)
	}
	tablet.integrity = digest.IntegrityYes
	tablet.sendRegister(600, tablet.authFor(res, false))
	hss.waitHeld(t, cx.CmdServerAssignment, 2)
	release()
	for _, u := range []*testUE{phone, tablet} {
		if res := u.response(); res.StatusCode != 200 {
			t.Fatalf("final REGISTER: %d, want 200", res.StatusCode)
		}
	}
	reg := registered(t, s, sub.impus[1])
	if reg == nil || len(reg.Contacts) != 2 {
		t.Fatalf("after both REGISTERs: %+v, want the phone's and the tablet's contacts", reg)
	}
}
