package resolve

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"
)

func TestENUMDomain(t *testing.T) {
	// RFC 6116 §2.4's example: +44-20-7946-0148 → 8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa.
	aus, d, err := ENUMDomain("+44-20-7946-0148", "")
	if err != nil || aus != "+442079460148" || d != "8.4.1.0.6.4.9.7.0.2.4.4.e164.arpa." {
		t.Fatalf("ENUMDomain = %q, %q, %v", aus, d, err)
	}
	if _, d, _ := ENUMDomain("+1(555)4321", "e164.example.net."); d != "1.2.3.4.5.5.5.1.e164.example.net." {
		t.Fatalf("suffix: %q", d)
	}
	for _, bad := range []string{"", "+", "4930123", "+49 30", "+1234567890123456", "+12a"} {
		if _, _, err := ENUMDomain(bad, ""); err == nil {
			t.Errorf("ENUMDomain(%q) accepted", bad)
		}
	}
}

var enumCases = []struct {
	number, want string
	error        error
}{
	{number: "+44-1632-960083", want: "sip:alice@example.com"},
	{number: "+15554321", want: "sip:4321@other.example.net;user=phone"},
	{number: "+4930123", want: "sip:+4930123@berlin.example.org;user=phone"},
	{number: "+999", error: ErrNotFound},
	{number: "+123456", error: ErrNotFound},
	{number: "4930123", error: ErrNotFound},
}

func runENUMCases(t *testing.T, server string) {
	r, _ := newTestResolver(t, server, nil)
	for _, c := range enumCases {
		got, err := r.ENUM(context.Background(), c.number, "")
		if c.error != nil {
			if !errors.Is(err, c.error) {
				t.Errorf("ENUM(%s) = %q, %v; want %v", c.number, got, err, c.error)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ENUM(%s) = %q, %v; want %q", c.number, got, err, c.want)
		}
	}
}

func TestENUM(t *testing.T) {
	runENUMCases(t, startZoneServer(t).addr)
}

func TestApplyNAPTRRegexp(t *testing.T) {
	for _, c := range []struct{ expr, in, want string }{
		{`!^.*$!sip:info@example.com!`, "+4930123", "sip:info@example.com"},
		{`!^\+49(.*)$!sip:0\1@de.example!`, "+4930123", "sip:030123@de.example"},
		{`/^\+1(555)(.*)$/sip:\2@\1.example/`, "+15554321", "sip:4321@555.example"},
		{`#^\+(4)#sip:x\#y@#`, "+4930123", "sip:x#y@930123"}, // only the match is replaced; \# is the delimiter
		{`!^\+A(.*)$!sip:\1@x!i`, "+a123", "sip:123@x"},
		{`!(1)?(2)!<\1\2>!`, "2", "<2>"}, // an unmatched group is empty
	} {
		got, err := ApplyNAPTRRegexp(c.expr, c.in)
		if err != nil || got != c.want {
			t.Errorf("ApplyNAPTRRegexp(%q, %q) = %q, %v; want %q", c.expr, c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `!!`, `1^.*$1x1`, `i^.*$ixi`, `\^.*$\x\`, `!^.*$!x`, `!^.*$!x!g`, `!(!x!`, `!^a!x!`,
		`!^(.*)$!\2!`} {
		if got, err := ApplyNAPTRRegexp(bad, "+123"); err == nil {
			t.Errorf("ApplyNAPTRRegexp(%q) = %q, accepted", bad, got)
		}
	}
}

func TestHasENUMService(t *testing.T) {
	for field, want := range map[string]bool{"E2U+sip": true, "e2u+SIP": true, "E2U+sip:x-foo": true,
		"E2U+email+sip": true, "E2U+sipx": false, "SIP+D2U": false, "E2U+pstn:tel": false} {
		if got := hasENUMService(field, enumService); got != want {
			t.Errorf("hasENUMService(%q) = %v", field, got)
		}
	}
}

// FuzzAnswer feeds arbitrary DNS responses through everything the resolver does with an answer: the
// question check, CNAME chasing, TTLs, the NAPTR and ENUM rule selection and the regexp substitution.
func FuzzAnswer(f *testing.F) {
	records, _ := loadZones(f)
	for name, rrs := range records {
		m := new(dns.Msg)
		m.SetQuestion(name, rrs[0].Header().Rrtype)
		m.Response = true
		m.Answer = rrs
		if b, err := m.Pack(); err == nil {
			f.Add(b)
		}
	}
	r, err := New(Config{Servers: []string{"127.0.0.1:53"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := new(dns.Msg)
		if err := in.Unpack(b); err != nil || len(in.Question) != 1 {
			return
		}
		q := in.Question[0]
		rrs, _, err := r.answer(in, q.Name, q.Qtype)
		if err != nil {
			return
		}
		_, _, _ = enumRule(rrs, "+15554321")
		r.cacheAdditional(in)
	})
}

func FuzzApplyNAPTRRegexp(f *testing.F) {
	for _, s := range []string{`!^.*$!sip:info@example.com!`, `!^\+49(.*)$!sip:0\1@de.example!i`, `#a#\#b#`} {
		f.Add(s, "+4930123")
	}
	f.Fuzz(func(t *testing.T, expr, in string) {
		_, _ = ApplyNAPTRRegexp(expr, in)
	})
}
