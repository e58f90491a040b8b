package n5

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// apiPrefix is the Npcf_PolicyAuthorization API root path, TS 29.514 §5.1 (API version 1).
const apiPrefix = "/npcf-policyauthorization/v1"

// maxBody bounds what is read of a PCF's response or a callback body.
const maxBody = 1 << 20

// ProblemError is a PCF's answer other than success: the HTTP status and the ProblemDetails
// (TS 29.500 §5.2.7), when it sent one.
type ProblemError struct {
	Status  int
	Problem ProblemDetails
}

func (e *ProblemError) Error() string {
	return fmt.Sprintf("npcf: HTTP %d %s %s", e.Status, e.Problem.Cause, e.Problem.Detail)
}

// ErrTransport wraps a failure to reach the PCF (no HTTP answer).
var ErrTransport = errors.New("npcf: transport")

// Client talks to one PCF's Npcf_PolicyAuthorization service.
type Client struct {
	apiRoot string
	http    *http.Client
}

// NewClient returns a client for apiRoot ("http://pcf:7777" or "https://pcf:443"). Over http it
// speaks HTTP/2 with prior knowledge (h2c, TS 29.500 §5.2.2.2), over https HTTP/2 over TLS with
// tlsConfig (nil: the system roots).
func NewClient(apiRoot string, tlsConfig *tls.Config) (*Client, error) {
	apiRoot = strings.TrimSuffix(apiRoot, "/")
	tr := &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}
	var p http.Protocols
	switch {
	case strings.HasPrefix(apiRoot, "http://"):
		p.SetUnencryptedHTTP2(true)
	case strings.HasPrefix(apiRoot, "https://"):
		p.SetHTTP2(true)
	default:
		return nil, fmt.Errorf("npcf: api root %q: want http:// or https://", apiRoot)
	}
	tr.Protocols = &p
	return &Client{apiRoot: apiRoot, http: &http.Client{Transport: tr}}, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Create creates an application session context (TS 29.514 §4.2.2, POST .../app-sessions, 201 with
// Location) and returns the resource URI.
func (c *Client) Create(ctx context.Context, asc *AppSessionContext) (string, error) {
	res, err := c.do(ctx, http.MethodPost, c.apiRoot+apiPrefix+"/app-sessions", "application/json", asc, http.StatusCreated)
	if err != nil {
		return "", err
	}
	loc := res.Header.Get("Location")
	if loc == "" {
		return "", fmt.Errorf("npcf: 201 without Location")
	}
	return loc, nil
}

// Update modifies the application session at uri (TS 29.514 §4.2.3, PATCH with a JSON merge patch, RFC 7396).
func (c *Client) Update(ctx context.Context, uri string, patch *AppSessionContextUpdateDataPatch) error {
	_, err := c.do(ctx, http.MethodPatch, uri, "application/merge-patch+json", patch, http.StatusOK, http.StatusNoContent)
	return err
}

// Delete deletes the application session at uri (TS 29.514 §4.2.4, POST {uri}/delete).
func (c *Client) Delete(ctx context.Context, uri string) error {
	_, err := c.do(ctx, http.MethodPost, strings.TrimSuffix(uri, "/")+"/delete", "", nil, http.StatusOK, http.StatusNoContent)
	return err
}

func (c *Client) do(ctx context.Context, method, uri, ctype string, body any, ok ...int) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("npcf %s: %w", method, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, uri, rd)
	if err != nil {
		return nil, fmt.Errorf("npcf %s %s: %w", method, uri, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrTransport, method, uri, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, maxBody))
	for _, code := range ok {
		if res.StatusCode == code {
			return res, nil
		}
	}
	pe := &ProblemError{Status: res.StatusCode}
	_ = json.Unmarshal(raw, &pe.Problem)
	return nil, pe
}
