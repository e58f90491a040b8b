package qos

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Mode selects the policy reference point.
type Mode string

const (
	// ModeOff: no policy control (the default); calls use the default bearer.
	ModeOff Mode = "off"
	// ModeRx: Diameter Rx towards a PCRF (TS 29.214), for EPC (VoLTE).
	ModeRx Mode = "rx"
	// ModeN5: Npcf_PolicyAuthorization towards a PCF (TS 29.514), for 5GC (VoNR).
	ModeN5 Mode = "n5"
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
	// Mode is off, rx or n5. Default off.
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
	// PCF is the PCF's API root for n5, "http://host:port" (HTTP/2 without TLS, prior knowledge) or
	// "https://host:port" (HTTP/2 over TLS). Required with n5 unless BSF is set.
	PCF string `yaml:"pcf"`
	// BSF is the API root of a BSF ("http://bsf:7777" h2c or "https://…") for n5: each application session goes
	// to the PCF the BSF names for the UE (Nbsf_Management discovery, TS 29.521 §4.2.4.2), PCF being the
	// fallback when it names none. Optional; with it PCF may be empty (then a UE the BSF does not know gets
	// on_failure as for an unreachable PCF).
	BSF string `yaml:"bsf"`
	// NotifyURI is the base URI the PCF sends its notifications to (notifUri, TS 29.514 §5.6.2.3): the
	// P-CSCF's callback listener as the PCF reaches it, e.g. "http://10.0.0.1:7777/npcf-callback/v1".
	// Required with n5.
	NotifyURI string `yaml:"notify_uri"`
	// AFApplicationIdentifier is sent in every AAR (afAppId on N5). Default "IMS Services".
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
	case ModeOff, ModeRx, ModeN5:
	default:
		return fmt.Errorf("qos.mode %q: want off, rx or n5", c.Mode)
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
	if c.Mode == ModeN5 {
		uris := map[string]string{"notify_uri": c.NotifyURI, "pcf": c.PCF}
		if c.BSF != "" {
			uris["bsf"] = c.BSF
			if c.PCF == "" {
				delete(uris, "pcf")
			}
		}
		for name, v := range uris {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("qos.%s %q: want an http:// or https:// URI", name, v)
			}
		}
	}
	if c.Timeout < 0 {
		return fmt.Errorf("qos.timeout %v: negative", c.Timeout)
	}
	return nil
}
