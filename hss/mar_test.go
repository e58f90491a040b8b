package hss_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/storage"
)

// TestMAR covers TS 29.228 §6.3.1 over TCP: identity checks, schemes, several vectors that a USIM accepts,
// SIP Digest, and the pending S-CSCF.
func TestMAR(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, func(c *hss.Config) { c.Cx.MaxAuthItems = 4 })
		scscf := e.connect(scscfHost)
		aka1 := e.subscriber(nil) // AKAv1 and AKAv2
		digestOnly := e.subscriber(func(s *hss.Subscriber) {
			s.Private.AuthSchemes = hss.AuthSIPDigest
			s.Private.K, s.Private.OP = nil, nil
			s.Private.DigestPassword = "secret"
		})
		digestHA1 := e.subscriber(func(s *hss.Subscriber) {
			s.Private.AuthSchemes = hss.AuthSIPDigest | hss.AuthAKAv1MD5
			s.Private.DigestHA1 = "0123456789ABCDEF0123456789abcdef"
		})
		other := e.subscriber(nil)
		impi, _, sip, _ := ids(aka1)

		errorCases := []struct {
			name       string
			impi, impu string
			scheme     string
			code       diameter.ResultCode
		}{
			{name: "unknown private identity", impi: "nobody@" + realm, impu: sip, scheme: cx.SchemeAKAv1MD5, code: cx.ErrorUserUnknown},
			{name: "unknown public identity", impi: impi, impu: "tel:999", scheme: cx.SchemeAKAv1MD5, code: cx.ErrorUserUnknown},
			{name: "identities do not match", impi: impi, impu: other.Public[1].IMPU, scheme: cx.SchemeAKAv1MD5, code: cx.ErrorIdentitiesDontMatch},
			{name: "scheme not supported", impi: impi, impu: sip, scheme: cx.SchemeNASSBundled, code: cx.ErrorAuthSchemeNotSupported},
			{name: "scheme made up", impi: impi, impu: sip, scheme: "Digest-AKAv9-SHA512", code: cx.ErrorAuthSchemeNotSupported},
			{name: "SIP Digest not allowed for an AKA subscriber", impi: impi, impu: sip, scheme: cx.SchemeSIPDigest, code: cx.ErrorAuthSchemeNotSupported},
			{name: "AKA not allowed for a SIP Digest subscriber", impi: digestOnly.Private.IMPI, impu: digestOnly.Public[1].IMPU,
				scheme: cx.SchemeAKAv1MD5, code: cx.ErrorAuthSchemeNotSupported},
		}
		for _, tc := range errorCases {
			t.Run(tc.name, func(t *testing.T) {
				sqn := e.sqn(impi)
				a := scscf.mar(tc.impi, tc.impu, tc.scheme, 1, nil)
				wantExperimental(t, a, tc.code)
				if len(a.SIPAuthDataItems) != 0 {
					t.Errorf("%d vectors in an error answer", len(a.SIPAuthDataItems))
				}
				if got := e.sqn(impi); got != sqn {
					t.Errorf("SQN moved from %d to %d on an error", sqn, got)
				}
			})
		}

		t.Run("AKAv1 vectors are fresh, in order and accepted by the USIM", func(t *testing.T) {
			before := e.sqn(impi)
			a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 3, nil)
			wantSuccess(t, a)
			if a.UserName != impi || a.PublicIdentity != sip || a.SIPNumberAuthItems == nil || *a.SIPNumberAuthItems != 3 {
				t.Fatalf("MAA User-Name %q Public-Identity %q SIP-Number-Auth-Items %v", a.UserName, a.PublicIdentity, a.SIPNumberAuthItems)
			}
			usim := newUSIM(t)
			var last aka.SQN
			for i, item := range a.SIPAuthDataItems {
				if item.ItemNumber == nil || *item.ItemNumber != uint32(i+1) || item.Scheme != cx.SchemeAKAv1MD5 {
					t.Fatalf("item %d: number %v scheme %q", i, item.ItemNumber, item.Scheme)
				}
				rand, autn := challenge(t, item)
				res, err := usim.Authenticate(rand, autn)
				if err != nil {
					t.Fatalf("item %d rejected by the USIM: %v", i, err)
				}
				if string(res.RES) != string(item.Authorization) || string(res.CK[:]) != string(item.ConfidentialityKey) ||
					string(res.IK[:]) != string(item.IntegrityKey) {
					t.Fatalf("item %d: XRES/CK/IK differ from the USIM's", i)
				}
				if res.SQN <= last {
					t.Fatalf("item %d: SQN %s not after %s", i, res.SQN, last)
				}
				last = res.SQN
			}
			// The store holds the end of the block reserved for them (hss/sqnblock.go).
			end, err := aka.SQNAfter(aka.SQN(before), hss.DefaultSQNBlock, aka.DefaultSQNConfig())
			must(t, err)
			if got := e.sqn(impi); got != uint64(end) || got < uint64(last) {
				t.Errorf("SQN_HE %s after issuing up to %s (was %d): want the reserved block's end %s", aka.SQN(got), last, before, end)
			}
		})
		t.Run("SIP-Number-Auth-Items is capped", func(t *testing.T) {
			a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 50, nil)
			wantSuccess(t, a)
			if len(a.SIPAuthDataItems) != 4 || *a.SIPNumberAuthItems != 4 {
				t.Errorf("%d vectors, want the configured maximum 4", len(a.SIPAuthDataItems))
			}
		})
		t.Run("zero items still gets one", func(t *testing.T) {
			a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 0, nil)
			wantSuccess(t, a)
			if len(a.SIPAuthDataItems) != 1 {
				t.Errorf("%d vectors", len(a.SIPAuthDataItems))
			}
		})
		t.Run("AKAv2 uses the same Milenage vectors", func(t *testing.T) {
			a := scscf.mar(impi, sip, "Digest-AKAv2-MD5", 1, nil)
			wantSuccess(t, a)
			if a.SIPAuthDataItems[0].Scheme != "Digest-AKAv2-MD5" {
				t.Errorf("scheme %q", a.SIPAuthDataItems[0].Scheme)
			}
			decodeSQN(t, a.SIPAuthDataItems[0])
		})
		t.Run("Unknown picks the subscriber's default scheme", func(t *testing.T) {
			a := scscf.mar(impi, sip, cx.SchemeUnknown, 1, nil)
			wantSuccess(t, a)
			if a.SIPAuthDataItems[0].Scheme != cx.SchemeAKAv1MD5 {
				t.Errorf("scheme %q, want AKAv1", a.SIPAuthDataItems[0].Scheme)
			}
			a = scscf.mar(digestOnly.Private.IMPI, digestOnly.Public[1].IMPU, cx.SchemeUnknown, 1, nil)
			wantSuccess(t, a)
			if a.SIPAuthDataItems[0].Scheme != cx.SchemeSIPDigest {
				t.Errorf("scheme %q, want SIP Digest", a.SIPAuthDataItems[0].Scheme)
			}
		})
		t.Run("SIP Digest from a password", func(t *testing.T) {
			for _, scheme := range []string{cx.SchemeSIPDigest, "Digest", "MD5"} {
				a := scscf.mar(digestOnly.Private.IMPI, digestOnly.Public[1].IMPU, scheme, 3, nil)
				wantSuccess(t, a)
				if len(a.SIPAuthDataItems) != 1 || *a.SIPNumberAuthItems != 1 {
					t.Fatalf("%d items for SIP Digest, want 1", len(a.SIPAuthDataItems))
				}
				item := a.SIPAuthDataItems[0]
				d := item.DigestAuthenticate
				want := digest.HA1(digestOnly.Private.IMPI, realm, []byte("secret"))
				if item.Scheme != scheme || d == nil || d.Realm != realm || d.QoP != "auth" || d.Algorithm != "MD5" || d.HA1 != want {
					t.Fatalf("item %+v digest %+v, want HA1 %s", item, d, want)
				}
				if len(item.Authenticate) != 0 || len(item.ConfidentialityKey) != 0 {
					t.Error("AKA material in a SIP Digest item")
				}
			}
		})
		// Issue 11: Kamailio's ims_auth (like the FOKUS Open IMS Core) reads "Digest-MD5" as its own scheme: the
		// nonce from SIP-Authenticate, the password from SIP-Authorization. The 3GPP form left it with nonce="".
		t.Run("Digest-MD5 in the form its S-CSCFs read", func(t *testing.T) {
			var nonces [][]byte
			for range 2 {
				a := scscf.mar(digestOnly.Private.IMPI, digestOnly.Public[1].IMPU, hss.SchemeDigestMD5, 1, nil)
				wantSuccess(t, a)
				if len(a.SIPAuthDataItems) != 1 {
					t.Fatalf("%d items, want 1", len(a.SIPAuthDataItems))
				}
				item := a.SIPAuthDataItems[0]
				if item.Scheme != hss.SchemeDigestMD5 || len(item.Authenticate) != 16 || string(item.Authorization) != "secret" || item.DigestAuthenticate != nil {
					t.Fatalf("item %+v: want a 16-octet nonce in SIP-Authenticate, the password in SIP-Authorization, no SIP-Digest-Authenticate", item)
				}
				nonces = append(nonces, item.Authenticate)
			}
			if bytes.Equal(nonces[0], nonces[1]) {
				t.Error("two MARs got the same nonce")
			}
			// Only H(A1) stored: the password cannot be sent, and the HSS says so.
			a := scscf.mar(digestHA1.Private.IMPI, digestHA1.Public[1].IMPU, hss.SchemeDigestMD5, 1, nil)
			wantExperimental(t, a, cx.ErrorAuthSchemeNotSupported)
		})
		t.Run("SIP Digest from a stored HA1", func(t *testing.T) {
			a := scscf.mar(digestHA1.Private.IMPI, digestHA1.Public[1].IMPU, cx.SchemeSIPDigest, 1, nil)
			wantSuccess(t, a)
			if got := a.SIPAuthDataItems[0].DigestAuthenticate.HA1; got != "0123456789abcdef0123456789abcdef" {
				t.Errorf("HA1 %q", got)
			}
		})
		t.Run("the S-CSCF name is stored as pending", func(t *testing.T) {
			reg := e.registration(sip)
			if reg.State != hss.NotRegistered || reg.SCSCFName != "" || reg.PendingSCSCF != scscfName {
				t.Errorf("registration after MAR: %+v", reg)
			}
			// The whole implicit set shares it (TS 29.228 §6.5.1.3).
			if reg := e.registration(aka1.Public[2].IMPU); reg.PendingSCSCF != scscfName {
				t.Errorf("tel identity: %+v", reg)
			}
		})
		t.Run("a MAR from another S-CSCF replaces a pending name", func(t *testing.T) {
			s2 := e.connect(scscf2Host)
			wantSuccess(t, s2.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
			if reg := e.registration(sip); reg.PendingSCSCF != scscf2Name {
				t.Errorf("registration %+v", reg)
			}
		})
	})
}

// TestMARResync covers resynchronisation (TS 33.203 §6.1.2, TS 33.102 §6.3.5): the USIM is ahead of the HSS
// and answers AUTS; the MAR with RAND ‖ AUTS moves SQN_HE and the new vector is accepted. A bad AUTS is
// refused with SQN_HE untouched, and a SIP-Authorization of the wrong size is an invalid value.
func TestMARResync(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		scscf := e.connect(scscfHost)
		sub := e.subscriber(nil)
		impi, _, sip, _ := ids(sub)

		usim := newUSIM(t)
		must(t, usim.SetSQNms(0x4e20)) // the card has seen SEQ 625; the HSS starts at 0: stale
		a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil)
		wantSuccess(t, a)
		rand, autn := challenge(t, a.SIPAuthDataItems[0])
		_, err := usim.Authenticate(rand, autn)
		var sf *aka.SyncFailure
		if !errors.As(err, &sf) {
			t.Fatalf("USIM accepted a stale vector: %v", err)
		}
		resync := append(rand[:], sf.AUTS...)

		t.Run("bad AUTS is refused and SQN stays", func(t *testing.T) {
			before := e.sqn(impi)
			bad := slices.Clone(resync)
			bad[len(bad)-1] ^= 0x01 // MAC-S no longer matches
			a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, func(r *cx.MAR) { r.SIPAuthDataItem.Authorization = bad })
			wantResult(t, a, diameter.AuthenticationRejected, 0)
			if len(a.SIPAuthDataItems) != 0 {
				t.Error("vectors after a refused resync")
			}
			if got := e.sqn(impi); got != before {
				t.Errorf("SQN_HE moved from %d to %d on a bad AUTS", before, got)
			}
		})
		t.Run("RAND ‖ AUTS of the wrong size", func(t *testing.T) {
			before := e.sqn(impi)
			a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, func(r *cx.MAR) { r.SIPAuthDataItem.Authorization = resync[:29] })
			wantResult(t, a, diameter.InvalidAVPValue, 0)
			if len(a.FailedAVP) != 1 || a.FailedAVP[0].Code != uint32(cx.AVPSIPAuthDataItem) {
				t.Errorf("Failed-AVP %v, want the SIP-Auth-Data-Item", a.FailedAVP)
			} else if g, ok := a.FailedAVP[0].Data.(*diam.GroupedAVP); !ok || len(g.AVP) != 1 || g.AVP[0].Code != uint32(cx.AVPSIPAuthorization) {
				t.Errorf("Failed-AVP content %v, want SIP-Authorization only", a.FailedAVP[0].Data)
			}
			if got := e.sqn(impi); got != before {
				t.Errorf("SQN_HE moved from %d to %d", before, got)
			}
		})
		t.Run("resync with SIP Digest", func(t *testing.T) {
			a := scscf.mar(impi, sip, cx.SchemeSIPDigest, 1, func(r *cx.MAR) { r.SIPAuthDataItem.Authorization = resync })
			wantExperimental(t, a, cx.ErrorAuthSchemeNotSupported) // the scheme check comes first (§6.3.1 step 4)
		})
		t.Run("good AUTS moves SQN and the new vectors are accepted", func(t *testing.T) {
			a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 2, func(r *cx.MAR) { r.SIPAuthDataItem.Authorization = resync })
			wantSuccess(t, a)
			if len(a.SIPAuthDataItems) != 2 {
				t.Fatalf("%d vectors after resync", len(a.SIPAuthDataItems))
			}
			for i, item := range a.SIPAuthDataItems {
				rand, autn := challenge(t, item)
				res, err := usim.Authenticate(rand, autn)
				if err != nil {
					t.Fatalf("vector %d after resync rejected: %v", i, err)
				}
				if aka.DefaultSQNConfig().SEQ(res.SQN) <= 625 {
					t.Errorf("vector %d: SQN %s not beyond SQN_MS", i, res.SQN)
				}
			}
			if got := e.sqn(impi); got <= 0x4e20 {
				t.Errorf("SQN_HE %#x not beyond SQN_MS 0x4e20", got)
			}
		})
	})
}

// TestMARFromAnotherSCSCF covers TS 29.228 §8.1 and §8.1.1: a MAR from a new S-CSCF while another serves the
// user overwrites the name, and the old S-CSCF gets an RTR with NEW_SERVER_ASSIGNED; a resync MAR does not
// overwrite.
func TestMARFromAnotherSCSCF(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		old := e.connect(scscfHost)
		sub := e.subscriber(nil)
		impi, barred, sip, tel := ids(sub)
		e.register(old, sub)
		if reg := e.registration(sip); reg.State != hss.Registered || reg.SCSCFOriginHost != scscfHost {
			t.Fatalf("after registration: %+v", reg)
		}
		s2 := e.connect(scscf2Host)

		usim := newUSIM(t)
		must(t, usim.SetSQNms(0x4e20)) // ahead of the HSS: the vector below triggers a resync later
		a := s2.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil)
		wantSuccess(t, a)
		rtr := old.waitRTR()
		if rtr.UserName != impi || rtr.DeregistrationReason.Code != cx.ReasonNewServerAssigned || rtr.DestinationHost != scscfHost {
			t.Fatalf("RTR to the old S-CSCF: %+v", rtr)
		}
		if want := []string{barred, sip, tel}; !slices.Equal(rtr.PublicIdentity, want) {
			t.Errorf("RTR Public-Identity %v, want the implicit set %v", rtr.PublicIdentity, want)
		}
		reg := e.registration(sip)
		if reg.SCSCFName != scscf2Name || reg.SCSCFOriginHost != scscf2Host {
			t.Fatalf("after the MAR from the new S-CSCF: %+v", reg)
		}
		// The RTA changed nothing: the set belongs to the new S-CSCF now.
		eventually(t, "registration kept", func() bool { return e.registration(sip).State == hss.Registered })

		// A resync MAR from the old S-CSCF: no overwrite, no RTR.
		rand, autn := challenge(t, a.SIPAuthDataItems[0])
		_, err := usim.Authenticate(rand, autn)
		var sf *aka.SyncFailure
		if !errors.As(err, &sf) {
			t.Fatalf("want a sync failure, got %v", err)
		}
		wantSuccess(t, old.mar(impi, sip, cx.SchemeAKAv1MD5, 1, func(r *cx.MAR) {
			r.SIPAuthDataItem.Authorization = append(rand[:], sf.AUTS...)
		}))
		if reg := e.registration(sip); reg.SCSCFName != scscf2Name {
			t.Errorf("a resync MAR overwrote the S-CSCF name: %+v", reg)
		}
		s2.noRTR(100 * time.Millisecond)
		// The new S-CSCF completes the registration; the old one is refused (§8.1: no overwrite outside MAR).
		wantSuccess(t, s2.sar(impi, []string{sip}, cx.SATRegistration, nil))
		saa := old.sar(impi, []string{sip}, cx.SATReRegistration, nil)
		wantExperimental(t, saa, cx.ErrorIdentityAlreadyRegistered)
		if saa.ServerName != scscf2Name {
			t.Errorf("Server-Name %q in the refusal, want the assigned %s", saa.ServerName, scscf2Name)
		}
	})
}
