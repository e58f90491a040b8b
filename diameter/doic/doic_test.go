package doic

import (
	"testing"
	"time"

	"github.com/imscore/imscore/diameter/cx"
)

func u32(v uint32) *uint32 { return &v }

func TestReactor(t *testing.T) {
	const host, realm = "hss.example", "example"
	type step struct {
		name     string
		olr      *cx.OCOLR // observed from host in realm, then …
		advance  time.Duration
		draw     uint32 // the random draw in [0, 100)
		destHost string
		admitted bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "no report", steps: []step{{draw: 0, destHost: host, admitted: true}}},
		{name: "host report throttles its share", steps: []step{
			{name: "under", olr: &cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCHostReport, ReductionPercentage: u32(50)}, draw: 49, destHost: host, admitted: false},
			{name: "over", draw: 50, destHost: host, admitted: true},
			{name: "other host", draw: 0, destHost: "other.example", admitted: true},
			{name: "realm-routed", draw: 0, admitted: true},
		}},
		{name: "report expires after its validity", steps: []step{
			{olr: &cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCHostReport, ReductionPercentage: u32(100), ValidityDuration: u32(5)}, draw: 99, destHost: host, admitted: false},
			{advance: 4 * time.Second, draw: 99, destHost: host, admitted: false},
			{advance: 2 * time.Second, draw: 0, destHost: host, admitted: true},
		}},
		{name: "default validity 30 s", steps: []step{
			{olr: &cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCHostReport, ReductionPercentage: u32(100)}, advance: 29 * time.Second, draw: 0, destHost: host, admitted: false},
			{advance: 2 * time.Second, draw: 0, destHost: host, admitted: true},
		}},
		{name: "older sequence ignored, zero reduction ends it", steps: []step{
			{olr: &cx.OCOLR{SequenceNumber: 5, ReportType: cx.OCHostReport, ReductionPercentage: u32(100)}, draw: 0, destHost: host, admitted: false},
			{olr: &cx.OCOLR{SequenceNumber: 4, ReportType: cx.OCHostReport, ReductionPercentage: u32(0)}, draw: 0, destHost: host, admitted: false},
			{olr: &cx.OCOLR{SequenceNumber: 6, ReportType: cx.OCHostReport, ReductionPercentage: u32(0)}, draw: 0, destHost: host, admitted: true},
		}},
		{name: "realm report applies to realm-routed requests only", steps: []step{
			{olr: &cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCRealmReport, ReductionPercentage: u32(100)}, draw: 0, admitted: false},
			{draw: 0, destHost: host, admitted: true},
		}},
		{name: "peer report ignored", steps: []step{
			{olr: &cx.OCOLR{SequenceNumber: 1, ReportType: cx.OCPeerReport, ReductionPercentage: u32(100)}, draw: 0, destHost: host, admitted: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(nil)
			now := time.Unix(1_000_000, 0)
			r.now = func() time.Time { return now }
			for i, s := range tt.steps {
				if s.olr != nil {
					r.Observe("TEST", host, realm, s.olr)
				}
				now = now.Add(s.advance)
				r.draw = func() uint32 { return s.draw }
				if got, _ := r.Admit(s.destHost, realm); got != s.admitted {
					t.Fatalf("step %d %s: admitted %v, want %v", i, s.name, got, s.admitted)
				}
			}
		})
	}
}

func TestSupportedAdvertisesLoss(t *testing.T) {
	if f := Supported(); f.FeatureVector == nil || *f.FeatureVector&1 == 0 {
		t.Fatalf("OC-Feature-Vector without OLR_DEFAULT_ALGO: %+v", f)
	}
}
