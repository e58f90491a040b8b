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
	cache *cache    // shared provisioned data (cache.go)
	log   *zap.Logger
}

// New returns the HSS store of backend b.
func New(b Backend, log *zap.Logger) *Store {
	if log == nil {
		log = zap.NewNop()
	}
	c := newCounting(b)
	return &Store{b: c, count: c, cache: newCache(DefaultCacheTTL), log: log}
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

// Identities implements hss.CxStore: one statement, both primary keys and the association's.
func (s *Store) Identities(ctx context.Context, impi, impu string) (*hss.PrivateIdentity, *hss.PublicIdentity, bool, error) {
	var (
		assoc bool
		pub   *hss.PublicIdentity
	)
	priv, err := scanIMPI(tailScanner{s.b.Read().QueryRow(ctx, identitiesQuery, impi, impu), nil}.then(func(r scanner) error {
		var err error
		pub, err = scanIMPUThen(r, &assoc)
		return err
	}))
	if isNoRows(err) {
		return nil, nil, false, fmt.Errorf("identities %s %s: %w", impi, impu, hss.ErrNotFound)
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("identities %s %s: %w", impi, impu, err)
	}
	return priv, pub, assoc, nil
}

var identitiesQuery = "SELECT " + cols("i.", impiColumns) + ", " + cols("u.", impuColumns) +
	", EXISTS (SELECT 1 FROM hss_impi_impu l WHERE l.impi = i.impi AND l.impu = u.impu)" +
	" FROM hss_impi i, hss_impu u WHERE i.impi = $1 AND u.impu = $2"

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
	// Every provisioned identity has a private identity (TS 23.228 §4.3.3.1), except an orphaned shared one:
	// an exact match in one statement, the wildcard rule and the not-found case only when it finds none.
	out, err := queryStrings(ctx, q, "SELECT impi FROM hss_impi_impu WHERE impu = $1 ORDER BY impi", impu)
	if err != nil {
		return nil, fmt.Errorf("impis of %s: %w", impu, err)
	}
	if len(out) > 0 {
		return out, nil
	}
	pub, err := resolveIMPU(ctx, q, impu)
	if err != nil {
		return nil, fmt.Errorf("impis of %s: %w", impu, err)
	}
	if pub.IMPU == impu {
		return nil, nil
	}
	out, err = queryStrings(ctx, q, "SELECT impi FROM hss_impi_impu WHERE impu = $1 ORDER BY impi", pub.IMPU)
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
	// The set of an exact match in one statement; the wildcard rule only when there is none.
	set, err := queryIMPUs(ctx, q, "SELECT "+cols("", impuColumns)+" FROM hss_impu"+
		" WHERE implicit_set = (SELECT implicit_set FROM hss_impu WHERE impu = $1) ORDER BY impu", impu)
	if err != nil {
		return nil, fmt.Errorf("user profile %s: %w", impu, err)
	}
	if len(set) == 0 {
		pub, err := resolveIMPU(ctx, q, impu)
		if err != nil {
			return nil, fmt.Errorf("user profile %s: %w", impu, err)
		}
		if set, err = implicitSet(ctx, q, pub.ImplicitSetID); err != nil {
			return nil, fmt.Errorf("user profile %s: %w", impu, err)
		}
	}
	profiles, err := profilesOf(ctx, q, set, s.serviceProfile)
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
			set, err := s.sharedIFCSet(ctx, q, id)
			if err != nil {
				return nil, fmt.Errorf("user profile %s: shared iFC set %d: %w", impu, id, err)
			}
			up.SharedIFCSets = append(up.SharedIFCSets, *set)
		}
	}
	sort.Slice(up.SharedIFCSets, func(i, j int) bool { return up.SharedIFCSets[i].ID < up.SharedIFCSets[j].ID })
	return up, nil
}

// profilesOf returns the distinct service profiles the identities reference, sorted by ID, each read with
// get (getServiceProfile, or Store.serviceProfile through the cache).
func profilesOf(ctx context.Context, q Querier, impus []hss.PublicIdentity,
	get func(ctx context.Context, q Querier, id string) (*hss.ServiceProfile, error)) ([]hss.ServiceProfile, error) {
	ids := map[string]bool{}
	var out []hss.ServiceProfile
	for _, u := range impus {
		if ids[u.ServiceProfileID] {
			continue
		}
		ids[u.ServiceProfileID] = true
		p, err := get(ctx, q, u.ServiceProfileID)
		if err != nil {
			return nil, fmt.Errorf("service profile %s: %w", u.ServiceProfileID, err)
		}
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// SCSCFs implements hss.CxStore. The list is cached (cache.go).
func (s *Store) SCSCFs(ctx context.Context) ([]hss.SCSCF, error) {
	list, err := single(ctx, s.cache, &s.cache.scscfs, s.listSCSCFs)
	if err != nil {
		return nil, err
	}
	return append([]hss.SCSCF(nil), list...), nil
}

func (s *Store) listSCSCFs(ctx context.Context) ([]hss.SCSCF, error) {
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
		if own, err = s.defaultCharging(ctx, q); err != nil {
			return hss.ChargingInfo{}, err
		}
		if own == nil {
			return hss.ChargingInfo{}, nil
		}
	}
	var c hss.ChargingInfo
	if err := decodeJSON(own, &c); err != nil {
		return hss.ChargingInfo{}, fmt.Errorf("charging info %s: %w", impi, err)
	}
	return c, nil
}

// DefaultChargingInfo implements hss.CxStore.
func (s *Store) DefaultChargingInfo(ctx context.Context) (hss.ChargingInfo, error) {
	def, err := s.defaultCharging(ctx, s.b.Read())
	if err != nil || def == nil {
		return hss.ChargingInfo{}, err
	}
	var c hss.ChargingInfo
	if err := decodeJSON(def, &c); err != nil {
		return hss.ChargingInfo{}, fmt.Errorf("default charging info: %w", err)
	}
	return c, nil
}

// ---- Cx changes --------------------------------------------------------------------------------------

// UpdateRegistration implements hss.CxStore. Two reads and at most two writes: the identity with impi's
// existence and association (one statement on an exact match), the set locked with every private identity's
// registration of it (one statement), then the set's registration and the private identities' flags, each
// written only when it changes.
func (s *Store) UpdateRegistration(ctx context.Context, impi, impu string,
	fn func(cur hss.ImplicitSetState) (hss.RegistrationChange, error)) error {
	err := s.b.Tx(ctx, func(q Querier) error { return s.updateRegistration(ctx, q, impi, impu, fn) })
	if err != nil {
		return fmt.Errorf("update registration %s %s: %w", impi, impu, err)
	}
	return nil
}

// UpdateRegistrationAndSQN implements hss.CxStore: UpdateRegistration(regIMPI, impu, reg) and
// UpdateSQN(impi, sqn) in one transaction, the registration first.
func (s *Store) UpdateRegistrationAndSQN(ctx context.Context, regIMPI, impu string,
	reg func(cur hss.ImplicitSetState) (hss.RegistrationChange, error),
	impi string, sqn func(current uint64) (uint64, error)) error {
	err := s.b.Tx(ctx, func(q Querier) error {
		if err := s.updateRegistration(ctx, q, regIMPI, impu, reg); err != nil {
			return err
		}
		return s.updateSQN(ctx, q, impi, sqn)
	})
	if err != nil {
		return fmt.Errorf("update registration %s and sqn %s: %w", impu, impi, err)
	}
	return nil
}

func (s *Store) updateRegistration(ctx context.Context, q Querier, impi, impu string,
	fn func(cur hss.ImplicitSetState) (hss.RegistrationChange, error)) error {
	setID, err := registrationTarget(ctx, q, impi, impu)
	if err != nil {
		return err
	}
	// Lock every identity of the set, always in IMPU order so that two updates cannot deadlock, reading
	// with each the private identities that hold its registration, and impi's links whatever their flag.
	forUpdate := s.b.ForUpdate()
	if forUpdate != "" {
		forUpdate += " OF u" // PostgreSQL cannot lock the nullable side of the outer join
	}
	// With each link, whether its private identity has restoration information for the set, so that the
	// registration's end deletes it without a statement when there is none.
	rows, err := q.Query(ctx, "SELECT u.impu, u.reg_state, u.scscf_name, u.scscf_origin_host, u.pending_scscf,"+
		" l.impi, l.registered, EXISTS (SELECT 1 FROM hss_restoration r WHERE r.implicit_set = $1 AND r.impi = l.impi)"+
		" FROM hss_impu u"+
		" LEFT JOIN hss_impi_impu l ON l.impu = u.impu AND (l.registered OR l.impi = $2)"+
		" WHERE u.implicit_set = $1 ORDER BY u.impu, l.impi"+forUpdate, setID, impi)
	if err != nil {
		return err
	}
	cur := hss.ImplicitSetState{SetID: setID}
	registered := map[string]bool{}
	restoration := map[string]bool{} // private identities with restoration information for the set
	impiLinks, impiRegisteredLinks := 0, 0
	for rows.Next() {
		var (
			u        string
			state    int64
			reg      hss.Registration
			linkIMPI sql.NullString
			linkFlag sql.NullBool
			restored bool
		)
		if err := rows.Scan(&u, &state, &reg.SCSCFName, &reg.SCSCFOriginHost, &reg.PendingSCSCF, &linkIMPI, &linkFlag, &restored); err != nil {
			rows.Close()
			return err
		}
		reg.State = hss.RegistrationState(state)
		if len(cur.IMPUs) == 0 {
			cur.Registration = reg // the set's identities are always written together
		}
		if n := len(cur.IMPUs); n == 0 || cur.IMPUs[n-1] != u {
			cur.IMPUs = append(cur.IMPUs, u)
		}
		if !linkIMPI.Valid {
			continue
		}
		if linkFlag.Bool {
			registered[linkIMPI.String] = true
		}
		if restored {
			restoration[linkIMPI.String] = true
		}
		if linkIMPI.String == impi {
			impiLinks++
			if linkFlag.Bool {
				impiRegisteredLinks++
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for r := range registered {
		cur.RegisteredIMPIs = append(cur.RegisteredIMPIs, r)
	}
	sort.Strings(cur.RegisteredIMPIs)
	cur.IMPIRegistered = registered[impi] && impi != ""
	change, err := fn(cur)
	if err != nil {
		return err
	}
	reg := change.Registration
	if reg.State > hss.Unregistered {
		return fmt.Errorf("registration state %d: %w", reg.State, hss.ErrInvalid)
	}
	if reg != cur.Registration {
		if _, err := q.Exec(ctx, "UPDATE hss_impu SET reg_state = $2, scscf_name = $3, scscf_origin_host = $4,"+
			" pending_scscf = $5, updated_at = $6 WHERE implicit_set = $1",
			setID, int64(reg.State), reg.SCSCFName, reg.SCSCFOriginHost, reg.PendingSCSCF, now()); err != nil {
			return err
		}
	}
	switch {
	case reg.State != hss.Registered:
		// A set that is not registered is registered by no private identity.
		if len(registered) > 0 {
			if _, err = q.Exec(ctx, "UPDATE hss_impi_impu SET registered = $2 WHERE registered AND impu IN"+
				" (SELECT impu FROM hss_impu WHERE implicit_set = $1)", setID, false); err != nil {
				return err
			}
		}
		if len(restoration) > 0 {
			// The registration ends: so does what restores it (TS 23.380 §5.2, docs/hss.md "Restoration").
			_, err = q.Exec(ctx, "DELETE FROM hss_restoration WHERE implicit_set = $1", setID)
		}
	case impi != "":
		want := 0
		if change.IMPIRegistered {
			want = impiLinks
		}
		if impiRegisteredLinks != want {
			if _, err = q.Exec(ctx, "UPDATE hss_impi_impu SET registered = $3 WHERE impi = $1 AND impu IN"+
				" (SELECT impu FROM hss_impu WHERE implicit_set = $2)", impi, setID, change.IMPIRegistered); err != nil {
				return err
			}
		}
		switch {
		case change.IMPIRegistered && change.Restoration != nil:
			// TS 29.228 §6.1.2.1: the HSS stores the S-CSCF restoration information of the private identity,
			// replacing what it had.
			_, err = q.Exec(ctx, "INSERT INTO hss_restoration (implicit_set, impi, info, updated_at) VALUES ($1, $2, $3, $4)"+
				" ON CONFLICT (implicit_set, impi) DO UPDATE SET info = excluded.info, updated_at = excluded.updated_at",
				setID, impi, change.Restoration, now())
		case !change.IMPIRegistered && restoration[impi]:
			// This private identity's registration of the set ends; the others' go on.
			_, err = q.Exec(ctx, "DELETE FROM hss_restoration WHERE implicit_set = $1 AND impi = $2", setID, impi)
		}
	}
	return err
}

// Restoration implements hss.CxStore: one statement on an exact match.
func (s *Store) Restoration(ctx context.Context, impu string) ([][]byte, error) {
	q := s.b.Read()
	rows, err := q.Query(ctx, "SELECT r.info FROM hss_impu u JOIN hss_restoration r ON r.implicit_set = u.implicit_set"+
		" WHERE u.impu = $1 ORDER BY r.impi", impu)
	if err != nil {
		return nil, fmt.Errorf("restoration %s: %w", impu, err)
	}
	out, err := scanBlobs(rows)
	if err != nil || len(out) > 0 {
		if err != nil {
			return nil, fmt.Errorf("restoration %s: %w", impu, err)
		}
		return out, nil
	}
	// Nothing stored, or impu is not an exact match: the wildcard rule and the not-found case.
	pub, err := resolveIMPU(ctx, q, impu)
	if err != nil {
		return nil, fmt.Errorf("restoration %s: %w", impu, err)
	}
	if pub.IMPU == impu {
		return nil, nil
	}
	rows, err = q.Query(ctx, "SELECT info FROM hss_restoration WHERE implicit_set = $1 ORDER BY impi", pub.ImplicitSetID)
	if err != nil {
		return nil, fmt.Errorf("restoration %s: %w", impu, err)
	}
	if out, err = scanBlobs(rows); err != nil {
		return nil, fmt.Errorf("restoration %s: %w", impu, err)
	}
	return out, nil
}

func scanBlobs(rows Rows) ([][]byte, error) {
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, append([]byte(nil), b...))
	}
	return out, rows.Err()
}

// registrationTarget returns the implicit set of impu (resolved as GetIMPU does) after checking that impi,
// when given, exists and is associated with it: one statement when impu matches exactly.
func registrationTarget(ctx context.Context, q Querier, impi, impu string) (string, error) {
	var (
		setID                  string
		impiExists, associated bool
	)
	err := q.QueryRow(ctx, "SELECT implicit_set, EXISTS (SELECT 1 FROM hss_impi WHERE impi = $2),"+
		" EXISTS (SELECT 1 FROM hss_impi_impu WHERE impi = $2 AND impu = $1) FROM hss_impu WHERE impu = $1",
		impu, impi).Scan(&setID, &impiExists, &associated)
	switch {
	case isNoRows(err):
		// No exact match: the wildcard rule.
		pub, err := resolveIMPU(ctx, q, impu)
		if err != nil {
			return "", err
		}
		if impi != "" {
			ok, err := isAssociated(ctx, q, impi, pub.IMPU)
			if err != nil {
				return "", err
			}
			if !ok {
				return "", hss.ErrNotAssociated
			}
		}
		return pub.ImplicitSetID, nil
	case err != nil:
		return "", err
	case impi == "":
		return setID, nil
	case !impiExists:
		return "", fmt.Errorf("impi %s: %w", impi, hss.ErrNotFound)
	case !associated:
		return "", hss.ErrNotAssociated
	}
	return setID, nil
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
	err := s.b.Tx(ctx, func(q Querier) error { return s.updateSQN(ctx, q, impi, fn) })
	if err != nil {
		return fmt.Errorf("update sqn %s: %w", impi, err)
	}
	return nil
}

func (s *Store) updateSQN(ctx context.Context, q Querier, impi string, fn func(current uint64) (uint64, error)) error {
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
}
