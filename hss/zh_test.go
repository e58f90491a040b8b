package hss_test

import (
	"context"
	"encoding/xml"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/storage"
)

const bsfHost = "bsf." + realm

// zhClient is a BSF: a diameter/peer node speaking Zh to the HSS.
type zhClient struct {
	t    testing.TB
	node *peer.Node
	sess atomic.Int64
}

// zhEnv starts an HSS that accepts the BSF and connects one.
func zhEnv(t *testing.T, db storage.DB) (*env, *zhClient) {
	e := newEnv(t, db, func(c *hss.Config) {
		c.Diameter.Peers = append(c.Diameter.Peers, peer.AllowedPeer{Host: bsfHost, Realm: realm,
			Sources: []string{"127.0.0.1"}, Roles: []string{hss.RoleBSF}})
	})
	d, err := gaa.NewDictionary()
	must(t, err)
	node, err := peer.New(peer.Config{OriginHost: bsfHost, OriginRealm: realm, VendorID: gaa.Vendor3GPP,
		ProductName: "imscore-test-bsf", Applications: []peer.Application{{ID: gaa.AppZh, VendorID: gaa.Vendor3GPP}},
		Dictionary: d, RequestTimeout: 5 * time.Second, Log: zap.NewNop()},
		peer.HandlerFunc(func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
			return nil, errors.New("no")
		}))
	must(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = node.Close(ctx)
	})
	must(t, node.Connect(context.Background(), peer.PeerConfig{Address: e.addr, Host: hssHost, Realm: realm}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := node.WaitPeer(ctx, hssHost); err != nil {
		t.Fatalf("BSF: HSS not reachable: %v", err)
	}
	return e, &zhClient{t: t, node: node}
}

// mar sends a Zh MAR for impi, with RAND ‖ AUTS when resync is set, and decodes the MAA.
func (c *zhClient) mar(impi string, resync []byte) *gaa.MAA {
	c.t.Helper()
	r := &gaa.MAR{SessionID: bsfHost + ";1;" + strconv.FormatInt(c.sess.Add(1), 10), OriginHost: bsfHost,
		OriginRealm: realm, DestinationRealm: realm, UserName: impi}
	if resync != nil {
		r.AuthDataItem = &gaa.AuthDataItem{Scheme: hss.SchemeAKAv1, Authorization: resync}
	}
	b, err := r.AppendBinary(nil)
	must(c.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.node.RequestBinary(ctx, b)
	must(c.t, err)
	a := new(gaa.MAA)
	must(c.t, a.UnmarshalBinary(out))
	return a
}

// A BSF gets one AKA vector and the GUSS over Zh; the user's IMS registration is untouched (no pending
// S-CSCF), SQN_HE moves as for a Cx MAR, and the USIM accepts the vector.
func TestZhMAR(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e, bsf := zhEnv(t, db)
		sub := e.subscriber(nil)
		impi, barred, sipURI, tel := ids(sub)
		before := e.registration(sipURI)
		a := bsf.mar(impi, nil)
		if !a.Result.Success() || a.AuthDataItem == nil {
			t.Fatalf("MAA result %+v, item %v", a.Result, a.AuthDataItem)
		}
		if a.UserName != impi || a.OriginHost != hssHost {
			t.Errorf("MAA User-Name %q Origin-Host %q", a.UserName, a.OriginHost)
		}
		it := a.AuthDataItem
		var rand, autn [16]byte
		copy(rand[:], it.Authenticate[:16])
		copy(autn[:], it.Authenticate[16:])
		res, err := newUSIM(t).Authenticate(rand, autn)
		must(t, err)
		if string(res.RES) != string(it.Authorization) || string(res.CK[:]) != string(it.CK) || string(res.IK[:]) != string(it.IK) {
			t.Error("XRES, CK or IK differ from the USIM's")
		}
		if after := e.registration(sipURI); after != before {
			t.Errorf("registration changed by Zh: %+v → %+v", before, after)
		}
		if e.sqn(impi) < uint64(res.SQN) {
			t.Errorf("SQN_HE %d behind the issued %d", e.sqn(impi), res.SQN)
		}
		var guss struct {
			UIDs []string `xml:"ussList>uss>uids>uid"`
		}
		must(t, xml.Unmarshal(a.GUSS, &guss))
		if !slices.Contains(guss.UIDs, sipURI) || !slices.Contains(guss.UIDs, tel) || slices.Contains(guss.UIDs, barred) {
			t.Errorf("GUSS uids %v: want %s and %s, not the barred %s", guss.UIDs, sipURI, tel, barred)
		}
	})
}

// A USIM that is ahead answers with AUTS; the Zh MAR with RAND ‖ AUTS moves SQN_HE and the next vector is
// accepted (TS 33.220 §4.5.2, TS 33.102 §6.3.5). A forged AUTS is refused and changes nothing.
func TestZhResync(t *testing.T) {
	db := openSQLite(t)
	e, bsf := zhEnv(t, db)
	sub := e.subscriber(nil)
	impi := sub.Private.IMPI
	usim := newUSIM(t)
	must(t, usim.SetSQNms(aka.SQN(5000<<5)))
	a := bsf.mar(impi, nil)
	var rand, autn [16]byte
	copy(rand[:], a.AuthDataItem.Authenticate[:16])
	copy(autn[:], a.AuthDataItem.Authenticate[16:])
	_, err := usim.Authenticate(rand, autn)
	var sf *aka.SyncFailure
	if !errors.As(err, &sf) {
		t.Fatalf("USIM: %v, want a synchronisation failure", err)
	}
	forged := append(append([]byte(nil), rand[:]...), make([]byte, 14)...)
	if got := bsf.mar(impi, forged); got.Result.Code != 4001 {
		t.Errorf("forged AUTS: result %+v, want 4001", got.Result)
	}
	a = bsf.mar(impi, append(append([]byte(nil), rand[:]...), sf.AUTS...))
	if !a.Result.Success() {
		t.Fatalf("resync MAA: %+v", a.Result)
	}
	copy(rand[:], a.AuthDataItem.Authenticate[:16])
	copy(autn[:], a.AuthDataItem.Authenticate[16:])
	if _, err := usim.Authenticate(rand, autn); err != nil {
		t.Fatalf("USIM rejects the vector after resync: %v", err)
	}
}

// An unknown IMPI is DIAMETER_ERROR_USER_UNKNOWN; an IMPI without AKA is DIAMETER_ERROR_AUTH_SCHEME_NOT_SUPPORTED.
func TestZhRefused(t *testing.T) {
	db := openSQLite(t)
	e, bsf := zhEnv(t, db)
	if a := bsf.mar("nobody@"+realm, nil); a.Result != (gaa.Result{Code: gaa.ErrorUserUnknown, Vendor: gaa.Vendor3GPP}) {
		t.Errorf("unknown IMPI: %+v", a.Result)
	}
	sub := e.subscriber(func(s *hss.Subscriber) {
		s.Private.AuthSchemes = hss.AuthSIPDigest
		s.Private.DigestPassword = "secret"
	})
	if a := bsf.mar(sub.Private.IMPI, nil); a.Result != (gaa.Result{Code: gaa.ErrorAuthSchemeNotSupported, Vendor: gaa.Vendor3GPP}) {
		t.Errorf("no AKA: %+v", a.Result)
	}
}

// A registered user bootstraps: the Zh MAR leaves its registration and serving S-CSCF as they are and the
// S-CSCF gets no RTR — what a Cx MAR from the BSF would do (TestMARFromAnotherSCSCF).
func TestZhKeepsRegistration(t *testing.T) {
	db := openSQLite(t)
	e, bsf := zhEnv(t, db)
	scscf := e.connect(scscfHost)
	sub := e.subscriber(nil)
	impi, _, sipURI, _ := ids(sub)
	e.register(scscf, sub)
	before := e.registration(sipURI)
	if before.State != hss.Registered || before.SCSCFOriginHost != scscfHost {
		t.Fatalf("after registration: %+v", before)
	}
	if a := bsf.mar(impi, nil); !a.Result.Success() {
		t.Fatalf("Zh MAR: %+v", a.Result)
	}
	if after := e.registration(sipURI); after != before {
		t.Errorf("registration changed by Zh: %+v → %+v", before, after)
	}
	scscf.noRTR(300 * time.Millisecond)
}
