package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/imscore/imscore/hss/provision"
)

// Population is the subscribers of a load run, as provisioned in the HSS: Count IMSIs from
// FirstIMSI in Domain, all with the same keys (hex, as the provisioning API takes them).
type Population struct {
	FirstIMSI string
	Count     int
	Domain    string
	K         string
	OP, OPc   string // one of them
	AMF       string // 4 hex digits; "" is the API's default 8000
}

// Requests are the subscribers as provisioning requests. Each has exactly one public identity,
// sip:<imsi>@<domain>, not barred, so that it can be registered and addressed (the API's
// conventional identities bar the IMSI-based one, TS 23.003 §13.4B).
func (p Population) Requests() ([]provision.SubscriberRequest, error) {
	out := make([]provision.SubscriberRequest, 0, p.Count)
	for i := range p.Count {
		imsi, err := IMSI(p.FirstIMSI, i)
		if err != nil {
			return nil, err
		}
		impi, impu := Identities(imsi, p.Domain)
		out = append(out, provision.SubscriberRequest{IMPI: impi, IMSI: imsi, K: p.K, OP: p.OP, OPc: p.OPc, AMF: p.AMF,
			IMPUs: []provision.IMPURequest{{IMPU: impu}}})
	}
	return out, nil
}

// ProvisionResult says what Provision did.
type ProvisionResult struct {
	Imported int // created now
	Existing int // already there (kept as they are, keys included)
}

// Provision creates the population through the HSS provisioning API's bulk import (POST
// /api/v1/subscribers:import). It is idempotent: subscribers that exist already are counted as
// Existing, not as errors; any other refused line is an error.
func Provision(ctx context.Context, c *provision.Client, p Population) (ProvisionResult, error) {
	reqs, err := p.Requests()
	if err != nil {
		return ProvisionResult{}, err
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body) // one JSON document per line: NDJSON
	for _, r := range reqs {
		if err := enc.Encode(r); err != nil {
			return ProvisionResult{}, fmt.Errorf("provision: encode %s: %w", r.IMPI, err)
		}
	}
	res, err := c.Import(ctx, &body, 0)
	if err != nil {
		return ProvisionResult{}, fmt.Errorf("provision %d subscribers: %w", p.Count, err)
	}
	out := ProvisionResult{Imported: res.Imported}
	var other []provision.ImportError
	for _, ie := range res.Errors {
		if ie.Code == provision.CodeAlreadyExists {
			out.Existing++
		} else {
			other = append(other, ie)
		}
	}
	if res.ErrorsTruncated {
		// Only the first errors are listed; the rest cannot be told apart.
		out.Existing += res.Failed - len(res.Errors)
	}
	if len(other) > 0 {
		return out, fmt.Errorf("provision: %d of %d lines refused, first line %d (%s): %s",
			len(other), res.Lines, other[0].Line, other[0].IMPI, other[0].Error)
	}
	return out, nil
}

// RaiseFileLimit raises the soft RLIMIT_NOFILE to at least need (up to the hard limit): every
// UE holds one socket, four with sec-agree.
func RaiseFileLimit(need uint64) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	lim.Cur = min(need, lim.Max)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit nofile %d: %w", lim.Cur, err)
	}
	if lim.Cur < need {
		return fmt.Errorf("%w: open file limit is %d (hard), %d needed", ErrFileLimit, lim.Max, need)
	}
	return nil
}
