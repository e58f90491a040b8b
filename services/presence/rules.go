package presence

// Watcher authorisation by the presentity's presence authorization rules: RFC 5025 on the common policy
// framework of RFC 4745, stored in the XDMS under the OMA or the IETF application usage.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/sip/identity"
)

// Handling is a sub-handling value (RFC 5025 §3.2.1).
type Handling string

// Handling values.
const (
	HandlingBlock       Handling = "block"
	HandlingConfirm     Handling = "confirm"
	HandlingPoliteBlock Handling = "polite-block"
	HandlingAllow       Handling = "allow"
)

// handlingRank orders the values: RFC 5025 §3.2.1 gives them 0, 10, 20, 30 and RFC 4745 §10.2 combines
// the actions of every matching rule by taking the largest.
var handlingRank = map[Handling]int{HandlingBlock: 0, HandlingConfirm: 10, HandlingPoliteBlock: 20, HandlingAllow: 30}

// Where the presence server finds a presentity's rules: the OMA document first (OMA-TS-Presence_SIMPLE_XDM
// §5.1.1), then the IETF one (RFC 5025 §9.7).
var rulesDocuments = [][2]string{{"org.openmobilealliance.pres-rules", "pres-rules"}, {"pres-rules", "index"}}

type ruleset struct {
	Rules []struct {
		ID         string `xml:"id,attr"`
		Conditions *struct {
			Identity *struct {
				One []struct {
					ID string `xml:"id,attr"`
				} `xml:"urn:ietf:params:xml:ns:common-policy one"`
				Many []struct {
					Domain string `xml:"domain,attr"`
					Except []struct {
						Domain string `xml:"domain,attr"`
						ID     string `xml:"id,attr"`
					} `xml:"urn:ietf:params:xml:ns:common-policy except"`
				} `xml:"urn:ietf:params:xml:ns:common-policy many"`
			} `xml:"urn:ietf:params:xml:ns:common-policy identity"`
		} `xml:"urn:ietf:params:xml:ns:common-policy conditions"`
		Actions *struct {
			SubHandling string `xml:"urn:ietf:params:xml:ns:pres-rules sub-handling"`
		} `xml:"urn:ietf:params:xml:ns:common-policy actions"`
	} `xml:"urn:ietf:params:xml:ns:common-policy rule"`
}

// Decide evaluates a pres-rules document for watcher (RFC 4745 §10: a rule applies when all its conditions
// hold; the largest sub-handling of the applicable rules wins). ok is false when no rule gives one.
func Decide(doc []byte, watcher string) (h Handling, ok bool, err error) {
	var rs ruleset
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	if err := d.Decode(&rs); err != nil {
		return "", false, fmt.Errorf("pres-rules: %w", err)
	}
	w := identity.Key(watcher)
	_, wdomain, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(w, "sips:"), "sip:"), "@")
	best := -1
	for _, r := range rs.Rules {
		if r.Actions == nil || r.Actions.SubHandling == "" {
			continue
		}
		if c := r.Conditions; c != nil && c.Identity != nil {
			match := false
			for _, one := range c.Identity.One {
				match = match || identity.Key(one.ID) == w // RFC 4745 §7.1.1
			}
			for _, many := range c.Identity.Many {
				if many.Domain != "" && !strings.EqualFold(many.Domain, wdomain) {
					continue // RFC 4745 §7.1.2
				}
				excluded := false
				for _, ex := range many.Except {
					excluded = excluded || ex.ID != "" && identity.Key(ex.ID) == w || ex.Domain != "" && strings.EqualFold(ex.Domain, wdomain)
				}
				match = match || !excluded
			}
			if !match {
				continue
			}
		}
		hv := Handling(strings.TrimSpace(r.Actions.SubHandling))
		rank, known := handlingRank[hv]
		if !known {
			continue
		}
		if rank > best {
			best, h = rank, hv
		}
	}
	return h, best >= 0, nil
}

// handling decides how the server treats watcher's subscription to presentity: the presentity itself is
// always allowed; otherwise its rules, else the default.
func (s *Server) handling(ctx context.Context, presentity, watcher string) (Handling, error) {
	if identity.Key(watcher) == presentity {
		return HandlingAllow, nil
	}
	for _, rd := range rulesDocuments {
		doc, err := s.store.Document(ctx, rd[0], presentity, rd[1])
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("pres-rules of %s: %w", presentity, err)
		}
		h, ok, err := Decide(doc.Body, watcher)
		if err != nil {
			return "", err
		}
		if ok {
			return h, nil
		}
		break
	}
	return s.cfg.DefaultSubHandling, nil
}
