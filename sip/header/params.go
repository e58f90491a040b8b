package header

import (
	"strings"
)

// Param is one generic-param (RFC 3261 §25.1: token [ EQUAL gen-value ]).
type Param struct {
	// Name as received; compare it with strings.EqualFold (parameter names are case-insensitive).
	Name string
	// Value, unquoted and unescaped. Empty and not Quoted means a flag such as ";lr".
	Value string
	// Quoted is true when the value came as a quoted-string; the writer keeps the quotes. A value
	// that is not a token or host is quoted whatever Quoted says.
	Quoted bool
}

// IsFlag reports whether the parameter has no value (";lr", ";network-provided").
func (p Param) IsFlag() bool { return p.Value == "" && !p.Quoted }

// String writes name[=value].
func (p Param) String() string {
	var b strings.Builder
	p.write(&b)
	return b.String()
}

func (p Param) write(b *strings.Builder) {
	b.WriteString(clean(p.Name))
	if p.IsFlag() {
		return
	}
	b.WriteByte('=')
	writeValue(b, p.Value, p.Quoted)
}

// writeValue writes v bare when it may be (gen-value = token / host) and was not quoted,
// else as a quoted-string.
func writeValue(b *strings.Builder, v string, quoted bool) {
	if !quoted && isBareValue(v) {
		b.WriteString(v)
		return
	}
	b.WriteString(Quote(v))
}

// Params is an ordered parameter list; order and repeated names are preserved as received.
type Params []Param

// Get returns the value of the first parameter named name (case-insensitive).
func (ps Params) Get(name string) (string, bool) {
	for _, p := range ps {
		if strings.EqualFold(p.Name, name) {
			return p.Value, true
		}
	}
	return "", false
}

// Has reports whether a parameter named name is present.
func (ps Params) Has(name string) bool {
	_, ok := ps.Get(name)
	return ok
}

// Set replaces the value of the first parameter named name, or appends it. The value is quoted
// on output when it needs to be.
func (ps *Params) Set(name, value string) {
	for i, p := range *ps {
		if strings.EqualFold(p.Name, name) {
			(*ps)[i].Value, (*ps)[i].Quoted = value, false
			return
		}
	}
	*ps = append(*ps, Param{Name: name, Value: value})
}

// SetFlag adds a valueless parameter such as "lr" unless one of that name is present.
func (ps *Params) SetFlag(name string) {
	if !ps.Has(name) {
		*ps = append(*ps, Param{Name: name})
	}
}

// Del removes every parameter named name.
func (ps *Params) Del(name string) {
	out := (*ps)[:0]
	for _, p := range *ps {
		if !strings.EqualFold(p.Name, name) {
			out = append(out, p)
		}
	}
	*ps = out
}

// Clone returns a copy that shares nothing with ps.
func (ps Params) Clone() Params {
	if ps == nil {
		return nil
	}
	return append(Params(nil), ps...)
}

// String writes every parameter, each preceded by ';' (";lr;transport=tcp"); "" when empty.
func (ps Params) String() string {
	var b strings.Builder
	ps.write(&b)
	return b.String()
}

func (ps Params) write(b *strings.Builder) {
	for _, p := range ps {
		b.WriteByte(';')
		p.write(b)
	}
}

// equalParams compares two lists in order: names case-insensitively, values exactly.
func equalParams(a, b Params) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i].Name, b[i].Name) || a[i].Value != b[i].Value || a[i].IsFlag() != b[i].IsFlag() {
			return false
		}
	}
	return true
}
