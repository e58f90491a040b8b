package icscf

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// paramRelatedICIDGeneratedAt is the related-icid-gen-addr parameter of P-Charging-Vector (RFC 7315 §4.6).
const paramRelatedICIDGeneratedAt = "related-icid-generated-at"

// hideChargingVector replaces the host in icid-generated-at (and related-icid-generated-at) of every
// P-Charging-Vector value by the border's domain: TS 24.229 §5.10.4.1 hides all header fields that reveal the
// home network's topology, and icid-generated-at names the node that made the ICID, a P-CSCF or S-CSCF of
// the core (RFC 7315 §4.6). The icid-value, which charging correlates on, stays. A value that does not parse
// stays as it is: the trust boundary (sip/trust/boundary) removes the header field towards an untrusted
// network anyway.
func (h *hider) hideChargingVector(values []string) ([]string, bool) {
	changed := false
	out := make([]string, 0, len(values))
	for _, v := range values {
		cv, err := header.ParseChargingVector(v)
		if err != nil {
			out = append(out, v)
			continue
		}
		if cv.ICIDGeneratedAt != "" {
			cv.ICIDGeneratedAt = h.codec.Domain()
			changed = true
		}
		for i, p := range cv.Params {
			if strings.EqualFold(p.Name, paramRelatedICIDGeneratedAt) && p.Value != "" {
				cv.Params[i].Value = h.codec.Domain()
				changed = true
			}
		}
		out = append(out, cv.String())
	}
	return out, changed
}

// hideChargingOutbound hides the P-Charging-Vector of a request leaving, through the Decision's copies.
func (h *hider) hideChargingOutbound(d *proxy.Decision, req *sip.Request) {
	values, changed := h.hideChargingVector(header.Values(req, header.PChargingVector))
	if !changed {
		return
	}
	d.RemoveHeaders = append(d.RemoveHeaders, header.PChargingVector)
	for _, v := range values {
		d.AddHeaders = append(d.AddHeaders, sip.NewHeader(header.PChargingVector, v))
	}
}
