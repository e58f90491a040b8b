package load_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/e2e"
	"github.com/imscore/imscore/sip/ue"
	"github.com/imscore/imscore/sip/ue/load"
)

// The real core for these tests: cmd/hss, cmd/scscf, cmd/icscf and cmd/pcscf (IPsec off) as
// processes on free loopback ports, built once per test binary.
var bins *e2e.Builder

func TestMain(m *testing.M) {
	os.Exit(e2e.MainWithBuilder(m, "imscore-load-bin-", func(b *e2e.Builder) { bins = b }))
}

// TS 35.208 test set 1 K and OPc: the keys of every provisioned load UE.
const (
	testK   = "465b5ce8b199b49faa5f0a2ee238a6bc"
	testOPc = "cd63cb71954a9f4e48a5994e37a02baf"
)

type core struct {
	hss   *e2e.HSS
	pcscf netip.AddrPort
	api   *provision.Client
}

// startCore starts HSS, S-CSCF, I-CSCF and P-CSCF as imsrun orders them.
func startCore(t *testing.T) *core {
	t.Helper()
	c := e2e.StartCore(t, bins)
	api, err := provision.NewClient(c.HSS.API, &http.Client{Timeout: 30 * time.Second}, provision.WithToken(c.HSS.Token))
	if err != nil {
		t.Fatal(err)
	}
	return &core{hss: c.HSS, pcscf: netip.MustParseAddrPort(c.PCSCF.SIP), api: api}
}

// provision creates count subscribers from first with the test keys.
func (c *core) provision(t *testing.T, first string, count int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := load.Provision(ctx, c.api, load.Population{FirstIMSI: first, Count: count, Domain: e2e.Domain, K: testK, OPc: testOPc})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if res.Imported+res.Existing != count {
		t.Fatalf("provision: %+v, want %d in all", res, count)
	}
}

func keys(t *testing.T, k string) aka.Keys {
	t.Helper()
	kb, opc := mustHex(t, k), mustHex(t, testOPc)
	ks, err := aka.NewKeys(kb, nil, opc, [2]byte{0x80, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		if _, err := fmt.Sscanf(s[i:i+2], "%02x", &v); err != nil {
			t.Fatal(err)
		}
		b = append(b, v)
	}
	return b
}

// config is a small run: n UEs from first at rate for d, over UDP without sec-agree.
func (c *core) config(t *testing.T, sc load.Scenario, first string, n int, rate float64, d time.Duration) load.Config {
	return load.Config{
		UE:  ue.Config{PCSCF: c.pcscf, Transport: "udp", Keys: keys(t, testK), Timeout: 5 * time.Second},
		UEs: n, FirstIMSI: first, Domain: e2e.Domain, Scenario: sc, Rate: rate, Duration: d,
		Version: "test",
	}
}
