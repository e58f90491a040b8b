package hsstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
)

// RunStore runs the hss.Store contract. newStore returns an empty, migrated store for one subtest and
// arranges (t.Cleanup) for it to be closed; each subtest gets its own.
func RunStore(t *testing.T, newStore func(t *testing.T) hss.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s hss.Store)
	}{
		{"ServiceProfiles", testServiceProfiles},
		{"SharedIFCSets", testSharedIFCSets},
		{"CreateAndGetSubscriber", testCreateAndGetSubscriber},
		{"CreateSubscriberIsAtomic", testCreateSubscriberIsAtomic},
		{"DeleteSubscriber", testDeleteSubscriber},
		{"UpdatePrivateIdentityAndKeys", testUpdatePrivateIdentityAndKeys},
		{"PublicIdentityCRUD", testPublicIdentityCRUD},
		{"WildcardLookup", testWildcardLookup},
		{"SharedIMPU", testSharedIMPU},
		{"Association", testAssociation},
		{"ImplicitSet", testImplicitSet},
		{"UserProfile", testUserProfile},
		{"Registration", testRegistration},
		{"RegistrationSharedSet", testRegistrationSharedSet},
		{"RegistrationConcurrent", testRegistrationConcurrent},
		{"PendingSCSCF", testPendingSCSCF},
		{"Restoration", testRestoration},
		{"UpdateSQN", testUpdateSQN},
		{"UpdateSQNConcurrent", testUpdateSQNConcurrent},
		{"BulkCreate", testBulkCreate},
		{"BulkCreateIsAtomic", testBulkCreateIsAtomic},
		{"ListSubscribers", testListSubscribers},
		{"SCSCFs", testSCSCFs},
		{"ChargingInfo", testChargingInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// ---- helpers -----------------------------------------------------------------------------------------

func ctxOf(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// createDefault creates the default profile and the subscriber with the given IMSI and MSISDN.
func createDefault(t testing.TB, s hss.Store, imsi, msisdn string) hss.Subscriber {
	t.Helper()
	ctx := ctxOf(t)
	if _, err := s.GetServiceProfile(ctx, DefaultProfileID); errors.Is(err, hss.ErrNotFound) {
		must(t, s.CreateServiceProfile(ctx, Profile(DefaultProfileID)))
	} else {
		must(t, err)
	}
	sub := Subscriber(imsi, msisdn)
	must(t, s.CreateSubscriber(ctx, sub))
	return sub
}

// zeroTimes clears the store-set timestamps so that values compare with what was written.
func zeroPrivate(p hss.PrivateIdentity) hss.PrivateIdentity {
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	return p
}

func zeroPublic(ps []hss.PublicIdentity) []hss.PublicIdentity {
	out := make([]hss.PublicIdentity, len(ps))
	for i, p := range ps {
		p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
		out[i] = p
	}
	return out
}

func zeroProfile(p hss.ServiceProfile) hss.ServiceProfile {
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	return p
}

func sortedPublic(ps []hss.PublicIdentity) []hss.PublicIdentity {
	out := append([]hss.PublicIdentity(nil), ps...)
	sort.Slice(out, func(i, j int) bool { return out[i].IMPU < out[j].IMPU })
	return out
}

func impus(ps []hss.PublicIdentity) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.IMPU)
	}
	return out
}

func checkTimes(t testing.TB, what string, created, updated time.Time) {
	t.Helper()
	if created.IsZero() || updated.IsZero() || updated.Before(created) {
		t.Errorf("%s: created %v updated %v: want both set, updated not before created", what, created, updated)
	}
	if created.Location() != time.UTC {
		t.Errorf("%s: created %v: want UTC", what, created)
	}
	if d := time.Since(created); d < -time.Minute || d > time.Hour {
		t.Errorf("%s: created %v is not now", what, created)
	}
}

// ---- service profiles --------------------------------------------------------------------------------

func testServiceProfiles(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	shared := hss.SharedIFCSet{ID: 7, IFCs: Profile("x").IFCs[:1]}
	must(t, s.CreateSharedIFCSet(ctx, shared))

	p := Profile("gold")
	p.SharedIFCSetIDs = []int32{7}
	must(t, s.CreateServiceProfile(ctx, p))
	got, err := s.GetServiceProfile(ctx, "gold")
	must(t, err)
	checkTimes(t, "profile", got.CreatedAt, got.UpdatedAt)
	if !reflect.DeepEqual(zeroProfile(*got), p) {
		t.Fatalf("GetServiceProfile =\n%+v\nwant\n%+v", zeroProfile(*got), p)
	}

	wantErr(t, s.CreateServiceProfile(ctx, p), hss.ErrAlreadyExists)
	wantErr(t, s.CreateServiceProfile(ctx, hss.ServiceProfile{ID: ""}), hss.ErrInvalid)
	_, err = s.GetServiceProfile(ctx, "missing")
	wantErr(t, err, hss.ErrNotFound)

	// A profile naming a missing shared set is refused, and leaves nothing behind.
	dangling := Profile("dangling")
	dangling.SharedIFCSetIDs = []int32{99}
	wantErr(t, s.CreateServiceProfile(ctx, dangling), hss.ErrConflict)
	_, err = s.GetServiceProfile(ctx, "dangling")
	wantErr(t, err, hss.ErrNotFound)

	// Update replaces iFCs, media profile and shared sets.
	p.IFCs = p.IFCs[1:]
	p.SubscribedMediaProfileID = nil
	p.SharedIFCSetIDs = nil
	must(t, s.UpdateServiceProfile(ctx, p))
	got, err = s.GetServiceProfile(ctx, "gold")
	must(t, err)
	if !reflect.DeepEqual(zeroProfile(*got), p) {
		t.Fatalf("after update =\n%+v\nwant\n%+v", zeroProfile(*got), p)
	}
	wantErr(t, s.UpdateServiceProfile(ctx, Profile("missing")), hss.ErrNotFound)

	must(t, s.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "bare"}))
	list, err := s.ListServiceProfiles(ctx)
	must(t, err)
	var ids []string
	for _, l := range list {
		ids = append(ids, l.ID)
	}
	if want := []string{"bare", "gold"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("ListServiceProfiles ids = %v, want %v", ids, want)
	}
	if !reflect.DeepEqual(zeroProfile(list[1]), p) {
		t.Fatalf("ListServiceProfiles[1] =\n%+v\nwant\n%+v", zeroProfile(list[1]), p)
	}

	// A profile in use cannot be deleted; an unused one can, once.
	sub := Subscriber("001010000000001", "15550001")
	for i := range sub.Public {
		sub.Public[i].ServiceProfileID = "gold"
	}
	must(t, s.CreateSubscriber(ctx, sub))
	wantErr(t, s.DeleteServiceProfile(ctx, "gold"), hss.ErrConflict)
	must(t, s.DeleteServiceProfile(ctx, "bare"))
	wantErr(t, s.DeleteServiceProfile(ctx, "bare"), hss.ErrNotFound)
	_, err = s.GetServiceProfile(ctx, "bare")
	wantErr(t, err, hss.ErrNotFound)
}

func testSharedIFCSets(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	set := hss.SharedIFCSet{ID: 3, IFCs: Profile("x").IFCs}
	must(t, s.CreateSharedIFCSet(ctx, set))
	wantErr(t, s.CreateSharedIFCSet(ctx, set), hss.ErrAlreadyExists)
	got, err := s.GetSharedIFCSet(ctx, 3)
	must(t, err)
	checkTimes(t, "shared set", got.CreatedAt, got.UpdatedAt)
	got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(*got, set) {
		t.Fatalf("GetSharedIFCSet =\n%+v\nwant\n%+v", *got, set)
	}
	set.IFCs = set.IFCs[:1]
	must(t, s.UpdateSharedIFCSet(ctx, set))
	got, err = s.GetSharedIFCSet(ctx, 3)
	must(t, err)
	if len(got.IFCs) != 1 || got.IFCs[0].Priority != set.IFCs[0].Priority {
		t.Fatalf("after update: %d iFCs, want 1", len(got.IFCs))
	}
	wantErr(t, s.UpdateSharedIFCSet(ctx, hss.SharedIFCSet{ID: 4}), hss.ErrNotFound)
	bad := hss.SharedIFCSet{ID: 5, IFCs: []hss.InitialFilterCriteria{{Priority: 1}}}
	wantErr(t, s.CreateSharedIFCSet(ctx, bad), hss.ErrInvalid)

	must(t, s.CreateSharedIFCSet(ctx, hss.SharedIFCSet{ID: 1}))
	list, err := s.ListSharedIFCSets(ctx)
	must(t, err)
	if len(list) != 2 || list[0].ID != 1 || list[1].ID != 3 {
		t.Fatalf("ListSharedIFCSets = %+v, want ids 1, 3", list)
	}

	p := hss.ServiceProfile{ID: "uses-3", SharedIFCSetIDs: []int32{3}}
	must(t, s.CreateServiceProfile(ctx, p))
	wantErr(t, s.DeleteSharedIFCSet(ctx, 3), hss.ErrConflict)
	must(t, s.DeleteServiceProfile(ctx, "uses-3"))
	must(t, s.DeleteSharedIFCSet(ctx, 3))
	wantErr(t, s.DeleteSharedIFCSet(ctx, 3), hss.ErrNotFound)
	_, err = s.GetSharedIFCSet(ctx, 3)
	wantErr(t, err, hss.ErrNotFound)
}

// ---- subscribers -------------------------------------------------------------------------------------

func testCreateAndGetSubscriber(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	sub := Subscriber("001010000000001", "15550001")
	sub.ServiceProfiles = []hss.ServiceProfile{Profile(DefaultProfileID)}
	sub.Private.SQN = 1 << 40
	sub.Private.AuthSchemes |= hss.AuthSIPDigest
	sub.Private.DigestHA1 = "0123456789abcdef0123456789abcdef"
	sub.Private.AllowedVisitedNetworks = []string{"ims.mnc002.mcc001.3gppnetwork.org"}
	sub.Private.RequiredCapabilities = hss.Capabilities{Mandatory: []uint32{1, 2}, Optional: []uint32{9}}
	sub.Private.Charging = &hss.ChargingInfo{PrimaryCCF: "aaa://ccf1.example.com"}
	sub.Public[1].DisplayName = "Alice"
	// Registration data given on creation is ignored.
	sub.Public[2].Registration = hss.Registration{State: hss.Registered, SCSCFName: "sip:ignored"}
	must(t, s.CreateSubscriber(ctx, sub))

	got, err := s.GetSubscriber(ctx, sub.Private.IMPI)
	must(t, err)
	checkTimes(t, "impi", got.Private.CreatedAt, got.Private.UpdatedAt)
	for _, p := range got.Public {
		checkTimes(t, "impu "+p.IMPU, p.CreatedAt, p.UpdatedAt)
	}
	if !reflect.DeepEqual(zeroPrivate(got.Private), sub.Private) {
		t.Errorf("Private =\n%v %+v\nwant\n%v %+v", got.Private, zeroPrivate(got.Private), sub.Private, sub.Private)
	}
	wantPublic := sortedPublic(sub.Public)
	for i := range wantPublic {
		wantPublic[i].Registration = hss.Registration{}
	}
	if got, want := zeroPublic(got.Public), wantPublic; !reflect.DeepEqual(got, want) {
		t.Errorf("Public =\n%+v\nwant\n%+v", got, want)
	}
	if len(got.ServiceProfiles) != 1 || !reflect.DeepEqual(zeroProfile(got.ServiceProfiles[0]), Profile(DefaultProfileID)) {
		t.Errorf("ServiceProfiles = %+v, want the default profile", got.ServiceProfiles)
	}

	impi, err := s.GetIMPI(ctx, sub.Private.IMPI)
	must(t, err)
	if !reflect.DeepEqual(zeroPrivate(*impi), sub.Private) {
		t.Errorf("GetIMPI = %+v, want %+v", zeroPrivate(*impi), sub.Private)
	}
	_, err = s.GetIMPI(ctx, "nobody@"+hss.DefaultDomain)
	wantErr(t, err, hss.ErrNotFound)
	_, err = s.GetSubscriber(ctx, "nobody@"+hss.DefaultDomain)
	wantErr(t, err, hss.ErrNotFound)

	// The implicit set defaults to the IMPI.
	other := Subscriber("001010000000002", "15550002")
	for i := range other.Public {
		other.Public[i].ImplicitSetID = ""
	}
	must(t, s.CreateSubscriber(ctx, other))
	u, err := s.GetIMPU(ctx, "tel:15550002")
	must(t, err)
	if u.ImplicitSetID != other.Private.IMPI {
		t.Errorf("default implicit set = %q, want the IMPI %q", u.ImplicitSetID, other.Private.IMPI)
	}
}

func testCreateSubscriberIsAtomic(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	first := createDefault(t, s, "001010000000001", "15550001")

	tests := []struct {
		name   string
		sub    func() hss.Subscriber
		want   error
		absent string // an IMPI that must not exist afterwards
	}{
		{name: "same impi", sub: func() hss.Subscriber { return first }, want: hss.ErrAlreadyExists},
		{name: "same imsi", want: hss.ErrAlreadyExists, absent: "other@" + hss.DefaultDomain, sub: func() hss.Subscriber {
			s := Subscriber("001010000000001", "15550009")
			s.Private.IMPI = "other@" + hss.DefaultDomain
			for i := range s.Public {
				// Other identities, still valid public identities (a tel number takes a digit).
				if strings.HasPrefix(s.Public[i].IMPU, "tel:") {
					s.Public[i].IMPU += "9"
				} else {
					s.Public[i].IMPU += "x"
				}
			}
			return s
		}},
		{name: "impu taken", want: hss.ErrAlreadyExists, absent: IMPI("001010000000003"), sub: func() hss.Subscriber {
			s := Subscriber("001010000000003", "15550003")
			s.Public[2].IMPU = "tel:15550001"
			return s
		}},
		{name: "profile taken", want: hss.ErrAlreadyExists, absent: IMPI("001010000000004"), sub: func() hss.Subscriber {
			s := Subscriber("001010000000004", "15550004")
			s.ServiceProfiles = []hss.ServiceProfile{Profile(DefaultProfileID)}
			return s
		}},
		{name: "missing profile", want: hss.ErrConflict, absent: IMPI("001010000000005"), sub: func() hss.Subscriber {
			s := Subscriber("001010000000005", "15550005")
			s.Public[1].ServiceProfileID = "nope"
			return s
		}},
		{name: "missing shared impu", want: hss.ErrNotFound, absent: IMPI("001010000000006"), sub: func() hss.Subscriber {
			s := Subscriber("001010000000006", "15550006")
			s.SharedIMPUs = []string{"sip:nobody@" + hss.DefaultDomain}
			return s
		}},
		{name: "invalid key", want: hss.ErrInvalid, absent: IMPI("001010000000007"), sub: func() hss.Subscriber {
			s := Subscriber("001010000000007", "15550007")
			s.Private.K = s.Private.K[:8]
			return s
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sub := tc.sub()
			wantErr(t, s.CreateSubscriber(ctx, sub), tc.want)
			if tc.absent != "" {
				_, err := s.GetIMPI(ctx, tc.absent)
				wantErr(t, err, hss.ErrNotFound)
				for _, p := range sub.Public {
					if p.IMPU == "tel:15550001" {
						continue // the identity that was taken
					}
					_, err := s.GetIMPU(ctx, p.IMPU)
					wantErr(t, err, hss.ErrNotFound)
				}
			}
		})
	}
	// The first subscriber is intact.
	got, err := s.GetSubscriber(ctx, first.Private.IMPI)
	must(t, err)
	if len(got.Public) != 3 {
		t.Fatalf("first subscriber has %d identities, want 3", len(got.Public))
	}
}

func testDeleteSubscriber(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	b := createDefault(t, s, "001010000000002", "15550002")
	must(t, s.DeleteSubscriber(ctx, a.Private.IMPI))
	_, err := s.GetIMPI(ctx, a.Private.IMPI)
	wantErr(t, err, hss.ErrNotFound)
	for _, p := range a.Public {
		_, err := s.GetIMPU(ctx, p.IMPU)
		wantErr(t, err, hss.ErrNotFound)
	}
	wantErr(t, s.DeleteSubscriber(ctx, a.Private.IMPI), hss.ErrNotFound)
	// The other subscriber is untouched, and the identities can be created again.
	if _, err := s.GetSubscriber(ctx, b.Private.IMPI); err != nil {
		t.Fatal(err)
	}
	must(t, s.CreateSubscriber(ctx, a))
}

func testUpdatePrivateIdentityAndKeys(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	sub := createDefault(t, s, "001010000000001", "15550001")
	impi := sub.Private.IMPI
	must(t, s.UpdateSQN(ctx, impi, func(uint64) (uint64, error) { return 4242, nil }))

	p := sub.Private
	p.K, p.OP = nil, nil // ignored: keys are UpdateKeys' business
	p.MSISDN = "15559999"
	p.AuthSchemes = hss.AuthAKAv1MD5 | hss.AuthSIPDigest
	p.DigestPassword = "secret"
	p.AllowedVisitedNetworks = []string{"visited.example.net"}
	p.Charging = &hss.ChargingInfo{PrimaryECF: "aaa://ecf"}
	must(t, s.UpdatePrivateIdentity(ctx, p))
	got, err := s.GetIMPI(ctx, impi)
	must(t, err)
	want := p
	want.K, want.OP, want.SQN = sub.Private.K, sub.Private.OP, 4242
	if !reflect.DeepEqual(zeroPrivate(*got), want) {
		t.Fatalf("after UpdatePrivateIdentity =\n%+v\nwant\n%+v", zeroPrivate(*got), want)
	}
	if !got.UpdatedAt.After(got.CreatedAt) && !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("UpdatedAt %v before CreatedAt %v", got.UpdatedAt, got.CreatedAt)
	}
	p.IMPI = "nobody@x"
	wantErr(t, s.UpdatePrivateIdentity(ctx, p), hss.ErrNotFound)
	bad := want
	bad.IMSI = "abc"
	wantErr(t, s.UpdatePrivateIdentity(ctx, bad), hss.ErrInvalid)

	// New SIM: K and OPc replace K and OP; SQN kept unless reset.
	newK := []byte("0123456789abcdef")
	newOPc := []byte("fedcba9876543210")
	must(t, s.UpdateKeys(ctx, impi, hss.KeyUpdate{K: newK, OPc: newOPc, AMF: [2]byte{0x00, 0x01}}))
	got, err = s.GetIMPI(ctx, impi)
	must(t, err)
	if string(got.K) != string(newK) || string(got.OPc) != string(newOPc) || got.OP != nil || got.AMF != [2]byte{0, 1} || got.SQN != 4242 {
		t.Fatalf("after UpdateKeys: K %x OP %x OPc %x AMF %x SQN %d", got.K, got.OP, got.OPc, got.AMF, got.SQN)
	}
	zero := uint64(0)
	must(t, s.UpdateKeys(ctx, impi, hss.KeyUpdate{K: newK, OPc: newOPc, SQN: &zero}))
	got, err = s.GetIMPI(ctx, impi)
	must(t, err)
	if got.SQN != 0 {
		t.Fatalf("SQN after reset = %d, want 0", got.SQN)
	}
	wantErr(t, s.UpdateKeys(ctx, "nobody@x", hss.KeyUpdate{K: newK, OPc: newOPc}), hss.ErrNotFound)
	wantErr(t, s.UpdateKeys(ctx, impi, hss.KeyUpdate{K: newK, OP: newOPc, OPc: newOPc}), hss.ErrInvalid)
	tooBig := hss.MaxSQN + 1
	wantErr(t, s.UpdateKeys(ctx, impi, hss.KeyUpdate{K: newK, OPc: newOPc, SQN: &tooBig}), hss.ErrInvalid)
}

func testPublicIdentityCRUD(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	sub := createDefault(t, s, "001010000000001", "15550001")
	impi := sub.Private.IMPI
	extra := hss.PublicIdentity{IMPU: "sip:alice@" + hss.DefaultDomain, DisplayName: "Alice",
		ImplicitSetID: "alice-set", ServiceProfileID: DefaultProfileID}
	must(t, s.AddIMPU(ctx, impi, extra))
	wantErr(t, s.AddIMPU(ctx, impi, extra), hss.ErrAlreadyExists)
	wantErr(t, s.AddIMPU(ctx, "nobody@x", hss.PublicIdentity{IMPU: "sip:b@x", ServiceProfileID: DefaultProfileID}), hss.ErrNotFound)
	wantErr(t, s.AddIMPU(ctx, impi, hss.PublicIdentity{IMPU: "sip:c@x", ServiceProfileID: "nope"}), hss.ErrConflict)
	wantErr(t, s.AddIMPU(ctx, impi, hss.PublicIdentity{IMPU: "mailto:c@x", ServiceProfileID: DefaultProfileID}), hss.ErrInvalid)
	got, err := s.GetIMPU(ctx, extra.IMPU)
	must(t, err)
	if zeroPublic([]hss.PublicIdentity{*got})[0] != extra {
		t.Fatalf("GetIMPU = %+v, want %+v", *got, extra)
	}
	ok, err := s.IsAssociated(ctx, impi, extra.IMPU)
	must(t, err)
	if !ok {
		t.Fatal("added identity not associated")
	}

	// Update keeps registration data; an empty implicit set keeps the current one.
	must(t, s.UpdateRegistration(ctx, impi, extra.IMPU, func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{Registration: hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf"}, IMPIRegistered: true}, nil
	}))
	upd := extra
	upd.Barred = true
	upd.DisplayName = ""
	upd.ImplicitSetID = ""
	must(t, s.UpdateIMPU(ctx, upd))
	got, err = s.GetIMPU(ctx, extra.IMPU)
	must(t, err)
	if !got.Barred || got.DisplayName != "" || got.ImplicitSetID != "alice-set" || got.Registration.State != hss.Registered {
		t.Fatalf("after UpdateIMPU = %+v", *got)
	}
	wantErr(t, s.UpdateIMPU(ctx, hss.PublicIdentity{IMPU: "sip:none@x", ServiceProfileID: DefaultProfileID}), hss.ErrNotFound)
	upd.ServiceProfileID = "nope"
	wantErr(t, s.UpdateIMPU(ctx, upd), hss.ErrConflict)

	// Link and unlink.
	other := createDefault(t, s, "001010000000002", "15550002")
	must(t, s.LinkIMPU(ctx, other.Private.IMPI, extra.IMPU))
	must(t, s.LinkIMPU(ctx, other.Private.IMPI, extra.IMPU)) // again: no error
	impis, err := s.IMPIsOfIMPU(ctx, extra.IMPU)
	must(t, err)
	if want := []string{impi, other.Private.IMPI}; !reflect.DeepEqual(impis, want) {
		t.Fatalf("IMPIsOfIMPU = %v, want %v", impis, want)
	}
	wantErr(t, s.LinkIMPU(ctx, "nobody@x", extra.IMPU), hss.ErrNotFound)
	wantErr(t, s.LinkIMPU(ctx, impi, "sip:none@x"), hss.ErrNotFound)
	must(t, s.UnlinkIMPU(ctx, other.Private.IMPI, extra.IMPU))
	wantErr(t, s.UnlinkIMPU(ctx, other.Private.IMPI, extra.IMPU), hss.ErrNotFound)
	ok, err = s.IsAssociated(ctx, other.Private.IMPI, extra.IMPU)
	must(t, err)
	if ok {
		t.Fatal("unlinked identity still associated")
	}

	must(t, s.DeleteIMPU(ctx, extra.IMPU))
	wantErr(t, s.DeleteIMPU(ctx, extra.IMPU), hss.ErrNotFound)
	_, err = s.GetIMPU(ctx, extra.IMPU)
	wantErr(t, err, hss.ErrNotFound)
	list, err := s.IMPUsOfIMPI(ctx, impi)
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("IMPUsOfIMPI after delete = %v, want the 3 originals", impus(list))
	}
}

// ---- lookups -----------------------------------------------------------------------------------------

func testWildcardLookup(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	must(t, s.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "psi"}))
	d := hss.DefaultDomain
	psi := hss.Subscriber{
		Private: hss.PrivateIdentity{IMPI: "chat-service@" + d},
		Public: []hss.PublicIdentity{
			{IMPU: "sip:chat!.*!@" + d, Type: hss.IdentityWildcardedPSI, ServiceProfileID: "psi"},
			{IMPU: "sip:chat-vip!.*!@" + d, Type: hss.IdentityWildcardedPSI, ServiceProfileID: "psi", ImplicitSetID: "vip"},
			{IMPU: "sip:chat-exact@" + d, Type: hss.IdentityDistinctPSI, ServiceProfileID: "psi", ImplicitSetID: "exact"},
			{IMPU: "tel:+4940!1[0-9]{3}!", Type: hss.IdentityWildcardedIMPU, ServiceProfileID: "psi", ImplicitSetID: "range"},
		},
	}
	must(t, s.CreateSubscriber(ctx, psi))

	tests := []struct {
		name     string
		identity string
		want     string // stored identity, "" for not found
	}{
		{name: "wildcard match", identity: "sip:chat-room1@" + d, want: "sip:chat!.*!@" + d},
		{name: "longer pattern wins", identity: "sip:chat-vip7@" + d, want: "sip:chat-vip!.*!@" + d},
		{name: "exact wins over pattern", identity: "sip:chat-exact@" + d, want: "sip:chat-exact@" + d},
		{name: "pattern itself is exact", identity: "sip:chat!.*!@" + d, want: "sip:chat!.*!@" + d},
		{name: "tel range", identity: "tel:+49401234", want: "tel:+4940!1[0-9]{3}!"},
		{name: "tel out of range", identity: "tel:+49402234", want: ""},
		{name: "other domain", identity: "sip:chat-room1@example.com", want: ""},
		{name: "prefix only", identity: "sip:cha@" + d, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GetIMPU(ctx, tc.identity)
			if tc.want == "" {
				wantErr(t, err, hss.ErrNotFound)
				return
			}
			must(t, err)
			if got.IMPU != tc.want {
				t.Fatalf("GetIMPU(%q) = %q, want %q", tc.identity, got.IMPU, tc.want)
			}
			ok, err := s.IsAssociated(ctx, psi.Private.IMPI, tc.identity)
			must(t, err)
			if !ok {
				t.Fatalf("IsAssociated(%q) = false through the wildcard", tc.identity)
			}
			impis, err := s.IMPIsOfIMPU(ctx, tc.identity)
			must(t, err)
			if !reflect.DeepEqual(impis, []string{psi.Private.IMPI}) {
				t.Fatalf("IMPIsOfIMPU(%q) = %v", tc.identity, impis)
			}
		})
	}
}

func testSharedIMPU(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	shared := hss.PublicIdentity{IMPU: "sip:family@" + hss.DefaultDomain, ImplicitSetID: "family", ServiceProfileID: DefaultProfileID}
	must(t, s.AddIMPU(ctx, a.Private.IMPI, shared))
	b := Subscriber("001010000000002", "15550002")
	b.SharedIMPUs = []string{shared.IMPU}
	must(t, s.CreateSubscriber(ctx, b))

	for _, impi := range []string{a.Private.IMPI, b.Private.IMPI} {
		ok, err := s.IsAssociated(ctx, impi, shared.IMPU)
		must(t, err)
		if !ok {
			t.Fatalf("%s not associated with the shared identity", impi)
		}
	}
	impis, err := s.IMPIsOfIMPU(ctx, shared.IMPU)
	must(t, err)
	if want := []string{a.Private.IMPI, b.Private.IMPI}; !reflect.DeepEqual(impis, want) {
		t.Fatalf("IMPIsOfIMPU = %v, want %v", impis, want)
	}
	bl, err := s.IMPUsOfIMPI(ctx, b.Private.IMPI)
	must(t, err)
	if len(bl) != 4 {
		t.Fatalf("IMPUsOfIMPI(b) = %v, want its 3 and the shared one", impus(bl))
	}
	gotB, err := s.GetSubscriber(ctx, b.Private.IMPI)
	must(t, err)
	if len(gotB.Public) != 4 {
		t.Fatalf("GetSubscriber(b).Public = %v, want 4 identities", impus(gotB.Public))
	}

	// Deleting a keeps the shared identity for b, and removes a's own.
	must(t, s.DeleteSubscriber(ctx, a.Private.IMPI))
	impis, err = s.IMPIsOfIMPU(ctx, shared.IMPU)
	must(t, err)
	if want := []string{b.Private.IMPI}; !reflect.DeepEqual(impis, want) {
		t.Fatalf("IMPIsOfIMPU after deleting a = %v, want %v", impis, want)
	}
	_, err = s.GetIMPU(ctx, a.Public[1].IMPU)
	wantErr(t, err, hss.ErrNotFound)
	must(t, s.DeleteSubscriber(ctx, b.Private.IMPI))
	_, err = s.GetIMPU(ctx, shared.IMPU)
	wantErr(t, err, hss.ErrNotFound)
}

func testAssociation(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	b := createDefault(t, s, "001010000000002", "15550002")
	tests := []struct {
		name       string
		impi, impu string
		want       bool
		wantErr    error
	}{
		{name: "own identity", impi: a.Private.IMPI, impu: "tel:15550001", want: true},
		{name: "barred own identity", impi: a.Private.IMPI, impu: a.Public[0].IMPU, want: true},
		{name: "other's identity", impi: a.Private.IMPI, impu: "tel:15550002", want: false},
		{name: "unknown impi", impi: "nobody@x", impu: "tel:15550001", wantErr: hss.ErrNotFound},
		{name: "unknown impu", impi: b.Private.IMPI, impu: "tel:0", wantErr: hss.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.IsAssociated(ctx, tc.impi, tc.impu)
			if tc.wantErr != nil {
				wantErr(t, err, tc.wantErr)
				return
			}
			must(t, err)
			if got != tc.want {
				t.Fatalf("IsAssociated = %v, want %v", got, tc.want)
			}
		})
	}
}

func testImplicitSet(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	must(t, s.AddIMPU(ctx, a.Private.IMPI, hss.PublicIdentity{IMPU: "sip:work@" + hss.DefaultDomain,
		ImplicitSetID: "work", ServiceProfileID: DefaultProfileID}))
	set, err := s.ImplicitSet(ctx, "tel:15550001")
	must(t, err)
	if got, want := impus(set), impus(sortedPublic(a.Public)); !reflect.DeepEqual(got, want) {
		t.Fatalf("ImplicitSet = %v, want %v", got, want)
	}
	set, err = s.ImplicitSet(ctx, "sip:work@"+hss.DefaultDomain)
	must(t, err)
	if len(set) != 1 {
		t.Fatalf("ImplicitSet(work) = %v, want only itself", impus(set))
	}
	_, err = s.ImplicitSet(ctx, "tel:0")
	wantErr(t, err, hss.ErrNotFound)

	all, err := s.IMPUsOfIMPI(ctx, a.Private.IMPI)
	must(t, err)
	if len(all) != 4 || !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].IMPU < all[j].IMPU }) {
		t.Fatalf("IMPUsOfIMPI = %v, want 4 sorted", impus(all))
	}
	_, err = s.IMPUsOfIMPI(ctx, "nobody@x")
	wantErr(t, err, hss.ErrNotFound)
	// A private identity without public ones is not an error.
	must(t, s.CreateSubscriber(ctx, hss.Subscriber{Private: hss.PrivateIdentity{IMPI: "lonely@x"}}))
	none, err := s.IMPUsOfIMPI(ctx, "lonely@x")
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("IMPUsOfIMPI(lonely) = %v", impus(none))
	}
}

func testUserProfile(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	must(t, s.CreateSharedIFCSet(ctx, hss.SharedIFCSet{ID: 2, IFCs: Profile("x").IFCs[:1]}))
	must(t, s.CreateSharedIFCSet(ctx, hss.SharedIFCSet{ID: 1, IFCs: Profile("x").IFCs[1:]}))
	gold := Profile("gold")
	gold.SharedIFCSetIDs = []int32{1, 2}
	silver := Profile("silver")
	silver.SharedIFCSetIDs = []int32{2}
	must(t, s.CreateServiceProfile(ctx, gold))
	must(t, s.CreateServiceProfile(ctx, silver))
	sub := Subscriber("001010000000001", "15550001")
	sub.Public[0].ServiceProfileID = "silver"
	sub.Public[1].ServiceProfileID = "gold"
	sub.Public[2].ServiceProfileID = "gold"
	must(t, s.CreateSubscriber(ctx, sub))

	up, err := s.UserProfile(ctx, "tel:15550001")
	must(t, err)
	if got, want := impus(up.IMPUs), impus(sortedPublic(sub.Public)); !reflect.DeepEqual(got, want) {
		t.Fatalf("UserProfile.IMPUs = %v, want %v", got, want)
	}
	if len(up.ServiceProfiles) != 2 || !reflect.DeepEqual(zeroProfile(up.ServiceProfiles[0]), gold) ||
		!reflect.DeepEqual(zeroProfile(up.ServiceProfiles[1]), silver) {
		t.Fatalf("UserProfile.ServiceProfiles = %+v, want gold and silver", up.ServiceProfiles)
	}
	if len(up.SharedIFCSets) != 2 || up.SharedIFCSets[0].ID != 1 || up.SharedIFCSets[1].ID != 2 ||
		!reflect.DeepEqual(up.SharedIFCSets[1].IFCs, Profile("x").IFCs[:1]) {
		t.Fatalf("UserProfile.SharedIFCSets = %+v, want sets 1 and 2", up.SharedIFCSets)
	}
	_, err = s.UserProfile(ctx, "tel:0")
	wantErr(t, err, hss.ErrNotFound)
}

// ---- registration ------------------------------------------------------------------------------------

func register(impiRegistered bool, reg hss.Registration) func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
	return func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{Registration: reg, IMPIRegistered: impiRegistered}, nil
	}
}

func testRegistration(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	b := createDefault(t, s, "001010000000002", "15550002")
	impi := a.Private.IMPI
	work := hss.PublicIdentity{IMPU: "sip:work@" + hss.DefaultDomain, ImplicitSetID: "work", ServiceProfileID: DefaultProfileID}
	must(t, s.AddIMPU(ctx, impi, work))

	reg := hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf1.ims.example:6060", SCSCFOriginHost: "scscf1.ims.example"}
	var seen hss.ImplicitSetState
	must(t, s.UpdateRegistration(ctx, impi, "tel:15550001", func(cur hss.ImplicitSetState) (hss.RegistrationChange, error) {
		seen = cur
		return hss.RegistrationChange{Registration: reg, IMPIRegistered: true}, nil
	}))
	want := hss.ImplicitSetState{SetID: impi, IMPUs: impus(sortedPublic(a.Public))}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("first state seen = %+v, want %+v", seen, want)
	}
	// Every identity of the set changed; the other set and the other subscriber did not.
	for _, p := range a.Public {
		got, err := s.GetIMPU(ctx, p.IMPU)
		must(t, err)
		if got.Registration != reg {
			t.Errorf("%s registration = %+v, want %+v", p.IMPU, got.Registration, reg)
		}
	}
	for _, u := range []string{work.IMPU, "tel:15550002"} {
		got, err := s.GetIMPU(ctx, u)
		must(t, err)
		if got.Registration != (hss.Registration{}) {
			t.Errorf("%s registration = %+v, want untouched", u, got.Registration)
		}
	}
	must(t, s.UpdateRegistration(ctx, impi, a.Public[0].IMPU, func(cur hss.ImplicitSetState) (hss.RegistrationChange, error) {
		seen = cur
		return hss.RegistrationChange{Registration: cur.Registration, IMPIRegistered: cur.IMPIRegistered}, nil
	}))
	want = hss.ImplicitSetState{SetID: impi, IMPUs: want.IMPUs, Registration: reg, RegisteredIMPIs: []string{impi}, IMPIRegistered: true}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("second state seen = %+v, want %+v", seen, want)
	}

	// RTR view.
	regd, err := s.RegisteredIMPUs(ctx, impi, "")
	must(t, err)
	if got := impus(regd); !reflect.DeepEqual(got, want.IMPUs) {
		t.Fatalf("RegisteredIMPUs = %v, want %v", got, want.IMPUs)
	}
	regd, err = s.RegisteredIMPUs(ctx, impi, reg.SCSCFName)
	must(t, err)
	if len(regd) != 3 || regd[0].Registration.SCSCFOriginHost != reg.SCSCFOriginHost {
		t.Fatalf("RegisteredIMPUs(scscf1) = %+v", regd)
	}
	regd, err = s.RegisteredIMPUs(ctx, impi, "sip:other")
	must(t, err)
	if len(regd) != 0 {
		t.Fatalf("RegisteredIMPUs(other s-cscf) = %v, want none", impus(regd))
	}
	_, err = s.RegisteredIMPUs(ctx, "nobody@x", "")
	wantErr(t, err, hss.ErrNotFound)

	// fn failing leaves everything as it was.
	boom := errors.New("boom")
	err = s.UpdateRegistration(ctx, impi, "tel:15550001", func(hss.ImplicitSetState) (hss.RegistrationChange, error) {
		return hss.RegistrationChange{}, boom
	})
	wantErr(t, err, boom)
	got, err := s.GetIMPU(ctx, "tel:15550001")
	must(t, err)
	if got.Registration != reg {
		t.Fatalf("after failed fn: %+v, want %+v", got.Registration, reg)
	}

	wantErr(t, s.UpdateRegistration(ctx, b.Private.IMPI, "tel:15550001", register(true, reg)), hss.ErrNotAssociated)
	wantErr(t, s.UpdateRegistration(ctx, "nobody@x", "tel:15550001", register(true, reg)), hss.ErrNotFound)
	wantErr(t, s.UpdateRegistration(ctx, impi, "tel:0", register(true, reg)), hss.ErrNotFound)
	wantErr(t, s.UpdateRegistration(ctx, impi, "tel:15550001", register(true, hss.Registration{State: 9})), hss.ErrInvalid)

	// Unregistered (S-CSCF kept for unregistered services): no IMPI holds a registration any more.
	unreg := hss.Registration{State: hss.Unregistered, SCSCFName: reg.SCSCFName, SCSCFOriginHost: reg.SCSCFOriginHost}
	must(t, s.UpdateRegistration(ctx, impi, "tel:15550001", register(true, unreg)))
	regd, err = s.RegisteredIMPUs(ctx, impi, "")
	must(t, err)
	if len(regd) != 0 {
		t.Fatalf("RegisteredIMPUs after UNREGISTERED = %v, want none", impus(regd))
	}
	got, err = s.GetIMPU(ctx, a.Public[0].IMPU)
	must(t, err)
	if got.Registration != unreg {
		t.Fatalf("after UNREGISTERED: %+v", got.Registration)
	}
	// Without an IMPI only the registration data changes.
	must(t, s.UpdateRegistration(ctx, "", "tel:15550001", register(true, hss.Registration{})))
	got, err = s.GetIMPU(ctx, a.Public[2].IMPU)
	must(t, err)
	if got.Registration != (hss.Registration{}) {
		t.Fatalf("after NOT_REGISTERED: %+v", got.Registration)
	}
}

// A public identity shared by two private identities stays registered while one of them holds it.
func testRegistrationSharedSet(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	b := createDefault(t, s, "001010000000002", "15550002")
	shared := hss.PublicIdentity{IMPU: "sip:family@" + hss.DefaultDomain, ImplicitSetID: "family", ServiceProfileID: DefaultProfileID}
	must(t, s.AddIMPU(ctx, a.Private.IMPI, shared))
	must(t, s.LinkIMPU(ctx, b.Private.IMPI, shared.IMPU))
	reg := hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf1"}

	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, register(true, reg)))
	var seen hss.ImplicitSetState
	must(t, s.UpdateRegistration(ctx, b.Private.IMPI, shared.IMPU, func(cur hss.ImplicitSetState) (hss.RegistrationChange, error) {
		seen = cur
		return hss.RegistrationChange{Registration: reg, IMPIRegistered: true}, nil
	}))
	if !reflect.DeepEqual(seen.RegisteredIMPIs, []string{a.Private.IMPI}) || seen.IMPIRegistered {
		t.Fatalf("b saw %+v, want a registered and b not", seen)
	}
	// a de-registers (TS 29.228 §6.1.2.1: the identity stays registered for b).
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, shared.IMPU, func(cur hss.ImplicitSetState) (hss.RegistrationChange, error) {
		seen = cur
		return hss.RegistrationChange{Registration: cur.Registration, IMPIRegistered: false}, nil
	}))
	if want := []string{a.Private.IMPI, b.Private.IMPI}; !reflect.DeepEqual(seen.RegisteredIMPIs, want) || !seen.IMPIRegistered {
		t.Fatalf("a saw %+v, want both registered", seen)
	}
	ra, err := s.RegisteredIMPUs(ctx, a.Private.IMPI, "")
	must(t, err)
	rb, err := s.RegisteredIMPUs(ctx, b.Private.IMPI, "")
	must(t, err)
	if len(ra) != 0 || !reflect.DeepEqual(impus(rb), []string{shared.IMPU}) {
		t.Fatalf("RegisteredIMPUs a = %v, b = %v; want none and the shared identity", impus(ra), impus(rb))
	}
}

// Concurrent read-modify-write of one implicit set never loses an update.
func testRegistrationConcurrent(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				// Alternate the identity used to address the set: all must lock the same rows.
				u := a.Public[w%len(a.Public)].IMPU
				err := s.UpdateRegistration(ctx, a.Private.IMPI, u, func(cur hss.ImplicitSetState) (hss.RegistrationChange, error) {
					n, _ := strconv.Atoi(cur.Registration.SCSCFOriginHost)
					r := cur.Registration
					r.State = hss.Registered
					r.SCSCFOriginHost = strconv.Itoa(n + 1)
					return hss.RegistrationChange{Registration: r, IMPIRegistered: true}, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, p := range a.Public {
		got, err := s.GetIMPU(ctx, p.IMPU)
		must(t, err)
		if got.Registration.SCSCFOriginHost != strconv.Itoa(workers*each) {
			t.Fatalf("%s counter = %s, want %d (an update was lost)", p.IMPU, got.Registration.SCSCFOriginHost, workers*each)
		}
	}
}

func testPendingSCSCF(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	must(t, hss.SetPendingSCSCF(ctx, s, "tel:15550001", "sip:scscf2"))
	for _, p := range a.Public {
		got, err := s.GetIMPU(ctx, p.IMPU)
		must(t, err)
		if got.Registration != (hss.Registration{PendingSCSCF: "sip:scscf2"}) {
			t.Fatalf("%s = %+v, want pending sip:scscf2 only", p.IMPU, got.Registration)
		}
	}
	// SAR completes: assigned, pending cleared in the same change.
	must(t, s.UpdateRegistration(ctx, a.Private.IMPI, "tel:15550001", func(cur hss.ImplicitSetState) (hss.RegistrationChange, error) {
		if cur.Registration.PendingSCSCF != "sip:scscf2" {
			return hss.RegistrationChange{}, fmt.Errorf("pending = %q", cur.Registration.PendingSCSCF)
		}
		return hss.RegistrationChange{Registration: hss.Registration{State: hss.Registered, SCSCFName: cur.Registration.PendingSCSCF}, IMPIRegistered: true}, nil
	}))
	must(t, hss.SetPendingSCSCF(ctx, s, a.Public[0].IMPU, "sip:scscf3"))
	must(t, hss.ClearPendingSCSCF(ctx, s, a.Public[1].IMPU))
	got, err := s.GetIMPU(ctx, a.Public[2].IMPU)
	must(t, err)
	if got.Registration != (hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf2"}) {
		t.Fatalf("after clear = %+v", got.Registration)
	}
	wantErr(t, hss.SetPendingSCSCF(ctx, s, "tel:0", "sip:x"), hss.ErrNotFound)
}

// ---- SQN ---------------------------------------------------------------------------------------------

func testUpdateSQN(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	impi := a.Private.IMPI
	sqn := func() uint64 {
		t.Helper()
		p, err := s.GetIMPI(ctx, impi)
		must(t, err)
		return p.SQN
	}
	var got uint64 = 99
	must(t, s.UpdateSQN(ctx, impi, func(cur uint64) (uint64, error) { got = cur; return cur + 32, nil }))
	if got != 0 || sqn() != 32 {
		t.Fatalf("fn saw %d, SQN now %d; want 0 then 32", got, sqn())
	}

	boom := errors.New("mac failure")
	wantErr(t, s.UpdateSQN(ctx, impi, func(uint64) (uint64, error) { return 1000, boom }), boom)
	if sqn() != 32 {
		t.Fatalf("SQN after failed fn = %d, want 32", sqn())
	}
	wantErr(t, s.UpdateSQN(ctx, impi, func(uint64) (uint64, error) { return hss.MaxSQN + 1, nil }), hss.ErrInvalid)
	if sqn() != 32 {
		t.Fatalf("SQN after overflow = %d, want 32", sqn())
	}
	// Highest value and going back (re-synchronisation) are allowed.
	must(t, s.UpdateSQN(ctx, impi, func(uint64) (uint64, error) { return hss.MaxSQN, nil }))
	if sqn() != hss.MaxSQN {
		t.Fatalf("SQN = %d, want MaxSQN", sqn())
	}
	must(t, s.UpdateSQN(ctx, impi, func(uint64) (uint64, error) { return 5, nil }))
	if sqn() != 5 {
		t.Fatalf("SQN = %d, want 5", sqn())
	}
	called := false
	wantErr(t, s.UpdateSQN(ctx, "nobody@x", func(uint64) (uint64, error) { called = true; return 0, nil }), hss.ErrNotFound)
	if called {
		t.Fatal("fn called for an unknown IMPI")
	}
}

func testUpdateSQNConcurrent(t *testing.T, s hss.Store) {
	RaceUpdateSQN(t, s)
}

// RaceUpdateSQN runs 8 goroutines × 50 UpdateSQN increments on one private identity, spread over the
// given stores (several handles on one database simulate several HSS processes), and checks that every
// caller saw a distinct SQN and none was lost. The first store must be empty apart from what it creates.
func RaceUpdateSQN(t *testing.T, stores ...hss.Store) {
	t.Helper()
	ctx := ctxOf(t)
	a := createDefault(t, stores[0], "001010000000999", "15550999")
	const workers, each = 8, 50
	var (
		mu   sync.Mutex
		seen = map[uint64]int{}
		wg   sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := s.UpdateSQN(ctx, a.Private.IMPI, func(cur uint64) (uint64, error) {
					mu.Lock()
					seen[cur]++
					mu.Unlock()
					return cur + 1, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for v, n := range seen {
		if n != 1 {
			t.Errorf("SQN %d handed out %d times", v, n)
		}
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct SQNs, want %d", len(seen), workers*each)
	}
	p, err := stores[len(stores)-1].GetIMPI(ctx, a.Private.IMPI)
	must(t, err)
	if p.SQN != workers*each {
		t.Errorf("final SQN = %d, want %d", p.SQN, workers*each)
	}
}

// ---- bulk and paging ---------------------------------------------------------------------------------

// Subscribers returns n conventional subscribers with IMSIs 00101<10 digits from first> and MSISDNs
// 1555<8 digits>, referencing DefaultProfileID.
func Subscribers(first, n int) []hss.Subscriber {
	out := make([]hss.Subscriber, n)
	for i := range out {
		out[i] = Subscriber(fmt.Sprintf("00101%010d", first+i), fmt.Sprintf("1555%08d", first+i))
	}
	return out
}

func testBulkCreate(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	n := 10000
	if testing.Short() {
		n = 1000
	}
	subs := Subscribers(0, n)
	// The profile comes with the subscribers (several times): it is created once.
	subs[0].ServiceProfiles = []hss.ServiceProfile{Profile(DefaultProfileID)}
	subs[n-1].ServiceProfiles = []hss.ServiceProfile{Profile(DefaultProfileID)}
	must(t, s.BulkCreate(ctx, subs))

	rng := rand.New(rand.NewPCG(1, 2))
	for range 25 {
		i := rng.IntN(n)
		want := subs[i]
		got, err := s.GetIMPI(ctx, want.Private.IMPI)
		must(t, err)
		if !reflect.DeepEqual(zeroPrivate(*got), want.Private) {
			t.Fatalf("subscriber %d: GetIMPI = %+v, want %+v", i, zeroPrivate(*got), want.Private)
		}
		u, err := s.GetIMPU(ctx, want.Public[2].IMPU)
		must(t, err)
		if u.ImplicitSetID != want.Private.IMPI || u.Barred {
			t.Fatalf("subscriber %d: GetIMPU = %+v", i, u)
		}
		set, err := s.ImplicitSet(ctx, want.Public[0].IMPU)
		must(t, err)
		if len(set) != 3 {
			t.Fatalf("subscriber %d: implicit set %v", i, impus(set))
		}
		ok, err := s.IsAssociated(ctx, want.Private.IMPI, want.Public[1].IMPU)
		must(t, err)
		if !ok {
			t.Fatalf("subscriber %d: not associated", i)
		}
	}
	// Counting through paging sees exactly n.
	count, after := 0, ""
	for {
		page, err := s.ListSubscribers(ctx, hss.SubscriberQuery{After: after, Limit: hss.MaxPageSize})
		must(t, err)
		count += len(page.Subscribers)
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if count != n {
		t.Fatalf("listed %d subscribers, want %d", count, n)
	}
	must(t, s.BulkCreate(ctx, nil))
}

func testBulkCreateIsAtomic(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	must(t, s.CreateServiceProfile(ctx, Profile(DefaultProfileID)))
	must(t, s.BulkCreate(ctx, Subscribers(0, 10)))
	tests := []struct {
		name string
		subs func() []hss.Subscriber
		want error
	}{
		{name: "existing impi", want: hss.ErrAlreadyExists, subs: func() []hss.Subscriber { return Subscribers(5, 10) }},
		{name: "duplicate inside batch", want: hss.ErrAlreadyExists, subs: func() []hss.Subscriber {
			b := Subscribers(100, 10)
			return append(b, b[3])
		}},
		{name: "missing profile", want: hss.ErrConflict, subs: func() []hss.Subscriber {
			b := Subscribers(100, 10)
			b[9].Public[0].ServiceProfileID = "nope"
			return b
		}},
		{name: "invalid", want: hss.ErrInvalid, subs: func() []hss.Subscriber {
			b := Subscribers(100, 10)
			b[4].Private.OPc = b[4].Private.OP
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			subs := tc.subs()
			wantErr(t, s.BulkCreate(ctx, subs), tc.want)
			for _, sub := range subs {
				if sub.Private.IMSI < "001010000000010" {
					continue // created by the first batch
				}
				_, err := s.GetIMPI(ctx, sub.Private.IMPI)
				wantErr(t, err, hss.ErrNotFound)
			}
		})
	}
}

func testListSubscribers(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	must(t, s.CreateServiceProfile(ctx, Profile(DefaultProfileID)))
	subs := Subscribers(100, 25) // IMSI 001010000000100..124, MSISDN 155500000100..124
	must(t, s.BulkCreate(ctx, subs))

	var all []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := s.ListSubscribers(ctx, hss.SubscriberQuery{After: after, Limit: 10})
		must(t, err)
		if pages < 2 && len(page.Subscribers) != 10 || pages == 2 && len(page.Subscribers) != 5 {
			t.Fatalf("page %d has %d subscribers", pages, len(page.Subscribers))
		}
		for _, sub := range page.Subscribers {
			all = append(all, sub.Private.IMPI)
			if len(sub.Public) != 3 {
				t.Fatalf("%s listed with %d identities, want 3", sub.Private.IMPI, len(sub.Public))
			}
			if len(sub.Private.K) != 16 {
				t.Fatalf("%s listed without its private data", sub.Private.IMPI)
			}
		}
		if page.Next == "" {
			if pages != 2 {
				t.Fatalf("%d pages, want 3", pages+1)
			}
			break
		}
		after = page.Next
	}
	var want []string
	for _, sub := range subs {
		want = append(want, sub.Private.IMPI)
	}
	sort.Strings(want)
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("paged IMPIs = %v, want %v", all, want)
	}

	tests := []struct {
		name string
		q    hss.SubscriberQuery
		want []int // subscriber numbers 100..124
	}{
		{name: "imsi prefix", q: hss.SubscriberQuery{IMSIPrefix: "00101000000011"}, want: rangeOf(110, 119)},
		{name: "msisdn prefix", q: hss.SubscriberQuery{MSISDNPrefix: "15550000012"}, want: rangeOf(120, 124)},
		{name: "impu prefix", q: hss.SubscriberQuery{IMPUPrefix: "tel:15550000010"}, want: rangeOf(100, 109)},
		{name: "barred impu prefix", q: hss.SubscriberQuery{IMPUPrefix: "sip:001010000000123@"}, want: []int{123}},
		{name: "combined", q: hss.SubscriberQuery{IMSIPrefix: "0010100000001", MSISDNPrefix: "1555000001"}, want: rangeOf(100, 124)},
		{name: "combined disjoint", q: hss.SubscriberQuery{IMSIPrefix: "00101000000011", MSISDNPrefix: "155500000120"}},
		{name: "cursor", q: hss.SubscriberQuery{After: IMPI("001010000000121")}, want: rangeOf(122, 124)},
		{name: "no match", q: hss.SubscriberQuery{IMSIPrefix: "999"}},
		{name: "prefix with special characters", q: hss.SubscriberQuery{IMPUPrefix: "sip:%_"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListSubscribers(ctx, tc.q)
			must(t, err)
			var got []int
			for _, sub := range page.Subscribers {
				n, err := strconv.Atoi(sub.Private.IMSI[5:])
				must(t, err)
				got = append(got, n)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ListSubscribers(%+v) = %v, want %v", tc.q, got, tc.want)
			}
			if page.Next != "" {
				t.Fatalf("Next = %q on the only page", page.Next)
			}
		})
	}
}

func rangeOf(lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// ---- S-CSCFs and charging ----------------------------------------------------------------------------

func testSCSCFs(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	list, err := s.SCSCFs(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("SCSCFs on an empty store = %+v", list)
	}
	must(t, s.PutSCSCF(ctx, hss.SCSCF{Name: "sip:scscf2.ims.example:6060", Capabilities: hss.Capabilities{Mandatory: []uint32{1}}}))
	must(t, s.PutSCSCF(ctx, hss.SCSCF{Name: "sip:scscf1.ims.example:6060", Capabilities: hss.Capabilities{Mandatory: []uint32{1, 2}, Optional: []uint32{3}}}))
	must(t, s.PutSCSCF(ctx, hss.SCSCF{Name: "sip:scscf2.ims.example:6060", Capabilities: hss.Capabilities{Optional: []uint32{7}}}))
	wantErr(t, s.PutSCSCF(ctx, hss.SCSCF{}), hss.ErrInvalid)
	list, err = s.SCSCFs(ctx)
	must(t, err)
	for i := range list {
		if list[i].UpdatedAt.IsZero() {
			t.Errorf("%s: no UpdatedAt", list[i].Name)
		}
		list[i].UpdatedAt = time.Time{}
	}
	want := []hss.SCSCF{
		{Name: "sip:scscf1.ims.example:6060", Capabilities: hss.Capabilities{Mandatory: []uint32{1, 2}, Optional: []uint32{3}}},
		{Name: "sip:scscf2.ims.example:6060", Capabilities: hss.Capabilities{Optional: []uint32{7}}},
	}
	if !reflect.DeepEqual(list, want) {
		t.Fatalf("SCSCFs = %+v, want %+v", list, want)
	}
	must(t, s.DeleteSCSCF(ctx, "sip:scscf1.ims.example:6060"))
	wantErr(t, s.DeleteSCSCF(ctx, "sip:scscf1.ims.example:6060"), hss.ErrNotFound)
	list, err = s.SCSCFs(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("after delete: %+v", list)
	}
}

func testChargingInfo(t *testing.T, s hss.Store) {
	ctx := ctxOf(t)
	a := createDefault(t, s, "001010000000001", "15550001")
	b := Subscriber("001010000000002", "15550002")
	own := hss.ChargingInfo{PrimaryCCF: "aaa://ccf.b.example", SecondaryCCF: "aaa://ccf2.b.example"}
	b.Private.Charging = &own
	must(t, s.CreateSubscriber(ctx, b))

	got, err := s.ChargingInfo(ctx, a.Private.IMPI)
	must(t, err)
	if got != (hss.ChargingInfo{}) {
		t.Fatalf("without default = %+v, want zero", got)
	}
	def := hss.ChargingInfo{PrimaryCCF: "aaa://ccf.example", PrimaryECF: "aaa://ecf.example"}
	must(t, s.SetDefaultChargingInfo(ctx, def))
	def.SecondaryECF = "aaa://ecf2.example"
	must(t, s.SetDefaultChargingInfo(ctx, def)) // replaces
	got, err = s.ChargingInfo(ctx, a.Private.IMPI)
	must(t, err)
	if got != def {
		t.Fatalf("default = %+v, want %+v", got, def)
	}
	got, err = s.ChargingInfo(ctx, b.Private.IMPI)
	must(t, err)
	if got != own {
		t.Fatalf("own = %+v, want %+v", got, own)
	}
	_, err = s.ChargingInfo(ctx, "nobody@x")
	wantErr(t, err, hss.ErrNotFound)
}
