package header

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// seedLines reads a testdata file of header values, one per line; '#' lines and blank lines are
// comments.
func seedLines(tb testing.TB, name string) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read seeds: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimRight(l, "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		tb.Fatalf("%s holds no seeds", name)
	}
	return out
}

func TestSplitList(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{name: "plain tokens", value: "path, gruu,sec-agree", want: []string{"path", "gruu", "sec-agree"}},
		{name: "comma in quotes", value: `"A, B" <sip:a@x>, tel:+1`, want: []string{`"A, B" <sip:a@x>`, "tel:+1"}},
		{name: "comma in angle brackets", value: `<sip:a@x;p=1,2>, <sip:b@x>`, want: []string{`<sip:a@x;p=1,2>`, `<sip:b@x>`}},
		{name: "escaped quote keeps quoting", value: `"a\", b" <sip:a>, c`, want: []string{`"a\", b" <sip:a>`, "c"}},
		{name: "empty elements dropped", value: " , a,, b ,", want: []string{"a", "b"}},
		{name: "unterminated quote runs to end", value: `a, "b, c`, want: []string{"a", `"b, c`}},
		{name: "unterminated bracket runs to end", value: `a, <sip:b, c`, want: []string{"a", `<sip:b, c`}},
		{name: "empty", value: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitList(tt.value); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitList(%q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "Visited network number 1", want: `"Visited network number 1"`},
		{name: "escapes quote and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "CR LF NUL become spaces", in: "a\r\nb\x00", want: `"a  b "`},
		{name: "empty", in: "", want: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Quote(tt.in); got != tt.want {
				t.Errorf("Quote(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"ipsec-3gpp", true}, {"hmac-sha-1-96", true}, {"IEEE-802.11", true}, {"a~b'c`", true},
		{"", false}, {"a b", false}, {"a=b", false}, {"a:b", false}, {`"a"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := IsToken(tt.in); got != tt.want {
				t.Errorf("IsToken(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParams(t *testing.T) {
	ps := Params{{Name: "lr"}, {Name: "Transport", Value: "tcp"}, {Name: "x", Value: "a b", Quoted: true}}
	if v, ok := ps.Get("transport"); !ok || v != "tcp" {
		t.Errorf("Get(transport) = %q, %v", v, ok)
	}
	if !ps.Has("LR") || ps.Has("ttl") {
		t.Errorf("Has: lr present and ttl absent expected")
	}
	if got, want := ps.String(), `;lr;Transport=tcp;x="a b"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	ps.Set("TRANSPORT", "udp")
	ps.Set("maddr", "[2001:db8::1]")
	ps.Set("y", "needs quotes=")
	ps.SetFlag("lr")
	ps.SetFlag("ob")
	if got, want := ps.String(), `;lr;Transport=udp;x="a b";maddr=[2001:db8::1];y="needs quotes=";ob`; got != want {
		t.Errorf("after Set: String() = %s, want %s", got, want)
	}
	c := ps.Clone()
	c.Del("x")
	c.Del("LR")
	if got, want := c.String(), `;Transport=udp;maddr=[2001:db8::1];y="needs quotes=";ob`; got != want {
		t.Errorf("after Del: String() = %s, want %s", got, want)
	}
	if !ps.Has("x") {
		t.Errorf("Del on a clone changed the original")
	}
}

func TestParseErrorFormat(t *testing.T) {
	err := error(&ParseError{Header: PChargingVector, Param: ParamOrigIOI, Pos: 12, Msg: "appears more than once", Err: ErrDuplicate})
	if got, want := err.Error(), "P-Charging-Vector: offset 12: parameter orig-ioi: appears more than once"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrDuplicate) || errors.Is(err, ErrSyntax) {
		t.Errorf("errors.Is: want ErrDuplicate only")
	}
	if !errors.Is(&ParseError{Header: "X"}, ErrSyntax) {
		t.Errorf("a ParseError without Err should unwrap to ErrSyntax")
	}
}
