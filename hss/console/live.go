package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/imscore/imscore/hss/provision"
)

// Live state: who is registered where (the HSS's registration state of every identity, TS 29.228 §6.1.2),
// the network-initiated operations (RTR, PPR) and their outcome, and the health of the nodes.

// maxScan bounds the subscribers the registrations page reads (pages of maxScanPage).
const (
	maxScan     = 5000
	maxScanPage = 500
)

type registrationRow struct {
	IMPI, IMPU, ImplicitSet, State, SCSCF, SCSCFHost string
	Barred                                           bool
}

type registrationsData struct {
	Rows      []registrationRow
	Scanned   int
	Truncated bool
	Filter    string
}

func (c *Console) registrations(r *http.Request, v *view) (string, error) {
	v.Title = "Registrations"
	d := &registrationsData{Filter: strings.TrimSpace(r.URL.Query().Get("q"))}
	v.Data = d
	cursor := ""
	for d.Scanned < maxScan {
		page, err := c.api.ListSubscribers(r.Context(), provision.ListQuery{Limit: maxScanPage, Cursor: cursor})
		if err != nil {
			return "registrations", err
		}
		for _, s := range page.Subscribers {
			d.Scanned++
			for _, u := range s.IMPUs {
				st := u.Registration.State
				if st == "" || st == "NOT_REGISTERED" {
					continue
				}
				if d.Filter != "" && !strings.Contains(s.IMPI, d.Filter) && !strings.Contains(u.IMPU, d.Filter) {
					continue
				}
				d.Rows = append(d.Rows, registrationRow{IMPI: s.IMPI, IMPU: u.IMPU, ImplicitSet: u.ImplicitSet, State: st,
					SCSCF: u.Registration.SCSCFName, SCSCFHost: u.Registration.SCSCFOriginHost, Barred: u.Barred})
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	d.Truncated = cursor != ""
	return "registrations", nil
}

type operationsData struct {
	State string
	List  []provision.Operation
	Trunc bool
}

func (c *Console) operations(r *http.Request, v *view) (string, error) {
	v.Title = "Operations"
	d := &operationsData{State: r.URL.Query().Get("state")}
	v.Data = d
	if d.State != "pending" && d.State != "succeeded" && d.State != "failed" {
		d.State = ""
	}
	ops, err := c.api.ListOperations(r.Context(), provision.OperationQuery{State: d.State, Limit: 200})
	if unavailable(err) {
		v.Notice = "The HSS has no Cx server attached: it keeps no operations."
		return "operations", nil
	}
	if err != nil {
		return "operations", err
	}
	d.List, d.Trunc = ops.Operations, ops.Truncated
	return "operations", nil
}

func (c *Console) operation(r *http.Request, v *view) (string, error) {
	id := r.PathValue("id")
	v.Title = "Operation " + id
	op, err := c.api.GetOperation(r.Context(), id)
	if err != nil {
		return "error", err
	}
	v.Data = op
	return "operation", nil
}

// unavailable reports whether err is the API's 503 for a missing Cx server (no operations kept).
func unavailable(err error) bool {
	var ae *provision.Error
	return errors.As(err, &ae) && ae.Code == provision.CodeUnavailable
}

// nodeHealth is one node of the health page.
type nodeHealth struct {
	Node
	Ready   bool
	Status  string // the /readyz answer, or why there is none
	Metrics []metricSum
	Err     string // why /metrics could not be read
}

// metricSum is one metric family summed over its labels.
type metricSum struct {
	Name, Help string
	Value      float64
}

// healthFamily reports whether the health page shows a family: the node's own counters and gauges
// (registrations, peers, requests, errors), not the Go runtime's.
func healthFamily(name string) bool {
	for _, p := range []string{"go_", "process_", "promhttp_"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	return true
}

func (c *Console) health(r *http.Request, v *view) (string, error) {
	v.Title = "Health"
	v.Data = c.probeNodes(r.Context())
	return "health", nil
}

// home is the health page: the first thing an operator wants to know.
func (c *Console) home(r *http.Request, v *view) (string, error) { return c.health(r, v) }

// probeNodes reads every node's /readyz and /metrics at once.
func (c *Console) probeNodes(ctx context.Context) []nodeHealth {
	out := make([]nodeHealth, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { out[i] = c.probe(ctx, n) })
	}
	wg.Wait()
	return out
}

// maxMetricsBody bounds a node's /metrics answer.
const maxMetricsBody = 8 << 20

func (c *Console) probe(ctx context.Context, n Node) nodeHealth {
	h := nodeHealth{Node: n}
	base := strings.TrimSuffix(n.URL, "/")
	status, body, err := c.get(ctx, base+"/readyz", 4<<10)
	switch {
	case err != nil:
		h.Status = "unreachable: " + err.Error()
	default:
		h.Ready = status == http.StatusOK
		h.Status = fmt.Sprintf("%d %s", status, strings.TrimSpace(firstLine(body)))
	}
	status, body, err = c.get(ctx, base+"/metrics", maxMetricsBody)
	switch {
	case err != nil:
		h.Err = err.Error()
		return h
	case status != http.StatusOK:
		h.Err = fmt.Sprintf("/metrics answered %d (metrics_auth? the console scrapes without a token)", status)
		return h
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		h.Err = "/metrics: " + err.Error()
		return h
	}
	for name, f := range fams {
		if !healthFamily(name) {
			continue
		}
		var sum float64
		ok := false
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				sum, ok = sum+m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				sum, ok = sum+m.GetGauge().GetValue(), true
			case dto.MetricType_UNTYPED:
				sum, ok = sum+m.GetUntyped().GetValue(), true
			}
		}
		if ok {
			h.Metrics = append(h.Metrics, metricSum{Name: name, Help: f.GetHelp(), Value: sum})
		}
	}
	slices.SortFunc(h.Metrics, func(a, b metricSum) int { return strings.Compare(a.Name, b.Name) })
	return h
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 120 {
		l = l[:120]
	}
	return l
}

// get reads url with at most limit bytes of body.
func (c *Console) get(ctx context.Context, url string, limit int64) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("%s: %w", url, err)
	}
	return resp.StatusCode, string(b), nil
}
