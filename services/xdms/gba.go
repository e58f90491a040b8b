package xdms

import (
	"bytes"
	"io"
	"net/http"

	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/sip/identity"
)

// Authenticator authenticates an XCAP request at the XDMS itself: GBA with the XDMS as a NAF (TS 33.222 §5.3,
// TS 24.623 §5.2.3, TS 24.109 §5.3). It returns the authenticated user, or answers the request itself (401
// with a challenge, 503 when the BSF cannot be asked) and returns nil. body is the request's body (qop
// auth-int). *gba.NAF is one.
type Authenticator interface {
	Authenticate(w http.ResponseWriter, r *http.Request, body []byte) *gba.Identity
}

// authenticate reads the body (bounded as a PUT's is), puts it back for the handler and has GBA check the
// credentials.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) *gba.Identity {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxDocument+1))
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return nil
	}
	if len(body) > MaxDocument {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return h.GBA.Authenticate(w, r, body)
}

// authoriseGBA lets the user at the documents of the identities the BSF listed for it (the GUSS the HSS made
// from the subscription), never at an XUI only the request names (TS 24.623 §5.2.3: the XUI must be one of the
// user's public identities).
func authoriseGBA(u *gba.Identity, t *target) *xcapError {
	for _, impu := range u.IMPUs {
		if identity.Key(impu) == t.user {
			return nil
		}
	}
	return fail(403, "", "a user reaches only its own documents")
}

var _ Authenticator = (*gba.NAF)(nil)
