package hsssql

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/imscore/imscore/hss"
)

// Column lists, in the order the scan functions read them.
var (
	impiColumns = []string{
		"impi", "imsi", "msisdn", "k", "op", "opc", "amf", "sqn", "auth_schemes", "digest_password",
		"digest_ha1", "visited_networks", "capabilities", "charging", "created_at", "updated_at",
	}
	impuColumns = []string{
		"impu", "identity_type", "wildcard_prefix", "barred", "display_name", "implicit_set",
		"service_profile_id", "reg_state", "scscf_name", "scscf_origin_host", "pending_scscf",
		"created_at", "updated_at",
	}
	linkColumns = []string{"impi", "impu", "registered"}
)

// cols joins column names, each prefixed with alias ("u.") when given.
func cols(alias string, names []string) string {
	if alias == "" {
		return strings.Join(names, ", ")
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(alias)
		b.WriteString(n)
	}
	return b.String()
}

// placeholders returns "$1, $2, …, $n".
func placeholders(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", i)
	}
	return b.String()
}

type scanner interface{ Scan(dest ...any) error }

func scanIMPI(r scanner) (*hss.PrivateIdentity, error) {
	var (
		p                       hss.PrivateIdentity
		k, op, opc, amf         []byte
		sqn, schemes            int64
		visited, caps, charging []byte
		createdAt, updatedAt    time.Time
	)
	if err := r.Scan(&p.IMPI, &p.IMSI, &p.MSISDN, &k, &op, &opc, &amf, &sqn, &schemes, &p.DigestPassword,
		&p.DigestHA1, &visited, &caps, &charging, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	p.K, p.OP, p.OPc = nonEmpty(k), nonEmpty(op), nonEmpty(opc)
	if len(amf) != 2 {
		return nil, fmt.Errorf("impi %s: stored amf has %d bytes", p.IMPI, len(amf))
	}
	copy(p.AMF[:], amf)
	if sqn < 0 {
		return nil, fmt.Errorf("impi %s: stored sqn %d is negative", p.IMPI, sqn)
	}
	p.SQN = uint64(sqn)
	p.AuthSchemes = hss.AuthSchemes(schemes)
	if err := decodeJSON(visited, &p.AllowedVisitedNetworks); err != nil {
		return nil, fmt.Errorf("impi %s: visited networks: %w", p.IMPI, err)
	}
	if len(p.AllowedVisitedNetworks) == 0 {
		p.AllowedVisitedNetworks = nil
	}
	if err := decodeJSON(caps, &p.RequiredCapabilities); err != nil {
		return nil, fmt.Errorf("impi %s: capabilities: %w", p.IMPI, err)
	}
	if len(charging) > 0 {
		p.Charging = new(hss.ChargingInfo)
		if err := decodeJSON(charging, p.Charging); err != nil {
			return nil, fmt.Errorf("impi %s: charging: %w", p.IMPI, err)
		}
	}
	p.CreatedAt, p.UpdatedAt = createdAt.UTC(), updatedAt.UTC()
	return &p, nil
}

func scanIMPU(r scanner) (*hss.PublicIdentity, error) {
	var (
		p                    hss.PublicIdentity
		identityType, state  int64
		wildcardPrefix       sql.NullString
		createdAt, updatedAt time.Time
	)
	if err := r.Scan(&p.IMPU, &identityType, &wildcardPrefix, &p.Barred, &p.DisplayName, &p.ImplicitSetID,
		&p.ServiceProfileID, &state, &p.Registration.SCSCFName, &p.Registration.SCSCFOriginHost,
		&p.Registration.PendingSCSCF, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	p.Type = hss.IdentityType(identityType)
	p.Registration.State = hss.RegistrationState(state)
	p.CreatedAt, p.UpdatedAt = createdAt.UTC(), updatedAt.UTC()
	return &p, nil
}

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// nullBytes passes an empty key as SQL NULL (drivers would otherwise store an empty blob).
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func decodeJSON(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

// encodeJSON returns v as a JSON string, the argument type both drivers store in JSONB / TEXT columns.
func encodeJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ifcsJSON encodes iFCs, an empty list as "[]".
func ifcsJSON(ifcs []hss.InitialFilterCriteria) (string, error) {
	if len(ifcs) == 0 {
		return "[]", nil
	}
	return encodeJSON(ifcs)
}

func decodeIFCs(b []byte) ([]hss.InitialFilterCriteria, error) {
	var ifcs []hss.InitialFilterCriteria
	if err := decodeJSON(b, &ifcs); err != nil {
		return nil, fmt.Errorf("ifcs: %w", err)
	}
	if len(ifcs) == 0 {
		return nil, nil
	}
	return ifcs, nil
}

// prefixRange returns the bounds of the strings starting with prefix in byte order: s >= lo and, when
// bounded, s < hi. hi is prefix with its last code point incremented (UTF-8 preserves code point order),
// which keeps it valid text for PostgreSQL; a prefix ending in U+10FFFF drops that rune and carries.
func prefixRange(prefix string) (lo, hi string, bounded bool) {
	p := prefix
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r == utf8.RuneError && size <= 1 || r == utf8.MaxRune {
			continue
		}
		next := r + 1
		if next >= 0xD800 && next <= 0xDFFF { // surrogates are not valid in UTF-8
			next = 0xE000
		}
		return prefix, p + string(next), true
	}
	return prefix, "", false
}
