package scscf

import (
	"testing"

	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/sip/identity/identitytest"
)

// TestProfileForVectors: the S-CSCF finds the service profile of a registered identity in the HSS's User-Data
// whatever spelling the User-Data uses, by the key of package identity — the vectors the I-CSCF's and the
// P-CSCF's tests run too.
func TestProfileForVectors(t *testing.T) {
	for _, v := range identitytest.Vectors() {
		if v.Key == "" {
			continue
		}
		sub := &userdata.IMSSubscription{ServiceProfiles: []userdata.ServiceProfile{
			{PublicIdentities: []userdata.PublicIdentity{{Identity: "sip:other@elsewhere.example"}}},
			{PublicIdentities: []userdata.PublicIdentity{{Identity: v.URI}}},
		}}
		if p := ProfileFor(sub, v.Key); p != &sub.ServiceProfiles[1] {
			t.Errorf("%s: the profile holding %q is not found by %q", v.Name, v.URI, v.Key)
		}
	}
}
