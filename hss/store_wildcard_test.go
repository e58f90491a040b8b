package hss

import (
	"errors"
	"testing"
)

func TestMatchWildcard(t *testing.T) {
	tests := []struct {
		name     string
		pattern  string
		identity string
		want     bool
		wantErr  error
	}{
		// TS 23.003 §13.5 example shape: a chat list service with a wildcarded user part.
		{name: "any suffix matches", pattern: "sip:chatlist!.*!@example.com", identity: "sip:chatlist42@example.com", want: true},
		{name: "empty wildcard part matches", pattern: "sip:chatlist!.*!@example.com", identity: "sip:chatlist@example.com", want: true},
		{name: "other domain does not match", pattern: "sip:chatlist!.*!@example.com", identity: "sip:chatlist42@example.org", want: false},
		{name: "literal dot is literal", pattern: "sip:a.b!.*!@example.com", identity: "sip:aXb1@example.com", want: false},
		{name: "anchored at start", pattern: "sip:chat!.*!@example.com", identity: "xsip:chat1@example.com", want: false},
		{name: "anchored at end", pattern: "sip:chat!.*!@example.com", identity: "sip:chat1@example.com.evil", want: false},
		{name: "digit class", pattern: "tel:+4940!1[0-9]{3}!", identity: "tel:+49401234", want: true},
		{name: "digit class too long", pattern: "tel:+4940!1[0-9]{3}!", identity: "tel:+494012345", want: false},
		{name: "two wildcard parts", pattern: "sip:!conf-[0-9]+!@![a-z]+!.example.com", identity: "sip:conf-7@eu.example.com", want: true},
		{name: "no delimiter is invalid", pattern: "sip:chat@example.com", identity: "sip:chat@example.com", wantErr: ErrInvalid},
		{name: "unbalanced delimiter is invalid", pattern: "sip:chat!.*@example.com", identity: "sip:chat@example.com", wantErr: ErrInvalid},
		{name: "empty part is invalid", pattern: "sip:chat!!@example.com", identity: "sip:chat@example.com", wantErr: ErrInvalid},
		{name: "bad regex is invalid", pattern: "sip:chat!(!@example.com", identity: "sip:chat@example.com", wantErr: ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MatchWildcard(tc.pattern, tc.identity)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("MatchWildcard(%q) error = %v, want %v", tc.pattern, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("MatchWildcard(%q): %v", tc.pattern, err)
			}
			if got != tc.want {
				t.Errorf("MatchWildcard(%q, %q) = %v, want %v", tc.pattern, tc.identity, got, tc.want)
			}
		})
	}
}

func TestWildcardPrefix(t *testing.T) {
	tests := []struct {
		name, pattern, want string
	}{
		{name: "user part wildcard", pattern: "sip:chatlist!.*!@example.com", want: "sip:chatlist"},
		{name: "leading wildcard", pattern: "sip:!.*!@example.com", want: "sip:"},
		{name: "no wildcard", pattern: "sip:a@example.com", want: "sip:a@example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WildcardPrefix(tc.pattern); got != tc.want {
				t.Errorf("WildcardPrefix(%q) = %q, want %q", tc.pattern, got, tc.want)
			}
		})
	}
}

func TestBetterWildcard(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{name: "longer wins", a: "sip:chat-!.*!@x", b: "sip:!.*!@x", want: true},
		{name: "shorter loses", a: "sip:!.*!@x", b: "sip:chat-!.*!@x", want: false},
		{name: "same length smaller wins", a: "sip:a!.*!@x", b: "sip:b!.*!@x", want: true},
		{name: "same length larger loses", a: "sip:b!.*!@x", b: "sip:a!.*!@x", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := BetterWildcard(tc.a, tc.b); got != tc.want {
				t.Errorf("BetterWildcard(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}
