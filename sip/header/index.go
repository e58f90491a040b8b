package header

import (
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Index is a header index of one message, built once (NewIndex) and read many times: every header line
// grouped under its header field (any case, long or compact form, RFC 3261 §7.3.1, §7.3.3), so that a lookup
// is a scan of the distinct header names (a dozen or two) and returns a slice of the index without allocating.
// It also carries the message's parse cache (Parsed): what a parser makes of a header (Authorization,
// Security-Client, Path, …) is computed once per message and shared by every reader of the index.
//
// An Index describes the message as it was when built: a header added or removed afterwards is not seen (a
// value edited in place, such as a Via parameter, is). Build a new one after editing the header list. An
// Index is safe for concurrent use.
type Index struct {
	msg    sip.Message
	lines  []sip.Header // grouped by header field, message order within a group
	groups []indexGroup

	mu   sync.Mutex
	memo []memoEntry
}

type indexGroup struct {
	name       string // the header name as the first line of the group spells it, trimmed, compact form expanded
	start, end int    // lines[start:end]
}

type memoEntry struct {
	key string
	val any
	err error
}

// NewIndex indexes the header lines of msg. A nil or foreign message (one that cannot list its headers) gives an
// index that finds nothing.
func NewIndex(msg sip.Message) *Index {
	ix := &Index{msg: msg}
	hl, ok := msg.(headerLister)
	if !ok || msg == nil {
		return ix
	}
	all := hl.Headers()
	var small [64]int32
	gi := small[:0]
	if len(all) > len(small) {
		gi = make([]int32, 0, len(all))
	}
	ix.groups = make([]indexGroup, 0, 24) // a REGISTER or INVITE has fewer distinct headers
	for _, h := range all {
		if h == nil {
			gi = append(gi, -1)
			continue
		}
		n := longName(strings.TrimSpace(h.Name()))
		g := -1
		for j := range ix.groups {
			if sameLong(ix.groups[j].name, n) {
				g = j
				break
			}
		}
		if g < 0 {
			g = len(ix.groups)
			ix.groups = append(ix.groups, indexGroup{name: n})
		}
		ix.groups[g].end++ // counting, for now
		gi = append(gi, int32(g))
	}
	at := 0
	for j := range ix.groups {
		n := ix.groups[j].end
		ix.groups[j].start, ix.groups[j].end = at, at
		at += n
	}
	ix.lines = make([]sip.Header, at)
	for i, h := range all {
		if g := gi[i]; g >= 0 {
			ix.lines[ix.groups[g].end] = h
			ix.groups[g].end++
		}
	}
	return ix
}

// Message returns the message the index was built from.
func (ix *Index) Message() sip.Message { return ix.msg }

// Fields returns every header line named name (any case or compact form) in message order, as Fields(msg, name)
// does, without allocating. The slice belongs to the index: do not modify it.
func (ix *Index) Fields(name string) []sip.Header {
	name = longName(strings.TrimSpace(name))
	for _, g := range ix.groups {
		if sameLong(g.name, name) {
			return ix.lines[g.start:g.end:g.end]
		}
	}
	return nil
}

// Has reports whether the message has at least one line of the header named name.
func (ix *Index) Has(name string) bool { return len(ix.Fields(name)) > 0 }

// Lines returns the value of every line of the header named name, as Lines(msg, name) does.
func (ix *Index) Lines(name string) []string {
	hs := ix.Fields(name)
	if len(hs) == 0 {
		return nil
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = strings.TrimSpace(h.Value())
	}
	return out
}

// Parsed returns what parse makes of the index's message, computing it at most once per index under key (a
// name unique to the parser, such as "digest.credentials"): the Authorization header of a REGISTER is parsed
// once, however many readers ask. parse runs without the index's lock held and may itself use the index; two
// readers racing on a key may both run parse, and the first result stored wins.
func Parsed[T any](ix *Index, key string, parse func(*Index) (T, error)) (T, error) {
	ix.mu.Lock()
	for _, e := range ix.memo {
		if e.key == key {
			ix.mu.Unlock()
			v, _ := e.val.(T)
			return v, e.err
		}
	}
	ix.mu.Unlock()
	v, err := parse(ix)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, e := range ix.memo {
		if e.key == key {
			w, _ := e.val.(T)
			return w, e.err
		}
	}
	ix.memo = append(ix.memo, memoEntry{key: key, val: v, err: err})
	return v, err
}

// NameAddrsOf is NameAddrs for an indexed message, parsed once per index (Path, Service-Route,
// P-Asserted-Identity, P-Preferred-Identity, P-Associated-URI). The result is shared: do not modify it.
func NameAddrsOf(ix *Index, name string) ([]NameAddr, error) {
	return Parsed(ix, nameAddrsKey(Key(name)), func(ix *Index) ([]NameAddr, error) {
		var out []NameAddr
		for _, h := range ix.Fields(name) {
			list, err := ParseNameAddrs(Canonical(name), h.Value())
			if err != nil {
				return nil, err
			}
			out = append(out, list...)
		}
		return out, nil
	})
}

// sameLong reports whether two trimmed names, compact forms expanded (longName), name the same header field.
func sameLong(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || a[0]|0x20 == b[0]|0x20) && strings.EqualFold(a, b)
}

// longName expands a compact form (any case) to its lower-case long name; other names come back as they are.
func longName(n string) string {
	if len(n) != 1 {
		return n
	}
	c := n[0]
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	if long := expandCompact(string(c)); long != "" {
		return long
	}
	return n
}

// nameAddrsKey is the Parsed key of NameAddrsOf for the header with key k, a constant for the usual ones.
func nameAddrsKey(k string) string {
	switch k {
	case "path":
		return "header.nameaddrs:path"
	case "service-route":
		return "header.nameaddrs:service-route"
	case "p-asserted-identity":
		return "header.nameaddrs:p-asserted-identity"
	case "p-preferred-identity":
		return "header.nameaddrs:p-preferred-identity"
	case "p-associated-uri":
		return "header.nameaddrs:p-associated-uri"
	}
	return "header.nameaddrs:" + k
}
