package interop

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/internal/e2e"
)

// portOf is the port of a host:port address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitPeers waits (bounded) until the HSS reports n open Diameter peers (diameter_peers_up): the Kamailio CSCFs
// have connected and passed the CER check.
func waitPeers(t *testing.T, hss *e2e.HSS, n int) {
	t.Helper()
	want := "diameter_peers_up " + strconv.Itoa(n)
	for range 100 {
		if strings.Contains(e2e.Metrics(t, strings.TrimPrefix(hss.API, "http://")), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the HSS does not show %d Diameter peers up after 10 s", n)
}
