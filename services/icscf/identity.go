package icscf

import (
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
)

// publicIdentity is the IMPU a SIP or tel URI stands for, as every node keys it (package identity: TS 23.003
// §13.4 "sip:user@domain" without parameters, port or headers; "tel:+number" without visual separators or
// parameters, RFC 3966; a SIP URI with user=phone is the tel URI of its user part, RFC 3261 §19.1.6), which is
// the form the HSS is asked about and stores.
func publicIdentity(u *sip.Uri) (string, error) {
	k, err := identity.Public(u)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	return k, nil
}

// privateIdentity is the IMPI of a REGISTER: the Authorization username when the UE sent one (TS 24.229
// §5.1.1.2.1 makes it the private user identity), else derived from the public identity in To as TS 24.229
// §5.3.1.2 allows when the REGISTER has none: the IMPU without its scheme (TS 23.003 §13.3, the IMPI is a NAI
// "user@realm"), in the home domain for a tel URI.
func privateIdentity(req *sip.Request, impu, domain string) string {
	for _, line := range header.Lines(req, "Authorization") {
		cred, err := digest.ParseCredentials(line)
		if err == nil && cred.Username != "" {
			return cred.Username
		}
	}
	scheme, rest, ok := strings.Cut(impu, ":")
	if !ok {
		return impu
	}
	if scheme == "tel" {
		return rest + "@" + domain
	}
	return rest
}

// visitedNetwork is the Visited-Network-Identifier of a UAR: the first P-Visited-Network-ID entry the P-CSCF
// added (RFC 7315 §4.3, TS 24.229 §5.3.1.2), else the home domain (a UE registering directly in its home
// network, as test tools do).
func visitedNetwork(req *sip.Request, domain string) string {
	for _, v := range header.Values(req, "P-Visited-Network-ID") {
		nets, err := header.ParseVisitedNetworks(v)
		if err == nil && len(nets) > 0 && nets[0].ID != "" {
			return nets[0].ID
		}
	}
	return domain
}

// isDeregistration tells whether a REGISTER removes bindings (RFC 3261 §10.2.2): Expires: 0, or every Contact
// with expires=0, or "Contact: *". TS 24.229 §5.3.1.2 then sets User-Authorization-Type DE_REGISTRATION.
func isDeregistration(req *sip.Request) bool {
	contacts := req.GetHeaders("Contact")
	expiresHdr := -1
	if h := req.GetHeader("Expires"); h != nil {
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(h.Value()), "%d", &n); err == nil {
			expiresHdr = n
		}
	}
	if len(contacts) == 0 {
		return expiresHdr == 0
	}
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return expiresHdr == 0
		}
		if c.Address.Wildcard {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			var n int
			if _, err := fmt.Sscanf(v, "%d", &n); err == nil {
				if n != 0 {
					return false
				}
				continue
			}
		}
		if expiresHdr != 0 {
			return false
		}
	}
	return true
}
