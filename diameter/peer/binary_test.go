package peer

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
)

// echoRawNoOrigin is an Echo request in wire form without Origin-Host and Origin-Realm, with a
// Destination-Host when host is set.
func echoRawNoOrigin(sid, host, payload string) []byte {
	avps := [][]byte{
		sessionAVP(sid),
		vsaiAVP(),
		avpRaw(avpAuthSessionState, avpFlagMandatory, 0, u32(1)),
		identityAVP(avpDestinationRealm, testRealm),
	}
	if host != "" {
		avps = append(avps, identityAVP(avpDestinationHost, host))
	}
	avps = append(avps, avpRaw(avpEchoPay, avpFlagMandatory|avpFlagVendor, echoVendor, []byte(payload)))
	return frameRaw(flagRequest|flagProxiable|flagRetransmit, cmdEcho, echoApp, 7, 7, avps...)
}

// TestRequestBinary: a request in wire form goes out with the node's identifiers and
// Origin-Host/Origin-Realm added, routed by its Destination-Host; the answer comes back as the
// peer sent it, and the caller's buffer is untouched.
func TestRequestBinary(t *testing.T) {
	leakCheck(t)
	var seen atomic.Pointer[diam.Message]
	server := newNode(t, testConfig(t, "hss.test.example"), HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		seen.Store(req)
		return echoHandler().ServeDiameter(ctx, req, from)
	}))
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	connectPair(t, client, server)

	req := echoRawNoOrigin("scscf;bin;1", "hss.test.example", "ping!")
	before := bytes.Clone(req)
	ans, err := client.RequestBinary(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req, before) {
		t.Fatal("RequestBinary modified the caller's buffer")
	}
	got := seen.Load()
	h := parseHeader(ans)
	switch {
	case h.isRequest() || h.code != cmdEcho || h.app != echoApp || int(h.length) != len(ans):
		t.Fatalf("answer header %+v", h)
	case h.hbh != got.Header.HopByHopID || h.e2e != got.Header.EndToEndID:
		t.Fatalf("answer ids %x/%x, request %x/%x", h.hbh, h.e2e, got.Header.HopByHopID, got.Header.EndToEndID)
	case got.Header.HopByHopID == 7 || got.Header.EndToEndID == 7:
		t.Fatal("the node did not set its own identifiers")
	case got.Header.CommandFlags&flagRetransmit != 0:
		t.Fatal("the 'T' flag of the caller's frame was sent")
	case rawSessionID(ans) != "scscf;bin;1":
		t.Fatalf("answer Session-Id %q", rawSessionID(ans))
	}
	if code, _, ok := rawResult(ans); !ok || code != uint32(diameter.Success) {
		t.Fatalf("answer result %d %t", code, ok)
	}
	if host, _ := avpString(findAVP(got.AVP, avpOriginHost)); host != "scscf.test.example" {
		t.Fatalf("request Origin-Host %q", host)
	}
	if realm, _ := avpString(findAVP(got.AVP, avpOriginRealm)); realm != testRealm {
		t.Fatalf("request Origin-Realm %q", realm)
	}
	var payload string
	for _, a := range got.AVP {
		if a.Code == avpEchoPay && a.VendorID == echoVendor {
			payload, _ = avpString(a)
		}
	}
	if payload != "ping!" {
		t.Fatalf("Echo-Payload %q", payload)
	}
}

// TestRequestBinaryRejectsBadFrames: what is not one whole request never reaches a peer.
func TestRequestBinaryRejectsBadFrames(t *testing.T) {
	client := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
	good := echoRawNoOrigin("s", "", "x")
	answer := bytes.Clone(good)
	answer[4] &^= flagRequest
	overrun := bytes.Clone(good)
	overrun[headerLength+7] = 0xff // Session-Id length past the end
	tests := []struct {
		name string
		b    []byte
		is   error
	}{
		{"short", good[:10], errMalformedRequest},
		{"length mismatch", good[:len(good)-4], errMalformedRequest},
		{"answer", answer, ErrNotRequest},
		{"AVP overrun", overrun, errMalformedRequest},
	}
	for _, tt := range tests {
		if _, err := client.RequestBinary(context.Background(), tt.b); !errors.Is(err, tt.is) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.is)
		}
	}
	if _, err := client.RequestBinary(context.Background(), good); !errors.Is(err, ErrNoPeer) {
		t.Errorf("no peer: %v", err)
	}
}

// FuzzRawScan: the top-level AVP scans the peer layer runs on frames never panic or read out
// of bounds, whatever the bytes.
func FuzzRawScan(f *testing.F) {
	f.Add(echoRawNoOrigin("s", "h", "x"))
	f.Add(echoRaw(1, 2, "sid"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rawResult(b)
		rawSessionID(b)
		walkAVPs(b, func(uint32, uint8, uint32, []byte) bool { return true })
	})
}
