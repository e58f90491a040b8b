package provision

import (
	"context"
	"net/http"
	"time"

	"github.com/imscore/imscore/hss"
)

// The per-subscriber switch of the access-bound fast registration (docs/fastreg.md "Core side", "Turning it
// on"): GET and PUT /api/v1/subscribers/{impi}/fastreg. The HSS's global switch (fastreg.enabled) is in its
// configuration.

// FastRegStatus is the fast registration state of a subscriber.
type FastRegStatus struct {
	IMPI    string `json:"impi"`
	Enabled bool   `json:"enabled"`
	// Token reports whether an unexpired token from the access network is stored (its value is never shown).
	Token bool `json:"token"`
	// Expires is the stored token's expiry, when there is one.
	Expires *time.Time `json:"expires,omitempty"`
}

// FastRegRequest turns the scheme on or off for a subscriber (off also drops its token).
type FastRegRequest struct {
	Enabled *bool `json:"enabled"`
}

func errNoTokens() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: "the subscriber store keeps no fast registration tokens"}
}

func (h *handler) tokenStore() (hss.TokenStore, error) {
	ts, ok := h.store.(hss.TokenStore)
	if !ok {
		return nil, errNoTokens()
	}
	return ts, nil
}

func (h *handler) getFastReg(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.tokenStore()
	if err != nil {
		return err
	}
	out, err := fastRegStatus(r.Context(), ts, r.PathValue("impi"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) putFastReg(w http.ResponseWriter, r *http.Request) error {
	ts, err := h.tokenStore()
	if err != nil {
		return err
	}
	var req FastRegRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.Enabled == nil {
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidField, Field: "enabled", Message: "enabled: required"}
	}
	impi := r.PathValue("impi")
	if err := ts.SetFastReg(r.Context(), impi, *req.Enabled); err != nil {
		return err
	}
	out, err := fastRegStatus(r.Context(), ts, impi)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func fastRegStatus(ctx context.Context, ts hss.TokenStore, impi string) (*FastRegStatus, error) {
	on, err := ts.FastReg(ctx, impi)
	if err != nil {
		return nil, err
	}
	out := &FastRegStatus{IMPI: impi, Enabled: on}
	token, exp, err := ts.Token(ctx, impi, time.Now())
	if err != nil {
		return nil, err
	}
	if token != nil {
		out.Token, out.Expires = true, &exp
	}
	return out, nil
}

// FastReg returns the subscriber's fast registration state.
func (c *Client) FastReg(ctx context.Context, impi string) (*FastRegStatus, error) {
	var out FastRegStatus
	return &out, c.do(ctx, http.MethodGet, "/api/v1/subscribers/"+seg(impi)+"/fastreg", nil, &out)
}

// SetFastReg turns the fast registration on or off for the subscriber.
func (c *Client) SetFastReg(ctx context.Context, impi string, enabled bool) (*FastRegStatus, error) {
	var out FastRegStatus
	return &out, c.do(ctx, http.MethodPut, "/api/v1/subscribers/"+seg(impi)+"/fastreg", FastRegRequest{Enabled: &enabled}, &out)
}
