package proxy

// Header access the proxy needs beyond sip/header (which does case-insensitive, compact-form-aware lookup
// and removal): option-tag lists and sipgo parameter lookup.

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// optionTagsOf returns the comma-separated option-tags of the header lines hs, lower-cased
// (option-tags compare case-insensitively, RFC 3261 §19.2).
func optionTagsOf(hs []sip.Header) []string {
	var tags []string
	for _, h := range hs {
		for _, t := range strings.Split(h.Value(), ",") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// paramValue is a case-insensitive parameter lookup (parameter names are case-insensitive, RFC 3261 §7.3.1).
func paramValue(p sip.HeaderParams, key string) (string, bool) {
	for _, kv := range p {
		if strings.EqualFold(kv.K, key) {
			return kv.V, true
		}
	}
	return "", false
}
