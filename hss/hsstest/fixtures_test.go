package hsstest

import (
	"testing"

	"github.com/imscore/imscore/hss"
)

// The fixtures must be valid data, or every contract test would fail for the wrong reason.
func TestFixturesAreValid(t *testing.T) {
	seed := SeedSubscriber()
	tests := []struct {
		name     string
		validate func() error
	}{
		{name: "subscriber", validate: func() error { s := Subscriber("001010000000001", "15550001"); return s.Validate() }},
		{name: "subscribers", validate: func() error {
			for _, s := range Subscribers(0, 3) {
				if err := s.Validate(); err != nil {
					return err
				}
			}
			return nil
		}},
		{name: "profile", validate: func() error { p := Profile("p"); return p.Validate() }},
		{name: "seed subscriber", validate: seed.Validate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// docs/design.md §2: IMPI <IMSI>@<domain>; sip:<IMSI>@<domain> barred, sip:<MSISDN>@<domain>, tel:<MSISDN>,
// all in one implicit set.
func TestSubscriberConvention(t *testing.T) {
	s := Subscriber("001010123456789", "491701234567")
	if s.Private.IMPI != "001010123456789@ims.mnc001.mcc001.3gppnetwork.org" {
		t.Errorf("IMPI = %s", s.Private.IMPI)
	}
	want := []struct {
		impu   string
		barred bool
	}{
		{"sip:001010123456789@ims.mnc001.mcc001.3gppnetwork.org", true},
		{"sip:491701234567@ims.mnc001.mcc001.3gppnetwork.org", false},
		{"tel:491701234567", false},
	}
	if len(s.Public) != len(want) {
		t.Fatalf("%d public identities, want %d", len(s.Public), len(want))
	}
	for i, w := range want {
		p := s.Public[i]
		if p.IMPU != w.impu || p.Barred != w.barred || p.ImplicitSetID != s.Private.IMPI || p.Type != hss.IdentityPublicUser {
			t.Errorf("public %d = %+v, want %s barred=%v in the IMPI's implicit set", i, p, w.impu, w.barred)
		}
	}
	if len(s.Private.K) != 16 || len(s.Private.OP) != 16 || s.Private.OPc != nil {
		t.Errorf("K %d bytes, OP %d bytes, OPc %x: want Test Set 1 K and OP", len(s.Private.K), len(s.Private.OP), s.Private.OPc)
	}
}
