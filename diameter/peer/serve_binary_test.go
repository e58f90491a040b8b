package peer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
)

// binaryEcho is echoHandler as a BinaryHandler: it answers Echo from the frame, in wire form, as the HSS's Cx
// procedures do. mode makes it misbehave.
type binaryEcho struct {
	mode  string // "": a complete answer; "no-origin": without Origin-Host; "no-proxy": Proxy-Info not copied;
	calls int    // "error": a 5030 outcome; "panic"; "nil": neither answer nor error
}

func (b *binaryEcho) ServeDiameter(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
	return echoHandler().ServeDiameter(ctx, req, from)
}

func (b *binaryEcho) ServesBinary(app, command uint32) bool {
	return app == echoApp && command == cmdEcho
}

func (b *binaryEcho) ServeDiameterBinary(_ context.Context, frame []byte, _ PeerInfo) ([]byte, error) {
	b.calls++
	switch b.mode {
	case "error":
		return nil, &diameter.Error{Code: 5030, Err: errors.New("user unknown to the echo")}
	case "panic":
		panic("echo handler bug")
	case "nil":
		return nil, nil
	}
	avps := [][]byte{sessionAVP(rawSessionID(frame)), avpRaw(avpResultCode, avpFlagMandatory, 0, u32(uint32(diameter.Success)))}
	if b.mode != "no-origin" {
		avps = append(avps, identityAVP(avpOriginHost, "hss.test.example"), identityAVP(avpOriginRealm, testRealm))
	}
	walkAVPs(frame[headerLength:], func(code uint32, flags uint8, vendor uint32, value []byte) bool {
		switch {
		case code == avpEchoPay && vendor == echoVendor, code == avpVendorSpecificApplicationID && vendor == 0,
			code == avpAuthSessionState && vendor == 0, code == avpProxyInfo && vendor == 0 && b.mode != "no-proxy":
			avps = append(avps, avpRaw(code, flags, vendor, value))
		}
		return true
	})
	// Identifiers and flags left zero: the peer layer sets them.
	return frameRaw(0, 0, 0, 0, 0, avps...), nil
}

// A BinaryHandler's answer fits its request: identifiers, flags, command and application from the request,
// Session-Id first, Origin AVPs and Proxy-Info present — straight from its bytes when it has them, completed
// the go-diameter way when not; errors, panics and no answer are answered as a Handler's are.
func TestBinaryHandler(t *testing.T) {
	proxyInfo := avpRaw(avpProxyInfo, avpFlagMandatory, 0, append(identityAVP(280, "relay.test.example"),
		avpRaw(33, avpFlagMandatory, 0, []byte("state"))...))
	for _, tc := range []struct {
		name, mode string
		proxy      bool
		want       diameter.ResultCode
	}{
		{name: "complete answer", want: diameter.Success},
		{name: "complete answer with Proxy-Info", proxy: true, want: diameter.Success},
		{name: "no Origin-Host: completed", mode: "no-origin", want: diameter.Success},
		{name: "Proxy-Info not copied: completed", mode: "no-proxy", proxy: true, want: diameter.Success},
		{name: "error outcome", mode: "error", want: 5030},
		{name: "panic", mode: "panic", want: diameter.UnableToComply},
		{name: "no answer", mode: "nil", want: diameter.UnableToComply},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			h := &binaryEcho{mode: tc.mode}
			_, _, raw := openRaw(t, testConfig(t, "hss.test.example"), h)
			extra := [][]byte{avpRaw(avpEchoPay, 0xc0, echoVendor, []byte("ping"))}
			if tc.proxy {
				extra = append(extra, proxyInfo)
			}
			req := echoRaw(0x1234, 0x5678, "hss;bin;1", extra...)
			raw.write(req)
			ans := raw.readAnswer()
			if h.calls != 1 {
				t.Fatalf("ServeDiameterBinary called %d times", h.calls)
			}
			if got := resultCode(t, ans); got != tc.want {
				t.Fatalf("Result-Code %d, want %d: %s", got, tc.want, ans)
			}
			hd := ans.Header
			if hd.HopByHopID != 0x1234 || hd.EndToEndID != 0x5678 || hd.CommandCode != cmdEcho || hd.ApplicationID != echoApp ||
				hd.CommandFlags != flagProxiable || hd.Version != diameterVersion {
				t.Fatalf("answer header %+v does not fit the request", hd)
			}
			if ans.AVP[0].Code != avpSessionID || sessionIDOf(ans) != "hss;bin;1" {
				t.Fatalf("Session-Id not first: %s", ans)
			}
			if findAVP(ans.AVP, avpOriginHost) == nil || findAVP(ans.AVP, avpOriginRealm) == nil {
				t.Fatalf("Origin AVPs missing: %s", ans)
			}
			if tc.proxy {
				p := findAVP(ans.AVP, avpProxyInfo)
				if p == nil {
					t.Fatalf("Proxy-Info not in the answer: %s", ans)
				}
				if got, _ := p.Serialize(); !bytes.Equal(got, proxyInfo) {
					t.Fatalf("Proxy-Info changed: %x, want %x", got, proxyInfo)
				}
			}
			if tc.want == diameter.Success {
				echoed := false
				for _, a := range ans.AVP {
					echoed = echoed || a.Code == avpEchoPay && a.VendorID == echoVendor
				}
				if !echoed {
					t.Fatalf("Echo-Payload not echoed: %s", ans)
				}
			}
		})
	}
}

// fitBinaryAnswer refuses answers it cannot vouch for, so that they go the go-diameter way.
func TestFitBinaryAnswer(t *testing.T) {
	req := echoRaw(7, 8, "s;fit")
	good := func() []byte {
		return frameRaw(0, 0, 0, 0, 0, sessionAVP("s;fit"), avpRaw(avpResultCode, avpFlagMandatory, 0, u32(2001)),
			identityAVP(avpOriginHost, "h"), identityAVP(avpOriginRealm, "r"))
	}
	if _, ok := fitBinaryAnswer(req, "s;fit", good()); !ok {
		t.Fatal("a complete answer was refused")
	}
	for name, ans := range map[string][]byte{
		"empty":            nil,
		"header only":      frameRaw(0, 0, 0, 0, 0),
		"other Session-Id": frameRaw(0, 0, 0, 0, 0, sessionAVP("s;other"), identityAVP(avpOriginHost, "h"), identityAVP(avpOriginRealm, "r")),
		"Session-Id not first": frameRaw(0, 0, 0, 0, 0, identityAVP(avpOriginHost, "h"), sessionAVP("s;fit"),
			identityAVP(avpOriginRealm, "r")),
		"no Origin-Realm": frameRaw(0, 0, 0, 0, 0, sessionAVP("s;fit"), identityAVP(avpOriginHost, "h")),
		"length field wrong": func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[0:4], uint32(len(b)+4))
			return b
		}(),
		"AVP overruns": func() []byte { b := good(); b[headerLength+7] = 0xff; return b }(),
	} {
		if _, ok := fitBinaryAnswer(req, "s;fit", ans); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	// A 3xxx Result-Code gets the 'E' bit (RFC 6733 §7.1.3).
	proto := frameRaw(0, 0, 0, 0, 0, sessionAVP("s;fit"), avpRaw(avpResultCode, avpFlagMandatory, 0, u32(3002)),
		identityAVP(avpOriginHost, "h"), identityAVP(avpOriginRealm, "r"))
	out, ok := fitBinaryAnswer(req, "s;fit", proto)
	if !ok || out[4]&flagError == 0 {
		t.Fatalf("3002 answer: ok %v, flags %#x", ok, out[4])
	}
}
