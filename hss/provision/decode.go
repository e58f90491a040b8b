package provision

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/aka"
)

// Decoding and validation of request bodies. Every error is an *Error naming the field in the JSON
// document ("k", "impus[1].impu", "ifcs[0].trigger_point.spt[2].session_case"); messages never echo key
// or password values. The store validates again (hss.Subscriber.Validate): what passes here must pass
// there, FuzzDecodeSubscriber checks it.

// maxJSONBody bounds the body of every JSON route; an import line is bounded by maxImportLine.
const maxJSONBody = 1 << 20

// decodeStrict decodes one JSON value from data into v, refusing unknown members and trailing data.
func decodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return jsonError(errEmptyBody)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var e *Error
		if errors.As(err, &e) { // from an UnmarshalJSON of ours (ReasonCode)
			return e
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: 400, Code: CodeInvalidJSON, Message: "trailing data after the JSON value"}
	}
	return nil
}

// validText rejects what can never be part of an identity, a name or a URI: empty text, invalid UTF-8,
// spaces and control characters (RFC 3261 §25.1, RFC 4282 §2.1) — the rule of the store.
func validText(field, v string) error {
	if v == "" {
		return fieldError(field, "empty")
	}
	if len(v) > 1024 {
		return fieldError(field, "longer than 1024 bytes")
	}
	if !utf8.ValidString(v) {
		return fieldError(field, "not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fieldError(field, "%q contains a space or control character", v)
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
	return v != ""
}

// validIMSI: MCC (3) + MNC (2–3) + MSIN, at most 15 digits (TS 23.003 §2.2).
func validIMSI(field, v string) error {
	if len(v) < 6 || len(v) > 15 || !allDigits(v) {
		return fieldError(field, "%q: want 6 to 15 digits (TS 23.003 §2.2)", v)
	}
	return nil
}

// normalMSISDN accepts an E.164 number with or without '+' and returns its digits (ITU-T E.164 §6: at
// most 15 digits).
func normalMSISDN(field, v string) (string, error) {
	d := strings.TrimPrefix(v, "+")
	if len(d) > 15 || !allDigits(d) {
		return "", fieldError(field, "%q: want an E.164 number of at most 15 digits", v)
	}
	return d, nil
}

// parseKey decodes a 128-bit key: K, OP or OPc (TS 33.102 §6.3.7, TS 35.206 §2.3). The value is never
// echoed.
func parseKey(field, v string) ([]byte, error) {
	if len(v) != 32 {
		return nil, fieldError(field, "want 32 hex digits (128 bits), got %d characters", len(v))
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fieldError(field, "want 32 hex digits (128 bits), got a non-hex character")
	}
	return b, nil
}

// parseAMF decodes the 16-bit authentication management field (TS 33.102 §6.3.2).
func parseAMF(field, v string) ([2]byte, error) {
	var amf [2]byte
	if len(v) != 4 {
		return amf, fieldError(field, "want 4 hex digits, got %d characters", len(v))
	}
	if _, err := hex.Decode(amf[:], []byte(v)); err != nil {
		return amf, fieldError(field, "want 4 hex digits, got a non-hex character")
	}
	return amf, nil
}

// DefaultAMF is the AMF of subscribers created without one: the value docker_open5gs and the Kamailio
// examples provision (separation bit set, TS 33.102 Annex H).
const DefaultAMF = "8000"

// DefaultProfileID is the service profile of identities created without one. The API creates it, with
// no iFCs, the first time a subscriber needs it.
const DefaultProfileID = "default"

func isHexDigits(v string, n int) bool {
	if len(v) != n {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// schemeNames are the SIP-Authentication-Scheme names of TS 29.229 §6.3.2 (plus the spelling with a
// dash) for each hss.AuthSchemes bit.
var schemeNames = []struct {
	name string
	bit  hss.AuthSchemes
}{
	{"AKAv1-MD5", hss.AuthAKAv1MD5},
	{"AKAv2-MD5", hss.AuthAKAv2MD5},
	{"SIP-Digest", hss.AuthSIPDigest},
	{"SIP Digest", hss.AuthSIPDigest},
}

func parseSchemes(field string, names []string) (hss.AuthSchemes, error) {
	var s hss.AuthSchemes
next:
	for i, n := range names {
		for _, k := range schemeNames {
			if strings.EqualFold(n, k.name) {
				s |= k.bit
				continue next
			}
		}
		return 0, fieldError(fmt.Sprintf("%s[%d]", field, i), "%q: want AKAv1-MD5, AKAv2-MD5 or SIP-Digest", n)
	}
	return s, nil
}

func schemeList(s hss.AuthSchemes) []string {
	out := []string{}
	for _, k := range schemeNames[:3] {
		if s&k.bit != 0 {
			out = append(out, k.name)
		}
	}
	return out
}

// enumNames maps TS 29.228 Annex B enumeration names to values (the index). Names are matched without
// regard to case.
type enumNames []string

func (e enumNames) parse(field, v string) (uint8, error) {
	for i, n := range e {
		if strings.EqualFold(v, n) {
			return uint8(i), nil
		}
	}
	return 0, fieldError(field, "%q: want one of %s", v, strings.Join(e, ", "))
}

func (e enumNames) name(v uint8) string {
	if int(v) < len(e) {
		return e[v]
	}
	return fmt.Sprintf("%d", v)
}

// TS 29.228 Annex B enumerations, indexed by their value.
var (
	identityTypes     = enumNames{"PUBLIC_USER_IDENTITY", "DISTINCT_PSI", "WILDCARDED_PSI", "WILDCARDED_IMPU"}
	registrationState = enumNames{"NOT_REGISTERED", "REGISTERED", "UNREGISTERED"}
	defaultHandlings  = enumNames{"SESSION_CONTINUED", "SESSION_TERMINATED"}
	sessionCases      = enumNames{"ORIGINATING_REGISTERED", "TERMINATING_REGISTERED", "TERMINATING_UNREGISTERED",
		"ORIGINATING_UNREGISTERED", "ORIGINATING_CDIV"}
	profileParts      = enumNames{"REGISTERED", "UNREGISTERED"}
	registrationTypes = enumNames{"INITIAL_REGISTRATION", "RE-REGISTRATION", "DE-REGISTRATION"}
)

// validIMPU checks that v is a SIP, SIPS or tel URI (TS 23.003 §13.4).
func validIMPU(field, v string) error {
	if err := validText(field, v); err != nil {
		return err
	}
	l := strings.ToLower(v)
	if !strings.HasPrefix(l, "sip:") && !strings.HasPrefix(l, "sips:") && !strings.HasPrefix(l, "tel:") {
		return fieldError(field, "%q: want a sip:, sips: or tel: URI (TS 23.003 §13.4)", v)
	}
	return nil
}

// publicIdentity converts an IMPURequest; defaultProfile fills an empty ProfileID. prefix is the path of
// the IMPURequest in the body ("impus[1]"), empty when the body is the IMPURequest itself.
func (r *IMPURequest) publicIdentity(prefix, defaultProfile string) (hss.PublicIdentity, error) {
	field := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	p := hss.PublicIdentity{IMPU: r.IMPU, Barred: r.Barred, DisplayName: r.DisplayName,
		ImplicitSetID: r.ImplicitSet, ServiceProfileID: r.ProfileID}
	if err := validIMPU(field("impu"), r.IMPU); err != nil {
		return p, err
	}
	if r.Type != "" {
		t, err := identityTypes.parse(field("type"), r.Type)
		if err != nil {
			return p, err
		}
		p.Type = hss.IdentityType(t)
	}
	if p.Type.Wildcarded() {
		if _, err := hss.CompileWildcard(r.IMPU); err != nil {
			return p, fieldError(field("impu"), "%v", err)
		}
	}
	if !utf8.ValidString(r.DisplayName) {
		return p, fieldError(field("display_name"), "not valid UTF-8")
	}
	if r.ImplicitSet != "" {
		if err := validText(field("implicit_set"), r.ImplicitSet); err != nil {
			return p, err
		}
	}
	if p.ServiceProfileID == "" {
		p.ServiceProfileID = defaultProfile
	}
	if err := validText(field("profile_id"), p.ServiceProfileID); err != nil {
		return p, err
	}
	return p, nil
}

// keyMaterial is the AKA part of a SubscriberRequest or KeysRequest, decoded.
type keyMaterial struct {
	k, op, opc []byte
}

// parseKeys decodes K and OP or OPc; with storeOPc it replaces OP by OPc = E_K(OP) ⊕ OP (TS 35.206 §4.1).
func parseKeys(k, op, opc string, storeOPc bool) (keyMaterial, error) {
	var (
		km  keyMaterial
		err error
	)
	if k != "" {
		if km.k, err = parseKey("k", k); err != nil {
			return km, err
		}
	}
	if op != "" {
		if km.op, err = parseKey("op", op); err != nil {
			return km, err
		}
	}
	if opc != "" {
		if km.opc, err = parseKey("opc", opc); err != nil {
			return km, err
		}
	}
	switch {
	case km.op != nil && km.opc != nil:
		return km, fieldError("opc", "give op or opc, not both")
	case km.k != nil && km.op == nil && km.opc == nil:
		return km, fieldError("op", "op or opc is required with k")
	case km.k == nil && (km.op != nil || km.opc != nil):
		return km, fieldError("k", "required with op or opc")
	case storeOPc && km.op == nil:
		return km, fieldError("store_opc", "needs op")
	case storeOPc:
		c, err := aka.ComputeOPc([16]byte(km.k), [16]byte(km.op))
		if err != nil {
			return km, fieldError("op", "cannot derive OPc")
		}
		km.op, km.opc = nil, c[:]
	}
	return km, nil
}

// subscriber converts and validates a create request. domain is the home domain of the default IMPI
// and IMPUs (TS 23.003 §13.3, §13.4).
func (r *SubscriberRequest) subscriber(domain string) (hss.Subscriber, error) {
	var sub hss.Subscriber
	p := &sub.Private
	if r.IMSI != "" {
		if err := validIMSI("imsi", r.IMSI); err != nil {
			return sub, err
		}
		p.IMSI = r.IMSI
	}
	if r.MSISDN != "" {
		d, err := normalMSISDN("msisdn", r.MSISDN)
		if err != nil {
			return sub, err
		}
		p.MSISDN = d
	}
	p.IMPI = r.IMPI
	if p.IMPI == "" {
		if p.IMSI == "" {
			return sub, fieldError("imsi", "required unless impi is given")
		}
		p.IMPI = p.IMSI + "@" + domain // TS 23.003 §13.3
	}
	if err := validText("impi", p.IMPI); err != nil {
		return sub, err
	}
	km, err := parseKeys(r.K, r.OP, r.OPc, r.StoreOPc)
	if err != nil {
		return sub, err
	}
	p.K, p.OP, p.OPc = km.k, km.op, km.opc
	amf := r.AMF
	if amf == "" {
		amf = DefaultAMF
	}
	if p.AMF, err = parseAMF("amf", amf); err != nil {
		return sub, err
	}
	if r.SQN != nil {
		if *r.SQN > hss.MaxSQN {
			return sub, fieldError("sqn", "%d: over 48 bits (TS 33.102 §6.3.2)", *r.SQN)
		}
		p.SQN = *r.SQN
	}
	if err := digestCredentials(r.Password, r.HA1); err != nil {
		return sub, err
	}
	p.DigestPassword, p.DigestHA1 = r.Password, r.HA1
	if r.Schemes != nil {
		if p.AuthSchemes, err = parseSchemes("schemes", r.Schemes); err != nil {
			return sub, err
		}
	} else {
		if p.K != nil {
			p.AuthSchemes |= hss.AuthAKAv1MD5 | hss.AuthAKAv2MD5
		}
		if p.DigestPassword != "" || p.DigestHA1 != "" {
			p.AuthSchemes |= hss.AuthSIPDigest
		}
	}
	if p.AuthSchemes.AKA() && p.K == nil {
		return sub, fieldError("k", "required for AKA")
	}
	if p.AuthSchemes.Has(hss.AuthSIPDigest) && p.DigestPassword == "" && p.DigestHA1 == "" {
		return sub, fieldError("password", "required for SIP-Digest (or give ha1)")
	}
	if r.Schemes == nil && p.AuthSchemes == 0 {
		return sub, fieldError("k", "required (or give a password for SIP Digest)")
	}
	if p.AllowedVisitedNetworks, err = visitedNetworks(r.AllowedVisitedNetworks); err != nil {
		return sub, err
	}
	if r.RequiredCapabilities != nil {
		p.RequiredCapabilities = *r.RequiredCapabilities
	}
	if r.Charging != nil {
		if err := validCharging("charging", *r.Charging); err != nil {
			return sub, err
		}
		if *r.Charging != (hss.ChargingInfo{}) {
			c := *r.Charging
			p.Charging = &c
		}
	}

	profile := r.ProfileID
	if profile == "" {
		profile = DefaultProfileID
	}
	if err := validText("profile_id", profile); err != nil {
		return sub, err
	}
	if len(r.IMPUs) == 0 {
		if p.IMSI == "" {
			return sub, fieldError("imsi", "required for the default identities (or give impus)")
		}
		if p.MSISDN == "" {
			return sub, fieldError("msisdn", "required for the default identities (or give impus)")
		}
		sub.Public = DefaultIMPUs(p.IMSI, p.MSISDN, domain)
		for i := range sub.Public {
			sub.Public[i].ImplicitSetID = p.IMPI
			sub.Public[i].ServiceProfileID = profile
		}
	} else {
		seen := make(map[string]bool, len(r.IMPUs))
		for i := range r.IMPUs {
			field := fmt.Sprintf("impus[%d]", i)
			u, err := r.IMPUs[i].publicIdentity(field, profile)
			if err != nil {
				return sub, err
			}
			if seen[u.IMPU] {
				return sub, fieldError(field+".impu", "%q listed twice", u.IMPU)
			}
			seen[u.IMPU] = true
			if u.ImplicitSetID == "" {
				u.ImplicitSetID = p.IMPI
			}
			sub.Public = append(sub.Public, u)
		}
	}
	for i, u := range r.SharedIMPUs {
		field := fmt.Sprintf("shared_impus[%d]", i)
		if err := validIMPU(field, u); err != nil {
			return sub, err
		}
		for _, own := range sub.Public {
			if own.IMPU == u {
				return sub, fieldError(field, "%q is also created by this request", u)
			}
		}
		if contains(r.SharedIMPUs[:i], u) {
			return sub, fieldError(field, "%q listed twice", u)
		}
		sub.SharedIMPUs = append(sub.SharedIMPUs, u)
	}
	// The store's own check: anything it would refuse is refused here, before a batch is built.
	if err := sub.Validate(); err != nil {
		return sub, &Error{Status: 400, Code: CodeInvalid, Message: err.Error(), cause: err}
	}
	return sub, nil
}

// DefaultIMPUs returns the conventional public identities of a subscriber (docs/design.md §2, TS 23.003
// §13.4): `sip:<imsi>@<domain>` barred — the temporary public identity is only for registration
// (TS 23.003 §13.4B, TS 23.228 §4.3.3.4) — then `sip:<msisdn>@<domain>` and `tel:<msisdn>` (RFC 3966),
// all of type PUBLIC_USER_IDENTITY. ImplicitSetID and ServiceProfileID are left to the caller.
func DefaultIMPUs(imsi, msisdn, domain string) []hss.PublicIdentity {
	return []hss.PublicIdentity{
		{IMPU: "sip:" + imsi + "@" + domain, Barred: true},
		{IMPU: "sip:" + msisdn + "@" + domain},
		{IMPU: "tel:" + msisdn},
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func digestCredentials(password, ha1 string) error {
	if password != "" && ha1 != "" {
		return fieldError("ha1", "give password or ha1, not both")
	}
	if !utf8.ValidString(password) {
		return fieldError("password", "not valid UTF-8")
	}
	if ha1 != "" && !isHexDigits(ha1, 32) {
		return fieldError("ha1", "want 32 hex digits (MD5)")
	}
	return nil
}

func visitedNetworks(v []string) ([]string, error) {
	for i, vn := range v {
		if err := validText(fmt.Sprintf("allowed_visited_networks[%d]", i), vn); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// validCharging checks the DiameterURIs of Charging-Information loosely (TS 29.229 §6.3.19): no spaces or
// control characters; empty members are absent. prefix is the path of c in the body, "" at the top.
func validCharging(prefix string, c hss.ChargingInfo) error {
	for _, m := range []struct{ name, v string }{
		{"primary_ccf", c.PrimaryCCF}, {"secondary_ccf", c.SecondaryCCF},
		{"primary_ecf", c.PrimaryECF}, {"secondary_ecf", c.SecondaryECF},
	} {
		if m.v == "" {
			continue
		}
		field := m.name
		if prefix != "" {
			field = prefix + "." + m.name
		}
		if err := validText(field, m.v); err != nil {
			return err
		}
	}
	return nil
}

// decodeSubscriberLine decodes one NDJSON line (or a POST body) into a subscriber ready for the store.
func decodeSubscriberLine(data []byte, domain string) (hss.Subscriber, error) {
	var req SubscriberRequest
	if err := decodeStrict(data, &req); err != nil {
		return hss.Subscriber{}, err
	}
	return req.subscriber(domain)
}

// ---- responses ----------------------------------------------------------------------------------------

// subscriberOut renders a stored subscriber: flags instead of keys and passwords.
func subscriberOut(s *hss.Subscriber) Subscriber {
	p := &s.Private
	out := Subscriber{
		IMPI: p.IMPI, IMSI: p.IMSI, MSISDN: p.MSISDN,
		HasK: len(p.K) > 0, HasOP: len(p.OP) > 0, HasOPc: len(p.OPc) > 0,
		AMF: hex.EncodeToString(p.AMF[:]), SQN: p.SQN,
		Schemes:     schemeList(p.AuthSchemes),
		HasPassword: p.DigestPassword != "", HasHA1: p.DigestHA1 != "",
		AllowedVisitedNetworks: p.AllowedVisitedNetworks,
		Charging:               p.Charging,
		IMPUs:                  make([]IMPU, 0, len(s.Public)),
		CreatedAt:              p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if out.AllowedVisitedNetworks == nil {
		out.AllowedVisitedNetworks = []string{}
	}
	if c := p.RequiredCapabilities; len(c.Mandatory)+len(c.Optional) > 0 {
		out.RequiredCapabilities = &c
	}
	for i := range s.Public {
		out.IMPUs = append(out.IMPUs, impuOut(&s.Public[i]))
	}
	for i := range s.ServiceProfiles {
		out.Profiles = append(out.Profiles, profileOut(&s.ServiceProfiles[i]))
	}
	return out
}

func impuOut(u *hss.PublicIdentity) IMPU {
	return IMPU{IMPU: u.IMPU, Type: identityTypes.name(uint8(u.Type)), Barred: u.Barred,
		DisplayName: u.DisplayName, ImplicitSet: u.ImplicitSetID, ProfileID: u.ServiceProfileID,
		Registration: registrationOut(u.Registration)}
}

func registrationOut(r hss.Registration) Registration {
	return Registration{State: registrationState.name(uint8(r.State)), SCSCFName: r.SCSCFName,
		SCSCFOriginHost: r.SCSCFOriginHost, PendingSCSCF: r.PendingSCSCF}
}
