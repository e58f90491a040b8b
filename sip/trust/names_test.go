package trust_test

import (
	"slices"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/trust"
)

// TestNames: Names(keep...) is exactly what Strip(msg, keep...) removes from a message carrying every field.
func TestNames(t *testing.T) {
	names := trust.Names("p-access-network-info")
	if slices.Contains(names, header.PAccessNetworkInfo) || !slices.Contains(names, header.PAssertedIdentity) ||
		len(names) != len(trust.Headers())-1 {
		t.Fatalf("Names(P-Access-Network-Info) = %v", names)
	}
	req := sip.NewRequest(sip.MESSAGE, sip.Uri{Scheme: "sip", Host: "example.org"})
	for _, h := range trust.Headers() {
		req.AppendHeader(sip.NewHeader(h, "<sip:x@example.org>"))
	}
	if removed := trust.Strip(req, header.PAccessNetworkInfo); !slices.Equal(removed, names) {
		t.Errorf("Strip removed %v, Names says %v", removed, names)
	}
	if !header.Has(req, header.PAccessNetworkInfo) {
		t.Error("the kept field went")
	}
}
