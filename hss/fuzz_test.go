package hss_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/cx/cxtest"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsstest"
)

// FuzzServeDiameter: bytes → cx.DecodeMessage (what the peer layer hands over) → Server.ServeDiameter on a
// real SQLite store holding the subscriber the seeds name. The server must never panic, and whatever it
// answers must serialize and decode again. Seeds: a valid request of every command the HSS serves.
func FuzzServeDiameter(f *testing.F) {
	db := openSQLite(f)
	ctx := context.Background()
	must(f, db.CreateServiceProfile(ctx, hsstest.Profile(hsstest.DefaultProfileID)))
	sub := hsstest.Subscriber("001010000000001", "15550001")
	must(f, db.CreateSubscriber(ctx, sub))
	srv, err := hss.NewServer(hss.ServerOptions{Config: hss.DefaultConfig(), Store: db})
	must(f, err)
	f.Cleanup(func() { _ = srv.Close(context.Background()) })
	d, err := cx.NewDictionary()
	must(f, err)
	impi, _, sip, _ := ids(sub)
	const host = "scscf." + realm
	seeds := []cx.Message{
		&cx.UAR{SessionID: host + ";1;1", OriginHost: host, OriginRealm: realm, DestinationRealm: realm, UserName: impi,
			PublicIdentity: sip, VisitedNetworkIdentifier: []byte(realm)},
		&cx.MAR{SessionID: host + ";1;2", OriginHost: host, OriginRealm: realm, DestinationRealm: realm, UserName: impi,
			PublicIdentity: sip, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5, Authorization: make([]byte, 30)},
			SIPNumberAuthItems: 2, ServerName: scscfName},
		&cx.SAR{SessionID: host + ";1;3", OriginHost: host, OriginRealm: realm, DestinationRealm: realm, UserName: impi,
			PublicIdentity: []string{sip}, ServerName: scscfName, ServerAssignmentType: cx.SATRegistration,
			SupportedFeatures: []cx.SupportedFeatures{{VendorID: cx.Vendor3GPP, FeatureListID: 1, FeatureList: 1}}},
		&cx.SAR{SessionID: host + ";1;4", OriginHost: host, OriginRealm: realm, DestinationRealm: realm, UserName: impi,
			ServerName: scscfName, ServerAssignmentType: cx.SATUserDeregistrationStoreServerName},
		&cx.LIR{SessionID: host + ";1;5", OriginHost: host, OriginRealm: realm, DestinationRealm: realm, PublicIdentity: sip},
	}
	for _, m := range seeds {
		msg, err := m.Marshal(d)
		must(f, err)
		b, err := msg.Serialize()
		must(f, err)
		f.Add(b)
	}
	from := peer.PeerInfo{OriginHost: host, OriginRealm: realm, State: peer.StateOpen}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := cx.DecodeMessage(b, d)
		if err != nil || req.Header.CommandFlags&diam.RequestFlag == 0 {
			return // the peer layer answers these itself
		}
		cxtest.Serve(t, ctx, srv, req, from, d, b)
		// The wire-form path (peer.BinaryHandler) holds to the same: a *diameter.Error or an answer that
		// decodes.
		if !srv.ServesBinary(req.Header.ApplicationID, req.Header.CommandCode) {
			return
		}
		wire, err := srv.ServeDiameterBinary(ctx, b, from)
		if err != nil {
			var de *diameter.Error
			if !errors.As(err, &de) {
				t.Fatalf("ServeDiameterBinary returned a bare error for the peer layer to map: %v", err)
			}
			return
		}
		if _, err := cx.DecodeMessage(wire, d); err != nil {
			t.Fatalf("binary answer does not decode: %v\n%x", err, wire)
		}
	})
}
