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
	var failed []*pending
	for hbh, p := range c.pending {
		if !p.internal {
			delete(c.pending, hbh)
			failed = append(failed, p)
		}
	}
	c.mu.Unlock()
	c.n.refresh()
	c.logger().Warn("diameter watchdog: DWA overdue, peer suspect", zap.Int("failed_over", len(failed)))
	for _, p := range failed {
		c.outgoing.done()
		p.ch <- result{err: fmt.Errorf("%w: %w", ErrConnectionLost, errSuspect)}
	}
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
