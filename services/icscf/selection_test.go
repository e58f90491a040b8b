package icscf

import (
	"errors"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
)

func TestSelectByCapabilities(t *testing.T) {
	dir, err := newDirectory([]SCSCF{
		{Name: "sip:s1.example:6060", Address: "127.0.0.1:6061"},
		{Name: "sip:s2.example:6060", Address: "127.0.0.1:6062", Capabilities: []uint32{1, 2}},
		{Name: "sip:s3.example:6060", Address: "127.0.0.1:6063", Capabilities: []uint32{1, 2, 3}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		caps  *cx.ServerCapabilities
		tried []string
		want  string
		err   error
	}{
		{name: "no requirement: first", want: "sip:s1.example:6060"},
		{name: "mandatory 1", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{1}}, want: "sip:s2.example:6060"},
		{name: "mandatory 1, optional 3", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{1}, OptionalCapabilities: []uint32{3}}, want: "sip:s3.example:6060"},
		{name: "named wins over optional", caps: &cx.ServerCapabilities{OptionalCapabilities: []uint32{3}, ServerNames: []string{"sip:S1.example:6060"}}, want: "sip:s1.example:6060"},
		{name: "named, capabilities not configured: trusted", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{3}, ServerNames: []string{"sip:s1.example:6060"}}, want: "sip:s1.example:6060"},
		{name: "named but configured without the mandatory one", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{3}, ServerNames: []string{"sip:s2.example:6060"}}, want: "sip:s3.example:6060"},
		{name: "unknown capabilities, not named, mandatory asked", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{1}}, tried: []string{"sip:s2.example:6060", "sip:s3.example:6060"}, err: ErrNoSCSCF},
		{name: "tried skipped", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{1}}, tried: []string{"sip:s2.example:6060"}, want: "sip:s3.example:6060"},
		{name: "nothing left", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{1}}, tried: []string{"sip:s2.example:6060", "sip:s3.example:6060"}, err: ErrNoSCSCF},
		{name: "unknown mandatory", caps: &cx.ServerCapabilities{MandatoryCapabilities: []uint32{9}}, err: ErrNoSCSCF},
		{name: "unconfigured name usable without mandatory", caps: &cx.ServerCapabilities{ServerNames: []string{"sip:other.example"}},
			tried: []string{"sip:s1.example:6060", "sip:s2.example:6060", "sip:s3.example:6060"}, want: "sip:other.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tried := map[string]bool{}
			for _, n := range tt.tried {
				c, err := newCandidate(n)
				if err != nil {
					t.Fatal(err)
				}
				tried[c.key] = true
			}
			got, err := dir.selectByCapabilities(tt.caps, tried)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if got.name != tt.want {
				t.Fatalf("got %q, want %q", got.name, tt.want)
			}
		})
	}
}

func TestLookupUsesConfiguredAddress(t *testing.T) {
	dir, err := newDirectory([]SCSCF{{Name: "sip:scscf.example:6060", Address: "127.0.0.1:7000"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dir.lookup("sip:SCSCF.example:6060;transport=udp")
	if err != nil {
		t.Fatal(err)
	}
	if c.addr.String() != "127.0.0.1:7000" {
		t.Fatalf("addr %v, want the configured one", c.addr)
	}
	c, err = dir.lookup("sip:unknown.example")
	if err != nil || c.addr.IsValid() {
		t.Fatalf("unknown name: %+v %v, want no address (resolved from the URI)", c, err)
	}
	if _, err := dir.lookup("tel:+1"); !errors.Is(err, ErrBadServerName) {
		t.Fatalf("tel name: %v", err)
	}
}
