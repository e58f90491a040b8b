package icscf

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/storage"
)

// realHSS runs the project's HSS (hss.NewServer) on 127.0.0.1:0 over a temporary SQLite store that knows the
// given S-CSCFs and one subscriber, and returns its Cx address.
func realHSS(t *testing.T, sub hss.Subscriber, scscfs ...string) string {
	t.Helper()
	ctx := context.Background()
	db, err := storage.OpenAndMigrate(ctx, "sqlite://"+filepath.Join(t.TempDir(), "hss.db"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, name := range scscfs {
		if err := db.PutSCSCF(ctx, hss.SCSCF{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	media := int32(1)
	if err := db.CreateServiceProfile(ctx, hss.ServiceProfile{ID: "plain", SubscribedMediaProfileID: &media}); err != nil {
		t.Fatal(err)
	}
	for i := range sub.Public {
		sub.Public[i].ServiceProfileID = "plain"
	}
	if err := db.CreateSubscriber(ctx, sub); err != nil {
		t.Fatal(err)
	}
	cfg := hss.DefaultConfig()
	cfg.Diameter.RequestTimeout = 2 * time.Second
	srv, err := hss.NewServer(hss.ServerOptions{Config: cfg, Store: db, Log: testLogger(t).Named("hss")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(cctx)
		<-served
	})
	return ln.Addr().String()
}

// The I-CSCF against the real HSS: UAR and LIR answers as the HSS gives them, mapped per TS 24.229 §5.3.
func TestWithRealHSS(t *testing.T) {
	s := startFakeSCSCF(t, "scscf", false)
	s.respond = func(req *sip.Request) *sip.Response {
		res := sip.NewResponseFromRequest(req, 401, "Unauthorized", nil)
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", `Digest realm="`+testDomain+`", nonce="x", algorithm=AKAv1-MD5`))
		return res
	}
	sub := hsstest.Subscriber("001010000000091", "15550000091")
	addr := realHSS(t, sub, s.name)
	n := startICSCF(t, &fakeHSS{addr: addr}, []SCSCF{s.config()})
	to := sipAddr(n, "UDP")
	impi := sub.Private.IMPI
	auth := `Authorization: Digest username="` + impi + `", realm="` + testDomain + `", nonce="", uri="sip:` + testDomain + `", response=""`
	tests := []struct {
		name, method, ruri, to string
		extra                  []string
		want                   int
		reachesSCSCF           bool
	}{
		{name: "first registration routed by capabilities", method: "REGISTER", ruri: "sip:" + testDomain,
			to: "sip:15550000091@" + testDomain, extra: []string{auth}, want: 401, reachesSCSCF: true},
		{name: "unknown user: 403", method: "REGISTER", ruri: "sip:" + testDomain,
			to: "sip:19999999999@" + testDomain, want: 403},
		{name: "identities that do not match: 403", method: "REGISTER", ruri: "sip:" + testDomain,
			to:    "sip:15550000091@" + testDomain,
			extra: []string{`Authorization: Digest username="other@` + testDomain + `", realm="r", nonce="", uri="sip:r", response=""`},
			want:  403},
		{name: "MESSAGE to an unknown user: 404", method: "MESSAGE", ruri: "sip:19999999999@" + testDomain,
			to: "sip:19999999999@" + testDomain, want: 404},
		{name: "MESSAGE to a user not registered: 480", method: "MESSAGE", ruri: "sip:15550000091@" + testDomain,
			to: "sip:15550000091@" + testDomain, want: 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUE(t)
			res := u.send(to, u.request(tt.method, tt.ruri, tt.to, tt.extra...))
			if res.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
			if tt.reachesSCSCF {
				got := s.next(t)
				if got.Method != sip.RequestMethod(tt.method) {
					t.Fatalf("S-CSCF got %s", got.Method)
				}
			} else if s.received() {
				t.Fatal("request reached the S-CSCF")
			}
		})
	}
}
