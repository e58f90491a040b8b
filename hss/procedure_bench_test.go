package hss_test

import (
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
)

// BenchmarkProcedure measures each Cx procedure alone, one request at a time over TCP to an HSS in the same
// process (client and server work both count in ns/op and allocs/op), for a registered subscriber: UAR of a
// re-registration, MAR (one vector; one store write per cx.sqn.block MARs), SAR RE_REGISTRATION with
// User-Data, and LIR. It also reports the store statements per operation (hss.StoreStats).
func BenchmarkProcedure(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			e := newEnv(b, db, nil)
			scscf := e.connect(scscfHost)
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			st := db.(hss.StatsStore)
			procs := []struct {
				name string
				run  func(b *testing.B)
			}{
				{"UAR", func(b *testing.B) {
					if code, _ := e.icscf.uar(impi, sip, nil).Result(); code != 2002 {
						b.Fatalf("UAA %d", code)
					}
				}},
				{"MAR", func(b *testing.B) {
					if code, _ := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil).Result(); code != 2001 {
						b.Fatalf("MAA %d", code)
					}
				}},
				{"SAR-RE_REGISTRATION", func(b *testing.B) {
					if code, _ := scscf.sar(impi, []string{sip}, cx.SATReRegistration, nil).Result(); code != 2001 {
						b.Fatalf("SAA %d", code)
					}
				}},
				{"LIR", func(b *testing.B) {
					if code, _ := e.icscf.lir(sip, nil).Result(); code != 2001 {
						b.Fatalf("LIA %d", code)
					}
				}},
			}
			for _, p := range procs {
				b.Run(p.name, func(b *testing.B) {
					b.ReportAllocs()
					before := st.StoreStats()
					for i := 0; i < b.N; i++ {
						p.run(b)
					}
					d := st.StoreStats().Sub(before)
					b.ReportMetric(float64(d.Statements)/float64(b.N), "stmts/op")
					b.ReportMetric(float64(d.Transactions)/float64(b.N), "tx/op")
				})
			}
		})
	}
}
