package pana

import (
	"math/rand/v2"
	"time"
)

// Retransmit holds the retransmission parameters of RFC 5191 §9, the algorithm of RFC 3315 §14.
type Retransmit struct {
	IRT time.Duration `yaml:"irt"` // initial retransmission time (REQ_IRT 1 s, PCI_IRT 1 s)
	MRT time.Duration `yaml:"mrt"` // maximum retransmission time (REQ_MRT 30 s, PCI_MRT 120 s)
	MRC int           `yaml:"mrc"` // maximum retransmission count (REQ_MRC 10, PCI_MRC 0: unlimited)
}

// Defaults of RFC 5191 §9.
var (
	DefaultRequestRetransmit = Retransmit{IRT: time.Second, MRT: 30 * time.Second, MRC: 10}
	DefaultPCIRetransmit     = Retransmit{IRT: time.Second, MRT: 120 * time.Second, MRC: 0}
)

// WithDefaults fills the zero fields from d.
func (r Retransmit) WithDefaults(d Retransmit) Retransmit {
	if r.IRT <= 0 {
		r.IRT = d.IRT
	}
	if r.MRT <= 0 {
		r.MRT = d.MRT
	}
	if r.MRC < 0 {
		r.MRC = d.MRC
	}
	return r
}

// jitter is RAND of RFC 3315 §14: uniform in [-0.1, +0.1].
func jitter() float64 { return rand.Float64()*0.2 - 0.1 } // #nosec G404 -- timer jitter, not a secret

// Next is the next retransmission timeout: RT = IRT + RAND*IRT first, then RT = 2*RTprev + RAND*RTprev,
// and past MRT, RT = MRT + RAND*MRT (RFC 3315 §14).
func (r Retransmit) Next(prev time.Duration) time.Duration {
	var rt time.Duration
	if prev == 0 {
		rt = r.IRT + time.Duration(jitter()*float64(r.IRT))
	} else {
		rt = 2*prev + time.Duration(jitter()*float64(prev))
	}
	if r.MRT > 0 && rt > r.MRT {
		rt = r.MRT + time.Duration(jitter()*float64(r.MRT))
	}
	return rt
}

// Exhausted reports whether count retransmissions used up MRC (0: never).
func (r Retransmit) Exhausted(count int) bool { return r.MRC > 0 && count >= r.MRC }
