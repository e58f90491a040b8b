package hsssql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss"
)

// Store implements hss.Store over a Backend. Backends embed it in their DB type.
type Store struct {
	b     Backend
	count *counting // b counted: hss.StoreStats
	log   *zap.Logger
}

// New returns the HSS store of backend b.
func New(b Backend, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	c := newCounting(b)
	return &Store{b: c, count: c, log: log}
}

// now is the timestamp written by a change: UTC, microseconds (what PostgreSQL keeps), so that both
// backends return identical values.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// ---- Cx reads ----------------------------------------------------------------------------------------

// GetIMPI implements hss.CxStore.
func (s *Store) GetIMPI(ctx context.Context, impi string) (*hss.PrivateIdentity, error) {
	p, err := getIMPI(ctx, s.b.Read(), impi)
	if err != nil {
		return nil, fmt.Errorf("get impi %s: %w", impi, err)
	}
	return p, nil
}

func getIMPI(ctx context.Context, q Querier, impi string) (*hss.PrivateIdentity, error) {
	p, err := scanIMPI(q.QueryRow(ctx, "SELECT "+cols("", impiColumns)+" FROM hss_impi WHERE impi = $1", impi))
	if isNoRows(err) {
		return nil, hss.ErrNotFound
	}
	return p, err
}

// GetIMPU implements hss.CxStore.
func (s *Store) GetIMPU(ctx context.Context, impu string) (*hss.PublicIdentity, error) {
	p, err := resolveIMPU(ctx, s.b.Read(), impu)
	if err != nil {
		return nil, fmt.Errorf("get impu %s: %w", impu, err)
	}
	return p, nil
}

// resolveIMPU finds impu exactly, else the best wildcarded identity matching it (hss.Store documents the
// rule). Wildcarded identities are indexed by their literal prefix, so only those whose prefix impu starts
// with are read and matched.
func resolveIMPU(ctx context.Context, q Querier, impu string) (*hss.PublicIdentity, error) {
	p, err := scanIMPU(q.QueryRow(ctx, "SELECT "+cols("", impuColumns)+" FROM hss_impu WHERE impu = $1", impu))
	if err == nil {
		return p, nil
	}
	if !isNoRows(err) {
		return nil, err
	}
	rows, err := q.Query(ctx, "SELECT "+cols("", impuColumns)+" FROM hss_impu"+
		" WHERE wildcard_prefix IS NOT NULL AND substr(CAST($1 AS TEXT), 1, length(wildcard_prefix)) = wildcard_prefix", impu)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var best *hss.PublicIdentity
	for rows.Next() {
		c, err := scanIMPU(rows)
		if err != nil {
			return nil, err
		}
		ok, err := hss.MatchWildcard(c.IMPU, impu)
		if err != nil {
			return nil, fmt.Errorf("stored wildcarded identity: %w", err)
		}
		if ok && (best == nil || hss.BetterWildcard(c.IMPU, best.IMPU)) {
			best = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if best == nil {
		return nil, hss.ErrNotFound
	}
	return best, nil
}

// IsAssociated implements hss.CxStore.
func (s *Store) IsAssociated(ctx context.Context, impi, impu string) (bool, error) {
	q := s.b.Read()
	ok, err := isAssociated(ctx, q, impi, impu)
	if err != nil {
		return false, fmt.Errorf("associated %s %s: %w", impi, impu, err)
	}
	return ok, nil
}

func isAssociated(ctx context.Context, q Querier, impi, impu string) (bool, error) {
	if err := impiExists(ctx, q, impi); err != nil {
		return false, err
	}
	pub, err := resolveIMPU(ctx, q, impu)
	if err != nil {
		return false, err
	}
	var one int64
	err = q.QueryRow(ctx, "SELECT 1 FROM hss_impi_impu WHERE impi = $1 AND impu = $2", impi, pub.IMPU).Scan(&one)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

func impiExists(ctx context.Context, q Querier, impi string) error {
	var one int64
	err := q.QueryRow(ctx, "SELECT 1 FROM hss_impi WHERE impi = $1", impi).Scan(&one)
	if isNoRows(err) {
		return fmt.Errorf("impi %s: %w", impi, hss.ErrNotFound)
	}
	return err
}

func impuExists(ctx context.Context, q Querier, impu string) error {
	var one int64
	err := q.QueryRow(ctx, "SELECT 1 FROM hss_impu WHERE impu = $1", impu).Scan(&one)
	if isNoRows(err) {
		return fmt.Errorf("impu %s: %w", impu, hss.ErrNotFound)
	}
	return err
}

// ImplicitSet implements hss.CxStore.
func (s *Store) ImplicitSet(ctx context.Context, impu string) ([]hss.PublicIdentity, error) {
	q := s.b.Read()
	pub, err := resolveIMPU(ctx, q, impu)
	if err != nil {
		return nil, fmt.Errorf("implicit set of %s: %w", impu, err)
	}
	set, err := implicitSet(ctx, q, pub.ImplicitSetID)
	if err != nil {
		return nil, fmt.Errorf("implicit set of %s: %w", impu, err)
	}
	return set, nil
}

func implicitSet(ctx context.Context, q Querier, setID string) ([]hss.PublicIdentity, error) {
	return queryIMPUs(ctx, q, "SELECT "+cols("", impuColumns)+" FROM hss_impu WHERE implicit_set = $1 ORDER BY impu", setID)
}

func queryIMPUs(ctx context.Context, q Querier, query string, args ...any) ([]hss.PublicIdentity, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []hss.PublicIdentity
	for rows.Next() {
		p, err := scanIMPU(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

// IMPUsOfIMPI implements hss.CxStore.
func (s *Store) IMPUsOfIMPI(ctx context.Context, impi string) ([]hss.PublicIdentity, error) {
	q := s.b.Read()
	out, err := impusOfIMPI(ctx, q, impi)
	if err != nil {
		return nil, fmt.Errorf("impus of %s: %w", impi, err)
	}
	return out, nil
}

func impusOfIMPI(ctx context.Context, q Querier, impi string) ([]hss.PublicIdentity, error) {
	out, err := queryIMPUs(ctx, q, "SELECT "+cols("u.", impuColumns)+
		" FROM hss_impi_impu l JOIN hss_impu u ON u.impu = l.impu WHERE l.impi = $1 ORDER BY u.impu", impi)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if err := impiExists(ctx, q, impi); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// IMPIsOfIMPU implements hss.CxStore.
func (s *Store) IMPIsOfIMPU(ctx context.Context, impu string) ([]string, error) {
	q := s.b.Read()
	pub, err := resolveIMPU(ctx, q, impu)
	if err != nil {
		return nil, fmt.Errorf("impis of %s: %w", impu, err)
	}
	out, err := queryStrings(ctx, q, "SELECT impi FROM hss_impi_impu WHERE impu = $1 ORDER BY impi", pub.IMPU)
	if err != nil {
		return nil, fmt.Errorf("impis of %s: %w", impu, err)
	}
	return out, nil
}

func queryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// UserProfile implements hss.CxStore.
func (s *Store) UserProfile(ctx context.Context, impu string) (*hss.UserProfile, error) {
	q := s.b.Read()
	pub, err := resolveIMPU(ctx, q, impu)
	if err != nil {
		return nil, fmt.Errorf("user profile %s: %w", impu, err)
	}
	set, err := implicitSet(ctx, q, pub.ImplicitSetID)
	if err != nil {
		return nil, fmt.Errorf("user profile %s: %w", impu, err)
	}
	profiles, err := profilesOf(ctx, q, set)
	if err != nil {
		return nil, fmt.Errorf("user profile %s: %w", impu, err)
	}
	up := &hss.UserProfile{IMPUs: set, ServiceProfiles: profiles}
	seen := map[int32]bool{}
	for _, p := range profiles {
		for _, id := range p.SharedIFCSetIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			set, err := getSharedIFCSet(ctx, q, id)
			if err != nil {
				return nil, fmt.Errorf("user profile %s: shared iFC set %d: %w", impu, id, err)
			}
			up.SharedIFCSets = append(up.SharedIFCSets, *set)
		}
	}
	sort.Slice(up.SharedIFCSets, func(i, j int) bool { return up.SharedIFCSets[i].ID < up.SharedIFCSets[j].ID })
	return up, nil
}

// profilesOf returns the distinct service profiles the identities reference, sorted by ID.
func profilesOf(ctx context.Context, q Querier, impus []hss.PublicIdentity) ([]hss.ServiceProfile, error) {
	ids := map[string]bool{}
	var out []hss.ServiceProfile
	for _, u := range impus {
		if ids[u.ServiceProfileID] {
			continue
		}
		ids[u.ServiceProfileID] = true
		p, err := getServiceProfile(ctx, q, u.ServiceProfileID)
		if err != nil {
			return nil, fmt.Errorf("service profile %s: %w", u.ServiceProfileID, err)
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SCSCFs implements hss.CxStore.
func (s *Store) SCSCFs(ctx context.Context) ([]hss.SCSCF, error) {
	rows, err := s.b.Read().Query(ctx, "SELECT name, mandatory, optional, updated_at FROM hss_scscf ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list s-cscfs: %w", err)
	}
	defer rows.Close()
	var out []hss.SCSCF
	for rows.Next() {
		var (
			c                   hss.SCSCF
			mandatory, optional []byte
		)
		if err := rows.Scan(&c.Name, &mandatory, &optional, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list s-cscfs: %w", err)
		}
		if err := decodeJSON(mandatory, &c.Capabilities.Mandatory); err != nil {
			return nil, fmt.Errorf("s-cscf %s: %w", c.Name, err)
		}
		if err := decodeJSON(optional, &c.Capabilities.Optional); err != nil {
			return nil, fmt.Errorf("s-cscf %s: %w", c.Name, err)
		}
		c.Capabilities = normCapabilities(c.Capabilities)
		c.UpdatedAt = c.UpdatedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list s-cscfs: %w", err)
	}
	return out, nil
}

func normCapabilities(c hss.Capabilities) hss.Capabilities {
	if len(c.Mandatory) == 0 {
		c.Mandatory = nil
	}
	if len(c.Optional) == 0 {
		c.Optional = nil
	}
	return c
}

// ChargingInfo implements hss.CxStore.
func (s *Store) ChargingInfo(ctx context.Context, impi string) (hss.ChargingInfo, error) {
	q := s.b.Read()
	var own []byte
	err := q.QueryRow(ctx, "SELECT charging FROM hss_impi WHERE impi = $1", impi).Scan(&own)
	if isNoRows(err) {
		return hss.ChargingInfo{}, fmt.Errorf("charging info %s: %w", impi, hss.ErrNotFound)
	}
	if err != nil {
		return hss.ChargingInfo{}, fmt.Errorf("charging info %s: %w", impi, err)
	}
	if len(own) == 0 {
		err = q.QueryRow(ctx, "SELECT charging FROM hss_default_charging WHERE id = 1").Scan(&own)
		if isNoRows(err) {
			return hss.ChargingInfo{}, nil
		}
		if err != nil {
			return hss.ChargingInfo{}, fmt.Errorf("default charging info: %w", err)
		}
	}
	var c hss.ChargingInfo
	if err := decodeJSON(own, &c); err != nil {
		return hss.ChargingInfo{}, fmt.Errorf("charging info %s: %w", impi, err)
	}
	return c, nil
}

// ---- Cx changes --------------------------------------------------------------------------------------

// UpdateRegistration implements hss.CxStore.
func (s *Store) UpdateRegistration(ctx context.Context, impi, impu string,
	fn func(cur hss.ImplicitSetState) (hss.RegistrationChange, error)) error {
	err := s.b.Tx(ctx, func(q Querier) error {
		pub, err := resolveIMPU(ctx, q, impu)
		if err != nil {
			return err
		}
		if impi != "" {
			ok, err := isAssociated(ctx, q, impi, pub.IMPU)
			if err != nil {
				return err
			}
			if !ok {
				return hss.ErrNotAssociated
			}
		}
		// Lock every identity of the set, always in IMPU order so that two updates cannot deadlock.
		cur := hss.ImplicitSetState{SetID: pub.ImplicitSetID}
		rows, err := q.Query(ctx, "SELECT impu, reg_state, scscf_name, scscf_origin_host, pending_scscf FROM hss_impu"+
			" WHERE implicit_set = $1 ORDER BY impu"+s.b.ForUpdate(), pub.ImplicitSetID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				u     string
				state int64
				reg   hss.Registration
			)
			if err := rows.Scan(&u, &state, &reg.SCSCFName, &reg.SCSCFOriginHost, &reg.PendingSCSCF); err != nil {
				rows.Close()
				return err
			}
			reg.State = hss.RegistrationState(state)
			if len(cur.IMPUs) == 0 {
				cur.Registration = reg // the set's identities are always written together
			}
			cur.IMPUs = append(cur.IMPUs, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		cur.RegisteredIMPIs, err = queryStrings(ctx, q, "SELECT DISTINCT l.impi FROM hss_impi_impu l"+
			" JOIN hss_impu u ON u.impu = l.impu WHERE u.implicit_set = $1 AND l.registered ORDER BY l.impi",
			pub.ImplicitSetID)
		if err != nil {
			return err
		}
		for _, r := range cur.RegisteredIMPIs {
			if r == impi {
				cur.IMPIRegistered = true
			}
		}
		change, err := fn(cur)
		if err != nil {
			return err
		}
		reg := change.Registration
		if reg.State > hss.Unregistered {
			return fmt.Errorf("registration state %d: %w", reg.State, hss.ErrInvalid)
		}
		if _, err := q.Exec(ctx, "UPDATE hss_impu SET reg_state = $2, scscf_name = $3, scscf_origin_host = $4,"+
			" pending_scscf = $5, updated_at = $6 WHERE implicit_set = $1",
			pub.ImplicitSetID, int64(reg.State), reg.SCSCFName, reg.SCSCFOriginHost, reg.PendingSCSCF, now()); err != nil {
			return err
		}
		switch {
		case reg.State != hss.Registered:
			// A set that is not registered is registered by no private identity.
			_, err = q.Exec(ctx, "UPDATE hss_impi_impu SET registered = $2 WHERE registered AND impu IN"+
				" (SELECT impu FROM hss_impu WHERE implicit_set = $1)", pub.ImplicitSetID, false)
		case impi != "":
			_, err = q.Exec(ctx, "UPDATE hss_impi_impu SET registered = $3 WHERE impi = $1 AND impu IN"+
				" (SELECT impu FROM hss_impu WHERE implicit_set = $2)", impi, pub.ImplicitSetID, change.IMPIRegistered)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update registration %s %s: %w", impi, impu, err)
	}
	return nil
}

// RegisteredIMPUs implements hss.CxStore.
func (s *Store) RegisteredIMPUs(ctx context.Context, impi, serverName string) ([]hss.PublicIdentity, error) {
	q := s.b.Read()
	if err := impiExists(ctx, q, impi); err != nil {
		return nil, fmt.Errorf("registered impus of %s: %w", impi, err)
	}
	out, err := queryIMPUs(ctx, q, "SELECT "+cols("u.", impuColumns)+
		" FROM hss_impi_impu l JOIN hss_impu u ON u.impu = l.impu"+
		" WHERE l.impi = $1 AND l.registered AND (CAST($2 AS TEXT) = '' OR u.scscf_name = $2) ORDER BY u.impu", impi, serverName)
	if err != nil {
		return nil, fmt.Errorf("registered impus of %s: %w", impi, err)
	}
	return out, nil
}

// UpdateSQN implements hss.CxStore.
func (s *Store) UpdateSQN(ctx context.Context, impi string, fn func(current uint64) (uint64, error)) error {
	err := s.b.Tx(ctx, func(q Querier) error {
		var cur int64
		err := q.QueryRow(ctx, "SELECT sqn FROM hss_impi WHERE impi = $1"+s.b.ForUpdate(), impi).Scan(&cur)
		if isNoRows(err) {
			return hss.ErrNotFound
		}
		if err != nil {
			return err
		}
		next, err := fn(uint64(cur))
		if err != nil {
			return err
		}
		if next > hss.MaxSQN {
			return fmt.Errorf("sqn %d over 48 bits: %w", next, hss.ErrInvalid)
		}
		_, err = q.Exec(ctx, "UPDATE hss_impi SET sqn = $2 WHERE impi = $1", impi, int64(next))
		return err
	})
	if err != nil {
		return fmt.Errorf("update sqn %s: %w", impi, err)
	}
	return nil
}
