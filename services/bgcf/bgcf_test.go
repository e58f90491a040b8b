package bgcf

import (
	"errors"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	tab, err := New(Config{Routes: []Route{
		{Prefix: "+", Gateway: "sip:default-gw.example.net", Name: "default"},
		{Prefix: "+44", Gateway: "sip:192.0.2.44:5070;transport=tcp", Name: "uk"},
		{Prefix: "+4420", Gateway: "sip:london.example.net;lr", Name: "london"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]string{
		"+44-20-7946-0000": "london", // the longest prefix wins, separators ignored
		"+441632960083":    "uk",
		"+15550100":        "default",
	} {
		b, err := tab.Select(number)
		if err != nil || b.Name != want {
			t.Errorf("Select(%s) = %+v, %v; want %s", number, b, err, want)
			continue
		}
		if !b.Gateway.UriParams.Has("lr") {
			t.Errorf("Select(%s): gateway %s without lr (it goes in a loose Route)", number, b.Gateway.String())
		}
	}
	if b, _ := tab.Select("+441632960083"); !strings.Contains(b.Gateway.String(), "transport=tcp") {
		t.Errorf("gateway parameters lost: %s", b.Gateway.String())
	}
	noDefault, _ := New(Config{Routes: []Route{{Prefix: "+44", Gateway: "sip:gw"}}, NoRouteCode: 604})
	if _, err := noDefault.Select("+15550100"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("a number no entry covers: %v, want ErrNoRoute", err)
	}
	if noDefault.NoRouteCode() != 604 {
		t.Errorf("NoRouteCode %d", noDefault.NoRouteCode())
	}
	if _, err := tab.Select("bob"); !errors.Is(err, ErrNoRoute) {
		t.Errorf("no number: %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{
		{Routes: []Route{{Prefix: "44", Gateway: "sip:gw"}}},
		{Routes: []Route{{Prefix: "+4a", Gateway: "sip:gw"}}},
		{Routes: []Route{{Prefix: "+44", Gateway: "http://gw"}}},
		{Routes: []Route{{Prefix: "+44", Gateway: "sip:a"}, {Prefix: "+44", Gateway: "sip:b"}}},
		{NoRouteCode: 500},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted it", c)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{"+1 (555) 0100": "+15550100", "5550100": "", "+": "", "+1234567890123456": "", "+1x": ""} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSelect feeds arbitrary callee numbers (a Request-URI's user part or tel URI) to the table.
func FuzzSelect(f *testing.F) {
	tab, err := New(Config{Routes: []Route{{Prefix: "+44", Gateway: "sip:gw"}, {Prefix: "+", Gateway: "sip:default"}}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"+44-20-7946-0000", "+1 (555) 0100", "5550100", "+", "+1234567890123456", "+4\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, number string) {
		b, err := tab.Select(number)
		if err == nil && (Normalize(number) == "" || !b.Gateway.UriParams.Has("lr")) {
			t.Fatalf("Select(%q) = %+v for no number", number, b)
		}
	})
}
