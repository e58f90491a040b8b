package hss_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

// TestDeregister covers the network-initiated de-registration (TS 29.228 §6.1.3): the RTR reaches the
// S-CSCF over the connection it opened, addressed by the Origin-Host of its SAR, and the registration is
// cleared after the RTA — or kept when the S-CSCF refuses or is gone.
func TestDeregister(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		scscf := e.connect(scscfHost)

		t.Run("every identity of the private identity", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, barred, sip, tel := ids(sub)
			e.register(scscf, sub)
			must(t, e.srv.Deregister(ctx, impi, nil, cx.ReasonPermanentTermination, "subscription ended"))
			r := scscf.waitRTR()
			if r.UserName != impi || r.DestinationHost != scscfHost || r.DestinationRealm != realm || r.OriginHost != hssHost ||
				r.DeregistrationReason.Code != cx.ReasonPermanentTermination || r.DeregistrationReason.Info != "subscription ended" {
				t.Errorf("RTR %+v", r)
			}
			// Issue 11: an RTR naming the private identity only is never answered by Kamailio; the identities of
			// the sets the S-CSCF serves are always listed.
			if want := []string{barred, sip, tel}; !slices.Equal(r.PublicIdentity, want) {
				t.Errorf("Public-Identity %v, want every identity of the registered set %v", r.PublicIdentity, want)
			}
			for _, u := range []string{barred, sip, tel} {
				if reg := e.registration(u); reg != (hss.Registration{}) {
					t.Errorf("%s after RTA: %+v", u, reg)
				}
			}
		})
		t.Run("listed identities, whole implicit set", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, barred, sip, tel := ids(sub)
			e.register(scscf, sub)
			must(t, e.srv.Deregister(ctx, impi, []string{tel}, cx.ReasonServerChange, ""))
			r := scscf.waitRTR()
			if want := []string{barred, sip, tel}; !slices.Equal(r.PublicIdentity, want) || r.DeregistrationReason.Code != cx.ReasonServerChange {
				t.Errorf("RTR Public-Identity %v reason %v, want %v", r.PublicIdentity, r.DeregistrationReason.Code, want)
			}
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("unregistered identity, REMOVE_S-CSCF", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			wantSuccess(t, scscf.sar("", []string{sip}, cx.SATUnregisteredUser, nil))
			must(t, e.srv.Deregister(ctx, impi, nil, cx.ReasonRemoveSCSCF, ""))
			if r := scscf.waitRTR(); r.DeregistrationReason.Code != cx.ReasonRemoveSCSCF {
				t.Errorf("RTR %+v", r)
			}
			if reg := e.registration(sip); reg != (hss.Registration{}) {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("S-CSCF refuses: state kept", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			scscf.setRTA(diameter.UnableToComply, 0, nil)
			defer scscf.setRTA(0, 0, nil)
			err := e.srv.Deregister(ctx, impi, nil, cx.ReasonPermanentTermination, "")
			var ae *hss.AnswerError
			if !errors.Is(err, hss.ErrRefused) || !errors.As(err, &ae) || ae.Code != diameter.UnableToComply {
				t.Fatalf("Deregister = %v, want an AnswerError 5012", err)
			}
			scscf.waitRTR()
			if reg := e.registration(sip); reg.State != hss.Registered {
				t.Errorf("cleared although the S-CSCF refused: %+v", reg)
			}
		})
		t.Run("emergency registration stays", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			scscf.setRTA(diameter.LimitedSuccess, 0, []cx.IdentityWithEmergencyRegistration{{UserName: impi, PublicIdentity: sip}})
			defer scscf.setRTA(0, 0, nil)
			must(t, e.srv.Deregister(ctx, impi, nil, cx.ReasonPermanentTermination, ""))
			scscf.waitRTR()
			if reg := e.registration(sip); reg.State != hss.Registered {
				t.Errorf("emergency-registered set cleared: %+v", reg)
			}
		})
		t.Run("errors", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			other := e.subscriber(nil)
			if err := e.srv.Deregister(ctx, "nobody@"+realm, nil, cx.ReasonPermanentTermination, ""); !errors.Is(err, hss.ErrNotFound) {
				t.Errorf("unknown private identity: %v", err)
			}
			if err := e.srv.Deregister(ctx, impi, []string{other.Public[1].IMPU}, cx.ReasonPermanentTermination, ""); !errors.Is(err, hss.ErrNotAssociated) {
				t.Errorf("identity of another subscriber: %v", err)
			}
			if err := e.srv.Deregister(ctx, impi, nil, cx.ReasonCode(9), ""); !errors.Is(err, hss.ErrInvalid) {
				t.Errorf("reason 9: %v", err)
			}
			if err := e.srv.Deregister(ctx, impi, []string{sip}, cx.ReasonPermanentTermination, ""); err != nil {
				t.Errorf("nothing registered: %v, want nil", err)
			}
			scscf.noRTR(50 * time.Millisecond)
		})
		t.Run("S-CSCF gone: not sent elsewhere, state kept", func(t *testing.T) {
			gone := e.connect(scscf2Host)
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(gone, sub)
			closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			must(t, gone.node.Close(closeCtx))
			eventually(t, "HSS sees the S-CSCF go", func() bool {
				for _, p := range e.srv.Peers() {
					if p.OriginHost == scscf2Host {
						return false
					}
				}
				return true
			})
			if err := e.srv.Deregister(ctx, impi, nil, cx.ReasonPermanentTermination, ""); !errors.Is(err, hss.ErrSCSCFUnreachable) {
				t.Fatalf("Deregister = %v, want ErrSCSCFUnreachable", err)
			}
			scscf.noRTR(50 * time.Millisecond) // the other S-CSCF of the realm must not get it
			if reg := e.registration(sip); reg.State != hss.Registered {
				t.Errorf("%+v", reg)
			}
			// The HSS keeps serving the other peers.
			wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
		})
	})
}

// TestPushProfile covers TS 29.228 §6.2.2: the PPR carries the current User-Data and Charging-Information
// to the S-CSCF of a registered user; the S-CSCF's errors are handled as §6.2.2.1 says.
func TestPushProfile(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		scscf := e.connect(scscfHost)

		t.Run("profile change reaches the S-CSCF", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, tel := ids(sub)
			e.register(scscf, sub)
			must(t, db.SetDefaultChargingInfo(ctx, hss.ChargingInfo{PrimaryCCF: "aaa://ccf2." + realm}))
			p := sub.Public[2]
			p.DisplayName = "Bob"
			must(t, db.UpdateIMPU(ctx, p))
			must(t, e.srv.PushProfile(ctx, impi))
			r := scscf.waitPPR()
			if r.UserName != impi || r.DestinationHost != scscfHost || r.OriginHost != hssHost {
				t.Errorf("PPR %+v", r)
			}
			xmllint(t, r.UserData)
			ud, err := userdata.Parse(r.UserData)
			must(t, err)
			found := false
			for _, pi := range ud.ServiceProfiles[0].PublicIdentities {
				if pi.Identity == tel && pi.Extension != nil && pi.Extension.Extension != nil && pi.Extension.Extension.DisplayName == "Bob" {
					found = true
				}
			}
			if !found {
				t.Errorf("the changed display name is not in the pushed User-Data:\n%s", r.UserData)
			}
			if r.ChargingInformation == nil || r.ChargingInformation.PrimaryChargingCollectionFunctionName != "aaa://ccf2."+realm {
				t.Errorf("Charging-Information %+v", r.ChargingInformation)
			}
			if reg := e.registration(sip); reg.State != hss.Registered {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("not registered: nothing sent", func(t *testing.T) {
			sub := e.subscriber(nil)
			must(t, e.srv.PushProfile(ctx, sub.Private.IMPI))
			select {
			case r := <-scscf.ppr:
				t.Errorf("PPR %+v for a user that is not registered", r)
			case <-time.After(50 * time.Millisecond):
			}
			if err := e.srv.PushProfile(ctx, "nobody@"+realm); !errors.Is(err, hss.ErrNotFound) {
				t.Errorf("unknown: %v", err)
			}
		})
		t.Run("S-CSCF does not know the user: registration ends", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			scscf.setPPA(cx.ErrorUserUnknown, cx.Vendor3GPP)
			defer scscf.setPPA(0, 0)
			err := e.srv.PushProfile(ctx, impi)
			var ae *hss.AnswerError
			if !errors.As(err, &ae) || ae.Code != cx.ErrorUserUnknown || ae.VendorID != cx.Vendor3GPP {
				t.Fatalf("PushProfile = %v", err)
			}
			scscf.waitPPR()
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("%+v", reg)
			}
		})
		t.Run("S-CSCF cannot take the profile: RTR SERVER_CHANGE", func(t *testing.T) {
			sub := e.subscriber(nil)
			impi, _, sip, _ := ids(sub)
			e.register(scscf, sub)
			scscf.setPPA(cx.ErrorTooMuchData, cx.Vendor3GPP)
			defer scscf.setPPA(0, 0)
			if err := e.srv.PushProfile(ctx, impi); !errors.Is(err, hss.ErrRefused) {
				t.Fatalf("PushProfile = %v", err)
			}
			scscf.waitPPR()
			if r := scscf.waitRTR(); r.DeregistrationReason.Code != cx.ReasonServerChange || !slices.Contains(r.PublicIdentity, sip) {
				t.Errorf("RTR %+v", r)
			}
			if reg := e.registration(sip); reg.State != hss.NotRegistered {
				t.Errorf("%+v", reg)
			}
		})
	})
}
