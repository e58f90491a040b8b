package hss

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/imscore/imscore/sip/identity"
)

// Validation of the provisioned data. Stores call these before writing and wrap the result; the errors
// wrap ErrInvalid and name the offending field.

const keyLen = 16 // K, OP and OPc are 128 bits (TS 33.102 §6.3.7, TS 35.206 §2.3)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// validIdentityText rejects what can never be part of an identity in a URI or NAI: empty text, spaces
// and control characters (RFC 3261 §25.1, RFC 4282 §2.1).
func validIdentityText(field, v string) error {
	if v == "" {
		return invalid("%s: empty", field)
	}
	if len(v) > 1024 {
		return invalid("%s: longer than 1024 bytes", field)
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return invalid("%s %q: contains a space, control or invalid character", field, v)
		}
	}
	return nil
}

func allDigits(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// Validate checks the private identity and its authentication data.
func (p *PrivateIdentity) Validate() error {
	if err := validIdentityText("impi", p.IMPI); err != nil {
		return err
	}
	// TS 23.003 §2.2: an IMSI is MCC (3) + MNC (2–3) + MSIN, at most 15 digits.
	if p.IMSI != "" && (len(p.IMSI) < 6 || len(p.IMSI) > 15 || !allDigits(p.IMSI)) {
		return invalid("impi %s: imsi %q: want 6 to 15 digits", p.IMPI, p.IMSI)
	}
	// E.164 numbers have at most 15 digits (ITU-T E.164 §6).
	if p.MSISDN != "" && (len(p.MSISDN) > 15 || !allDigits(p.MSISDN)) {
		return invalid("impi %s: msisdn %q: want at most 15 digits", p.IMPI, p.MSISDN)
	}
	if err := validateKeys(p.K, p.OP, p.OPc); err != nil {
		return fmt.Errorf("impi %s: %w", p.IMPI, err)
	}
	if p.AuthSchemes&^authSchemesKnown != 0 {
		return invalid("impi %s: unknown auth scheme bits %s", p.IMPI, p.AuthSchemes)
	}
	if p.AuthSchemes.AKA() && len(p.K) == 0 {
		return invalid("impi %s: AKA allowed but no K", p.IMPI)
	}
	if p.SQN > MaxSQN {
		return invalid("impi %s: sqn %d over 48 bits", p.IMPI, p.SQN)
	}
	if p.DigestPassword != "" && p.DigestHA1 != "" {
		return invalid("impi %s: both digest password and HA1", p.IMPI)
	}
	if p.DigestHA1 != "" && !isHex(p.DigestHA1, 32) {
		return invalid("impi %s: digest HA1: want 32 hex digits (MD5)", p.IMPI)
	}
	if p.AuthSchemes.Has(AuthSIPDigest) && p.DigestPassword == "" && p.DigestHA1 == "" {
		return invalid("impi %s: SIP Digest allowed but no password or HA1", p.IMPI)
	}
	for _, vn := range p.AllowedVisitedNetworks {
		if err := validIdentityText("allowed visited network", vn); err != nil {
			return fmt.Errorf("impi %s: %w", p.IMPI, err)
		}
	}
	return nil
}

func validateKeys(k, op, opc []byte) error {
	for _, f := range []struct {
		name string
		v    []byte
	}{{"k", k}, {"op", op}, {"opc", opc}} {
		if len(f.v) != 0 && len(f.v) != keyLen {
			return invalid("%s: %d bytes, want %d", f.name, len(f.v), keyLen)
		}
	}
	switch {
	case len(op) != 0 && len(opc) != 0:
		return invalid("both op and opc: want exactly one")
	case len(k) != 0 && len(op) == 0 && len(opc) == 0:
		return invalid("k without op or opc: want exactly one")
	case len(k) == 0 && (len(op) != 0 || len(opc) != 0):
		return invalid("op or opc without k")
	}
	return nil
}

// Validate checks new key material.
func (k *KeyUpdate) Validate() error {
	if len(k.K) == 0 {
		return invalid("k: empty")
	}
	if err := validateKeys(k.K, k.OP, k.OPc); err != nil {
		return err
	}
	if k.SQN != nil && *k.SQN > MaxSQN {
		return invalid("sqn %d over 48 bits", *k.SQN)
	}
	return nil
}

func isHex(v string, n int) bool {
	if len(v) != n {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Validate checks a public identity: a SIP, SIPS or tel URI (TS 23.003 §13.4), a valid pattern when
// wildcarded (§13.5), and a service profile.
func (p *PublicIdentity) Validate() error {
	if err := validIdentityText("impu", p.IMPU); err != nil {
		return err
	}
	lower := strings.ToLower(p.IMPU)
	if !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") && !strings.HasPrefix(lower, "tel:") {
		return invalid("impu %q: want a sip:, sips: or tel: URI", p.IMPU)
	}
	if p.Type > IdentityWildcardedIMPU {
		return invalid("impu %s: identity type %d", p.IMPU, p.Type)
	}
	if p.Type.Wildcarded() {
		if _, err := CompileWildcard(p.IMPU); err != nil {
			return err
		}
	} else if k, err := identity.String(p.IMPU); err != nil {
		return invalid("impu %q: %v", p.IMPU, err)
	} else if k != p.IMPU {
		// The store matches byte for byte, and every CSCF asks about an identity by its key (package identity:
		// TS 23.003 §13.4, RFC 3966 §3 for tel); an identity stored in another spelling would never be found.
		return invalid("impu %q: write it as %q (scheme and host in lower case, no port or parameters, a tel "+
			"number without visual separators)", p.IMPU, k)
	}
	if p.ImplicitSetID != "" {
		if err := validIdentityText("impu "+p.IMPU+": implicit set", p.ImplicitSetID); err != nil {
			return err
		}
	}
	if err := validIdentityText("impu "+p.IMPU+": service profile", p.ServiceProfileID); err != nil {
		return err
	}
	if p.Registration.State > Unregistered {
		return invalid("impu %s: registration state %d", p.IMPU, p.Registration.State)
	}
	return nil
}

// Validate checks a subscriber as CreateSubscriber receives it.
func (s *Subscriber) Validate() error {
	if err := s.Private.Validate(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(s.Public)+len(s.SharedIMPUs))
	for i := range s.Public {
		if err := s.Public[i].Validate(); err != nil {
			return fmt.Errorf("impi %s: %w", s.Private.IMPI, err)
		}
		if seen[s.Public[i].IMPU] {
			return invalid("impi %s: impu %s listed twice", s.Private.IMPI, s.Public[i].IMPU)
		}
		seen[s.Public[i].IMPU] = true
	}
	for _, u := range s.SharedIMPUs {
		if err := validIdentityText("shared impu", u); err != nil {
			return fmt.Errorf("impi %s: %w", s.Private.IMPI, err)
		}
		if seen[u] {
			return invalid("impi %s: impu %s listed twice", s.Private.IMPI, u)
		}
		seen[u] = true
	}
	profiles := make(map[string]bool, len(s.ServiceProfiles))
	for i := range s.ServiceProfiles {
		if err := s.ServiceProfiles[i].Validate(); err != nil {
			return fmt.Errorf("impi %s: %w", s.Private.IMPI, err)
		}
		if profiles[s.ServiceProfiles[i].ID] {
			return invalid("impi %s: service profile %s listed twice", s.Private.IMPI, s.ServiceProfiles[i].ID)
		}
		profiles[s.ServiceProfiles[i].ID] = true
	}
	return nil
}

// Validate checks a service profile and its iFCs.
func (p *ServiceProfile) Validate() error {
	if err := validIdentityText("service profile id", p.ID); err != nil {
		return err
	}
	if err := validateIFCs(p.IFCs); err != nil {
		return fmt.Errorf("service profile %s: %w", p.ID, err)
	}
	seen := make(map[int32]bool, len(p.SharedIFCSetIDs))
	for _, id := range p.SharedIFCSetIDs {
		if seen[id] {
			return invalid("service profile %s: shared iFC set %d listed twice", p.ID, id)
		}
		seen[id] = true
	}
	return nil
}

// Validate checks a shared iFC set.
func (s *SharedIFCSet) Validate() error {
	if err := validateIFCs(s.IFCs); err != nil {
		return fmt.Errorf("shared iFC set %d: %w", s.ID, err)
	}
	return nil
}

// Validate checks an S-CSCF entry.
func (s *SCSCF) Validate() error {
	return validIdentityText("s-cscf name", s.Name)
}

func validateIFCs(ifcs []InitialFilterCriteria) error {
	priorities := make(map[int32]bool, len(ifcs))
	for i := range ifcs {
		f := &ifcs[i]
		if priorities[f.Priority] {
			// TS 29.228 Annex B: the Priority orders the iFCs; equal priorities would make the order undefined.
			return invalid("ifc priority %d used twice", f.Priority)
		}
		priorities[f.Priority] = true
		if err := f.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks one iFC against the constraints of TS 29.228 Annex B.
func (f *InitialFilterCriteria) Validate() error {
	as := f.ApplicationServer
	if err := validIdentityText(fmt.Sprintf("ifc %d: application server", f.Priority), as.ServerName); err != nil {
		return err
	}
	if as.DefaultHandling > SessionTerminated {
		return invalid("ifc %d: default handling %d", f.Priority, as.DefaultHandling)
	}
	if f.ProfilePartIndicator != nil && *f.ProfilePartIndicator > ProfilePartUnregistered {
		return invalid("ifc %d: profile part indicator %d", f.Priority, *f.ProfilePartIndicator)
	}
	if f.TriggerPoint == nil {
		return nil
	}
	if len(f.TriggerPoint.SPTs) == 0 {
		return invalid("ifc %d: trigger point without service point triggers", f.Priority)
	}
	for j := range f.TriggerPoint.SPTs {
		if err := f.TriggerPoint.SPTs[j].validate(); err != nil {
			return fmt.Errorf("ifc %d: spt %d: %w", f.Priority, j, err)
		}
	}
	return nil
}

func (s *ServicePointTrigger) validate() error {
	if len(s.Group) == 0 {
		return invalid("no group") // Group is 1..unbounded in tSePoTri
	}
	n := 0
	if s.RequestURI != "" {
		n++
	}
	if s.Method != "" {
		n++
	}
	if s.SIPHeader != nil {
		n++
		if s.SIPHeader.Header == "" {
			return invalid("sip header: empty name")
		}
	}
	if s.SessionCase != nil {
		n++
		if *s.SessionCase > SessionOriginatingCDIV {
			return invalid("session case %d", *s.SessionCase)
		}
	}
	if s.SessionDescription != nil {
		n++
		if s.SessionDescription.Line == "" {
			return invalid("session description: empty line")
		}
	}
	if n != 1 {
		// tSePoTri is a choice: exactly one condition per SPT.
		return invalid("%d conditions, want exactly one", n)
	}
	if len(s.RegistrationTypes) > 0 && !strings.EqualFold(s.Method, "REGISTER") {
		return invalid("registration types on a method other than REGISTER")
	}
	for _, rt := range s.RegistrationTypes {
		if rt > RegistrationDe {
			return invalid("registration type %d", rt)
		}
	}
	return nil
}
