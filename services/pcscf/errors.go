package pcscf

import "errors"

// Sentinels for errors.Is.
var (
	// ErrPoolExhausted: no protected port pair or SPI is free.
	ErrPoolExhausted = errors.New("pcscf: protected port or SPI pool exhausted")
	// ErrESPRequired: --ipsec=required on a kernel without ESP.
	ErrESPRequired = errors.New("pcscf: ipsec required but the kernel has no ESP")
	// ErrNotRegistered: a request from a UE that has no registration here.
	ErrNotRegistered = errors.New("pcscf: UE not registered")
	// ErrAccessSide: a request only the core side may send (to our Path address) came from the access side.
	ErrAccessSide = errors.New("pcscf: only the core side may send this")
	// ErrNoDialog: a UE's request within a dialog names no dialog this P-CSCF record-routed for it, or leaves
	// the dialog's route set.
	ErrNoDialog = errors.New("pcscf: not a dialog of this UE")
)
