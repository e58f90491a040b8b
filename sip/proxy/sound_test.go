package proxy

import (
	"os"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// soundSeeds are header lines of real requests (the recorded ones in testdata) and awkward ones.
func soundSeeds(tb testing.TB) []string {
	seeds := []string{
		`Via: SIP/2.0/UDP 10.45.0.2:5060;branch=z9hG4bK1701;rport`,
		`Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bKinv1`,
		`Via: SIP/2.0/UDP host;received=192.0.2.9;rport=5060`,
		`From: "Alice" <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=99`,
		`To: <tel:+15551234567>`,
		`To: sip:A:`,
		`From: <sip:a:pw@h:5060;transport=tcp?x=y>;tag=1`,
		`Call-ID: 1j9FpLxk3uxtm8tn@10.45.0.2`,
		`Call-ID: abc@2001:db8::1`,
		`CSeq: 10 INVITE`,
	}
	for _, name := range []string{"register.sip", "invite.sip", "wsinv.sip"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") {
			if strings.Contains(line, ":") {
				seeds = append(seeds, line)
			}
		}
	}
	return seeds
}

// What plainlySound accepts round-trips; the mandatory headers of the recorded requests are accepted without a
// round trip (the point of it).
func TestPlainlySound(t *testing.T) {
	parser := sip.HeadersParser(sip.DefaultHeadersParser())
	plain := 0
	for _, line := range soundSeeds(t) {
		hs, err := parser.ParseHeader(nil, []byte(line))
		if err != nil {
			continue
		}
		for _, h := range hs {
			if plainlySound(h) {
				plain++
				if !roundTrips(h) {
					t.Errorf("%q: plainly sound, but does not round-trip", line)
				}
			}
		}
	}
	for _, line := range []string{
		`Via: SIP/2.0/UDP 10.45.0.2:5060;branch=z9hG4bK1701;rport`,
		`From: <sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>;tag=4129`,
		`To: <sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org>`,
		`Call-ID: 1j9FpLxk3uxtm8tn@10.45.0.2`,
		`CSeq: 1 REGISTER`,
	} {
		hs, err := parser.ParseHeader(nil, []byte(line))
		if err != nil || len(hs) != 1 || !plainlySound(hs[0]) {
			t.Errorf("%q: not plainly sound (%v)", line, err)
		}
	}
	for _, line := range []string{`To: <tel:+15551234567>`, `From: <sip:a:pw@h>;tag=1`, `Via: SIP/2.0/TCP [2001:db8::1]:5060`} {
		hs, err := parser.ParseHeader(nil, []byte(line))
		if err == nil && len(hs) == 1 && plainlySound(hs[0]) {
			t.Errorf("%q: plainly sound, want it left to roundTrips", line)
		}
	}
	if plain < 10 {
		t.Errorf("only %d header values of the recorded requests are plainly sound", plain)
	}
}

// FuzzPlainlySound: every header plainlySound accepts, read by the proxy's lenient parser or sipgo's strict one,
// round-trips; else the proxy would copy an unreadable header into what it sends.
func FuzzPlainlySound(f *testing.F) {
	for _, s := range soundSeeds(f) {
		f.Add(s)
	}
	strict := sip.HeadersParser(sip.DefaultHeadersParser())
	lenient := newParser()
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\r\n") {
			return
		}
		hs, _ := strict.ParseHeader(nil, []byte(line))
		msg, err := lenient.ParseSIP([]byte("OPTIONS sip:x SIP/2.0\r\n" + line + "\r\nContent-Length: 0\r\n\r\n"))
		if err == nil {
			hs = append(hs, msg.(*sip.Request).Headers()...)
		}
		for _, h := range hs {
			if plainlySound(h) && !roundTrips(h) {
				t.Fatalf("%q: plainly sound, but %q does not parse again", line, h.String())
			}
		}
	})
}
