package scscf

// Network-initiated de-registration and profile updates from the HSS: RTR (TS 29.228 §6.1.3,
// TS 24.229 §5.4.1.5) and PPR (TS 29.228 §6.1.4).

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/identity"
)

// registrationTermination removes what the RTR names: every registration of the IMPI, or those holding
// the listed IMPUs, and notifies the watchers (event "rejected" for a permanent termination, else
// "deactivated" so that the UE registers again, TS 24.229 §5.4.1.5).
func (s *Server) registrationTermination(ctx context.Context, rtr *cx.RTR) error {
	var regs []*registrar.Registration
	if len(rtr.PublicIdentity) == 0 {
		all, err := s.reg.RegistrationsByIMPI(ctx, rtr.UserName)
		if err != nil {
			return fmt.Errorf("rtr %s: %w", rtr.UserName, err)
		}
		regs = all
	} else {
		seen := map[string]bool{}
		for _, impu := range rtr.PublicIdentity {
			r, err := s.reg.Registration(ctx, identity.Key(impu))
			if errors.Is(err, registrar.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("rtr %s: %w", impu, err)
			}
			if !seen[r.IMPU] {
				seen[r.IMPU] = true
				regs = append(regs, r)
			}
		}
	}
	if len(regs) == 0 {
		return fmt.Errorf("rtr %s: %w", rtr.UserName, ErrUserUnknown)
	}
	event := EventDeactivated
	if rtr.DeregistrationReason.Code == cx.ReasonPermanentTermination {
		event = EventRejected
	}
	for _, r := range regs {
		err := s.reg.DeleteRegistration(ctx, r.IMPU)
		if err != nil && !errors.Is(err, registrar.ErrNotFound) {
			return fmt.Errorf("rtr %s: %w", r.IMPU, err)
		}
		s.log.Info("de-registered by the HSS", logging.IMPI(r.IMPI), logging.IMPU(r.IMPU),
			zap.Stringer("reason", rtr.DeregistrationReason.Code))
		s.metrics.registrations.WithLabelValues("network_deregistered").Inc()
		s.notifyTerminated(r, event)
	}
	return nil
}

// pushProfile stores the new User-Data in every registration of the IMPI (TS 29.228 §6.1.4).
func (s *Server) pushProfile(ctx context.Context, ppr *cx.PPR) error {
	regs, err := s.reg.RegistrationsByIMPI(ctx, ppr.UserName)
	if err != nil {
		return fmt.Errorf("ppr %s: %w", ppr.UserName, err)
	}
	if len(regs) == 0 {
		return fmt.Errorf("ppr %s: %w", ppr.UserName, ErrUserUnknown)
	}
	if len(ppr.UserData) == 0 {
		return nil // charging information only: nothing the registrar keeps
	}
	for _, r := range regs {
		r, err := s.applyPushedProfile(ctx, r, ppr.UserData)
		if err != nil {
			return fmt.Errorf("ppr %s: %w", r.IMPU, err)
		}
		s.log.Info("profile updated by the HSS", logging.IMPI(r.IMPI), logging.IMPU(r.IMPU))
		s.notifyAsync(r, EventRegistered)
	}
	return nil
}

// applyPushedProfile stores the User-Data in r, applied against r's version: when a REGISTER changed the
// registration meanwhile, it is read again and the profile applied to it.
func (s *Server) applyPushedProfile(ctx context.Context, r *registrar.Registration, data []byte) (*registrar.Registration, error) {
	for attempt := 1; ; attempt++ {
		if err := applyProfile(r, data); err != nil {
			return r, err
		}
		err := s.table.SaveRegistrationIf(ctx, r, r.Version)
		if !errors.Is(err, registrar.ErrConflict) || attempt == maxApplyAttempts {
			return r, err
		}
		fresh, rerr := s.reg.Registration(ctx, r.IMPU)
		if rerr != nil {
			return r, rerr
		}
		r = fresh
	}
}
