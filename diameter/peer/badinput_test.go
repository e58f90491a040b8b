package peer

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"

	"github.com/imscore/imscore/diameter"
)

// openRaw starts a node and returns a raw peer that finished the capabilities exchange with it.
func openRaw(t *testing.T, cfg Config, h Handler) (*Node, string, *rawPeer) {
	t.Helper()
	n := newNode(t, cfg, h)
	addr := listen(t, n)
	raw := dialRaw(t, addr, "raw.test.example")
	if cea := raw.handshake(echoApp); resultCode(t, cea) != diameter.Success {
		t.Fatalf("CEA: %s", cea)
	}
	waitPeer(t, n, "raw.test.example")
	return n, addr, raw
}

// TestBadRequests sends hand-built malformed requests over a raw TCP connection. Each gets the
// RFC 6733 §7.1 answer, and the connection keeps working: a good Echo follows each one.
// Both ways of serving: a Handler gets the decoded request, a BinaryHandler its frame, checked the same way.
func TestBadRequests(t *testing.T) {
	for _, hc := range []struct {
		name string
		h    Handler
	}{{"decoded", echoHandler()}, {"binary", &binaryEcho{}}} {
		t.Run(hc.name, func(t *testing.T) { testBadRequests(t, hc.h) })
	}
}

func testBadRequests(t *testing.T, handler Handler) {
	leakCheck(t)
	obs, protoErrs := observe(EventProtocolError)
	cfg := testConfig(t, "hss.test.example")
	cfg.Observer = obs
	_, _, raw := openRaw(t, cfg, handler)
	counter := func(flags uint8, v []byte) []byte { return avpRaw(avpEchoCount, flags, echoVendor, v) }
	tests := []struct {
		name       string
		frame      []byte
		want       diameter.ResultCode
		wantE      bool
		wantFailed []byte // Failed-AVP content on the wire
	}{
		{name: "unknown command", want: diameter.CommandUnsupported, wantE: true,
			frame: func() []byte { b := echoRaw(101, 201, "s;cmd"); b[5], b[6], b[7] = 0, 0x03, 0xe7; return b }()},
		{name: "reserved header bits", want: diameter.InvalidHdrBits, wantE: true,
			frame: func() []byte { b := echoRaw(102, 202, "s;hdr"); b[4] |= 0x03; return b }()},
		{name: "E bit on a request", want: diameter.InvalidHdrBits, wantE: true,
			frame: func() []byte { b := echoRaw(103, 203, "s;e"); b[4] |= flagError; return b }()},
		{name: "reserved AVP bits", want: diameter.InvalidAVPBits, wantE: true,
			frame:      echoRaw(104, 204, "s;avpbits", counter(0xc0|0x04, u32(1))),
			wantFailed: counter(0xc0|0x04, u32(1))},
		{name: "AVP length past the message", want: diameter.InvalidAVPLength,
			frame: echoRaw(105, 205, "s;avplen", []byte{0, 0, 0x23, 0x29, 0xc0, 0, 1, 0, 0, 0, 0x28, 0xaf}),
			// §7.1.5: header, zero-filled payload of the type's minimum length.
			wantFailed: counter(0xc0, u32(0))},
		{name: "Unsigned32 of 2 octets", want: diameter.InvalidAVPLength,
			frame: echoRaw(106, 206, "s;u32", counter(0xc0, []byte{0, 1})), wantFailed: counter(0xc0, []byte{0, 1})},
		{name: "unknown mandatory AVP", want: diameter.AVPUnsupported,
			frame: echoRaw(107, 207, "s;m", avpRaw(4242, avpFlagMandatory, 0, []byte("zz"))), wantFailed: avpRaw(4242, avpFlagMandatory, 0, []byte("zz"))},
		{name: "application not advertised", want: diameter.ApplicationUnsupported, wantE: true,
			frame: frameRaw(flagRequest, cmdOther, otherApp, 108, 208, sessionAVP("s;app"), identityAVP(avpOriginHost, "raw.test.example"))},
		{name: "version 2", want: diameter.UnsupportedVersion,
			frame: func() []byte { b := echoRaw(109, 209, "s;v2"); b[0] = 2; return b }()},
		{name: "length not a multiple of 4", want: diameter.InvalidMessageLength,
			frame: func() []byte {
				b := append(echoRaw(110, 210, "s;len"), 0xee)
				b[3]++
				return b
			}()},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := raw.on(t)
			h := parseHeader(tt.frame)
			raw.write(tt.frame)
			ans := raw.readAnswer()
			if got := resultCode(t, ans); got != tt.want {
				t.Fatalf("Result-Code %d, want %d: %s", got, tt.want, ans)
			}
			if got := ans.Header.CommandFlags&flagError != 0; got != tt.wantE {
				t.Fatalf("E bit %v, want %v", got, tt.wantE)
			}
			if ans.Header.HopByHopID != h.hbh || ans.Header.EndToEndID != h.e2e || ans.Header.CommandCode != h.code || ans.Header.ApplicationID != h.app {
				t.Fatalf("answer header %+v does not match request %+v", ans.Header, h)
			}
			if sid := rawSessionID(tt.frame); sid != "" && (ans.AVP[0].Code != avpSessionID || sessionIDOf(ans) != sid) {
				t.Fatalf("Session-Id %q not first in answer: %s", sid, ans)
			}
			if tt.wantFailed != nil {
				failed := failedAVPs(ans)
				if len(failed) != 1 {
					t.Fatalf("Failed-AVP: %s", ans)
				}
				if got, _ := failed[0].Serialize(); !bytes.Equal(got, tt.wantFailed) {
					t.Fatalf("Failed-AVP content\n got %s\nwant %s", hexdump(got), hexdump(tt.wantFailed))
				}
			}
			waitEvent(t, protoErrs, "protocol error", func(e Event) bool { return e.Result == uint32(tt.want) })
			// Still in business.
			raw.write(echoRaw(uint32(1000+i), uint32(2000+i), "s;ok", avpRaw(avpEchoPay, 0xc0, echoVendor, []byte("ok"))))
			if ok := raw.readAnswer(); resultCode(t, ok) != diameter.Success || ok.Header.HopByHopID != uint32(1000+i) {
				t.Fatalf("connection unusable after %s: %s", tt.name, ok)
			}
		})
	}
}

func TestGarbageLengthClosesOnlyThatConnection(t *testing.T) {
	leakCheck(t)
	n, addr, raw := openRaw(t, testConfig(t, "hss.test.example"), echoHandler())
	other := dialRaw(t, addr, "other.test.example")
	if cea := other.handshake(echoApp); resultCode(t, cea) != diameter.Success {
		t.Fatal("second peer not admitted")
	}
	// A request header claiming 12 octets: no way to find the next message. The node answers
	// 5015 from the header and closes the connection (RFC 6733 §7.1.5).
	hdr := echoRaw(77, 78, "s;garbage")[:headerLength]
	hdr[1], hdr[2], hdr[3] = 0, 0, 12
	raw.write(append(hdr, bytes.Repeat([]byte{0xde, 0xad}, 64)...))
	_, ans, err := raw.read()
	if err != nil {
		t.Fatalf("no answer before close: %v", err)
	}
	if resultCode(t, ans) != diameter.InvalidMessageLength || ans.Header.HopByHopID != 77 {
		t.Fatalf("answer: %s", ans)
	}
	raw.expectClosed()
	// The node keeps serving its other peer.
	other.write(echoRaw(1, 2, "s;still"))
	if ok := other.readAnswer(); resultCode(t, ok) != diameter.Success {
		t.Fatalf("other peer: %s", ok)
	}
	waitPeers(t, n, "only the other peer", func(p []PeerInfo) bool { return len(p) == 1 && p[0].OriginHost == "other.test.example" })
}

func TestNotDiameterClosed(t *testing.T) {
	leakCheck(t)
	n := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	addr := listen(t, n)
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"HTTP request", []byte("GET / HTTP/1.1\r\nHost: hss\r\n\r\n")},
		// RFC 6733 §5.6: only a CER opens a responder connection.
		{"DWR before CER", frameRaw(flagRequest, cmdDeviceWatchdog, 0, 1, 1, identityAVP(avpOriginHost, "x"), identityAVP(avpOriginRealm, "y"))},
		{"application request before CER", echoRaw(1, 1, "s;early")},
		{"answer before CER", frameRaw(0, cmdEcho, echoApp, 1, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := dialRaw(t, addr, "raw.test.example")
			raw.write(tt.bytes)
			if tt.name == "answer before CER" {
				// An answer matches nothing and is dropped; the CER deadline then closes the connection.
				raw.nc.SetDeadline(time.Now().Add(n.cfg.RequestTimeout + 3*time.Second))
			}
			raw.expectClosed()
		})
	}
}

func TestCapabilitiesExchangeTimeout(t *testing.T) {
	leakCheck(t)
	cfg := testConfig(t, "hss.test.example")
	cfg.RequestTimeout = 100 * time.Millisecond
	n := newNode(t, cfg, echoHandler())
	raw := dialRaw(t, listen(t, n), "raw.test.example")
	raw.expectClosed() // no CER within the deadline
}

func TestMalformedCER(t *testing.T) {
	leakCheck(t)
	n := newNode(t, testConfig(t, "hss.test.example"), echoHandler())
	addr := listen(t, n)
	tests := []struct {
		name  string
		frame []byte
		want  diameter.ResultCode
	}{
		{"no Origin-Host", frameRaw(flagRequest, cmdCapabilitiesExchange, 0, 5, 6,
			identityAVP(avpOriginRealm, testRealm), vsaiAVP()), diameter.MissingAVP},
		{"bad AVP length", frameRaw(flagRequest, cmdCapabilitiesExchange, 0, 5, 6,
			identityAVP(avpOriginHost, "raw.test.example"), []byte{0, 0, 1, 2, 0x40, 0, 0, 3}), diameter.InvalidAVPLength},
		{"own Origin-Host", frameRaw(flagRequest, cmdCapabilitiesExchange, 0, 5, 6,
			identityAVP(avpOriginHost, "hss.test.example"), identityAVP(avpOriginRealm, testRealm), vsaiAVP()), diameter.UnableToComply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := dialRaw(t, addr, "raw.test.example")
			raw.write(tt.frame)
			cea := raw.readAnswer()
			if cea.Header.CommandCode != cmdCapabilitiesExchange || resultCode(t, cea) != tt.want {
				t.Fatalf("CEA: %s", cea)
			}
			raw.expectClosed()
		})
	}
}

func TestDuplicateCEAIgnored(t *testing.T) {
	leakCheck(t)
	addr, accept := rawServer(t, "hss.test.example")
	obs, unknown := observe(EventUnknownAnswer)
	cfg := testConfig(t, "scscf.test.example")
	cfg.Observer = obs
	n := newNode(t, cfg, echoHandler())
	if err := n.Connect(context.Background(), PeerConfig{Address: addr}); err != nil {
		t.Fatal(err)
	}
	hss := accept()
	cer := hss.acceptCER(5)
	waitPeer(t, n, "hss.test.example")
	// The same CEA again, then one with identifiers nobody used: logged, dropped, no harm.
	hss.writeMsg(hss.cea(cer, 5))
	stray := hss.cea(cer, 5)
	stray.Header.HopByHopID, stray.Header.EndToEndID = 0xdeadbeef, 0xfeedface
	hss.writeMsg(stray)
	waitEvent(t, unknown, "duplicate CEA", func(e Event) bool { return e.Command == cmdCapabilitiesExchange })
	waitEvent(t, unknown, "stray CEA", func(e Event) bool { return e.Command == cmdCapabilitiesExchange })
	// Still open and correlating.
	done := make(chan error, 1)
	go func() {
		_, err := n.Request(context.Background(), newEcho(n.cfg.Dictionary, "s;after-cea", "", ""))
		done <- err
	}()
	_, req, err := hss.read()
	if err != nil || req.Header.CommandCode != cmdEcho {
		t.Fatalf("want Echo: %v %v", req, err)
	}
	hss.answer(req, diameter.Success)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCERAfterOpenAndStrayAnswer(t *testing.T) {
	leakCheck(t)
	_, _, raw := openRaw(t, testConfig(t, "hss.test.example"), echoHandler())
	cer := diam.NewRequest(cmdCapabilitiesExchange, 0, raw.d)
	raw.capabilities(cer, 1, echoApp)
	raw.writeMsg(cer)
	if cea := raw.readAnswer(); resultCode(t, cea) != diameter.UnableToComply {
		t.Fatalf("second CER: %s", cea)
	}
	raw.write(frameRaw(0, cmdEcho, echoApp, 0x1234, 0x5678, sessionAVP("s;stray"))) // an answer nobody asked for
	raw.write(echoRaw(9, 9, "s;fine"))
	if ok := raw.readAnswer(); resultCode(t, ok) != diameter.Success || ok.Header.HopByHopID != 9 {
		t.Fatalf("after stray answer: %s", ok)
	}
}

func TestTooBusy(t *testing.T) {
	leakCheck(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	cfg := testConfig(t, "hss.test.example")
	cfg.MaxConcurrentRequests = 1
	_, _, raw := openRaw(t, cfg, HandlerFunc(func(ctx context.Context, req *diam.Message, from PeerInfo) (*diam.Message, error) {
		entered <- struct{}{}
		<-release
		return req.Answer(uint32(diameter.Success)), nil
	}))
	raw.write(echoRaw(1, 1, "s;first"))
	<-entered
	raw.write(echoRaw(2, 2, "s;second"))
	busy := raw.readAnswer()
	if busy.Header.HopByHopID != 2 || resultCode(t, busy) != diameter.TooBusy || busy.Header.CommandFlags&flagError == 0 {
		t.Fatalf("want 3004 with E for the second request: %s", busy)
	}
	close(release)
	if first := raw.readAnswer(); first.Header.HopByHopID != 1 || resultCode(t, first) != diameter.Success {
		t.Fatalf("first: %s", first)
	}
}

// TestRequestRightBehindCEA: a responder may send its first request in the same TCP segment
// as its CEA (an HSS sending an RTR as soon as an S-CSCF connects). The initiator must have
// opened the connection by the time it reads that request, not close it as a request received
// in Wait-I-CEA (RFC 6733 §5.6).
func TestRequestRightBehindCEA(t *testing.T) {
	leakCheck(t)
	for i := 0; i < 20; i++ { // the race this guards against was timing-dependent
		addr, accept := rawServer(t, "hss.test.example")
		n := newNode(t, testConfig(t, "scscf.test.example"), echoHandler())
		if err := n.Connect(context.Background(), PeerConfig{Address: addr}); err != nil {
			t.Fatal(err)
		}
		hss := accept()
		_, cer, err := hss.read()
		if err != nil || cer.Header.CommandCode != cmdCapabilitiesExchange {
			t.Fatalf("want CER: %v %v", cer, err)
		}
		cea, err := encode(hss.cea(cer, 5))
		if err != nil {
			t.Fatal(err)
		}
		req := newEcho(hss.d, "s;behind-cea", "scscf.test.example", "x")
		req.Header.HopByHopID, req.Header.EndToEndID = 77, 77
		reqFrame, err := encode(req)
		if err != nil {
			t.Fatal(err)
		}
		hss.write(append(cea, reqFrame...)) // one write: both arrive together
		_, ans, err := hss.read()
		if err != nil {
			t.Fatalf("round %d: no answer to the request sent behind the CEA: %v", i, err)
		}
		if ans.Header.CommandCode != cmdEcho || ans.Header.HopByHopID != 77 || resultCode(t, ans) != diameter.Success {
			t.Fatalf("round %d: want the Echo answer, got %v", i, ans)
		}
		hss.nc.Close() // the raw peer answers no DPR: end the connection, then the node
		if err := n.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
