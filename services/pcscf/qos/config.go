package qos

import (
	"errors"
	"fmt"
	"time"
)

// Mode selects the policy reference point.
type Mode string

const (
	// ModeOff: no policy control (the default); calls use the default bearer.
	ModeOff Mode = "off"
	// ModeRx: Diameter Rx towards a PCRF (TS 29.214), for EPC (VoLTE).
	ModeRx Mode = "rx"
)

// OnFailure is the operator policy when the PCRF refuses a session or cannot be reached.
type OnFailure string

const (
	// FailContinue lets the call go on without a dedicated bearer (the default): the UE talks on
	// its default bearer, as it would in a network without PCC (TS 29.214 §4.4.1 leaves it to the AF).
	FailContinue OnFailure = "continue"
	// FailReject answers the INVITE with Config.RejectCode and a Warning/Reason naming the cause.
	FailReject OnFailure = "reject"
)

// Defaults.
const (
	DefaultTimeout    = 3 * time.Second
	DefaultRejectCode = 503
	// DefaultAFApplicationIdentifier names the IMS service to the PCRF (TS 29.214 §5.3.5); Open5GS
	// and most PCRFs ignore it, some map it to a charging key.
	DefaultAFApplicationIdentifier = "IMS Services"
)

// Config is the qos section of the P-CSCF configuration (docs/pcscf.md, docs/qos.md).
type Config struct {
	// Mode is off or rx. Default off.
	Mode Mode `yaml:"mode"`
	// PCRFRealm is the Destination-Realm of the AARs and STRs (the EPC realm, e.g.
	// epc.mnc001.mcc001.3gppnetwork.org). Required with rx.
	PCRFRealm string `yaml:"pcrf_realm"`
	// PCRFHost, when set, is the Destination-Host; empty lets realm routing choose.
	PCRFHost string `yaml:"pcrf_host"`
	// OnFailure is continue or reject. Default continue.
	OnFailure OnFailure `yaml:"on_failure"`
	// RejectCode is the SIP status of a rejected call: 503 (Service Unavailable, the default) or
	// 488 (Not Acceptable Here, the answer TS 24.229 §5.2.7.2 gives for media the network refuses).
	RejectCode int `yaml:"reject_code"`
	// Signalling sends the registration's signalling AAR (TS 29.214 §4.4.5a). Default true.
	Signalling *bool `yaml:"signalling"`
	// Timeout bounds one AAR or STR. Default 3 s.
	Timeout time.Duration `yaml:"timeout"`
	// AFApplicationIdentifier is sent in every AAR. Default "IMS Services".
	AFApplicationIdentifier string `yaml:"af_application_identifier"`
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeOff
	}
	if c.OnFailure == "" {
		c.OnFailure = FailContinue
	}
	if c.RejectCode == 0 {
		c.RejectCode = DefaultRejectCode
	}
	if c.Signalling == nil {
		t := true
		c.Signalling = &t
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.AFApplicationIdentifier == "" {
		c.AFApplicationIdentifier = DefaultAFApplicationIdentifier
	}
	return c
}

// Validate reports the first field that is wrong, after WithDefaults.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeOff, ModeRx:
	default:
		return fmt.Errorf("qos.mode %q: want off or rx", c.Mode)
	}
	switch c.OnFailure {
	case FailContinue, FailReject:
	default:
		return fmt.Errorf("qos.on_failure %q: want continue or reject", c.OnFailure)
	}
	if c.RejectCode != 503 && c.RejectCode != 488 {
		return fmt.Errorf("qos.reject_code %d: want 503 or 488", c.RejectCode)
	}
	if c.Mode == ModeRx && c.PCRFRealm == "" {
		return errors.New("qos.pcrf_realm: required with mode rx")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("qos.timeout %v: negative", c.Timeout)
	}
	return nil
}
