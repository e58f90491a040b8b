package pcscf

import (
	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/aib"
	"github.com/imscore/imscore/sip/digest"
)

// The access-bound fast registration through the P-CSCF (docs/fastreg.md "Core side", "P-CSCF and
// sec-agree"). A one-pass registration has no 401, so no CK and IK reach the P-CSCF: IMS-AKA security
// associations (TS 33.203 §7) cannot be set up for it. The P-CSCF therefore lets the token through only on a
// REGISTER that sets up no security association: a UE that offers sec-agree (Security-Client) or renews its
// SAs gets the token removed from the Authorization it forwards, and the S-CSCF challenges as for any
// REGISTER — the full IMS AKA with IPsec, never a registration without the protection the UE asked for. A
// P-CSCF whose ipsec is "required" already refuses a REGISTER without sec-agree (421), so the scheme only
// runs where the operator has declared the access trusted and sec-agree optional.

// fastRegAttempt reports whether a REGISTER presents an access token: an Authorization with a nonce and no
// response or AUTS, and an Authenticated Identity Body.
func fastRegAttempt(req *sip.Request, c digest.Credentials) bool {
	if c.Nonce == "" || c.Response != "" || c.AUTS != "" {
		return false
	}
	ct := req.GetHeader("Content-Type")
	return ct != nil && aib.Is(ct.Value())
}
