package scscf

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/storage/sqlite"
)

func openSQLite(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: path}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// A restarted S-CSCF on the same database still knows its registrations and subscriptions.
func TestRestartKeepsRegistrations(t *testing.T) {
	hss := startFakeHSS(t)
	subA := hss.addSubscriber(t, "001010000000031", "15550000031")
	subB := hss.addSubscriber(t, "001010000000032", "15550000032")
	path := filepath.Join(t.TempDir(), "scscf.db")

	db1 := openSQLite(t, path)
	s1, stop1 := runSCSCF(t, hss, db1)
	alice, bob := newUE(t, s1, subA), newUE(t, s1, subB)
	alice.registerFully(600)
	bob.registerFully(600)
	if res := bob.subscribe(600); res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE %d", res.StatusCode)
	}
	if _, doc := bob.notify(); doc.Version != 0 {
		t.Fatalf("first version %d", doc.Version)
	}
	stop1()
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := openSQLite(t, path)
	t.Cleanup(func() { db2.Close() })
	s2 := startSCSCF(t, hss, db2)
	alice.scscf, bob.scscf = s2.SIPAddr(), s2.SIPAddr()

	reg := registered(t, s2, bob.impu)
	if reg == nil || len(reg.Contacts) != 1 || len(reg.Profile) == 0 || reg.HSS.Host != testHSSHost {
		t.Fatalf("registration after restart: %+v", reg)
	}
	// Routing uses the stored contact and Path.
	alice.sendRequest(sip.MESSAGE, bob.impu, "<"+bob.impu+">", "<sip:"+s2.SIPAddr().String()+";lr;orig>",
		"msg-"+randHex(4), 1, "", "after restart")
	got := bob.request(sip.MESSAGE)
	bob.answer(got, 200, "")
	if res := alice.response(); res.StatusCode != 200 {
		t.Fatalf("MESSAGE after restart: %d", res.StatusCode)
	}
	// The subscription survived too: a re-registration is notified with the next version.
	bob.integrity = digest.IntegrityYes
	res := bob.register(600, `Digest username="`+subB.impi+`",realm="`+testDomain+`",nonce="",uri="sip:`+testDomain+
		`",response="",integrity-protected="yes"`)
	if res.StatusCode != 200 || !strings.Contains(header.Values(res, "Service-Route")[0], s2.SIPAddr().String()) {
		t.Fatalf("re-REGISTER after restart: %d %q", res.StatusCode, header.Values(res, "Service-Route"))
	}
	if _, doc := bob.notify(); doc.Version != 1 {
		t.Fatalf("NOTIFY version after restart %d, want 1", doc.Version)
	}
}

// The challenge is stored with the registrations: the UE's answer to a 401 is accepted by another S-CSCF
// process on the same database (here: this one restarted between the 401 and the second REGISTER), and a
// vector is used once, even across processes.
func TestChallengeSurvivesRestart(t *testing.T) {
	hss := startFakeHSS(t)
	sub := hss.addSubscriber(t, "001010000000033", "15550000033")
	path := filepath.Join(t.TempDir(), "scscf.db")

	db1 := openSQLite(t, path)
	s1, stop1 := runSCSCF(t, hss, db1)
	ue := newUE(t, s1, sub)
	res := ue.register(600, ue.emptyAuth())
	if res.StatusCode != 401 {
		t.Fatalf("first REGISTER: %d, want 401", res.StatusCode)
	}
	stop1()
	if err := db1.Close(); err != nil {
		t.Fatal(err)
	}

	db2 := openSQLite(t, path)
	t.Cleanup(func() { db2.Close() })
	s2 := startSCSCF(t, hss, db2)
	ue.scscf = s2.SIPAddr()
	ue.integrity = digest.IntegrityYes
	answer := ue.authFor(res, false)
	if got := ue.register(600, answer); got.StatusCode != 200 {
		t.Fatalf("answer to the first process's 401, sent to the second: %d, want 200", got.StatusCode)
	}
	// Replayed without integrity protection (which would skip authentication, §5.4.1.2.1), the used vector is
	// gone: a fresh challenge.
	replay := strings.Replace(answer, `integrity-protected="yes"`, `integrity-protected="no"`, 1)
	if replay == answer {
		t.Fatalf("no integrity-protected parameter in %s", answer)
	}
	if got := ue.register(600, replay); got.StatusCode != 401 {
		t.Fatalf("the same answer again: %d, want a fresh 401 (a vector is used once)", got.StatusCode)
	}
}
