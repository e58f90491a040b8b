package peer

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// supervise bounds the capabilities exchange (RFC 6733 §5.6, Timeout event), then runs the
// watchdog. It also disconnects the connection, with DPR, when its Serve or Connect context ends.
func (c *conn) supervise() {
	deadline := time.NewTimer(c.n.cfg.RequestTimeout)
	select {
	case <-c.opened:
		deadline.Stop()
	case <-deadline.C:
		c.shutdown(ErrCapabilitiesTimeout)
		return
	case <-c.closed:
		deadline.Stop()
		return
	case <-c.scope.Done():
		deadline.Stop()
		// A connection already admitted is disconnected gracefully by the watchdog (requests in
		// flight answered, then DPR), never cut. Decide by its state, not by c.opened: admission
		// makes it Open (routable, and what WaitPeer reports) a moment before opened is closed,
		// and select may also have chosen this case at random with opened ready.
		if st := c.State(); st != StateOpen && st != StateSuspect && st != StateClosing {
			c.shutdown(context.Cause(c.scope))
			return
		}
	}
	c.watchdog()
}

// watchdog is the RFC 3539 §3.4.1 algorithm for one open connection.
//
//   - Any message received resets the timer Tw (jittered, see Node.watchdogDelay).
//   - OKAY, Tw elapsed, no DWR outstanding: send DWR.
//   - OKAY, Tw elapsed, DWR outstanding: SUSPECT. Requests waiting on the connection fail over
//     and no new ones are routed to it.
//   - SUSPECT, any message received: OKAY again (failback).
//   - SUSPECT, Tw elapsed: DOWN, the connection closes (a dialled peer is then redialled).
//
// The REOPEN state of RFC 3539 (three DWA before use after reconnecting) is not kept: a new
// connection is trusted once its capabilities exchange succeeds.
func (c *conn) watchdog() {
	var (
		dwa    <-chan result // answer to the outstanding DWR; nil when none is outstanding
		dwrHbH uint32
		// base is when the running Tw started: the last message received, the DWR sent, or
		// the entry into SUSPECT.
		base = c.lastRxTime()
	)
	timer := time.NewTimer(c.n.watchdogDelay())
	defer timer.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-c.scope.Done():
			ctx, cancel := context.WithTimeout(context.Background(), c.n.cfg.RequestTimeout)
			c.disconnect(ctx, causeRebooting)
			cancel()
			return
		case <-dwa:
			dwa = nil // the DWA was received (touch moved lastRx), or the connection closed
			continue
		case <-c.wake:
			if rx := c.lastRxTime(); c.suspect.Load() && rx.After(base) {
				c.failback()
				base = rx
				timer.Reset(max(0, time.Until(base.Add(c.n.watchdogDelay()))))
			}
			continue
		case <-timer.C:
		}
		now := time.Now()
		rx := c.lastRxTime()
		switch st := c.State(); {
		case st != StateOpen && st != StateSuspect:
			// Closing: whoever started the disconnection closes the connection.
			return
		case st == StateSuspect:
			if !rx.After(base) {
				c.logger().Warn("diameter watchdog: peer down, closing")
				c.shutdown(fmt.Errorf("%w: nothing received for %v after DWR", ErrWatchdog, now.Sub(rx).Round(time.Millisecond)))
				return
			}
			c.failback()
			base = rx
		case dwa != nil:
			if rx.After(base) {
				base = rx // traffic arrived: the peer is alive even if the DWA is late
			} else {
				c.remove(dwrHbH)
				dwa = nil
				c.enterSuspect()
				base = now
			}
		default:
			if rx.After(base) {
				base = rx
			} else {
				hbh, ch, err := c.startInternal(c.n.buildDWR())
				if err != nil {
					return // closed meanwhile
				}
				dwrHbH, dwa, base = hbh, ch, now
			}
		}
		timer.Reset(max(0, time.Until(base.Add(c.n.watchdogDelay()))))
	}
}

// enterSuspect: RFC 3539 §3.4.1 SUSPECT. Requests waiting here fail over to another peer.
func (c *conn) enterSuspect() {
	c.mu.Lock()
	if c.state != StateOpen {
		c.mu.Unlock()
		return
	}
	c.state, c.since = StateSuspect, time.Now()
	c.suspect.Store(true)
	failed := c.takeApplicationPendingLocked()
	c.mu.Unlock()
	c.n.refresh()
	c.logger().Warn("diameter watchdog: DWA overdue, peer suspect", zap.Int("failed_over", len(failed)))
	c.failOver(failed, errSuspect)
}

// takeApplicationPendingLocked removes and returns the application requests waiting on c. c.mu is held.
func (c *conn) takeApplicationPendingLocked() []*pending {
	var taken []*pending
	for hbh, p := range c.pending {
		if !p.internal {
			delete(c.pending, hbh)
			taken = append(taken, p)
			if c.probeOut && c.probeHbH == hbh {
				c.probeOut = false // the probe is failed over: the next request may probe again
			}
		}
	}
	return taken
}

// failOver fails requests taken from c with ErrConnectionLost, so that Request resends each on
// another peer (RFC 6733 §5.5.4) or, with none left, fails it at once. A late answer to any of them
// finds nothing pending and is dropped.
func (c *conn) failOver(taken []*pending, why error) {
	for _, p := range taken {
		c.outgoing.done()
		p.ch <- result{err: fmt.Errorf("%w: %w", ErrConnectionLost, why)}
	}
}

// Application-level liveness. The watchdog above only proves that the peer's base protocol
// answers; an HSS whose Cx handlers hang (a stuck store) answers every DWR and is never SUSPECT,
// and one that went silent takes two Tw (60 s by default) to be found out. Meanwhile every request
// routed to it waits its full timeout. So, as a local policy beside RFC 3539:
//
//   - Config.MaxConsecutiveTimeouts application requests in a row that time out on a connection
//     mark it unresponsive: no new request is routed to it and those waiting on it fail over at once
//     (as on SUSPECT). Requests with no other peer then fail fast with ErrNoPeer.
//   - After Config.UnresponsiveProbe, one request at a time is let through as a probe. An answer to
//     it (or to any application request) makes the connection usable again; its timeout starts
//     another wait.
//   - The watchdog runs on unchanged and still closes a connection whose DWR goes unanswered; a new
//     connection starts with a clean count.

// routable reports whether a new request may be routed to c now.
func (c *conn) routable() bool {
	if !c.benched.Load() {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.unresponsive || !c.probeOut && !time.Now().Before(c.benchUntil)
}

// answered records an answer to an application request: the peer's applications are alive.
func (c *conn) answered() {
	c.mu.Lock()
	c.strikes = 0
	was := c.unresponsive
	c.unresponsive, c.probeOut = false, false
	c.benched.Store(false)
	host := c.peer.host
	c.mu.Unlock()
	if was {
		c.logger().Info("diameter peer answering requests again")
		c.n.obs.Observe(Event{Kind: EventPeerResponsive, Peer: host})
	}
}

// gaveUp records that the request hbh stopped waiting without an answer: timedOut when its deadline
// passed, false when its caller gave up (which says nothing about the peer).
func (c *conn) gaveUp(hbh uint32, timedOut bool) {
	c.mu.Lock()
	wasProbe := c.probeOut && c.probeHbH == hbh
	if wasProbe {
		c.probeOut = false
	}
	limit := c.n.cfg.MaxConsecutiveTimeouts
	if !timedOut || limit < 0 {
		c.mu.Unlock()
		return
	}
	c.strikes++
	now := time.Now()
	switch {
	case c.unresponsive:
		if wasProbe {
			c.benchUntil = now.Add(c.n.cfg.UnresponsiveProbe)
		}
		c.mu.Unlock()
		return
	case c.strikes < limit || c.state != StateOpen:
		c.mu.Unlock()
		return
	}
	c.unresponsive, c.benchUntil = true, now.Add(c.n.cfg.UnresponsiveProbe)
	c.benched.Store(true)
	failed := c.takeApplicationPendingLocked()
	host, strikes := c.peer.host, c.strikes
	c.mu.Unlock()
	c.logger().Warn("diameter peer unresponsive: requests in a row timed out, routing around it",
		zap.Int("timeouts", strikes), zap.Int("failed_over", len(failed)), zap.Duration("probe_in", c.n.cfg.UnresponsiveProbe))
	c.n.obs.Observe(Event{Kind: EventPeerUnresponsive, Peer: host})
	c.failOver(failed, errUnresponsive)
}

// failback: RFC 3539 §3.4.1, SUSPECT → OKAY on receipt of a message.
func (c *conn) failback() {
	c.mu.Lock()
	if c.state != StateSuspect {
		c.mu.Unlock()
		return
	}
	c.state, c.since = StateOpen, time.Now()
	c.suspect.Store(false)
	c.mu.Unlock()
	c.n.refresh()
	c.logger().Info("diameter watchdog: peer answering again")
}
