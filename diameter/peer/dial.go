package peer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"go.uber.org/zap"
)

// dialer keeps one configured peer connected (Node.Connect).
type dialer struct {
	cfg    PeerConfig
	cancel context.CancelFunc
	// Guarded by Node.mu.
	host  string // expected or learned Origin-Host
	state PeerState
	since time.Time
	conn  *conn
}

func (n *Node) setDialer(d *dialer, st PeerState) {
	n.mu.Lock()
	if d.state != st {
		d.state, d.since = st, time.Now()
	}
	n.mu.Unlock()
}

func (n *Node) dialerHost(d *dialer) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return d.host
}

// runDialer is the reconnect loop of one dialled peer.
func (n *Node) runDialer(ctx context.Context, d *dialer) {
	defer func() {
		n.mu.Lock()
		delete(n.dialers, d)
		n.mu.Unlock()
	}()
	log := n.log.With(zap.String("remote", d.cfg.Address))
	backoff := n.cfg.ReconnectMin
	var delay time.Duration
	for {
		if delay > 0 {
			n.setDialer(d, StateDown)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		// Another open connection with this peer (it dialled us, or an election kept it)
		// serves it: wait for that one to end instead of dialling a second.
		if host := n.dialerHost(d); host != "" {
			if c := n.liveConnTo(host); c != nil {
				n.setDialer(d, StateDown)
				select {
				case <-c.closed:
				case <-ctx.Done():
					return
				}
				delay = n.redialDelay(c, n.cfg.ReconnectMin)
				continue
			}
		}
		n.setDialer(d, StateConnecting)
		c, err := n.dial(ctx, d)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			delay = jitter(backoff)
			backoff = min(2*backoff, n.cfg.ReconnectMax)
			if errors.Is(err, ErrElectionLost) {
				// The kept connection is found above (the host is now known) and waited for.
				delay = jitter(n.cfg.ReconnectMin)
			}
			log.Info("diameter peer not connected", zap.Error(err), zap.Duration("retry_in", delay))
			continue
		}
		backoff = n.cfg.ReconnectMin
		select {
		case <-c.closed:
		case <-ctx.Done():
			return // the connection's supervisor disconnects it: ctx is its scope
		}
		delay = n.redialDelay(c, jitter(n.cfg.ReconnectMin))
		log.Info("diameter peer will be redialled", zap.Duration("in", delay))
	}
}

// dial opens a transport connection and runs the capabilities exchange as initiator.
func (n *Node) dial(ctx context.Context, d *dialer) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	var nd net.Dialer
	nc, err := nd.DialContext(dctx, "tcp", d.cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.cfg.Address, err)
	}
	if n.cfg.TLS != nil {
		if nc, err = n.clientTLS(dctx, nc, d.cfg.Host); err != nil {
			return nil, err
		}
	}
	c := newConn(n, nc, true, PeerConfig{Address: d.cfg.Address, Host: n.dialerHost(d), Realm: d.cfg.Realm, Roles: d.cfg.Roles}, ctx)
	if !n.start(c, d) {
		nc.Close()
		return nil, ErrClosed
	}
	err = c.handshake(dctx)
	c.mu.Lock()
	host := c.announced
	c.mu.Unlock()
	if host != "" && d.cfg.Host == "" {
		// Learned, for elections and for waiting on another connection; a configured Host
		// stays the expectation even when a wrong peer answered.
		n.mu.Lock()
		d.host = host
		n.mu.Unlock()
	}
	if err != nil {
		c.shutdown(err)
		return nil, err
	}
	return c, nil
}

// redialDelay is how long to wait after connection c with a dialled peer ended: RFC 6733
// §5.4.3 after the peer's DPR, otherwise def.
func (n *Node) redialDelay(c *conn, def time.Duration) time.Duration {
	c.mu.Lock()
	cause := c.peerCause
	c.mu.Unlock()
	switch cause {
	case causeBusy, causeDoNotWantToTalkToYou:
		return n.cfg.DisconnectHoldoff // "SHOULD NOT attempt reconnection"
	case causeRebooting:
		return jitter(n.cfg.ReconnectMin) // "MAY attempt reconnection"
	}
	return def
}

// jitter spreads d over [d/2, d] so that peers that lost each other together do not redial in step.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
