package scscf

import "testing"

func TestCanonicalString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "sip with params and port", in: "<sip:Alice@IMS.Example:5060;transport=tcp>", want: "sip:Alice@ims.example"},
		{name: "tel", in: "tel:+1-555-0100", want: "tel:+15550100"},
		{name: "tel with parameters", in: "tel:+15550100;phone-context=ims.example", want: "tel:+15550100"},
		{name: "sip user=phone is tel", in: "sip:+15550100@ims.example;user=phone", want: "tel:+15550100"},
		{name: "no user", in: "sip:ims.example", want: "sip:ims.example"},
		{name: "not a URI", in: "garbage", want: "garbage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := canonicalString(tc.in); got != tc.want {
				t.Fatalf("canonicalString(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
