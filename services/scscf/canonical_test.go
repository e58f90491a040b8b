package scscf

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/identity/identitytest"
)

// TestCanonicalVectors: the S-CSCF keys registrations and matches identities with the keys of package
// identity, the same vectors the I-CSCF's and P-CSCF's tests run (tel:+1-555-0100 is tel:+15550100 at
// every node). A URI that names no identity keeps its text, which equals no key.
func TestCanonicalVectors(t *testing.T) {
	for _, v := range identitytest.Vectors() {
		t.Run(v.Name, func(t *testing.T) {
			got := canonicalString(v.URI)
			if v.Key != "" && got != v.Key {
				t.Fatalf("canonicalString(%q) = %q, want %q", v.URI, got, v.Key)
			}
			if v.Key == "" && got != v.URI {
				t.Fatalf("canonicalString(%q) = %q, want the text itself", v.URI, got)
			}
			var u sip.Uri
			if v.Key != "" && sip.ParseUri(v.URI, &u) == nil {
				if got := canonicalURI(&u); got != v.Key {
					t.Fatalf("canonicalURI(%q) = %q, want %q", v.URI, got, v.Key)
				}
			}
		})
	}
}
