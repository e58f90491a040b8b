package regstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds an answer (a registration has a handful of contacts; a P-CSCF a few bindings per IMPU).
const maxBody = 4 << 20

// Client reads a node's registration state over its admin listener.
type Client struct {
	HTTP  *http.Client // nil: http.DefaultClient
	Token string       // bearer token with the read scope
}

// StatusError is a node's refusal: 401/403 (token), 404 (no such route: an older node) and the like.
type StatusError struct {
	URL    string
	Status int
	Msg    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, e.Msg)
}

// SCSCF returns the S-CSCF's registrations at base (its admin URL) of the identity impu, or of the private
// identity impi when impu is "". None is an empty list, not an error.
func (c *Client) SCSCF(ctx context.Context, base, impu, impi string) ([]Registration, error) {
	q := url.Values{}
	if impu != "" {
		q.Set("impu", impu)
	} else {
		q.Set("impi", impi)
	}
	var out Registrations
	if err := c.get(ctx, base, SCSCFPath, q, &out); err != nil {
		return nil, err
	}
	return out.Registrations, nil
}

// PCSCF returns the P-CSCF's bindings at base of the registered IMPU impu.
func (c *Client) PCSCF(ctx context.Context, base, impu string) ([]Binding, error) {
	var out Bindings
	if err := c.get(ctx, base, PCSCFPath, url.Values{"impu": {impu}}, &out); err != nil {
		return nil, err
	}
	return out.Bindings, nil
}

func (c *Client) get(ctx context.Context, base, path string, q url.Values, out any) error {
	u := strings.TrimSuffix(base, "/") + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("admin URL %q: %w", base, err)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &StatusError{URL: u, Status: res.StatusCode, Msg: msg}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// IsStatus reports whether err is a node's answer with status code.
func IsStatus(err error, code int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == code
}
