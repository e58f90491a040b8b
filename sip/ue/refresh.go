package ue

// Registration refresh, TS 24.229 §5.1.1.4.1.

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// RefreshAfter is when a UE re-registers a registration granted for expires (TS 24.229
// §5.1.1.4.1): 600 s before it expires when it lasts more than 1200 s, else when half of it
// has passed.
func RefreshAfter(expires time.Duration) time.Duration {
	if expires > 1200*time.Second {
		return expires - 600*time.Second
	}
	return expires / 2
}

// signalReg tells the refresher that the registration changed (non-blocking: one pending
// signal is enough, it reads the current state).
func (u *UE) signalReg() {
	select {
	case u.regSet <- struct{}{}:
	default:
	}
}

// refreshLoop re-registers at RefreshAfter of every registration granted until Close. A
// refresh that fails is logged; register has already tried an initial registration where
// TS 24.229 §5.1.1.4.1 says so, and with no registration left the loop waits for the next one.
func (u *UE) refreshLoop() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-u.regSet:
			timer.Stop()
			if reg := u.Registration(); reg != nil && reg.Expires > 0 {
				timer.Reset(RefreshAfter(reg.Expires))
			}
		case <-timer.C:
			if u.Registration() == nil {
				continue
			}
			ctx, cancel := context.WithTimeout(u.ctx, 4*u.cfg.Timeout)
			reg, err := u.Register(ctx)
			cancel()
			if err != nil {
				u.log.Warn("registration refresh failed", zap.Error(err))
				continue
			}
			u.log.Debug("registration refreshed", zap.Duration("expires", reg.Expires))
		}
	}
}
