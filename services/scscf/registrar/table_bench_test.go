package registrar_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/services/scscf/registrar"
)

const benchDomain = "ims.mnc001.mcc001.3gppnetwork.org"

// benchRegistration is what the S-CSCF keeps for one UE registered with one device, as the REGISTER path
// builds it: the implicit set of three identities (IMSI-based barred, MSISDN sip: and tel:), one contact with
// +sip.instance and Path, the User-Data of the SAA (parsed once) and the HSS session.
func benchRegistration(b *testing.B, i int, now time.Time) *registrar.Registration {
	imsi, msisdn := fmt.Sprintf("0010100%08d", i), fmt.Sprintf("1555%07d", i)
	impus := []string{"sip:" + imsi + "@" + benchDomain, "sip:+" + msisdn + "@" + benchDomain, "tel:+" + msisdn}
	sub := &userdata.IMSSubscription{PrivateID: imsi + "@" + benchDomain, ServiceProfiles: []userdata.ServiceProfile{{
		PublicIdentities: []userdata.PublicIdentity{
			{Identity: impus[0], BarringIndication: userdata.NewBool(true)}, {Identity: impus[1]}, {Identity: impus[2]},
		},
	}}}
	data, err := userdata.Marshal(sub)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := userdata.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	return &registrar.Registration{
		IMPU: impus[1], IMPI: sub.PrivateID,
		Identities: []registrar.Identity{{URI: impus[1]}, {URI: impus[0], Barred: true}, {URI: impus[2]}},
		Contacts: []registrar.Contact{{
			URI:    fmt.Sprintf("sip:%s@10.%d.%d.%d:5060", imsi, i>>16&255, i>>8&255, i&255),
			Params: `+sip.instance="<urn:gsma:imei:35209900-176148-0>";reg-id=1`,
			Path:   []string{"<sip:term@10.0.0.1:5060;lr>"}, Expires: now.Add(time.Hour), CallID: fmt.Sprintf("%016x@ue", i),
			CSeq: 2, ID: "1",
		}},
		Profile: data, Parsed: parsed,
		HSS:     registrar.HSSSession{Host: "hss." + benchDomain, Realm: benchDomain, ServerName: "sip:scscf." + benchDomain + ":6060"},
		Expires: now.Add(time.Hour),
	}
}

// discardStore is a store that keeps nothing: the benchmarks measure the table alone.
type discardStore struct{ registrar.Registrar }

func (discardStore) SaveRegistration(context.Context, *registrar.Registration) error { return nil }

// fillTable registers n UEs in a table and flushes it (the steady state: nothing pending).
func fillTable(b *testing.B, n int) (*registrar.Table, []*registrar.Registration) {
	t := registrar.NewTable(registrar.TableConfig{Store: discardStore{registrar.NewMemory()}})
	now := time.Now()
	regs := make([]*registrar.Registration, n)
	for i := range n {
		regs[i] = benchRegistration(b, i, now)
		if err := t.SaveRegistration(context.Background(), regs[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := t.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return t, regs
}

// BenchmarkTableHeapPerUE reports the heap the S-CSCF's table holds per registered UE (one contact, three
// identities, the User-Data and its parsed form). Issue 12's target: ≤ 2 KiB.
func BenchmarkTableHeapPerUE(b *testing.B) {
	const n = 10000
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t, regs := fillTable(b, n)
		regs = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/UE")
		runtime.KeepAlive(t)
		_ = regs
	}
}

// BenchmarkTableRegister is the table's part of one re-registration (the S-CSCF reads the registration,
// applies the refresh against its version) with 10⁴ and 10⁵ UEs registered: no O(N) work, the times match.
func BenchmarkTableRegister(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		t, regs := fillTable(b, n) // once: the rounds of b.Run share it
		runtime.GC()               // the garbage of the fill is not the refreshes' cost
		b.Run(fmt.Sprintf("registered=%d", n), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r, err := t.Registration(ctx, regs[i%n].IMPU)
				if err != nil {
					b.Fatal(err)
				}
				r.Contacts[0].CSeq++
				r.Contacts[0].Expires = r.Contacts[0].Expires.Add(time.Second)
				r.Expires = r.Contacts[0].Expires
				if err := t.SaveRegistrationIf(ctx, r, r.Version); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
