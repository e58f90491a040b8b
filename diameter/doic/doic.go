// Package doic is the reacting-node side of Diameter Overload Indication Conveyance (RFC 7683)
// for the CSCFs' Cx clients: they advertise the loss algorithm in every request, take the
// overload reports (OC-OLR) their HSS returns in answers, and throttle the share of requests
// the reports ask for, which the CSCF then answers itself at once instead of loading the HSS.
//
// Supported: OLR_DEFAULT_ALGO (the loss algorithm, RFC 7683 §5.5, §7.2), host and realm reports.
// Not supported: peer reports (RFC 8581), which are ignored, and diverting throttled requests to
// another HSS (a throttled request is failed).
package doic

import (
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/logging"
)

const (
	// olrDefaultAlgo is bit 0 of OC-Feature-Vector: the loss abatement algorithm (RFC 7683 §7.2).
	olrDefaultAlgo uint64 = 1
	// defaultValidity applies when an OC-OLR has no OC-Validity-Duration (RFC 7683 §7.5).
	defaultValidity = 30 * time.Second
	// maxValidity is the largest OC-Validity-Duration honoured (RFC 7683 §7.5: 86,400 s).
	maxValidity = 86400 * time.Second
)

// key names what a report applies to: a host (HOST_REPORT) or a realm (REALM_REPORT).
type key struct {
	typ cx.OCReportType
	id  string
}

// report is one overload report in force.
type report struct {
	seq       uint64
	reduction uint32 // percent of requests to throttle, 1–100
	expires   time.Time
}

// Reactor holds the overload reports a node received and decides which requests to throttle.
// The zero value is not usable; call New. Safe for concurrent use.
type Reactor struct {
	log     *zap.Logger
	mu      sync.Mutex
	reports map[key]report
	now     func() time.Time
	draw    func() uint32 // uniform in [0, 100)
}

// New returns a Reactor with no report in force. log (nil: none) gets a line, at Info, for every report
// that changes what is in force.
func New(log *zap.Logger) *Reactor {
	if log == nil {
		log = zap.NewNop()
	}
	return &Reactor{log: log, reports: make(map[key]report), now: time.Now, draw: func() uint32 { return rand.Uint32N(100) }}
}

// Supported is the OC-Supported-Features AVP a reacting node puts in every request it sends
// (RFC 7683 §5.3.1), advertising the loss algorithm; a reporting node only sends OC-OLR in answer
// to requests that carry it.
func Supported() *cx.OCSupportedFeatures {
	v := olrDefaultAlgo
	return &cx.OCSupportedFeatures{FeatureVector: &v}
}

// Observe takes the OC-OLR of an answer from originHost in originRealm (RFC 7683 §5.5.3). A report
// with a sequence number not above the one in force for the same host or realm is ignored
// (§5.5.3, §7.4); an OC-Reduction-Percentage of 0 ends the overload (§7.7); a report lasts
// OC-Validity-Duration seconds from its receipt (default 30, at most 86,400; §7.5). command names
// the answer, for the log. It returns whether the report changed what is in force.
func (r *Reactor) Observe(command, originHost, originRealm string, olr *cx.OCOLR) bool {
	if olr == nil {
		return false
	}
	changed := r.observe(originHost, originRealm, olr)
	if changed {
		r.log.Info("diameter overload report", zap.String("command", command), logging.Peer(originHost),
			zap.Stringer("type", olr.ReportType), zap.Uint64("sequence", olr.SequenceNumber),
			zap.Uint32p("reduction_percent", olr.ReductionPercentage), zap.Uint32p("validity_s", olr.ValidityDuration))
	}
	return changed
}

func (r *Reactor) observe(originHost, originRealm string, olr *cx.OCOLR) bool {
	var k key
	switch olr.ReportType {
	case cx.OCHostReport:
		k = key{cx.OCHostReport, originHost}
		if olr.SourceID != "" {
			k.id = olr.SourceID // RFC 8581 §7.3: the node the report is about, when an agent relayed it
		}
	case cx.OCRealmReport:
		k = key{cx.OCRealmReport, originRealm}
	default:
		return false // peer reports (RFC 8581) and unknown types: not ours to apply
	}
	if k.id == "" {
		return false
	}
	validity := defaultValidity
	if olr.ValidityDuration != nil {
		validity = min(time.Duration(*olr.ValidityDuration)*time.Second, maxValidity)
	}
	reduction := uint32(0)
	if olr.ReductionPercentage != nil {
		reduction = min(*olr.ReductionPercentage, 100)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if cur, ok := r.reports[k]; ok && now.Before(cur.expires) && olr.SequenceNumber <= cur.seq {
		return false // the same report again, or an older one (§5.5.3)
	}
	if reduction == 0 || validity <= 0 {
		_, had := r.reports[k]
		delete(r.reports, k)
		return had
	}
	r.reports[k] = report{seq: olr.SequenceNumber, reduction: reduction, expires: now.Add(validity)}
	return true
}

// Admit applies the loss algorithm (RFC 7683 §5.5.1) to a request for destHost (its
// Destination-Host, "" when realm-routed) in destRealm: a host report for destHost, or a realm
// report for destRealm when the request names no host, throttles its reduction percentage of
// requests at random. For a throttled request it returns false and how long the report stays in
// force, a fair Retry-After for whoever is answered instead.
func (r *Reactor) Admit(destHost, destRealm string) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var in report
	found := false
	for _, k := range []key{{cx.OCHostReport, destHost}, {cx.OCRealmReport, destRealm}} {
		if k.id == "" || k.typ == cx.OCRealmReport && destHost != "" {
			continue
		}
		rep, ok := r.reports[k]
		if !ok {
			continue
		}
		if !now.Before(rep.expires) {
			delete(r.reports, k)
			continue
		}
		if !found || rep.reduction > in.reduction {
			in, found = rep, true
		}
	}
	if !found || r.draw() >= in.reduction {
		return true, 0
	}
	return false, in.expires.Sub(now)
}
