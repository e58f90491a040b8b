package hss_test

import (
	"context"
	"testing"
	"time"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/storage"
)

// cacheTTL is the store's cache of shared provisioned data (storage/internal/hsssql/cache.go).
type cacheTTL interface{ SetCacheTTL(time.Duration) }

// TestStoreCacheBound checks the read cache's promise (docs/hss.md, "Read cache") with two processes'
// stores on one database: a provisioning change is seen at once through the store that made it, and through
// another store once its cached copy is older than the cache's lifetime — never later — while a copy younger
// than that may still be served.
func TestStoreCacheBound(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			var a, b storage.DB
			switch be.name {
			case "sqlite":
				dsn := "sqlite://" + t.TempDir() + "/hss.db"
				a, b = openDSN(t, dsn), openDSN(t, dsn)
			default:
				dsn := cluster.DSN(t)
				a, b = openDSN(t, dsn), openDSN(t, dsn)
			}
			for _, s := range []storage.DB{a, b} {
				s.(cacheTTL).SetCacheTTL(time.Hour)
			}
			must(t, a.CreateServiceProfile(ctx, hsstest.Profile(hsstest.DefaultProfileID)))
			sub := hsstest.Subscriber("001010000000001", "15550001")
			must(t, a.CreateSubscriber(ctx, sub))
			_, _, sip, _ := ids(sub)
			ifcs := func(s storage.DB) int {
				t.Helper()
				up, err := s.UserProfile(ctx, sip)
				must(t, err)
				return len(up.ServiceProfiles[0].IFCs)
			}
			full := len(hsstest.Profile(hsstest.DefaultProfileID).IFCs)
			if got := ifcs(a); got != full {
				t.Fatalf("a: %d iFCs, want %d", got, full)
			}
			if got := ifcs(b); got != full {
				t.Fatalf("b: %d iFCs, want %d", got, full)
			}

			p := hsstest.Profile(hsstest.DefaultProfileID)
			p.IFCs = p.IFCs[:1]
			must(t, a.UpdateServiceProfile(ctx, p))
			if got := ifcs(a); got != 1 {
				t.Errorf("a, after its own change: %d iFCs, want 1 (the change must empty its cache)", got)
			}
			if got := ifcs(b); got != full {
				t.Errorf("b, within the cache lifetime: %d iFCs, want the cached %d (is the profile cached at all?)", got, full)
			}
			b.(cacheTTL).SetCacheTTL(time.Nanosecond) // b's copy is now older than the lifetime
			if got := ifcs(b); got != 1 {
				t.Errorf("b, past the cache lifetime: %d iFCs, want 1", got)
			}

			// The other cached data: the S-CSCF list and the default charging addresses.
			b.(cacheTTL).SetCacheTTL(time.Hour)
			must(t, a.PutSCSCF(ctx, hss.SCSCF{Name: "sip:one.example"}))
			list, err := b.SCSCFs(ctx)
			must(t, err)
			must(t, a.PutSCSCF(ctx, hss.SCSCF{Name: "sip:two.example"}))
			def := hss.ChargingInfo{PrimaryCCF: "aaa://ccf.example"}
			must(t, a.SetDefaultChargingInfo(ctx, def))
			if got, err := a.SCSCFs(ctx); err != nil || len(got) != len(list)+1 {
				t.Errorf("a.SCSCFs after its own change: %d, %v; want %d", len(got), err, len(list)+1)
			}
			if got, err := a.DefaultChargingInfo(ctx); err != nil || got != def {
				t.Errorf("a.DefaultChargingInfo after its own change: %+v, %v", got, err)
			}
			b.(cacheTTL).SetCacheTTL(time.Nanosecond)
			if got, err := b.SCSCFs(ctx); err != nil || len(got) != len(list)+1 {
				t.Errorf("b.SCSCFs past the cache lifetime: %d, %v; want %d", len(got), err, len(list)+1)
			}
			if got, err := b.ChargingInfo(ctx, sub.Private.IMPI); err != nil || got != def {
				t.Errorf("b.ChargingInfo past the cache lifetime: %+v, %v", got, err)
			}
		})
	}
}
