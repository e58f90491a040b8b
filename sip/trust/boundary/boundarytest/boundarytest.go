// Package boundarytest holds the checks the nodes' tests of their trust domain boundary share
// (sip/trust/boundary): which header fields a message crossed the boundary with, and the counters.
package boundarytest

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/internal/adminhttp/adminhttptest"
	"github.com/imscore/imscore/sip/header"
)

// The tests' trust domain is Inside alone; a peer bound to Outside, another loopback address (Linux
// answers the whole of 127.0.0.0/8 without setup), is outside it.
const (
	Inside  = "127.0.0.1"
	Outside = "127.0.0.2"
)

// Networks is the trusted_networks value of a node under test: Inside alone.
func Networks() []string { return []string{Inside + "/32"} }

// Side is a peer on one side of the boundary.
type Side struct {
	Name    string // "outside", "inside": a subtest name
	Addr    string // the address to bind
	Trusted bool
}

// Sides are a peer outside the trust domain, then one inside: run a case from each.
func Sides() []Side { return []Side{{"outside", Outside, false}, {"inside", Inside, true}} }

// CheckHeaders reports every header field of names whose presence in msg is not want. where names the
// message in the error ("at the S-CSCF", "in the response").
func CheckHeaders(t testing.TB, where string, msg sip.Message, want bool, names ...string) {
	t.Helper()
	for _, h := range names {
		if header.Has(msg, h) != want {
			t.Errorf("%s %s: present %v, want %v\n%s", h, where, !want, want, msg)
		}
	}
}

// CheckStripped checks that node's boundary removed the trust-domain header fields from at least one
// message each way: node_trust_domain_stripped_total{direction="in"} and {direction="out"}.
func CheckStripped(t testing.TB, fams map[string]*dto.MetricFamily, node string) {
	t.Helper()
	name := node + "_trust_domain_stripped_total"
	for _, dir := range []string{"in", "out"} {
		if v, ok := adminhttptest.Sample(fams, name, "direction", dir); !ok || v < 1 {
			t.Errorf("%s{direction=%q} = %v, want at least 1", name, dir, v)
		}
	}
}
