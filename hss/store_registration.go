package hss

import (
	"context"
	"fmt"
)

// SetPendingSCSCF stores serverName as the pending S-CSCF of impu's implicit registration set, keeping the
// rest of its registration data: what a MAR does while no S-CSCF is assigned (TS 29.228 §6.3.1). Callers
// that must decide on the current state (an S-CSCF already assigned, another one pending) use
// Store.UpdateRegistration directly.
func SetPendingSCSCF(ctx context.Context, s CxStore, impu, serverName string) error {
	err := s.UpdateRegistration(ctx, "", impu, func(cur ImplicitSetState) (RegistrationChange, error) {
		reg := cur.Registration
		reg.PendingSCSCF = serverName
		return RegistrationChange{Registration: reg}, nil
	})
	if err != nil {
		return fmt.Errorf("set pending s-cscf %s: %w", impu, err)
	}
	return nil
}

// ClearPendingSCSCF removes the pending S-CSCF of impu's implicit registration set (SAR after
// authentication, or an authentication that failed or timed out, TS 29.228 §6.1.2.1).
func ClearPendingSCSCF(ctx context.Context, s CxStore, impu string) error {
	err := s.UpdateRegistration(ctx, "", impu, func(cur ImplicitSetState) (RegistrationChange, error) {
		reg := cur.Registration
		reg.PendingSCSCF = ""
		return RegistrationChange{Registration: reg}, nil
	})
	if err != nil {
		return fmt.Errorf("clear pending s-cscf %s: %w", impu, err)
	}
	return nil
}
