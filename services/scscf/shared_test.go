package scscf

import (
	"path/filepath"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// Two S-CSCFs on one database: a user registered at one is reachable through the other.
func TestSharedRegistrar(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000101", "15550000101")
	subB := hss.addSubscriber(t, "001010000000102", "15550000102")
	path := filepath.Join(t.TempDir(), "shared.db")
	db1, db2 := openSQLite(t, path), openSQLite(t, path)
	t.Cleanup(func() { db1.Close(); db2.Close() })
	shared := func(c *Config) { c.StoreShared = true }
	s1 := startSCSCF(t, hss, db1, shared)
	s2 := startSCSCF(t, hss, db2, shared, func(c *Config) { c.Diameter.OriginHost = "scscf2.test." + testDomain })
	alice, bob := newUE(t, s1, subA), newUE(t, s2, subB)
	alice.registerFully(600)
	bob.registerFully(600)
	// Alice's MESSAGE enters S-CSCF 2 (as if her Service-Route named it): it finds Bob and routes to him.
	alice.scscf = s2.SIPAddr()
	alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", "<sip:"+s2.SIPAddr().String()+";lr;orig>", "sh-"+randHex(4), 1, "", "shared")
	got := bob.request(sip.MESSAGE)
	bob.answer(got, 200, "")
	if res := alice.response(); res.StatusCode != 200 {
		t.Fatalf("MESSAGE through the other S-CSCF: %d", res.StatusCode)
	}
	if registered(t, s2, alice.impu) == nil {
		t.Fatal("S-CSCF 2 does not see Alice's registration")
	}
}
