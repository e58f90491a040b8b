package thig

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// tokenizedBy is the URI parameter that marks a URI holding a token ("tokenized-by", the
// parameter 3GPP defines for THIG): its value is the domain of the border that sealed it.
const tokenizedBy = "tokenized-by"

// HideURI seals entries into one loose-routing SIP URI at the border's domain,
// sip:TOKEN@domain;lr;tokenized-by=domain, which stands for them in a Record-Route, Path or
// Service-Route header field (without the angle brackets).
func (c *Codec) HideURI(kind Kind, entries []string) (string, error) {
	tok, err := c.Seal(kind, entries)
	if err != nil {
		return "", err
	}
	return "sip:" + tok + "@" + c.domain + ";lr;" + tokenizedBy + "=" + c.domain, nil
}

// RestoreURI returns the entries a URI from HideURI stands for. ok is false when the URI is not tokenized
// by this border (another network's, or none): the caller keeps it as it is. A URI tokenized by this border
// that does not open is ErrToken.
func (c *Codec) RestoreURI(kind Kind, value string) (entries []string, ok bool, err error) {
	v := strings.TrimSpace(value)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return nil, false, fmt.Errorf("%w: unterminated <", ErrToken)
		}
		v = v[i+1 : i+j]
	}
	var u sip.Uri
	if err := sip.ParseUri(v, &u); err != nil {
		return nil, false, nil // not a URI we made; the caller's parser judges it
	}
	by, has := "", false
	if u.UriParams != nil {
		by, has = u.UriParams.Get(tokenizedBy)
	}
	if !has || !strings.EqualFold(by, c.domain) || !strings.EqualFold(u.Host, c.domain) {
		return nil, false, nil
	}
	entries, err = c.Open(kind, u.User)
	if err != nil {
		return nil, true, err
	}
	return entries, true, nil
}
