package digest

import (
	"strings"

	"github.com/imscore/imscore/sip/header"
)

// Line is one Authorization or Proxy-Authorization line of a message with what ParseCredentials made of it.
type Line struct {
	Value       string // the line's value, trimmed
	Credentials Credentials
	Err         error // from ParseCredentials: ErrNotDigest for another scheme, a *header.ParseError for a bad one
}

// CredentialsOf parses every line of the header named name (Authorization or Proxy-Authorization, any case) of
// the indexed message, in message order, once per index however many callers ask (issue 12: a REGISTER's
// Authorization was parsed seven times on its way through the CSCFs). The result is shared: copy a Credentials
// before changing it.
func CredentialsOf(ix *header.Index, name string) []Line {
	var lines []Line
	switch { // functions without captures, names compared without lower-casing: a cached lookup allocates nothing
	case header.SameName(name, "authorization"):
		lines, _ = header.Parsed(ix, "digest.authorization", parseAuthorization)
	case header.SameName(name, "proxy-authorization"):
		lines, _ = header.Parsed(ix, "digest.proxy-authorization", parseProxyAuthorization)
	default:
		lines, _ = header.Parsed(ix, "digest:"+header.Key(name), func(ix *header.Index) ([]Line, error) {
			return parseLines(ix, name), nil
		})
	}
	return lines
}

func parseAuthorization(ix *header.Index) ([]Line, error) {
	return parseLines(ix, header.Authorization), nil
}

func parseProxyAuthorization(ix *header.Index) ([]Line, error) {
	return parseLines(ix, header.ProxyAuthorization), nil
}

func parseLines(ix *header.Index, name string) []Line {
	hs := ix.Fields(name)
	out := make([]Line, len(hs))
	for i, h := range hs {
		v := strings.TrimSpace(h.Value())
		c, err := ParseCredentials(v)
		out[i] = Line{Value: v, Credentials: c, Err: err}
	}
	return out
}
