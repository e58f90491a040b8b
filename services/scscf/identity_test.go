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

// TestProfileForWildcardedPSI: a request to an identity of a wildcarded PSI (TS 23.003 §13.5) is served
// by the profile of the pattern, given as the identity or in the WildcardedPSI extension (TS 29.228
// §6.1.2); an exact identity wins, and an identity outside the pattern has none.
func TestProfileForWildcardedPSI(t *testing.T) {
	const d = "ims.example.org"
	sub := &userdata.IMSSubscription{ServiceProfiles: []userdata.ServiceProfile{
		{PublicIdentities: []userdata.PublicIdentity{{Identity: "sip:rls-exact@" + d}}},
		{PublicIdentities: []userdata.PublicIdentity{{Identity: "sip:rls-!.*!@" + d}}},
		{PublicIdentities: []userdata.PublicIdentity{{Identity: "sip:conf-x@" + d,
			Extension: &userdata.PublicIdentityExtension{WildcardedPSI: "sip:conf-!.*!@" + d}}}},
	}}
	for impu, want := range map[string]int{"sip:rls-exact@" + d: 0, "sip:rls-bob@" + d: 1, "sip:conf-42@" + d: 2, "sip:other@" + d: -1} {
		got := ProfileFor(sub, impu)
		if want < 0 && got != nil || want >= 0 && got != &sub.ServiceProfiles[want] {
			t.Errorf("%s: profile %p, want #%d", impu, got, want)
		}
	}
}
