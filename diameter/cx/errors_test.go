package cx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// marshalled builds msg from m; the edit functions then break it.
func built(t *testing.T, d *dict.Parser, m Message) *diam.Message {
	t.Helper()
	msg, err := m.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func drop(code AVPCode, vendor uint32) func(*diam.Message) {
	return func(m *diam.Message) { m.AVP = filter(m.AVP, avpKey{code, vendor}) }
}

func filter(avps []*diam.AVP, k avpKey) []*diam.AVP {
	var out []*diam.AVP
	for _, a := range avps {
		if diamKey(a) != k {
			out = append(out, a)
		}
	}
	return out
}

func find(avps []*diam.AVP, k avpKey) *diam.AVP {
	for _, a := range avps {
		if diamKey(a) == k {
			return a
		}
	}
	return nil
}

func add(a *diam.AVP) func(*diam.Message) {
	return func(m *diam.Message) { m.AVP = append(m.AVP, a) }
}

func replace(k avpKey, a *diam.AVP) func(*diam.Message) {
	return func(m *diam.Message) {
		for i, old := range m.AVP {
			if diamKey(old) == k {
				m.AVP[i] = a
			}
		}
	}
}

// inGroup edits the children of the first grouped AVP k.
func inGroup(k avpKey, edit func([]*diam.AVP) []*diam.AVP) func(*diam.Message) {
	return func(m *diam.Message) {
		g := find(m.AVP, k).Data.(*diam.GroupedAVP)
		g.AVP = edit(g.AVP)
	}
}

// wantFailed describes the expected Failed-AVP: the path of grouped AVPs down to the offender,
// and the offender's code, vendor and payload.
type wantFailed struct {
	path    []avpKey
	key     avpKey
	flags   uint8
	payload []byte
}

func checkFailed(t *testing.T, got []*diam.AVP, want wantFailed) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d Failed-AVPs, want 1", len(got))
	}
	a := got[0]
	for _, k := range want.path {
		if diamKey(a) != k {
			t.Fatalf("Failed-AVP level is %d/%d, want group %d/%d", a.Code, a.VendorID, k.code, k.vendor)
		}
		g, ok := a.Data.(*diam.GroupedAVP)
		if !ok || len(g.AVP) != 1 {
			t.Fatalf("Failed-AVP group %d holds %v, want exactly the offender", a.Code, a.Data)
		}
		a = g.AVP[0]
	}
	if diamKey(a) != want.key || a.Flags != want.flags || !bytes.Equal(raw(a), want.payload) {
		t.Fatalf("Failed-AVP = code %d vendor %d flags %#x payload %x, want %d/%d %#x %x",
			a.Code, a.VendorID, a.Flags, raw(a), want.key.code, want.key.vendor, want.flags, want.payload)
	}
	// It must be encodable as it stands: the answer carries it.
	if _, err := a.Serialize(); err != nil {
		t.Fatalf("Failed-AVP does not serialize: %v", err)
	}
}

const vm = avp.Vbit | avp.Mbit

// TestUnmarshalErrors: ABNF violations give the RFC 6733 result code and Failed-AVP.
func TestUnmarshalErrors(t *testing.T) {
	d := newTestDictionary(t)
	secondIMPU := diam.NewAVP(uint32(AVPPublicIdentity), vm, Vendor3GPP, datatype.UTF8String("sip:second@"+testRealm))
	tests := []struct {
		name   string
		msg    Message
		edit   func(*diam.Message)
		parse  func(*diam.Message) error
		code   diameter.ResultCode
		failed wantFailed
	}{
		{"MAR without User-Name", sampleMAR(), drop(AVPUserName, 0), parseMAR, diameter.MissingAVP,
			wantFailed{key: base(AVPUserName), flags: avp.Mbit, payload: []byte{}}},
		{"MAR without Public-Identity", sampleMAR(), drop(AVPPublicIdentity, Vendor3GPP), parseMAR, diameter.MissingAVP,
			wantFailed{key: tgpp(AVPPublicIdentity), flags: vm, payload: []byte{}}},
		{"MAR without SIP-Number-Auth-Items", sampleMAR(), drop(AVPSIPNumberAuthItems, Vendor3GPP), parseMAR, diameter.MissingAVP,
			wantFailed{key: tgpp(AVPSIPNumberAuthItems), flags: vm, payload: make([]byte, 4)}},
		{"MAR without SIP-Auth-Data-Item", sampleMAR(), drop(AVPSIPAuthDataItem, Vendor3GPP), parseMAR, diameter.MissingAVP,
			wantFailed{key: tgpp(AVPSIPAuthDataItem), flags: vm, payload: []byte{}}},
		{"MAR without Session-Id", sampleMAR(), drop(AVPSessionID, 0), parseMAR, diameter.MissingAVP,
			wantFailed{key: base(AVPSessionID), flags: avp.Mbit, payload: []byte{}}},
		{"MAR without Auth-Session-State", sampleMAR(), drop(AVPAuthSessionState, 0), parseMAR, diameter.MissingAVP,
			wantFailed{key: base(AVPAuthSessionState), flags: avp.Mbit, payload: make([]byte, 4)}},
		{"MAR with two Public-Identity", sampleMAR(), add(secondIMPU), parseMAR, diameter.AVPOccursTooManyTimes,
			wantFailed{key: tgpp(AVPPublicIdentity), flags: vm, payload: []byte("sip:second@" + testRealm)}},
		{"UAR User-Name not UTF-8", sampleUAR(),
			replace(base(AVPUserName), diam.NewAVP(1, avp.Mbit, 0, datatype.UTF8String("\xff\xfe"))), parseUAR,
			diameter.InvalidAVPValue, wantFailed{key: base(AVPUserName), flags: avp.Mbit, payload: []byte("\xff\xfe")}},
		{"UAR unknown AVP with the M bit", sampleUAR(),
			add(diam.NewAVP(4242, vm, 9999, datatype.OctetString("x"))), parseUAR,
			diameter.AVPUnsupported, wantFailed{key: avpKey{4242, 9999}, flags: vm, payload: []byte("x")}},
		{"UAR User-Authorization-Type 7", sampleUAR(),
			replace(tgpp(AVPUserAuthorizationType), diam.NewAVP(623, vm, Vendor3GPP, datatype.Enumerated(7))), parseUAR,
			diameter.InvalidAVPValue, wantFailed{key: tgpp(AVPUserAuthorizationType), flags: vm, payload: []byte{0, 0, 0, 7}}},
		{"SAR Server-Assignment-Type 99", sampleSAR(),
			replace(tgpp(AVPServerAssignmentType), diam.NewAVP(614, vm, Vendor3GPP, datatype.Enumerated(99))), parseSAR,
			diameter.InvalidAVPValue, wantFailed{key: tgpp(AVPServerAssignmentType), flags: vm, payload: []byte{0, 0, 0, 99}}},
		{"SAR Server-Assignment-Type as 5 bytes", sampleSAR(),
			replace(tgpp(AVPServerAssignmentType), diam.NewAVP(614, vm, Vendor3GPP, datatype.OctetString("\x00\x00\x00\x01\x00"))), parseSAR,
			diameter.InvalidAVPLength, wantFailed{key: tgpp(AVPServerAssignmentType), flags: vm, payload: make([]byte, 4)}},
		{"SAR without Server-Name", sampleSAR(), drop(AVPServerName, Vendor3GPP), parseSAR, diameter.MissingAVP,
			wantFailed{key: tgpp(AVPServerName), flags: vm, payload: []byte{}}},
		{"SAR Restoration-Info without Path", sampleSAR(),
			inGroup(tgpp(AVPSCSCFRestorationInfo), func(kids []*diam.AVP) []*diam.AVP {
				ri := find(kids, tgpp(AVPRestorationInfo)).Data.(*diam.GroupedAVP)
				ri.AVP = filter(ri.AVP, tgpp(AVPPath))
				return kids
			}), parseSAR, diameter.MissingAVP,
			wantFailed{path: []avpKey{tgpp(AVPSCSCFRestorationInfo), tgpp(AVPRestorationInfo)}, key: tgpp(AVPPath),
				flags: avp.Vbit, payload: []byte{}}},
		{"RTR Deregistration-Reason without Reason-Code", sampleRTR(),
			inGroup(tgpp(AVPDeregistrationReason), func(kids []*diam.AVP) []*diam.AVP {
				return filter(kids, tgpp(AVPReasonCode))
			}), parseRTR, diameter.MissingAVP,
			wantFailed{path: []avpKey{tgpp(AVPDeregistrationReason)}, key: tgpp(AVPReasonCode), flags: vm, payload: make([]byte, 4)}},
		{"RTR without Destination-Host", sampleRTR(), drop(AVPDestinationHost, 0), parseRTR, diameter.MissingAVP,
			wantFailed{key: base(AVPDestinationHost), flags: avp.Mbit, payload: []byte{}}},
		{"PPR Reason-Code twice in SIP-Digest", samplePPR(),
			inGroup(tgpp(AVPSIPAuthDataItem), func(kids []*diam.AVP) []*diam.AVP {
				g := find(kids, tgpp(AVPSIPDigestAuthenticate)).Data.(*diam.GroupedAVP)
				g.AVP = append(g.AVP, diam.NewAVP(104, avp.Mbit, 0, datatype.UTF8String("again")))
				return kids
			}), parsePPR, diameter.AVPOccursTooManyTimes,
			wantFailed{path: []avpKey{tgpp(AVPSIPAuthDataItem), tgpp(AVPSIPDigestAuthenticate)}, key: base(AVPDigestRealm),
				flags: avp.Mbit, payload: []byte("again")}},
		{"MAA without any result", sampleMAA(), drop(AVPResultCode, 0), parseMAA, diameter.MissingAVP,
			wantFailed{key: base(AVPResultCode), flags: avp.Mbit, payload: make([]byte, 4)}},
		{"UAA Experimental-Result without code", sampleUAA(),
			inGroup(base(AVPExperimentalResult), func(kids []*diam.AVP) []*diam.AVP {
				return filter(kids, base(AVPExperimentalResultCode))
			}), parseUAA, diameter.MissingAVP,
			wantFailed{path: []avpKey{base(AVPExperimentalResult)}, key: base(AVPExperimentalResultCode), flags: avp.Mbit,
				payload: make([]byte, 4)}},
		{"SAA Origin-Host twice", sampleSAA(), add(diam.NewAVP(264, avp.Mbit, 0, datatype.DiameterIdentity("other"))), parseSAA,
			diameter.AVPOccursTooManyTimes, wantFailed{key: base(AVPOriginHost), flags: avp.Mbit, payload: []byte("other")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := built(t, d, tt.msg)
			tt.edit(msg)
			relength(msg)
			// Through the wire and back, so go-diameter decodes what a peer would send.
			wire, err := msg.Serialize()
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"in memory", "diam.ReadMessage", "cx.DecodeMessage"} {
				var in *diam.Message
				switch path {
				case "in memory":
					in = msg
				case "diam.ReadMessage":
					// go-diameter alone misframes some of these (a 5-byte Enumerated) and may
					// panic; that is why DecodeMessage exists. Check it when it copes.
					if in = readLenient(wire, d); in == nil {
						t.Logf("diam.ReadMessage cannot decode this message; skipped")
						continue
					}
				default:
					in, err = DecodeMessage(wire, d)
					if err != nil {
						// The wire check may catch it first; it must say the same thing.
						checkDiameterError(t, err, tt.code, tt.failed)
						continue
					}
				}
				checkDiameterError(t, tt.parse(in), tt.code, tt.failed)
			}
		})
	}
}

// relength recomputes the lengths an edit made stale: grouped AVPs and the message header.
func relength(m *diam.Message) {
	var fix func(avps []*diam.AVP)
	fix = func(avps []*diam.AVP) {
		for _, a := range avps {
			if g, ok := a.Data.(*diam.GroupedAVP); ok {
				fix(g.AVP)
				a.Length = headerLen(a) + g.Len()
			}
		}
	}
	fix(m.AVP)
	m.Header.MessageLength = uint32(m.Len())
}

func readLenient(wire []byte, d *dict.Parser) (m *diam.Message) {
	defer func() {
		if recover() != nil {
			m = nil
		}
	}()
	m, err := diam.ReadMessage(bytes.NewReader(wire), d)
	if err != nil {
		return nil
	}
	return m
}

func checkDiameterError(t *testing.T, err error, code diameter.ResultCode, failed wantFailed) {
	t.Helper()
	var de *diameter.Error
	if !errors.As(err, &de) {
		t.Fatalf("error %v is not a *diameter.Error", err)
	}
	if de.Code != code || de.VendorID != 0 {
		t.Fatalf("code %d vendor %d, want %d: %v", de.Code, de.VendorID, code, err)
	}
	if failed.key == (avpKey{}) {
		return
	}
	if failed.payload == nil {
		return
	}
	// The wire check reports a bad length with the AVP as received (its real payload).
	if code == diameter.InvalidAVPLength && len(de.FailedAVPs) == 1 && len(raw(innermost(de.FailedAVPs[0]))) != len(failed.payload) {
		failed.payload = raw(innermost(de.FailedAVPs[0]))
	}
	checkFailed(t, de.FailedAVPs, failed)
}

func innermost(a *diam.AVP) *diam.AVP {
	for {
		g, ok := a.Data.(*diam.GroupedAVP)
		if !ok || len(g.AVP) != 1 {
			return a
		}
		a = g.AVP[0]
	}
}

func parseMAR(m *diam.Message) error { _, err := ParseMAR(m); return err }
func parseMAA(m *diam.Message) error { _, err := ParseMAA(m); return err }
func parseUAR(m *diam.Message) error { _, err := ParseUAR(m); return err }
func parseUAA(m *diam.Message) error { _, err := ParseUAA(m); return err }
func parseSAR(m *diam.Message) error { _, err := ParseSAR(m); return err }
func parseSAA(m *diam.Message) error { _, err := ParseSAA(m); return err }
func parseRTR(m *diam.Message) error { _, err := ParseRTR(m); return err }
func parsePPR(m *diam.Message) error { _, err := ParsePPR(m); return err }

// TestPartialDecodeOnError: a request that fails still yields what its error answer needs.
func TestPartialDecodeOnError(t *testing.T) {
	d := newTestDictionary(t)
	req := sampleUAR()
	msg := built(t, d, req)
	drop(AVPPublicIdentity, Vendor3GPP)(msg)
	relength(msg)
	got, err := ParseUAR(msg)
	if err == nil {
		t.Fatal("no error for a UAR without Public-Identity")
	}
	ans := NewUAA(got)
	ans.OriginHost, ans.OriginRealm = testHSS, testRealm
	ans.SetError(err)
	if ans.SessionID != req.SessionID || len(ans.ProxyInfo) != 1 || ans.ProxyInfo[0].ProxyHost != testDRA {
		t.Fatalf("answer lost the request's Session-Id or Proxy-Info: %+v", ans)
	}
	if code, vendor := ans.Result(); code != diameter.MissingAVP || vendor != 0 || len(ans.FailedAVP) != 1 {
		t.Fatalf("Result() = %d/%d, Failed-AVP %v", code, vendor, ans.FailedAVP)
	}
	out, err := DecodeMessage(encode(t, d, ans), d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseUAA(out)
	if err != nil {
		t.Fatalf("the error answer does not parse: %v", err)
	}
	if len(back.FailedAVP) != 1 || diamKey(back.FailedAVP[0]) != tgpp(AVPPublicIdentity) {
		t.Fatalf("Failed-AVP on the wire: %v", back.FailedAVP)
	}
}

func TestUnexpectedMessage(t *testing.T) {
	d := newTestDictionary(t)
	mar := built(t, d, sampleMAR())
	maa := built(t, d, sampleMAA())
	tests := []struct {
		name string
		err  error
		is   error
		code diameter.ResultCode
	}{
		{"MAR as UAR", (&UAR{}).Unmarshal(mar), ErrUnexpectedMessage, 0},
		{"MAA as MAR", (&MAR{}).Unmarshal(maa), ErrUnexpectedMessage, 0},
		{"MAR as MAA", (&MAA{}).Unmarshal(mar), ErrUnexpectedMessage, 0},
		{"nil message", (&MAR{}).Unmarshal(nil), ErrUnexpectedMessage, 0},
		{"empty message", (&MAR{}).Unmarshal(&diam.Message{}), ErrUnexpectedMessage, 0},
		{"request with E bit", func() error {
			m := built(t, d, sampleMAR())
			m.Header.CommandFlags |= diam.ErrorFlag
			return (&MAR{}).Unmarshal(m)
		}(), nil, diameter.InvalidHdrBits},
		{"other application", func() error {
			m := built(t, d, sampleMAR())
			m.Header.ApplicationID = 16777217
			_, err := Parse(m)
			return err
		}(), ErrUnexpectedMessage, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.is != nil && !errors.Is(tt.err, tt.is) {
				t.Fatalf("err = %v, want %v", tt.err, tt.is)
			}
			var de *diameter.Error
			if tt.code != 0 && (!errors.As(tt.err, &de) || de.Code != tt.code) {
				t.Fatalf("err = %v, want result %d", tt.err, tt.code)
			}
		})
	}
}

// TestDuplicateResultKeepsFirst: a second Result-Code is reported and does not replace the first.
func TestDuplicateResultKeepsFirst(t *testing.T) {
	d := newTestDictionary(t)
	tests := []struct {
		name string
		msg  Message
		dup  func(*diam.Message)
		want diameter.ResultCode
	}{
		{"Result-Code", sampleMAA(), add(diam.NewAVP(268, avp.Mbit, 0, datatype.Unsigned32(5012))), diameter.Success},
		{"Experimental-Result-Code", sampleUAA(), inGroup(base(AVPExperimentalResult), func(kids []*diam.AVP) []*diam.AVP {
			return append(kids, diam.NewAVP(298, avp.Mbit, 0, datatype.Unsigned32(5001)))
		}), FirstRegistration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := built(t, d, tt.msg)
			tt.dup(msg)
			relength(msg)
			back, err := Parse(msg)
			var de *diameter.Error
			if !errors.As(err, &de) || de.Code != diameter.AVPOccursTooManyTimes {
				t.Fatalf("err = %v, want DIAMETER_AVP_OCCURS_TOO_MANY_TIMES", err)
			}
			if code, _ := back.(Answer).Result(); code != tt.want {
				t.Fatalf("Result() = %d after a duplicate, want the first value %d", code, tt.want)
			}
		})
	}
}

// TestErrorAnswer: an answer with the 'E' bit follows RFC 6733 §7.2, not the Cx ABNF.
func TestErrorAnswer(t *testing.T) {
	d := newTestDictionary(t)
	a := &MAA{SessionID: "s", ResultCode: diameter.UnableToDeliver, OriginHost: testDRA, OriginRealm: testRealm}
	msg := built(t, d, a)
	if msg.Header.CommandFlags&diam.ErrorFlag == 0 {
		t.Fatal("3002 answer without the E bit (RFC 6733 §7.1.3)")
	}
	drop(AVPVendorSpecificApplicationID, 0)(msg)
	drop(AVPAuthSessionState, 0)(msg)
	drop(AVPSessionID, 0)(msg)
	got, err := ParseMAA(msg)
	if err != nil {
		t.Fatalf("answer-message rejected: %v", err)
	}
	if code, _ := got.Result(); code != diameter.UnableToDeliver {
		t.Fatalf("Result() = %d", code)
	}
	drop(AVPResultCode, 0)(msg)
	if _, err := ParseMAA(msg); err == nil || !strings.Contains(err.Error(), "Result-Code") {
		t.Fatalf("answer-message without Result-Code: %v", err)
	}
}

func TestMarshalErrors(t *testing.T) {
	d := newTestDictionary(t)
	tests := []struct {
		name string
		msg  Message
		d    *dict.Parser
		is   error
	}{
		{"nil dictionary", sampleMAR(), nil, ErrNotInDictionary},
		{"no Origin-Host", func() Message { m := sampleMAR(); m.OriginHost = ""; return m }(), d, ErrInvalidField},
		{"no Session-Id", func() Message { m := sampleUAR(); m.SessionID = ""; return m }(), d, ErrInvalidField},
		{"no Visited-Network-Identifier", func() Message { m := sampleUAR(); m.VisitedNetworkIdentifier = nil; return m }(), d, ErrInvalidField},
		{"undefined Server-Assignment-Type", func() Message { m := sampleSAR(); m.ServerAssignmentType = 15; return m }(), d, ErrInvalidField},
		{"User-Name not UTF-8", func() Message { m := sampleMAR(); m.UserName = "\xc3"; return m }(), d, ErrInvalidField},
		{"answer without result", func() Message { a := sampleMAA(); a.ResultCode = 0; return a }(), d, ErrInvalidField},
		{"answer with both results", func() Message {
			a := sampleMAA()
			a.ExperimentalResult = &ExperimentalResult{VendorID: Vendor3GPP, Code: ErrorUserUnknown}
			return a
		}(), d, ErrInvalidField},
		{"restoration without contacts", func() Message {
			m := sampleSAR()
			m.SCSCFRestorationInfo.RestorationInfo = nil
			return m
		}(), d, ErrInvalidField},
		{"unknown AVP without data", func() Message { m := sampleMAR(); m.Unknown = []*diam.AVP{{Code: 1}}; return m }(), d, ErrInvalidField},
		{"dictionary without Cx", sampleMAR(), func() *dict.Parser {
			p, _ := dict.NewParser()
			raw, _ := dictionaryFiles.ReadFile("dict/base.xml")
			if err := p.Load(bytes.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
			return p
		}(), ErrNotInDictionary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := tt.msg.Marshal(tt.d)
			if !errors.Is(err, tt.is) || msg != nil {
				t.Fatalf("Marshal = %v, %v; want error %v", msg, err, tt.is)
			}
		})
	}
}

func TestAnswerOutcome(t *testing.T) {
	req := sampleMAR()
	req.ProxyInfo = testProxyInfo()
	a := NewMAA(req)
	if a.SessionID != req.SessionID || *a.AuthSessionState != NoStateMaintained || a.VendorSpecificApplicationID == req.VendorSpecificApplicationID ||
		!reflect.DeepEqual(a.VendorSpecificApplicationID, req.VendorSpecificApplicationID) || len(a.ProxyInfo) != 1 {
		t.Fatalf("NewMAA copied %+v", a)
	}
	tests := []struct {
		name   string
		set    func(Answer)
		code   diameter.ResultCode
		vendor uint32
		failed int
	}{
		{"success", func(a Answer) { a.SetResultCode(diameter.Success) }, diameter.Success, 0, 0},
		{"experimental", func(a Answer) { a.SetExperimentalResult(Vendor3GPP, ErrorUserUnknown) }, ErrorUserUnknown, Vendor3GPP, 0},
		{"cx error", func(a Answer) { a.SetError(Errorf(ErrorIdentitiesDontMatch, "mar %s", testIMPI)) }, ErrorIdentitiesDontMatch, Vendor3GPP, 0},
		{"wrapped base error", func(a Answer) {
			a.SetError(errors.Join(errors.New("ctx"), &diameter.Error{Code: diameter.MissingAVP,
				FailedAVPs: []*diam.AVP{diam.NewAVP(1, avp.Mbit, 0, datatype.UTF8String(""))}}))
		}, diameter.MissingAVP, 0, 1},
		{"plain error", func(a Answer) { a.SetError(errors.New("database down")) }, diameter.UnableToComply, 0, 0},
	}
	d := newTestDictionary(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ans := range []Answer{NewUAA(sampleUAR()), NewSAA(sampleSAR()), NewLIA(sampleLIR()), NewMAA(sampleMAR()),
				NewRTA(sampleRTR()), NewPPA(samplePPR())} {
				tt.set(ans)
				if code, vendor := ans.Result(); code != tt.code || vendor != tt.vendor {
					t.Fatalf("%T Result() = %d/%d, want %d/%d", ans, code, vendor, tt.code, tt.vendor)
				}
				// The outcome survives the wire.
				setOrigin(ans, testHSS, testRealm)
				back, err := Parse(mustDecode(t, d, encode(t, d, ans)))
				if err != nil {
					t.Fatalf("%T: %v", ans, err)
				}
				if code, vendor := back.(Answer).Result(); code != tt.code || vendor != tt.vendor {
					t.Fatalf("%T after the wire: %d/%d", ans, code, vendor)
				}
			}
		})
	}
	if ExperimentalResultName(ErrorUserUnknown) != "DIAMETER_ERROR_USER_UNKNOWN" || ExperimentalResultName(4242) != "" {
		t.Fatal("ExperimentalResultName")
	}
	if e := NewError(ErrorTooMuchData, nil); e.VendorID != Vendor3GPP || e.Code != 5008 {
		t.Fatalf("NewError = %+v", e)
	}
}

func setOrigin(a Answer, host, realm string) {
	switch x := a.(type) {
	case *UAA:
		x.OriginHost, x.OriginRealm = host, realm
	case *SAA:
		x.OriginHost, x.OriginRealm = host, realm
	case *LIA:
		x.OriginHost, x.OriginRealm = host, realm
	case *MAA:
		x.OriginHost, x.OriginRealm = host, realm
	case *RTA:
		x.OriginHost, x.OriginRealm = host, realm
	case *PPA:
		x.OriginHost, x.OriginRealm = host, realm
	}
}

func mustDecode(t testing.TB, d *dict.Parser, b []byte) *diam.Message {
	t.Helper()
	m, err := DecodeMessage(b, d)
	if err != nil {
		t.Fatalf("DecodeMessage: %v", err)
	}
	return m
}

// TestDecodeMessageMalformed: wire problems become *diameter.Error values, never panics.
func TestDecodeMessageMalformed(t *testing.T) {
	d := newTestDictionary(t)
	good := encode(t, d, sampleMAR())
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	setLen := func(b []byte, n int) { b[1], b[2], b[3] = byte(n>>16), byte(n>>8), byte(n) }
	// Offset of the SIP-Auth-Data-Item AVP, to break what is inside it.
	off := 20
	for off < len(good) {
		if binary.BigEndian.Uint32(good[off:]) == uint32(AVPSIPAuthDataItem) {
			break
		}
		off += (int(good[off+5])<<16 | int(good[off+6])<<8 | int(good[off+7]) + 3) &^ 3
	}
	tests := []struct {
		name string
		b    []byte
		code diameter.ResultCode
	}{
		{"short header", good[:12], diameter.InvalidMessageLength},
		{"version 2", mut(func(b []byte) []byte { b[0] = 2; return b }), diameter.UnsupportedVersion},
		{"length 0 (go-diameter would allocate 4 GiB)", mut(func(b []byte) []byte { setLen(b, 0); return b }), diameter.InvalidMessageLength},
		{"length beyond the bytes", mut(func(b []byte) []byte { setLen(b, len(b)+4); return b }), diameter.InvalidMessageLength},
		{"truncated", good[:len(good)-4], diameter.InvalidMessageLength},
		{"R and E", mut(func(b []byte) []byte { b[4] |= diam.ErrorFlag; return b }), diameter.InvalidHdrBits},
		{"unknown command", mut(func(b []byte) []byte { b[7] = 0x99; return b }), diameter.CommandUnsupported},
		{"unknown application", mut(func(b []byte) []byte { b[11] = 0x05; return b }), diameter.ApplicationUnsupported},
		{"AVP shorter than its header", mut(func(b []byte) []byte { b[20+7] = 4; return b }), diameter.InvalidAVPLength},
		{"AVP overruns", mut(func(b []byte) []byte { b[20+6] = 0xff; return b }), diameter.InvalidAVPLength},
		{"AVP inside a group overruns", mut(func(b []byte) []byte { b[off+12+6] = 0x7f; return b }), diameter.InvalidAVPLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := DecodeMessage(tt.b, d)
			var de *diameter.Error
			if !errors.As(err, &de) || de.Code != tt.code || !errors.Is(err, ErrMalformed) || msg != nil {
				t.Fatalf("DecodeMessage = %v, %v; want result %d", msg, err, tt.code)
			}
			// The stream reader agrees, or fails on the short read.
			if _, err := ReadMessage(bytes.NewReader(tt.b), d); err == nil {
				t.Fatal("ReadMessage accepted it")
			}
		})
	}
	if m, err := ReadMessage(bytes.NewReader(append(good, good...)), d); err != nil || m.Header.CommandCode != 303 {
		t.Fatalf("ReadMessage of a stream: %v", err)
	}
}

// diamKey is the code and vendor of a go-diameter AVP.
func diamKey(a *diam.AVP) avpKey { return avpKey{AVPCode(a.Code), a.VendorID} }

// raw returns the payload bytes of a, whatever type the dictionary that decoded it chose.
func raw(a *diam.AVP) []byte {
	switch v := a.Data.(type) {
	case datatype.OctetString:
		return []byte(v)
	case datatype.UTF8String:
		return []byte(v)
	case datatype.DiameterIdentity:
		return []byte(v)
	case datatype.DiameterURI:
		return []byte(v)
	case datatype.Unknown:
		return []byte(v)
	}
	return a.Data.Serialize()
}

func headerLen(a *diam.AVP) int {
	if a.Flags&avp.Vbit != 0 {
		return 12
	}
	return 8
}
