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
)
