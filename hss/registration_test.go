package hss_test

import (
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/storage"
)

// TestRegistrationSequence is docs/design.md §4 as the HSS sees it, with an I-CSCF and an S-CSCF over TCP:
// UAR → MAR → (401, UE answers) → UAR → SAR(REGISTRATION) → LIR → UAR(DE_REGISTRATION) →
// SAR(USER_DEREGISTRATION) → LIR.
func TestRegistrationSequence(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		scscf := e.connect(scscfHost)
		sub := e.subscriber(nil)
		impi, barred, sip, tel := ids(sub)

		// 3. The I-CSCF asks where to send the REGISTER (the UE registers its barred IMSI identity).
		uaa := e.icscf.uar(impi, barred, nil)
		wantExperimental(t, uaa, cx.FirstRegistration)
		if uaa.ServerCapabilities == nil || len(uaa.ServerCapabilities.ServerNames) == 0 || uaa.ServerCapabilities.ServerNames[0] != scscfName {
			t.Fatalf("UAA Server-Capabilities %+v", uaa.ServerCapabilities)
		}
		// 4. The S-CSCF gets a vector; the UE's USIM answers the challenge with RES = XRES.
		maa := scscf.mar(impi, barred, cx.SchemeAKAv1MD5, 1, nil)
		wantSuccess(t, maa)
		rand, autn := challenge(t, maa.SIPAuthDataItems[0])
		res, err := newUSIM(t).Authenticate(rand, autn)
		must(t, err)
		if string(res.RES) != string(maa.SIPAuthDataItems[0].Authorization) {
			t.Fatal("RES differs from XRES")
		}
		// 6. The protected REGISTER goes through the I-CSCF again: same S-CSCF.
		uaa = e.icscf.uar(impi, barred, nil)
		wantExperimental(t, uaa, cx.SubsequentRegistration)
		if uaa.ServerName != scscfName {
			t.Fatalf("second UAA Server-Name %q", uaa.ServerName)
		}
		// 7. SAR(REGISTRATION) with the profile.
		saa := scscf.sar(impi, []string{barred}, cx.SATRegistration, nil)
		wantSuccess(t, saa)
		xmllint(t, saa.UserData)
		// A call to the user: LIR names the S-CSCF, for every identity of the set.
		for _, u := range []string{sip, tel} {
			lia := e.icscf.lir(u, nil)
			wantSuccess(t, lia)
			if lia.ServerName != scscfName {
				t.Errorf("LIA %s Server-Name %q", u, lia.ServerName)
			}
		}
		// De-registration: REGISTER Expires 0 through the I-CSCF, SAR(USER_DEREGISTRATION).
		uaa = e.icscf.uar(impi, barred, func(r *cx.UAR) { v := cx.UATDeRegistration; r.UserAuthorizationType = &v })
		wantSuccess(t, uaa)
		if uaa.ServerName != scscfName {
			t.Errorf("de-registration UAA Server-Name %q", uaa.ServerName)
		}
		wantSuccess(t, scscf.sar(impi, []string{barred}, cx.SATUserDeregistration, nil))
		wantExperimental(t, e.icscf.lir(sip, nil), cx.ErrorIdentityNotRegistered)
		if reg := e.registration(tel); reg != (hss.Registration{}) {
			t.Errorf("after de-registration: %+v", reg)
		}
	})
}

// TestMalformedRequests sends requests that break the command ABNF: each gets the error answer RFC 6733
// §7 prescribes, with Failed-AVP, and the connection stays up for the next request.
func TestMalformedRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		scscf := e.connect(scscfHost)
		icscf := e.icscf // UAR is the I-CSCF's (TS 29.228 §6.1.1)
		sub := e.subscriber(nil)
		impi, _, sip, _ := ids(sub)
		d := scscf.d

		mar := func() *diam.Message {
			m, err := (&cx.MAR{SessionID: scscf.session(), OriginHost: scscfHost, OriginRealm: realm, DestinationRealm: realm,
				UserName: impi, PublicIdentity: sip, SIPAuthDataItem: cx.SIPAuthDataItem{Scheme: cx.SchemeAKAv1MD5},
				SIPNumberAuthItems: 1, ServerName: scscfName}).Marshal(d)
			must(t, err)
			return m
		}
		uar := func() *diam.Message {
			m, err := (&cx.UAR{SessionID: icscf.session(), OriginHost: icscfHost, OriginRealm: realm, DestinationRealm: realm,
				UserName: impi, PublicIdentity: sip, VisitedNetworkIdentifier: []byte(realm)}).Marshal(d)
			must(t, err)
			return m
		}
		without := func(m *diam.Message, code cx.AVPCode) *diam.Message {
			var kept []*diam.AVP
			for _, a := range m.AVP {
				if a.Code != uint32(code) {
					kept = append(kept, a)
				}
			}
			m.AVP = kept
			return m
		}
		tests := []struct {
			name       string
			msg        *diam.Message
			code       diameter.ResultCode
			failedCode cx.AVPCode // 0: no Failed-AVP expected
		}{
			{name: "MAR without Public-Identity", msg: without(mar(), cx.AVPPublicIdentity), code: diameter.MissingAVP, failedCode: cx.AVPPublicIdentity},
			{name: "MAR without Server-Name", msg: without(mar(), cx.AVPServerName), code: diameter.MissingAVP, failedCode: cx.AVPServerName},
			{name: "UAR without User-Name", msg: without(uar(), cx.AVPUserName), code: diameter.MissingAVP, failedCode: cx.AVPUserName},
			{name: "UAR with an unknown mandatory AVP", msg: func() *diam.Message {
				m := uar()
				m.AddAVP(diam.NewAVP(9999, avp.Mbit|avp.Vbit, cx.Vendor3GPP, datatype.OctetString("x")))
				return m
			}(), code: diameter.AVPUnsupported, failedCode: 9999},
			{name: "UAR with User-Authorization-Type 7", msg: func() *diam.Message {
				m := uar()
				m.AddAVP(diam.NewAVP(uint32(cx.AVPUserAuthorizationType), avp.Mbit|avp.Vbit, cx.Vendor3GPP, datatype.Enumerated(7)))
				return m
			}(), code: diameter.InvalidAVPValue, failedCode: cx.AVPUserAuthorizationType},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				from := scscf
				if tc.msg.Header.CommandCode == uint32(cx.CmdUserAuthorization) {
					from = icscf
				}
				ans := from.sendRaw(tc.msg)
				code, vendor, failed := outcome(t, ans)
				if code != tc.code || vendor != 0 {
					t.Fatalf("result %d (vendor %d), want %d", code, vendor, tc.code)
				}
				if tc.failedCode != 0 && !containsCode(failed, uint32(tc.failedCode)) {
					t.Errorf("Failed-AVP %v, want AVP %d", failed, tc.failedCode)
				}
				// The connection is still up: a good request is served.
				wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
			})
		}
		t.Run("RTR to the HSS is not served", func(t *testing.T) {
			m, err := (&cx.RTR{SessionID: scscf.session(), OriginHost: scscfHost, OriginRealm: realm, DestinationHost: hssHost,
				DestinationRealm: realm, UserName: impi, DeregistrationReason: cx.DeregistrationReason{Code: cx.ReasonPermanentTermination}}).Marshal(d)
			must(t, err)
			ans := scscf.sendRaw(m)
			if code, _, _ := outcome(t, ans); code != diameter.CommandUnsupported || ans.Header.CommandFlags&0x20 == 0 {
				t.Errorf("result %d flags %#x, want 3001 with the E bit", code, ans.Header.CommandFlags)
			}
			wantSuccess(t, scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
		})
	})
}

// outcome reads Result-Code or Experimental-Result and the Failed-AVP content of any answer.
func outcome(t testing.TB, m *diam.Message) (diameter.ResultCode, uint32, []*diam.AVP) {
	t.Helper()
	var code diameter.ResultCode
	var vendor uint32
	var failed []*diam.AVP
	for _, a := range m.AVP {
		switch {
		case a.VendorID != 0:
		case a.Code == uint32(cx.AVPResultCode):
			code = diameter.ResultCode(a.Data.(datatype.Unsigned32))
		case a.Code == uint32(cx.AVPExperimentalResult):
			for _, c := range a.Data.(*diam.GroupedAVP).AVP {
				switch c.Code {
				case uint32(cx.AVPExperimentalResultCode):
					code = diameter.ResultCode(c.Data.(datatype.Unsigned32))
				case uint32(cx.AVPVendorID):
					vendor = uint32(c.Data.(datatype.Unsigned32))
				}
			}
		case a.Code == uint32(cx.AVPFailedAVP):
			if g, ok := a.Data.(*diam.GroupedAVP); ok {
				failed = g.AVP
			}
		}
	}
	if code == 0 {
		t.Fatalf("answer without a result: %v", m)
	}
	return code, vendor, failed
}

func containsCode(avps []*diam.AVP, code uint32) bool {
	for _, a := range avps {
		if a.Code == code {
			return true
		}
	}
	return false
}
