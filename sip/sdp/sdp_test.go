package sdp

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// A VoLTE offer as handsets send it (AMR-WB, telephone-event, RFC 3312 preconditions), with video.
const volteOffer = "v=0\r\no=- 1 1 IN IP4 10.45.0.2\r\ns=-\r\nc=IN IP4 10.45.0.2\r\nb=AS:80\r\nt=0 0\r\n" +
	"m=audio 4000 RTP/AVP 116 118\r\nb=AS:41\r\nb=RS:600\r\nb=RR:2000\r\na=rtpmap:116 AMR-WB/16000/1\r\n" +
	"a=fmtp:116 mode-change-capability=2;max-red=0\r\na=rtpmap:118 telephone-event/16000\r\na=ptime:20\r\n" +
	"a=curr:qos local none\r\na=curr:qos remote none\r\na=des:qos mandatory local sendrecv\r\n" +
	"a=des:qos optional remote sendrecv\r\na=sendrecv\r\n" +
	"m=video 4010 RTP/AVPF 100\r\nc=IN IP6 2001:db8::2\r\nb=TIAS:500000\r\na=rtpmap:100 H264/90000\r\na=rtcp:4020\r\na=recvonly\r\n" +
	"m=text 0 RTP/AVP 98\r\n"

func TestParse(t *testing.T) {
	s, err := Parse([]byte(volteOffer))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Media) != 3 || s.Addr != netip.MustParseAddr("10.45.0.2") || s.Bandwidth.AS != 80 {
		t.Fatalf("%+v", s)
	}
	a := s.Media[0]
	if a.Type != "audio" || a.Port != 4000 || a.Proto != "RTP/AVP" || a.Addr != s.Addr || a.Bandwidth != (Bandwidth{AS: 41, RS: 600, RR: 2000}) ||
		a.Direction != SendRecv || a.RTCPPort() != 4001 || a.Transport() != 17 || len(a.Formats) != 2 {
		t.Fatalf("audio %+v", a)
	}
	if v, ok := a.Attr("des"); !ok || v != "qos mandatory local sendrecv" {
		t.Fatalf("precondition attribute: %q %t", v, ok)
	}
	if a.Lines[0] != "m=audio 4000 RTP/AVP 116 118" || len(a.Lines) != 14 {
		t.Fatalf("lines %q", a.Lines)
	}
	v := s.Media[1]
	if v.Addr != netip.MustParseAddr("2001:db8::2") || v.Bandwidth.TIAS != 500000 || v.Direction != RecvOnly || v.RTCPPort() != 4020 {
		t.Fatalf("video %+v", v)
	}
	if s.Media[2].Port != 0 || s.Media[2].RTCPPort() != 0 {
		t.Fatalf("rejected text %+v", s.Media[2])
	}
}

func TestParseErrors(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"empty", ""},
		{"no version", "o=- 1 1 IN IP4 1.2.3.4\r\n"},
		{"bad line", "v=0\r\nhello\r\n"},
		{"bad c=", "v=0\r\nc=IN IP4 2001:db8::1\r\n"},
		{"bad port", "v=0\r\nm=audio 70000 RTP/AVP 0\r\n"},
		{"short m=", "v=0\r\nm=audio 4000\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
		})
	}
	many := "v=0\r\n"
	for i := 0; i <= MaxMedia; i++ {
		many += "m=audio 4000 RTP/AVP 0\r\n"
	}
	if _, err := Parse([]byte(many)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d media accepted", MaxMedia+1)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(volteOffer))
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.sdp"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for i := range s.Media {
			_ = s.Media[i].RTCPPort()
			_ = s.Media[i].Direction.String()
		}
	})
}
