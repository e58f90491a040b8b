package hsstest

import (
	"reflect"
	"testing"

	"github.com/imscore/imscore/hss"
)

// testRestoration: S-CSCF restoration information (TS 23.380 §5.2, TS 29.228 §6.1.2.1) is stored per private
// identity and implicit set with the registration, read by any identity of the set, replaced by the next
// one, and deleted when the private identity's or the set's registration ends.
func testRestoration(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	b := createDefault(t, s, "001010000000002", "15550002")
	shared := hss.PublicIdentity{IMPU: "sip:family@" + hss.DefaultDomain, ImplicitSetID: "family", ServiceProfileID: DefaultProfileID}
	must(t, s.AddIMPU(ctx, a.Private.IMPI, shared))
	must(t, s.LinkIMPU(ctx, b.Private.IMPI, shared.IMPU))
	reg := hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf1"}
	withInfo := func(info string) func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
			return hss.RegistrationChange{Registration: reg, IMPIRegistered: true, Restoration: []byte(info)}, nil
		}
	}
	want := func(impu string, infos ...string) {
		t.Helper()
		got, err := s.Restoration(ctx, impu)
		must(t, err)
		var gotS []string
		for _, g := range got {
			gotS = append(gotS, string(g))
		}
		if !reflect.DeepEqual(gotS, infos) {
			t.Fatalf("Restoration(%s) = %q, want %q", impu, gotS, infos)
		}
	}
	want(shared.IMPU)
	_, err := s.Restoration(ctx, "sip:nobody@"+hss.DefaultDomain)
	wantErr(t, err, hss.ErrNotFound)

	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, withInfo("a1")))
	must(t, s.UpdateRegistration(ctx, b.Private.IMPI, shared.IMPU, withInfo("b1")))
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, "tel:15550001", withInfo("a-own")))
	want(shared.IMPU, "a1", "b1")
	want("tel:15550001", "a-own")
	// Replaced by the next one; a change without Restoration keeps it.
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, withInfo("a2")))
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, register(true, reg)))
	want(shared.IMPU, "a2", "b1")
	// a's registration of the shared set ends: b's goes on, so does its restoration information.
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, register(false, reg)))
	want(shared.IMPU, "b1")
	// Not stored for a private identity that does not hold the registration.
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{Registration: reg, Restoration: []byte("not registered")}, nil
	}))
	want(shared.IMPU, "b1")
	// The set's registration ends (a de-registration without User-Name, an RTR): all of it goes.
	must(t, s.UpdateRegistration(ctx, "", shared.IMPU, register(false, hss.Registration{})))
	want(shared.IMPU)
	want("tel:15550001", "a-own")
	// Deleting the subscriber deletes its rows.
	must(t, s.DeleteSubscriber(ctx, a.Private.IMPI))
	must(t, s.UpdateRegistration(ctx, b.Private.IMPI, "tel:15550002", withInfo("b-own")))
	want("tel:15550002", "b-own")
}
