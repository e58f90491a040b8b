package hss_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss/aka"
)

// TestNoSecretsInLogs runs MARs (with a resync and an error), an SAR and a de-registration with the HSS
// logging at Debug, and checks that no log line holds K, OP, OPc, RAND, AUTN, XRES, CK or IK, in hex or
// base64.
func TestNoSecretsInLogs(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := newEnvLog(t, openSQLite(t), nil, zap.New(core))
	scscf := e.connect(scscfHost)
	sub := e.subscriber(nil)
	impi, _, sip, _ := ids(sub)

	secrets := [][]byte{sub.Private.K, sub.Private.OP}
	keys := testKeys(t)
	opc, err := keys.DeriveOPc()
	must(t, err)
	secrets = append(secrets, opc[:])
	usim := newUSIM(t)
	must(t, usim.SetSQNms(0x4e20))
	a := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 2, nil)
	wantSuccess(t, a)
	rand, autn := challenge(t, a.SIPAuthDataItems[0])
	_, err = usim.Authenticate(rand, autn)
	var sf *aka.SyncFailure
	if !errors.As(err, &sf) {
		t.Fatalf("want a sync failure: %v", err)
	}
	resync := append(rand[:], sf.AUTS...)
	b := scscf.mar(impi, sip, cx.SchemeAKAv1MD5, 1, func(r *cx.MAR) { r.SIPAuthDataItem.Authorization = resync })
	wantSuccess(t, b)
	wantExperimental(t, scscf.mar(impi, "sip:nobody@"+realm, cx.SchemeAKAv1MD5, 1, nil), cx.ErrorUserUnknown)
	wantSuccess(t, scscf.sar(impi, []string{sip}, cx.SATRegistration, nil))
	wantSuccess(t, scscf.sar(impi, []string{sip}, cx.SATUserDeregistration, nil))
	for _, it := range append(a.SIPAuthDataItems, b.SIPAuthDataItems...) {
		secrets = append(secrets, it.Authenticate[:16], it.Authenticate[16:], it.Authorization, it.ConfidentialityKey, it.IntegrityKey)
	}
	secrets = append(secrets, sf.AUTS)

	enc := zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig())
	var all strings.Builder
	for _, entry := range logs.All() {
		buf, err := enc.EncodeEntry(entry.Entry, entry.Context)
		must(t, err)
		all.Write(buf.Bytes())
	}
	text := strings.ToLower(all.String())
	if logs.Len() < 6 {
		t.Fatalf("only %d log lines at Debug: the check would prove nothing", logs.Len())
	}
	if !strings.Contains(text, strings.ToLower(impi)) {
		t.Fatalf("the IMPI is not in the logs either: the logs are not the HSS's\n%s", all.String())
	}
	for _, s := range secrets {
		for _, form := range []string{hex.EncodeToString(s), strings.ToLower(base64.StdEncoding.EncodeToString(s))} {
			if strings.Contains(text, form) {
				t.Errorf("a secret (%d bytes) is in the logs as %s", len(s), form)
			}
		}
	}
}
