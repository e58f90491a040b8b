package pcscf

import (
	"testing"
	"time"

	"github.com/imscore/imscore/services/pcscf/bindings"
)

// A binding removed while the journal writes it (first or later version), and perhaps added again before the
// next write, must be journalled against the version that write left in the store. Before, a new binding
// removed during its first write left its row behind (restored, SAs and all, by the next start), and one added
// again after it was written as new, found the row taken and was dropped as "taken over by another P-CSCF".
func TestJournalSettleRacesWithChanges(t *testing.T) {
	const impu = "sip:alice@ims.example"
	k := keyOf(impu, "sip:ue@192.0.2.1:5060")
	register := func(r *registry) {
		r.update(k, impu, func(reg *Registration) bool {
			reg.Expires = time.Now().Add(time.Hour)
			return true
		})
	}
	deregister := func(r *registry) { r.update(k, impu, func(*Registration) bool { return false }) }
	for _, tc := range []struct {
		name        string
		stored      int64 // row version before the write (0: a new binding)
		during      []func(*registry)
		after       []func(*registry)
		wantVersion int64 // version the next change names
		wantRemove  bool  // the next change removes the row
	}{
		{name: "new, removed during its write", during: []func(*registry){deregister}, wantVersion: 1, wantRemove: true},
		{name: "new, removed during its write, added after it", during: []func(*registry){deregister},
			after: []func(*registry){register}, wantVersion: 1},
		{name: "new, removed and added during its write", during: []func(*registry){deregister, register}, wantVersion: 1},
		{name: "stored, removed during its write", stored: 4, during: []func(*registry){deregister}, wantVersion: 5, wantRemove: true},
		{name: "stored, removed during its write, added after it", stored: 4, during: []func(*registry){deregister},
			after: []func(*registry){register}, wantVersion: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegistry()
			register(r)
			if tc.stored > 0 {
				changes := r.takeChanges()
				r.settle(changes, []bindings.Outcome{{Version: tc.stored}})
				register(r) // a refresh: the write below is an update of the stored row
			}
			changes := r.takeChanges()
			if len(changes) != 1 || changes[0].Version != tc.stored {
				t.Fatalf("changes %+v, want one at version %d", changes, tc.stored)
			}
			for _, f := range tc.during {
				f(r)
			}
			if lost := r.settle(changes, []bindings.Outcome{{Version: tc.stored + 1}}); len(lost) > 0 {
				t.Fatalf("lost %v", lost)
			}
			for _, f := range tc.after {
				f(r)
			}
			next := r.takeChanges()
			if len(next) != 1 {
				t.Fatalf("next changes %+v, want one", next)
			}
			if got := next[0]; got.Version != tc.wantVersion || (got.Binding == nil) != tc.wantRemove {
				t.Fatalf("next change: version %d, removal %v; want version %d, removal %v", got.Version, got.Binding == nil, tc.wantVersion, tc.wantRemove)
			}
		})
	}
}
