package hsstest

import (
	"reflect"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
)

// Upgrade tests. Each backend keeps, next to its tests, SQL seeds written against an old schema version
// (testdata/seed/NNNN.sql: valid right after migration NNNN). The backend's test migrates an empty
// database to NNNN, runs the seed, migrates to the newest version and calls CheckSeed: the data must have
// survived every later migration unchanged. Every seed inserts exactly the data described by Seed*, so a
// new migration is covered by the existing seeds without touching them; add a seed for the new version
// only when its schema can hold data the older seeds cannot express.

// SeedIMPI is the private identity every seed creates.
const SeedIMPI = "seed@" + hss.DefaultDomain

// SeedCreatedAt is the created_at and updated_at of every seeded row.
var SeedCreatedAt = time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)

// SeedSubscriber is the subscriber a seed creates, as GetSubscriber must return it after upgrading.
func SeedSubscriber() hss.Subscriber {
	media := int32(3)
	reg := hss.Registration{State: hss.Registered, SCSCFName: "sip:scscf.seed:6060", SCSCFOriginHost: "scscf.seed"}
	return hss.Subscriber{
		Private: hss.PrivateIdentity{
			IMPI:                   SeedIMPI,
			IMSI:                   "001019999999999",
			MSISDN:                 "15559999",
			K:                      mustHex(TestK),
			OP:                     mustHex(TestOP),
			AMF:                    [2]byte{0x80, 0x00},
			SQN:                    12345,
			AuthSchemes:            hss.AuthAKAv1MD5,
			AllowedVisitedNetworks: []string{"visited.seed"},
			RequiredCapabilities:   hss.Capabilities{Mandatory: []uint32{1}},
			Charging:               &hss.ChargingInfo{PrimaryCCF: "aaa://ccf.seed"},
			CreatedAt:              SeedCreatedAt,
			UpdatedAt:              SeedCreatedAt,
		},
		Public: []hss.PublicIdentity{
			{IMPU: "sip:001019999999999@" + hss.DefaultDomain, Barred: true, ImplicitSetID: SeedIMPI, ServiceProfileID: "seed",
				Registration: reg, CreatedAt: SeedCreatedAt, UpdatedAt: SeedCreatedAt},
			{IMPU: "tel:15559999", ImplicitSetID: SeedIMPI, ServiceProfileID: "seed",
				Registration: reg, CreatedAt: SeedCreatedAt, UpdatedAt: SeedCreatedAt},
		},
		ServiceProfiles: []hss.ServiceProfile{{
			ID:                       "seed",
			SubscribedMediaProfileID: &media,
			IFCs: []hss.InitialFilterCriteria{{
				Priority: 1,
				TriggerPoint: &hss.TriggerPoint{ConditionTypeCNF: true, SPTs: []hss.ServicePointTrigger{
					{Group: []int32{0}, Method: "INVITE"},
				}},
				ApplicationServer: hss.ApplicationServer{ServerName: "sip:as.seed", DefaultHandling: hss.SessionContinued},
			}},
			SharedIFCSetIDs: []int32{1},
			CreatedAt:       SeedCreatedAt,
			UpdatedAt:       SeedCreatedAt,
		}},
	}
}

// CheckSeed verifies, through the Store, everything a seed inserted, then checks the seeded private
// identity still takes SQN updates.
func CheckSeed(t *testing.T, s hss.Store) {
	t.Helper()
	ctx := ctxOf(t)
	want := SeedSubscriber()
	got, err := s.GetSubscriber(ctx, SeedIMPI)
	must(t, err)
	if !reflect.DeepEqual(got.Private, want.Private) {
		t.Errorf("seeded private identity =\n%+v\nwant\n%+v", got.Private, want.Private)
	}
	if !reflect.DeepEqual(got.Public, want.Public) {
		t.Errorf("seeded public identities =\n%+v\nwant\n%+v", got.Public, want.Public)
	}
	if !reflect.DeepEqual(got.ServiceProfiles, want.ServiceProfiles) {
		t.Errorf("seeded service profiles =\n%+v\nwant\n%+v", got.ServiceProfiles, want.ServiceProfiles)
	}
	set, err := s.GetSharedIFCSet(ctx, 1)
	must(t, err)
	wantSet := hss.SharedIFCSet{ID: 1, CreatedAt: SeedCreatedAt, UpdatedAt: SeedCreatedAt, IFCs: []hss.InitialFilterCriteria{{
		Priority:          5,
		ApplicationServer: hss.ApplicationServer{ServerName: "sip:as.seed", DefaultHandling: hss.SessionTerminated},
	}}}
	if !reflect.DeepEqual(*set, wantSet) {
		t.Errorf("seeded shared iFC set =\n%+v\nwant\n%+v", *set, wantSet)
	}
	regd, err := s.RegisteredIMPUs(ctx, SeedIMPI, "sip:scscf.seed:6060")
	must(t, err)
	if len(regd) != 2 {
		t.Errorf("seeded registrations: %v, want both identities", impus(regd))
	}
	cscfs, err := s.SCSCFs(ctx)
	must(t, err)
	wantCSCFs := []hss.SCSCF{{Name: "sip:scscf.seed:6060", UpdatedAt: SeedCreatedAt,
		Capabilities: hss.Capabilities{Mandatory: []uint32{1}, Optional: []uint32{2}}}}
	if !reflect.DeepEqual(cscfs, wantCSCFs) {
		t.Errorf("seeded S-CSCFs = %+v, want %+v", cscfs, wantCSCFs)
	}
	ci, err := s.ChargingInfo(ctx, SeedIMPI)
	must(t, err)
	if ci != *want.Private.Charging {
		t.Errorf("seeded own charging = %+v, want %+v", ci, *want.Private.Charging)
	}
	// Without its own, the seeded default applies.
	must(t, s.UpdatePrivateIdentity(ctx, func() hss.PrivateIdentity {
		p := want.Private
		p.Charging = nil
		return p
	}()))
	ci, err = s.ChargingInfo(ctx, SeedIMPI)
	must(t, err)
	if ci != (hss.ChargingInfo{PrimaryCCF: "aaa://default.seed"}) {
		t.Errorf("seeded default charging = %+v", ci)
	}
	must(t, s.UpdateSQN(ctx, SeedIMPI, func(cur uint64) (uint64, error) { return cur + 1, nil }))
	p, err := s.GetIMPI(ctx, SeedIMPI)
	must(t, err)
	if p.SQN != 12346 {
		t.Errorf("SQN after update = %d, want 12346", p.SQN)
	}
}
