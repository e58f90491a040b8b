package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/imscore/imscore/hss"
)

// Client calls the provisioning API. Methods return *Error when the server answered with an error.
type Client struct {
	base  *url.URL
	hc    *http.Client
	token string
	wait  bool // wait=true on every request: changes answer after the PPRs they cause (Waiting)
}

// ClientOption changes a Client.
type ClientOption func(*Client)

// WithToken sends token as the bearer token of every request (`Authorization: Bearer`, RFC 6750 §2.1). The
// API refuses requests without one (401).
func WithToken(token string) ClientOption { return func(c *Client) { c.token = token } }

// NewClient returns a client of the API at baseURL (e.g. http://127.0.0.1:8080); hc nil means
// http.DefaultClient. Time limits come from the contexts passed to each call.
func NewClient(baseURL string, hc *http.Client, opts ...ClientOption) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("api url %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("api url %q: want http://host:port or https://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if hc == nil {
		hc = http.DefaultClient
	}
	c := &Client{base: u, hc: hc}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Waiting returns a client whose requests ask the API to wait for the network-initiated procedures they
// cause (wait=true): a change to a registered user answers once its PPRs are answered or timed out, with
// PushReport.Pushed and Failed filled in.
func (c *Client) Waiting() *Client {
	w := *c
	w.wait = true
	return &w
}

// seg escapes one path segment (an IMPI, an IMPU, a profile id).
func seg(v string) string { return url.PathEscape(v) }

// request sends body (a JSON value, an io.Reader sent as is, or nil) and decodes a 2xx answer into out
// (nil: ignored). A non-2xx answer is returned as *Error; with decodeErrBody, it is decoded into out too.
func (c *Client) request(ctx context.Context, method, path string, query url.Values, body any, out any,
	decodeErrBody bool) error {
	target := c.base.String() + path // path segments are escaped already (seg)
	if c.wait && !query.Has("wait") {
		query = cloneValues(query)
		query.Set("wait", "true")
	}
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var (
		rd          io.Reader
		contentType string
	)
	switch b := body.(type) {
	case nil:
	case io.Reader:
		rd, contentType = b, "application/x-ndjson"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = fmt.Sprintf("%s %s: HTTP %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
		}
		if decodeErrBody && out != nil {
			_ = json.Unmarshal(data, out)
		}
		return e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	return c.request(ctx, method, path, nil, body, out, false)
}

// CreateSubscriber creates a subscriber (POST /subscribers).
func (c *Client) CreateSubscriber(ctx context.Context, req SubscriberRequest) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodPost, "/api/v1/subscribers", req, &out)
}

// GetSubscriber returns one subscriber with its profiles.
func (c *Client) GetSubscriber(ctx context.Context, impi string) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodGet, "/api/v1/subscribers/"+seg(impi), nil, &out)
}

// ListQuery selects subscribers for ListSubscribers; empty members do not filter.
type ListQuery struct {
	IMSI, MSISDN, IMPU                   string
	IMSIPrefix, MSISDNPrefix, IMPUPrefix string
	Limit                                int
	Cursor                               string
}

// ListSubscribers returns one page (GET /subscribers).
func (c *Client) ListSubscribers(ctx context.Context, q ListQuery) (*SubscriberList, error) {
	v := url.Values{}
	for k, s := range map[string]string{"imsi": q.IMSI, "msisdn": q.MSISDN, "impu": q.IMPU,
		"prefix": q.IMSIPrefix, "msisdn_prefix": q.MSISDNPrefix, "impu_prefix": q.IMPUPrefix, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out SubscriberList
	return &out, c.request(ctx, http.MethodGet, "/api/v1/subscribers", v, nil, &out, false)
}

// PatchSubscriber changes attributes of a subscriber.
func (c *Client) PatchSubscriber(ctx context.Context, impi string, p SubscriberPatch) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodPatch, "/api/v1/subscribers/"+seg(impi), p, &out)
}

// DeleteSubscriber deletes a subscriber (after an RTR when registered).
func (c *Client) DeleteSubscriber(ctx context.Context, impi string) (*DeleteResult, error) {
	return c.deleteSubscriber(ctx, impi, nil)
}

// ForceDeleteSubscriber deletes impi even when it is registered and its S-CSCF does not confirm the
// de-registration (force=true); DeleteResult.Warning then says so.
func (c *Client) ForceDeleteSubscriber(ctx context.Context, impi string) (*DeleteResult, error) {
	return c.deleteSubscriber(ctx, impi, url.Values{"force": {"true"}})
}

func (c *Client) deleteSubscriber(ctx context.Context, impi string, q url.Values) (*DeleteResult, error) {
	var out DeleteResult
	return &out, c.request(ctx, http.MethodDelete, "/api/v1/subscribers/"+seg(impi), q, nil, &out, false)
}

// SetKeys replaces K, OP/OPc, AMF and optionally SQN.
func (c *Client) SetKeys(ctx context.Context, impi string, k KeysRequest) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodPut, "/api/v1/subscribers/"+seg(impi)+"/keys", k, &out)
}

// AddIMPU creates a public identity of impi.
func (c *Client) AddIMPU(ctx context.Context, impi string, u IMPURequest) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodPost, "/api/v1/subscribers/"+seg(impi)+"/impus", u, &out)
}

// UpdateIMPU replaces the attributes of a public identity of impi.
func (c *Client) UpdateIMPU(ctx context.Context, impi, impu string, u IMPURequest) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodPut, "/api/v1/subscribers/"+seg(impi)+"/impus/"+seg(impu), u, &out)
}

// DeleteIMPU deletes a public identity of impi.
func (c *Client) DeleteIMPU(ctx context.Context, impi, impu string) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/subscribers/"+seg(impi)+"/impus/"+seg(impu), nil, &out)
}

// LinkIMPU associates an existing public identity with impi.
func (c *Client) LinkIMPU(ctx context.Context, impi, impu string) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodPost, "/api/v1/subscribers/"+seg(impi)+"/links", LinkRequest{IMPU: impu}, &out)
}

// UnlinkIMPU removes the association of impu with impi.
func (c *Client) UnlinkIMPU(ctx context.Context, impi, impu string) (*Subscriber, error) {
	var out Subscriber
	return &out, c.do(ctx, http.MethodDelete, "/api/v1/subscribers/"+seg(impi)+"/links/"+seg(impu), nil, &out)
}

// Registration returns the registration state of impi's identities.
func (c *Client) Registration(ctx context.Context, impi string) (*RegistrationStatus, error) {
	var out RegistrationStatus
	return &out, c.do(ctx, http.MethodGet, "/api/v1/subscribers/"+seg(impi)+"/registration", nil, &out)
}

// Deregister asks the HSS to send an RTR and waits for the S-CSCF's answer (wait=true): at most the HSS's
// Diameter timeout, or until ctx ends. A failed RTR is an *Error (cx_failed, 502).
func (c *Client) Deregister(ctx context.Context, impi string, req DeregisterRequest) (*DeregisterResult, error) {
	var out DeregisterResult
	return &out, c.request(ctx, http.MethodPost, "/api/v1/subscribers/"+seg(impi)+"/deregister", waitQuery, req, &out, false)
}

// StartDeregister asks the HSS to send an RTR and returns at once the pending operation (202 Accepted);
// GetOperation or WaitOperation read its outcome.
func (c *Client) StartDeregister(ctx context.Context, impi string, req DeregisterRequest) (*Operation, error) {
	var out Operation
	return &out, c.request(ctx, http.MethodPost, "/api/v1/subscribers/"+seg(impi)+"/deregister", noWaitQuery, req, &out, false)
}

// PushProfile asks the HSS to send a PPR and waits for the S-CSCF's answer (wait=true).
func (c *Client) PushProfile(ctx context.Context, impi string) (*PushResult, error) {
	var out PushResult
	return &out, c.request(ctx, http.MethodPost, "/api/v1/subscribers/"+seg(impi)+"/push-profile", waitQuery, nil, &out, false)
}

// StartPushProfile asks the HSS to send a PPR and returns at once the pending operation.
func (c *Client) StartPushProfile(ctx context.Context, impi string) (*Operation, error) {
	var out Operation
	return &out, c.request(ctx, http.MethodPost, "/api/v1/subscribers/"+seg(impi)+"/push-profile", noWaitQuery, nil, &out, false)
}

var (
	waitQuery   = url.Values{"wait": {"true"}}
	noWaitQuery = url.Values{"wait": {"false"}}
)

// GetOperation reads a network-initiated procedure the API started (GET /api/v1/operations/{id}).
func (c *Client) GetOperation(ctx context.Context, id string) (*Operation, error) {
	var out Operation
	return &out, c.do(ctx, http.MethodGet, "/api/v1/operations/"+seg(id), nil, &out)
}

// OperationQuery selects operations for ListOperations; empty members do not filter.
type OperationQuery struct {
	IMPI  string
	State string // pending, succeeded or failed
	Limit int
}

// ListOperations returns the operations the HSS keeps, newest first (GET /api/v1/operations).
func (c *Client) ListOperations(ctx context.Context, q OperationQuery) (*OperationList, error) {
	v := url.Values{}
	if q.IMPI != "" {
		v.Set("impi", q.IMPI)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out OperationList
	return &out, c.request(ctx, http.MethodGet, "/api/v1/operations", v, nil, &out, false)
}

// WaitOperation reads operation id every interval (≤ 0: one second) until it has finished, and returns it;
// when ctx ends first, the last state read with ctx's error.
func (c *Client) WaitOperation(ctx context.Context, id string, interval time.Duration) (*Operation, error) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		op, err := c.GetOperation(ctx, id)
		if err != nil || op.Done() {
			return op, err
		}
		select {
		case <-ctx.Done():
			return op, fmt.Errorf("wait for operation %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// Import streams NDJSON from r (POST /subscribers:import); batch 0 uses the server's default. The
// result is returned also when the import stopped early, together with the *Error.
func (c *Client) Import(ctx context.Context, r io.Reader, batch int) (*ImportResult, error) {
	v := url.Values{}
	if batch > 0 {
		v.Set("batch", strconv.Itoa(batch))
	}
	var out ImportResult
	err := c.request(ctx, http.MethodPost, "/api/v1/subscribers:import", v, io.NopCloser(r), &out, true)
	return &out, err
}

// ListProfiles returns every service profile.
func (c *Client) ListProfiles(ctx context.Context) ([]Profile, error) {
	var out struct {
		Profiles []Profile `json:"profiles"`
	}
	return out.Profiles, c.do(ctx, http.MethodGet, "/api/v1/profiles", nil, &out)
}

// GetProfile returns one service profile.
func (c *Client) GetProfile(ctx context.Context, id string) (*Profile, error) {
	var out Profile
	return &out, c.do(ctx, http.MethodGet, "/api/v1/profiles/"+seg(id), nil, &out)
}

// CreateProfile creates a service profile.
func (c *Client) CreateProfile(ctx context.Context, p Profile) (*Profile, error) {
	var out Profile
	return &out, c.do(ctx, http.MethodPost, "/api/v1/profiles", p, &out)
}

// UpdateProfile replaces a service profile; registered users get a PPR.
func (c *Client) UpdateProfile(ctx context.Context, p Profile) (*Profile, error) {
	var out Profile
	return &out, c.do(ctx, http.MethodPut, "/api/v1/profiles/"+seg(p.ID), p, &out)
}

// DeleteProfile deletes an unused service profile.
func (c *Client) DeleteProfile(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/profiles/"+seg(id), nil, nil)
}

// ListIFCSets returns every shared iFC set.
func (c *Client) ListIFCSets(ctx context.Context) ([]IFCSet, error) {
	var out struct {
		IFCSets []IFCSet `json:"ifc_sets"`
	}
	return out.IFCSets, c.do(ctx, http.MethodGet, "/api/v1/ifc-sets", nil, &out)
}

// GetIFCSet returns one shared iFC set.
func (c *Client) GetIFCSet(ctx context.Context, id int32) (*IFCSet, error) {
	var out IFCSet
	return &out, c.do(ctx, http.MethodGet, "/api/v1/ifc-sets/"+strconv.Itoa(int(id)), nil, &out)
}

// CreateIFCSet creates a shared iFC set.
func (c *Client) CreateIFCSet(ctx context.Context, s IFCSet) (*IFCSet, error) {
	var out IFCSet
	return &out, c.do(ctx, http.MethodPost, "/api/v1/ifc-sets", s, &out)
}

// UpdateIFCSet replaces a shared iFC set.
func (c *Client) UpdateIFCSet(ctx context.Context, s IFCSet) (*IFCSet, error) {
	var out IFCSet
	return &out, c.do(ctx, http.MethodPut, "/api/v1/ifc-sets/"+strconv.Itoa(int(s.ID)), s, &out)
}

// DeleteIFCSet deletes an unused shared iFC set.
func (c *Client) DeleteIFCSet(ctx context.Context, id int32) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/ifc-sets/"+strconv.Itoa(int(id)), nil, nil)
}

// ListSCSCFs returns the S-CSCFs and their capabilities.
func (c *Client) ListSCSCFs(ctx context.Context) ([]SCSCF, error) {
	var out struct {
		SCSCFs []SCSCF `json:"scscfs"`
	}
	return out.SCSCFs, c.do(ctx, http.MethodGet, "/api/v1/scscfs", nil, &out)
}

// PutSCSCF creates or replaces an S-CSCF.
func (c *Client) PutSCSCF(ctx context.Context, s SCSCF) (*SCSCF, error) {
	var out SCSCF
	return &out, c.do(ctx, http.MethodPut, "/api/v1/scscfs/"+seg(s.Name), s, &out)
}

// DeleteSCSCF removes an S-CSCF.
func (c *Client) DeleteSCSCF(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/scscfs/"+seg(name), nil, nil)
}

// SetDefaultCharging sets the default charging function addresses.
func (c *Client) SetDefaultCharging(ctx context.Context, ci hss.ChargingInfo) error {
	return c.do(ctx, http.MethodPut, "/api/v1/charging/default", ci, nil)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// IsNotFound reports whether err is the API's 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}
