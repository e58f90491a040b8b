package hss_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/storage"
)

// restorationInfo is what an S-CSCF sends for impi with one contact (TS 29.229 §6.3.46).
func restorationInfo(impi, contact string) *cx.SCSCFRestorationInfo {
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	cseq := uint32(2)
	return &cx.SCSCFRestorationInfo{UserName: impi, RegistrationTimeOut: &exp, SIPAuthenticationScheme: "Digest-AKAv1-MD5",
		RestorationInfo: []cx.RestorationInfo{{Path: []byte("<sip:term@pcscf.ims.test:5060;lr>"), Contact: []byte(contact),
			InitialCSeqSequenceNumber: &cseq, CallIDSIPHeader: []byte("reg-call-1")}}}
}

func withRestoration(info *cx.SCSCFRestorationInfo) func(*cx.SAR) {
	return func(r *cx.SAR) { r.SCSCFRestorationInfo = info }
}

// TestRestoration: the S-CSCF restoration procedure at the HSS (TS 23.380 §5.2, TS 29.228 §6.1.2.1,
// §6.1.4.1) on each backend: the restoration information of SAR REGISTRATION is stored; the assigned S-CSCF
// dies; an LIR with REGISTRATION_AND_CAPABILITIES gets capabilities; the second S-CSCF's SAR
// UNREGISTERED_USER is answered with the profile and the restoration information and makes it the assigned
// one (LIR names it); RESTORATION from it replaces the information; a de-registration deletes it.
func TestRestoration(t *testing.T) {
	forEachStore(t, func(t *testing.T, db storage.DB) {
		e := newEnv(t, db, nil)
		s1, s2 := e.connect(scscfHost), e.connect(scscf2Host)
		sub := e.subscriber(nil)
		impi, _, sip, _ := ids(sub)
		info := restorationInfo(impi, "<sip:ue@192.0.2.10:5060>")

		wantSuccess(t, s1.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
		wantSuccess(t, s1.sar(impi, []string{sip}, cx.SATRegistration, withRestoration(info)))

		// The first S-CSCF asks again (it restarted and lost its state): the information comes back.
		a := s1.sar("", []string{sip}, cx.SATUnregisteredUser, nil)
		wantSuccess(t, a)
		if len(a.SCSCFRestorationInfo) != 1 || string(a.SCSCFRestorationInfo[0].RestorationInfo[0].Contact) != "<sip:ue@192.0.2.10:5060>" {
			t.Fatalf("SAA UNREGISTERED_USER to the assigned S-CSCF: restoration %+v", a.SCSCFRestorationInfo)
		}

		// The I-CSCF cannot reach it and asks for capabilities (TS 23.380 §5.2.2.2).
		uat := cx.UATRegistrationAndCapabilities
		lia := e.icscf.lir(sip, func(r *cx.LIR) { r.UserAuthorizationType = &uat })
		wantSuccess(t, lia)
		if lia.ServerName != "" || lia.ServerCapabilities == nil {
			t.Fatalf("LIA REGISTRATION_AND_CAPABILITIES: name %q capabilities %+v, want capabilities only", lia.ServerName, lia.ServerCapabilities)
		}

		// The second S-CSCF takes over with a terminating request's SAR.
		a = s2.sar("", []string{sip}, cx.SATUnregisteredUser, nil)
		wantSuccess(t, a)
		if len(a.UserData) == 0 || a.UserName != impi {
			t.Fatalf("SAA: no profile or User-Name %q", a.UserName)
		}
		if len(a.SCSCFRestorationInfo) != 1 {
			t.Fatalf("SAA: %d restoration groups, want 1", len(a.SCSCFRestorationInfo))
		}
		got := a.SCSCFRestorationInfo[0]
		if got.UserName != impi || string(got.RestorationInfo[0].Path) != string(info.RestorationInfo[0].Path) ||
			string(got.RestorationInfo[0].CallIDSIPHeader) != "reg-call-1" || got.SIPAuthenticationScheme != info.SIPAuthenticationScheme ||
			got.RegistrationTimeOut == nil || !got.RegistrationTimeOut.Equal(*info.RegistrationTimeOut) {
			t.Fatalf("restoration answered %+v, want %+v", got, info)
		}
		pub, err := db.GetIMPU(context.Background(), sip)
		must(t, err)
		if pub.Registration.State != hss.Registered || pub.Registration.SCSCFName != scscf2Name || pub.Registration.SCSCFOriginHost != scscf2Host {
			t.Fatalf("after the takeover: %+v, want registered at %s", pub.Registration, scscf2Name)
		}
		if lia := e.icscf.lir(sip, nil); lia.ServerName != scscf2Name {
			t.Fatalf("LIA names %q, want %q", lia.ServerName, scscf2Name)
		}
		// RESTORATION from the new S-CSCF replaces the information; not from another one.
		info2 := restorationInfo(impi, "<sip:ue@192.0.2.11:5060>")
		wantSuccess(t, s2.sar(impi, []string{sip}, cx.SATRestoration, withRestoration(info2)))
		wantResult(t, s1.sar(impi, []string{sip}, cx.SATRestoration, withRestoration(info)), diameter.UnableToComply, 0)
		wantResult(t, s2.sar(impi, []string{sip}, cx.SATRestoration, nil), diameter.MissingAVP, 0)
		a = s2.sar("", []string{sip}, cx.SATUnregisteredUser, nil)
		if len(a.SCSCFRestorationInfo) != 1 || string(a.SCSCFRestorationInfo[0].RestorationInfo[0].Contact) != "<sip:ue@192.0.2.11:5060>" {
			t.Fatalf("after RESTORATION: %+v", a.SCSCFRestorationInfo)
		}

		// De-registration ends it: nothing to restore, RESTORATION refused.
		wantSuccess(t, s2.sar(impi, []string{sip}, cx.SATUserDeregistration, nil))
		left, err := db.Restoration(context.Background(), sip)
		must(t, err)
		if len(left) != 0 {
			t.Fatalf("%d restoration groups left after de-registration", len(left))
		}
		wantResult(t, s2.sar(impi, []string{sip}, cx.SATRestoration, withRestoration(info2)), diameter.UnableToComply, 0)
	})
}

// TestRestorationOff: with cx.restoration false the HSS behaves as one without IMS restoration: another
// S-CSCF is refused with the assigned name, RESTORATION is DIAMETER_ERROR_IN_ASSIGNMENT_TYPE, nothing is
// stored.
func TestRestorationOff(t *testing.T) {
	e := newEnv(t, openSQLite(t), func(c *hss.Config) { c.Cx.Restoration = false })
	s1, s2 := e.connect(scscfHost), e.connect(scscf2Host)
	sub := e.subscriber(nil)
	impi, _, sip, _ := ids(sub)
	wantSuccess(t, s1.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
	wantSuccess(t, s1.sar(impi, []string{sip}, cx.SATRegistration, withRestoration(restorationInfo(impi, "<sip:ue@192.0.2.10>"))))
	a := s2.sar("", []string{sip}, cx.SATUnregisteredUser, nil)
	wantExperimental(t, a, cx.ErrorIdentityAlreadyRegistered)
	wantExperimental(t, s1.sar(impi, []string{sip}, cx.SATRestoration, withRestoration(restorationInfo(impi, "<sip:ue@192.0.2.10>"))), cx.ErrorInAssignmentType)
	if a := s1.sar("", []string{sip}, cx.SATUnregisteredUser, nil); len(a.SCSCFRestorationInfo) != 0 {
		t.Fatal("restoration information answered with restoration off")
	}
}

// TestRestorationNotStoredRefused: without stored restoration information another S-CSCF is refused as
// before (TS 29.228 §6.1.2.1: no reassignment).
func TestRestorationNotStoredRefused(t *testing.T) {
	e := newEnv(t, openSQLite(t), nil)
	s1, s2 := e.connect(scscfHost), e.connect(scscf2Host)
	sub := e.subscriber(nil)
	impi, _, sip, _ := ids(sub)
	wantSuccess(t, s1.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
	wantSuccess(t, s1.sar(impi, []string{sip}, cx.SATRegistration, nil))
	a := s2.sar("", []string{sip}, cx.SATUnregisteredUser, nil)
	wantExperimental(t, a, cx.ErrorIdentityAlreadyRegistered)
	if a.ServerName != scscfName {
		t.Fatalf("Server-Name %q", a.ServerName)
	}
}

// TestRestorationTshark: the SAR REGISTRATION carrying SCSCF-Restoration-Info and the HSS's SAA handing it to
// another S-CSCF, as on the wire, are dissected by tshark without a malformed packet, an error or an AVP it
// cannot name, and it names the restoration AVPs.
func TestRestorationTshark(t *testing.T) {
	bin := tshark.Find(t)
	e := newEnv(t, openSQLite(t), nil)
	s1, s2 := e.connect(scscfHost), e.connect(scscf2Host)
	sub := e.subscriber(nil)
	impi, _, sip, _ := ids(sub)
	wantSuccess(t, s1.mar(impi, sip, cx.SchemeAKAv1MD5, 1, nil))
	sar := &cx.SAR{SessionID: s1.session(), OriginHost: s1.host, OriginRealm: realm, DestinationRealm: realm,
		UserName: impi, PublicIdentity: []string{sip}, ServerName: s1.serverName(), ServerAssignmentType: cx.SATRegistration,
		UserDataAlreadyAvailable: cx.UserDataNotAvailable, SCSCFRestorationInfo: restorationInfo(impi, "<sip:ue@192.0.2.10:5060>")}
	sarBytes, err := sar.AppendBinary(nil)
	must(t, err)
	ans, err := cx.ParseSAA(s1.send(sar))
	must(t, err)
	wantSuccess(t, ans)
	saa := s2.send(&cx.SAR{SessionID: s2.session(), OriginHost: s2.host, OriginRealm: realm, DestinationRealm: realm,
		PublicIdentity: []string{sip}, ServerName: s2.serverName(), ServerAssignmentType: cx.SATUnregisteredUser,
		UserDataAlreadyAvailable: cx.UserDataNotAvailable})
	saaBytes, err := saa.Serialize()
	must(t, err)
	if a, err := cx.ParseSAA(saa); err != nil || len(a.SCSCFRestorationInfo) != 1 {
		t.Fatalf("SAA: %v, %d restoration groups", err, len(a.SCSCFRestorationInfo))
	}
	pcap := filepath.Join(t.TempDir(), "restoration.pcap")
	must(t, tshark.WritePcap(pcap, tshark.Conversation{ClientPort: 40000, ServerPort: 3868},
		[]tshark.Segment{{Payload: sarBytes, FromClient: true}, {Payload: saaBytes}}))
	// Not tshark.DecodeDiameter: Registration-Time-Out (661, Rel-17) is newer than the installed Wireshark's
	// dictionary, which names AVPs up to 660 (docs/diameter.md); it is the one unknown AVP allowed.
	out := tshark.Run(t, bin, "-r", pcap, "-d", "tcp.port==3868,diameter", "-V")
	if strings.Contains(strings.ToLower(out), "malformed") || strings.Contains(out, "Severity level: Error") {
		t.Errorf("tshark reports a malformed packet or an error:\n%s", tshark.Around(out, "alformed"))
	}
	if strings.Count(out, "AVP: Unknown(") != strings.Count(out, "AVP: Unknown(661)") {
		t.Errorf("tshark does not know an AVP other than Registration-Time-Out:\n%s", tshark.Around(out, "AVP: Unknown("))
	}
	for _, want := range []string{"SCSCF-Restoration-Info", "Restoration-Info", "Path:", "Contact:", "Call-ID-SIP-Header",
		"Initial-CSeq-Sequence-Number", "SIP-Authentication-Scheme"} {
		if strings.Count(out, want) < 2 { // in the SAR and in the SAA
			t.Errorf("tshark names %q %d times, want it in both messages", want, strings.Count(out, want))
		}
	}
}
