// Package secagree parses, writes, compares and chooses the security mechanisms of RFC 3329
// (Security-Client, Security-Server, Security-Verify), with the 3GPP "ipsec-3gpp" mechanism of
// TS 33.203 §7 and Annex H that IMS-AKA uses to set up IPsec between the UE and the P-CSCF.
//
// RFC 3329 §2.2:
//
//	security-client  = "Security-Client" HCOLON sec-mechanism *(COMMA sec-mechanism)
//	sec-mechanism    = mechanism-name *(SEMI mech-parameters)
//	mech-parameters  = ( preference / digest-algorithm / digest-qop / digest-verify / extension )
//	preference       = "q" EQUAL qvalue
//
// TS 33.203 Annex H adds, for ipsec-3gpp:
//
//	mech-parameters   =/ algorithm / protocol / mode / encrypt-algorithm / spi-c / spi-s / port-c / port-s
//	algorithm         = "alg" EQUAL ( "hmac-md5-96" / "hmac-sha-1-96" )
//	protocol          = "prot" EQUAL ( "ah" / "esp" )
//	mode              = "mod" EQUAL ( "trans" / "tun" )
//	encrypt-algorithm = "ealg" EQUAL ( "des-ede3-cbc" / "aes-cbc" / "null" )
//	spi-c / spi-s     = "spi-c" / "spi-s" EQUAL spivalue   ; 10DIGIT, 0 to 4294967295
//	port-c / port-s   = "port-c" / "port-s" EQUAL port
//
// The 3GPP quirk: ipsec-3gpp carries one integrity and one encryption algorithm per mechanism, so
// a UE that supports several combinations lists the same mechanism once per alg/ealg pair, with
// the same SPIs and ports in each (a Samsung handset sends hmac-md5-96 three times, with
// des-ede3-cbc, aes-cbc and null). The P-CSCF picks one pair (Choose) and answers with a single
// mechanism in Security-Server carrying its own SPIs and ports; the UE echoes that in
// Security-Verify, which the P-CSCF checks with Equal (TS 24.229 §5.2.2, TS 33.203 §7.2).
// Later releases of Annex H add aes-gmac, aes-gcm and a "null" alg and drop hmac-md5-96 and
// des-ede3-cbc: algorithm values are kept as strings and chosen by configuration, so those need
// no code here.
package secagree

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// Mechanism names (RFC 3329 §2.2, TS 33.203 Annex H).
const (
	MechIPsec3GPP = "ipsec-3gpp"
	MechTLS       = "tls"
	MechDigest    = "digest"
	MechIPsecIKE  = "ipsec-ike"
	MechIPsecMan  = "ipsec-man"
)

// Integrity (alg) and encryption (ealg) algorithms of ipsec-3gpp (TS 33.203 Annex H), and the
// protocol and mode values.
const (
	AlgHMACSHA196 = "hmac-sha-1-96"
	AlgHMACMD596  = "hmac-md5-96"
	EAlgAESCBC    = "aes-cbc"
	EAlgDESEDE3   = "des-ede3-cbc"
	EAlgNull      = "null"
	ProtESP       = "esp"
	ProtAH        = "ah"
	ModTrans      = "trans"
	ModTun        = "tun"
)

// Parameter names.
const (
	ParamQ     = "q"
	ParamAlg   = "alg"
	ParamEAlg  = "ealg"
	ParamProt  = "prot"
	ParamMod   = "mod"
	ParamSPIC  = "spi-c"
	ParamSPIS  = "spi-s"
	ParamPortC = "port-c"
	ParamPortS = "port-s"
)

// StatusSecurityAgreementRequired is the SIP status a server answers when no mechanism the
// client offers is acceptable (RFC 3329 §2.3.1, §6).
const StatusSecurityAgreementRequired = 494

// Mechanism is one sec-mechanism. Zero values mean "absent": SPIs and ports of 0 are not valid
// on the wire (Parse rejects them), and Q counts only when HasQ is set.
type Mechanism struct {
	// Name is the mechanism-name: "ipsec-3gpp", "tls", "digest", … as received.
	Name string
	// Q is the preference (RFC 3329 §2.2, a qvalue from 0 to 1 with at most three decimals).
	Q    float64
	HasQ bool
	// Alg is the integrity algorithm, e.g. hmac-sha-1-96.
	Alg string
	// EAlg is the encryption algorithm, e.g. aes-cbc; "" means absent, which is null encryption.
	EAlg string
	// Prot is the IPsec protocol; "" means absent, which is esp.
	Prot string
	// Mod is the IPsec mode; "" means absent, which is trans.
	Mod string
	// SPIC and SPIS are the SPIs of the SAs inbound at the sender's protected client and server
	// ports (TS 33.203 §7.1).
	SPIC, SPIS uint32
	// PortC and PortS are the sender's protected client and server ports.
	PortC, PortS uint16
	// Params holds every other parameter (d-alg, d-qop, d-ver, extensions), in order.
	Params header.Params
}

// Encryption returns the encryption algorithm in effect: EAlg, or null when absent (before
// Rel-6 ipsec-3gpp had no ealg and no encryption).
func (m Mechanism) Encryption() string {
	if m.EAlg == "" {
		return EAlgNull
	}
	return m.EAlg
}

// Protocol returns the IPsec protocol in effect: Prot, or esp when absent (TS 33.203 §6 allows
// only ESP in IMS).
func (m Mechanism) Protocol() string {
	if m.Prot == "" {
		return ProtESP
	}
	return m.Prot
}

// Mode returns the IPsec mode in effect: Mod, or trans when absent.
func (m Mechanism) Mode() string {
	if m.Mod == "" {
		return ModTrans
	}
	return m.Mod
}

// IsIPsec3GPP reports whether the mechanism is ipsec-3gpp.
func (m Mechanism) IsIPsec3GPP() bool { return strings.EqualFold(m.Name, MechIPsec3GPP) }

// CheckIPsec reports whether m holds everything needed to set up the SAs of TS 33.203 §7.1: an
// ipsec-3gpp mechanism with alg, both SPIs and both ports, in ESP transport mode. The error names
// the first missing or unusable parameter.
func (m Mechanism) CheckIPsec() error {
	switch {
	case !m.IsIPsec3GPP():
		return fmt.Errorf("mechanism %q is not %s: %w", m.Name, MechIPsec3GPP, ErrIncomplete)
	case m.Alg == "":
		return fmt.Errorf("%s without %s: %w", MechIPsec3GPP, ParamAlg, ErrIncomplete)
	case m.SPIC == 0:
		return fmt.Errorf("%s without %s: %w", MechIPsec3GPP, ParamSPIC, ErrIncomplete)
	case m.SPIS == 0:
		return fmt.Errorf("%s without %s: %w", MechIPsec3GPP, ParamSPIS, ErrIncomplete)
	case m.PortC == 0:
		return fmt.Errorf("%s without %s: %w", MechIPsec3GPP, ParamPortC, ErrIncomplete)
	case m.PortS == 0:
		return fmt.Errorf("%s without %s: %w", MechIPsec3GPP, ParamPortS, ErrIncomplete)
	case !strings.EqualFold(m.Protocol(), ProtESP):
		return fmt.Errorf("%s=%s: only esp is used in IMS (TS 33.203 §6): %w", ParamProt, m.Prot, ErrIncomplete)
	case !strings.EqualFold(m.Mode(), ModTrans):
		return fmt.Errorf("%s=%s: only transport mode is supported: %w", ParamMod, m.Mod, ErrIncomplete)
	}
	return nil
}

// String writes the mechanism: name, q, alg, ealg, prot, mod, spi-c, spi-s, port-c, port-s,
// then the other parameters in order; absent ones are left out.
func (m Mechanism) String() string {
	var b strings.Builder
	b.WriteString(m.Name)
	if m.HasQ {
		b.WriteString(";q=")
		b.WriteString(formatQ(m.Q))
	}
	tok := func(name, v string) {
		if v != "" {
			b.WriteByte(';')
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	num := func(name string, v uint64) {
		if v != 0 {
			b.WriteByte(';')
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(strconv.FormatUint(v, 10))
		}
	}
	tok(ParamAlg, m.Alg)
	tok(ParamEAlg, m.EAlg)
	tok(ParamProt, m.Prot)
	tok(ParamMod, m.Mod)
	num(ParamSPIC, uint64(m.SPIC))
	num(ParamSPIS, uint64(m.SPIS))
	num(ParamPortC, uint64(m.PortC))
	num(ParamPortS, uint64(m.PortS))
	b.WriteString(m.Params.String())
	return b.String()
}

// Format writes a header value: the mechanisms separated by ", ".
func Format(ms []Mechanism) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

// formatQ writes a qvalue: clamped to [0, 1], at most three decimals (RFC 3261 §25.1 qvalue).
func formatQ(q float64) string {
	if math.IsNaN(q) || q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	return strconv.FormatFloat(math.Round(q*1000)/1000, 'f', -1, 64)
}

// label names the header in parse errors when the caller did not say which one it parsed.
const label = "sec-mechanism"

// Parse parses one Security-Client, Security-Server or Security-Verify header value (a
// comma-separated list). Several header lines are parsed one by one and their lists
// concatenated, as FromMessage does. Errors are *header.ParseError naming the parameter, with the
// offset of the mechanism it belongs to.
func Parse(value string) ([]Mechanism, error) { return parse(label, value) }

// FromMessage parses every line of the named header (Security-Client, Security-Server or
// Security-Verify, any case) in message order. A message without the header gives an empty list.
func FromMessage(msg sip.Message, name string) ([]Mechanism, error) {
	var out []Mechanism
	for _, line := range header.Lines(msg, name) {
		ms, err := parse(header.Canonical(name), line)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func parse(hdr, value string) ([]Mechanism, error) {
	els, at, err := header.ParseElementsAt(hdr, value)
	if err != nil {
		return nil, err
	}
	if len(els) == 0 {
		return nil, &header.ParseError{Header: hdr, Msg: "no mechanism", Err: header.ErrMissing}
	}
	out := make([]Mechanism, 0, len(els))
	for i, e := range els {
		m, err := mechanism(hdr, at[i], e)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func mechanism(hdr string, pos int, e header.Element) (Mechanism, error) {
	fail := func(param string, err error, msg string) error {
		return &header.ParseError{Header: hdr, Param: param, Pos: pos, Msg: msg, Err: err}
	}
	if e.Quoted {
		return Mechanism{}, fail("", nil, "mechanism-name must be a token")
	}
	m := Mechanism{Name: e.Value}
	seen := map[string]bool{}
	for _, p := range e.Params {
		name := strings.ToLower(p.Name)
		switch name {
		case ParamQ, ParamAlg, ParamEAlg, ParamProt, ParamMod, ParamSPIC, ParamSPIS, ParamPortC, ParamPortS:
		default:
			m.Params = append(m.Params, p)
			continue
		}
		if seen[name] {
			return Mechanism{}, fail(name, header.ErrDuplicate, "appears more than once in one mechanism")
		}
		seen[name] = true
		if p.IsFlag() || p.Quoted {
			return Mechanism{}, fail(name, nil, "needs an unquoted value")
		}
		switch name {
		case ParamQ:
			q, err := parseQ(p.Value)
			if err != nil {
				return Mechanism{}, fail(name, ErrInvalidQ, err.Error())
			}
			m.Q, m.HasQ = q, true
		case ParamAlg, ParamEAlg, ParamProt, ParamMod:
			if !header.IsToken(p.Value) {
				return Mechanism{}, fail(name, nil, fmt.Sprintf("%q is not a token", p.Value))
			}
			switch name {
			case ParamAlg:
				m.Alg = p.Value
			case ParamEAlg:
				m.EAlg = p.Value
			case ParamProt:
				m.Prot = p.Value
			case ParamMod:
				m.Mod = p.Value
			}
		case ParamSPIC, ParamSPIS:
			spi, err := parseSPI(p.Value)
			if err != nil {
				return Mechanism{}, fail(name, ErrInvalidSPI, err.Error())
			}
			if name == ParamSPIC {
				m.SPIC = spi
			} else {
				m.SPIS = spi
			}
		case ParamPortC, ParamPortS:
			port, err := parsePort(p.Value)
			if err != nil {
				return Mechanism{}, fail(name, ErrInvalidPort, err.Error())
			}
			if name == ParamPortC {
				m.PortC = port
			} else {
				m.PortS = port
			}
		}
	}
	return m, nil
}

// parseQ: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (RFC 3261 §25.1).
func parseQ(s string) (float64, error) {
	bad := fmt.Errorf("%q is not a qvalue (0 to 1, at most three decimals)", s)
	if s == "" || (s[0] != '0' && s[0] != '1') {
		return 0, bad
	}
	if len(s) > 1 {
		if s[1] != '.' || len(s) > 5 {
			return 0, bad
		}
		for i := 2; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' || (s[0] == '1' && s[i] != '0') {
				return 0, bad
			}
		}
	}
	q, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, bad
	}
	return q, nil
}

// parseSPI: spivalue = 10DIGIT, 0 to 4294967295 (TS 33.203 Annex H). Zero is refused, and so are
// 1 to 255: RFC 4303 §2.1 reserves them, so no SA can be installed with one.
func parseSPI(s string) (uint32, error) {
	if s == "" || len(s) > 10 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal SPI", s)
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range (0 to 4294967295)", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("SPI 0 is reserved (RFC 4303 §2.1)")
	}
	if v <= 255 {
		return 0, fmt.Errorf("SPI %d is in the range 1-255 reserved by RFC 4303 §2.1", v)
	}
	return uint32(v), nil
}

// parsePort: a decimal port, 1 to 65535.
func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal port", s)
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range (1 to 65535)", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("port 0 cannot be used")
	}
	return uint16(v), nil
}
