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
	"net/netip"
	"net/url"
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
	locator Locator // nil: every session at apiRoot
}

// NewClient returns a client for apiRoot ("http://pcf:7777" or "https://pcf:443"; a bare "http://" or "https://"
// names the scheme only, for a client whose every PCF comes from its Locator). Over http it
// speaks HTTP/2 with prior knowledge (h2c, TS 29.500 §5.2.2.2), over https HTTP/2 over TLS with
// tlsConfig (nil: the system roots).
func NewClient(apiRoot string, tlsConfig *tls.Config) (*Client, error) {
	hc, err := sbiClient(apiRoot, tlsConfig)
	if err != nil {
		return nil, fmt.Errorf("npcf: %w", err)
	}
	apiRoot = strings.TrimSuffix(apiRoot, "/")
	if u, err := url.Parse(apiRoot); err == nil && u.Host == "" {
		apiRoot = "" // "http://" or "https://": no PCF of its own, every one from the Locator
	}
	return &Client{apiRoot: apiRoot, http: hc}, nil
}

// sbiClient is an HTTP/2 client for apiRoot's scheme: h2c with prior knowledge for http (TS 29.500 §5.2.2.2),
// HTTP/2 over TLS with tlsConfig for https. Requests to the other scheme fail.
func sbiClient(apiRoot string, tlsConfig *tls.Config) (*http.Client, error) {
	tr := &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}
	var p http.Protocols
	switch {
	case strings.HasPrefix(apiRoot, "http://"):
		p.SetUnencryptedHTTP2(true)
	case strings.HasPrefix(apiRoot, "https://"):
		p.SetHTTP2(true)
	default:
		return nil, fmt.Errorf("api root %q: want http:// or https://", apiRoot)
	}
	tr.Protocols = &p
	return &http.Client{Transport: tr}, nil
}

// Locator finds the PCF that holds a UE's PDU session (BSF.PCFRoot, TS 29.521): its API root, "" when it
// knows none.
type Locator interface {
	PCFRoot(ctx context.Context, ue netip.Addr) (string, error)
}

// Locate makes Create ask l for the PCF of each application session's UE; the client's own API root is the
// fallback when l knows none ("" apiRoot: no fallback). Call it before the first Create.
func (c *Client) Locate(l Locator) { c.locator = l }

// ErrNoPCF: no PCF is known for the UE (the BSF has no binding and no PCF is configured).
var ErrNoPCF = errors.New("npcf: no PCF for the UE")

// rootFor is the API root the application session of asc is created at.
func (c *Client) rootFor(ctx context.Context, asc *AppSessionContext) (string, error) {
	if c.locator == nil || asc.AscReqData == nil {
		return c.apiRoot, nil
	}
	ue, err := netip.ParseAddr(asc.AscReqData.UeIpv4)
	if err != nil {
		ue, err = netip.ParseAddr(asc.AscReqData.UeIpv6)
	}
	if err != nil {
		return c.apiRoot, nil
	}
	root, err := c.locator.PCFRoot(ctx, ue)
	switch {
	case err == nil && root != "":
		return root, nil
	case c.apiRoot != "":
		return c.apiRoot, nil
	case err != nil:
		return "", fmt.Errorf("%w: %w", ErrTransport, err)
	}
	return "", fmt.Errorf("%w: %w %s", ErrTransport, ErrNoPCF, ue)
}

// Close releases the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Create creates an application session context (TS 29.514 §4.2.2, POST .../app-sessions, 201 with
// Location) and returns the resource URI.
func (c *Client) Create(ctx context.Context, asc *AppSessionContext) (string, error) {
	root, err := c.rootFor(ctx, asc)
	if err != nil {
		return "", err
	}
	res, err := c.do(ctx, http.MethodPost, root+apiPrefix+"/app-sessions", "application/json", asc, http.StatusCreated)
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
