package peer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
)

// FuzzFrame drives the wire boundary: the frame reader on a byte stream, then for each frame
// the request checks and decoding, and the answer the peer layer would send. Seeds are the
// corpus in testdata/fuzz/FuzzFrame (wire vectors of the tests: good and bad requests,
// answers, CER, DWR, nested groups, broken lengths).
//
// Invariants: nothing panics; a frame is exactly its Message Length; every error answer
// encodes and decodes again; every accepted request re-encodes and decodes again with the same
// AVPs; a handler's answer to it encodes.
func FuzzFrame(f *testing.F) {
	n, err := New(testConfig(f, "fuzz.test.example"), echoHandler())
	if err != nil {
		f.Fatal(err)
	}
	d := n.cfg.Dictionary
	supports := func(app uint32) bool { return app == echoApp }
	mustRoundTrip := func(t *testing.T, what string, m *diam.Message) {
		b, err := encode(m)
		if err != nil {
			t.Fatalf("%s does not encode: %v\n%s", what, err, m)
		}
		back, derr := decodeMessage(b, d)
		if derr != nil {
			t.Fatalf("%s does not decode again: %v\n%s", what, derr, hexdump(b))
		}
		if len(back.AVP) != len(m.AVP) {
			t.Fatalf("%s: %d AVPs encoded, %d decoded", what, len(m.AVP), len(back.AVP))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			frame, err := readFrame(r, 64<<10)
			if err != nil {
				var fe *frameError
				if errors.As(err, &fe) && fe.hdr.isRequest() {
					mustRoundTrip(t, "framing error answer", n.errorAnswer(fe.hdr, nil, nil, &diameter.Error{Code: diameter.InvalidMessageLength}, fe.reason))
				}
				return
			}
			h := parseHeader(frame)
			if uint32(len(frame)) != h.length {
				t.Fatalf("frame of %d octets, Message Length %d", len(frame), h.length)
			}
			if !h.isRequest() {
				if m, derr := decodeMessage(frame, d); derr == nil {
					if _, err := encode(m); err != nil {
						t.Fatalf("decoded answer does not encode: %v", err)
					}
				}
				continue
			}
			req, derr := decodeRequest(frame, d, supports)
			// A request served in wire form (BinaryHandler) is checked without being decoded: the same verdict.
			if cerr := checkRequest(frame, d, supports); (cerr == nil) != (derr == nil) || cerr != nil && cerr.Code != derr.Code {
				t.Fatalf("checkRequest %v, decodeRequest %v", cerr, derr)
			}
			if derr != nil {
				if derr.Err == nil {
					t.Fatalf("error %d without a cause", derr.Code)
				}
				ans := n.errorAnswer(h, nil, frame, derr, derr.Err.Error())
				if derr.Code.IsProtocolError() != (ans.Header.CommandFlags&flagError != 0) {
					t.Fatalf("E bit wrong for %d", derr.Code)
				}
				mustRoundTrip(t, "error answer", ans)
				continue
			}
			mustRoundTrip(t, "decoded request", req)
			ans := req.Answer(uint32(diameter.Success))
			n.finishAnswer(req, ans)
			mustRoundTrip(t, "handler answer", ans)
		}
	})
}
