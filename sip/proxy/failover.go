package proxy

// Failover across the next hops of one Target (RFC 3263 §4.3, Target.Failover): the addresses a resolver gave
// for a URI are tried one at a time, without asking the router again.

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// prepareAttempt prepares b for the hop nh (nil: the one the Route set and Request-URI give), going on with the
// hops of rest while a hop cannot be reached (RFC 3263 §4.3). Unlocked.
func (pc *proxyCtx) prepareAttempt(b *branch, nh *NextHop, rest []NextHop, hash string) {
	p := pc.p
	for {
		req, hopURI := p.buildCopy(pc.req, b.dec, b.target)
		out, err := p.prepareOutbound(pc.routeCtx, req, hopURI, nh, pc.in.l, b.rr, newBranch(hash))
		if err == nil {
			b.req, b.out, b.rest = req, out, rest
			b.hop = NextHop{Transport: out.transport, Addr: out.dst}
			if nh != nil {
				b.hop.Local, b.hop.ServerName = nh.Local, nh.ServerName
			}
			return
		}
		se := statusForSendError(err)
		pc.log.Info("next hop unreachable", zap.Int("branch", b.idx), zap.String("next_hop", hopURI.String()),
			zap.Int("treated_as", se.Code), zap.Int("failover_left", len(rest)), zap.Error(err))
		if nh != nil && b.target.HopFailed != nil {
			b.target.HopFailed(*nh, 0)
		}
		if len(rest) == 0 || pc.routeCtx.Err() != nil {
			b.final, b.generated = pc.generated(se.Code), true
			return
		}
		nh, rest = &rest[0], rest[1:]
	}
}

// failoverLocked handles a branch that failed at its next hop (RFC 3263 §4.3: transport error, timeout, 503;
// retryAfter is a 503's Retry-After): the hop is reported, and when the Target has hops left and the search may
// go on, a new attempt supersedes the branch. The caller runs maybeFinishLocked after it, which waits for the
// attempt.
func (pc *proxyCtx) failoverLocked(b *branch, retryAfter time.Duration) {
	if b.out != nil && b.target != nil && b.target.HopFailed != nil {
		b.target.HopFailed(b.hop, retryAfter)
	}
	if len(b.rest) == 0 || pc.canceled || pc.noNewBranches || pc.closed || pc.finalCode != 0 || b.cancelSent {
		return
	}
	nb := &branch{pc: pc, idx: b.idx, round: b.round, noResponse: b.noResponse, dec: b.dec, target: b.target, rr: b.rr}
	hops := b.rest
	if !pc.p.spawn(func() { pc.retry(nb, &hops[0], hops[1:]) }) {
		return // closing: the branch keeps its failure
	}
	b.superseded = true
	pc.branches = append(pc.branches, nb)
	pc.log.Info("failing over to the next hop", zap.Int("branch", b.idx), zap.Stringer("failed", b.hop.Addr),
		zap.Int("code", b.final.StatusCode), zap.Stringer("next", hops[0].Addr), zap.Duration("retry_after", retryAfter))
}

// retry prepares and launches a failover attempt (its own goroutine: it may connect).
func (pc *proxyCtx) retry(b *branch, nh *NextHop, rest []NextHop) {
	pc.prepareAttempt(b, nh, rest, pc.hash)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if b.final == nil {
		if pc.closed || pc.canceled || pc.noNewBranches || pc.finalCode != 0 {
			// Too late for another attempt: it counts as failed, and §16.7 decides with the others (a CANCEL
			// makes this a 487, a 6xx wins, a final response already went up).
			b.release()
			b.final, b.generated = pc.generated(sip.StatusServiceUnavailable), true
		} else {
			pc.launchLocked(b)
		}
	}
	pc.maybeFinishLocked()
}

// maxRetryAfter bounds how long a peer's Retry-After keeps it behind the others (a day).
const maxRetryAfter = 24 * time.Hour

// retryAfterOf reads the delta-seconds of a response's Retry-After (RFC 3261 §20.33: "Retry-After: 18000;duration=3600",
// a comment allowed after the number), 0 when there is none or it is unreadable.
func retryAfterOf(res *sip.Response) time.Duration {
	h := res.GetHeader("Retry-After")
	if h == nil {
		return 0
	}
	v := strings.TrimSpace(h.Value())
	end := 0
	for end < len(v) && v[end] >= '0' && v[end] <= '9' {
		end++
	}
	if end == 0 {
		return 0
	}
	if end > 9 {
		return maxRetryAfter
	}
	n, err := strconv.Atoi(v[:end])
	if err != nil {
		return 0
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter)
}
