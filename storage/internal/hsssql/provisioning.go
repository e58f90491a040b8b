package hsssql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/imscore/imscore/hss"
)

// ---- subscribers -------------------------------------------------------------------------------------

// impiArgs returns the values of impiColumns for p.
func impiArgs(p *hss.PrivateIdentity, t time.Time) ([]any, error) {
	visited, err := encodeJSON(nonNilStrings(p.AllowedVisitedNetworks))
	if err != nil {
		return nil, err
	}
	var caps, charging any
	if len(p.RequiredCapabilities.Mandatory)+len(p.RequiredCapabilities.Optional) > 0 {
		if caps, err = encodeJSON(p.RequiredCapabilities); err != nil {
			return nil, err
		}
	}
	if p.Charging != nil {
		if charging, err = encodeJSON(p.Charging); err != nil {
			return nil, err
		}
	}
	return []any{p.IMPI, p.IMSI, p.MSISDN, nullBytes(p.K), nullBytes(p.OP), nullBytes(p.OPc), p.AMF[:],
		int64(p.SQN), int64(p.AuthSchemes), p.DigestPassword, p.DigestHA1, visited, caps, charging, t, t}, nil
}

func nonNilStrings(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// impuArgs returns the values of impuColumns for a new identity; its registration starts empty.
func impuArgs(p *hss.PublicIdentity, defaultSet string, t time.Time) []any {
	set := p.ImplicitSetID
	if set == "" {
		set = defaultSet
	}
	return []any{p.IMPU, int64(p.Type), wildcardPrefix(p), p.Barred, p.DisplayName, set, p.ServiceProfileID,
		int64(hss.NotRegistered), "", "", "", t, t}
}

func wildcardPrefix(p *hss.PublicIdentity) any {
	if !p.Type.Wildcarded() {
		return nil
	}
	return hss.WildcardPrefix(p.IMPU)
}

func insertRow(ctx context.Context, q Querier, table string, columns []string, args []any) error {
	_, err := q.Exec(ctx, "INSERT INTO "+table+" ("+cols("", columns)+") VALUES ("+placeholders(len(columns))+")", args...)
	return err
}

// CreateSubscriber implements hss.ProvisioningStore.
func (s *Store) CreateSubscriber(ctx context.Context, sub hss.Subscriber) error {
	if err := sub.Validate(); err != nil {
		return fmt.Errorf("create subscriber: %w", err)
	}
	t := now()
	err := s.provTx(ctx, func(q Querier) error {
		for i := range sub.ServiceProfiles {
			if err := insertServiceProfile(ctx, q, &sub.ServiceProfiles[i], t); err != nil {
				return fmt.Errorf("service profile %s: %w", sub.ServiceProfiles[i].ID, err)
			}
		}
		args, err := impiArgs(&sub.Private, t)
		if err != nil {
			return err
		}
		if err := insertRow(ctx, q, "hss_impi", impiColumns, args); err != nil {
			return err
		}
		for i := range sub.Public {
			p := &sub.Public[i]
			if err := insertRow(ctx, q, "hss_impu", impuColumns, impuArgs(p, sub.Private.IMPI, t)); err != nil {
				return fmt.Errorf("impu %s: %w", p.IMPU, err)
			}
			if err := insertRow(ctx, q, "hss_impi_impu", linkColumns, []any{sub.Private.IMPI, p.IMPU, false}); err != nil {
				return fmt.Errorf("impu %s: %w", p.IMPU, err)
			}
		}
		for _, u := range sub.SharedIMPUs {
			if err := impuExists(ctx, q, u); err != nil {
				return fmt.Errorf("shared %w", err)
			}
			if err := insertRow(ctx, q, "hss_impi_impu", linkColumns, []any{sub.Private.IMPI, u, false}); err != nil {
				return fmt.Errorf("shared impu %s: %w", u, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create subscriber %s: %w", sub.Private.IMPI, s.b.Classify(err))
	}
	s.log.Debug("subscriber created", zapIMPI(sub.Private.IMPI))
	return nil
}

// BulkCreate implements hss.ProvisioningStore.
func (s *Store) BulkCreate(ctx context.Context, subs []hss.Subscriber) error {
	type ref struct{ sub, pub int } // one identity of one subscriber
	var (
		profiles []*hss.ServiceProfile
		seen     = map[string]bool{}
		impus    []ref
		links    []ref // pub < 0: -1-index into SharedIMPUs
	)
	for i := range subs {
		sub := &subs[i]
		if err := sub.Validate(); err != nil {
			return fmt.Errorf("bulk create: subscriber %d: %w", i, err)
		}
		for j := range sub.ServiceProfiles {
			if p := &sub.ServiceProfiles[j]; !seen[p.ID] {
				seen[p.ID] = true
				profiles = append(profiles, p)
			}
		}
		for j := range sub.Public {
			impus = append(impus, ref{i, j})
			links = append(links, ref{i, j})
		}
		for j := range sub.SharedIMPUs {
			links = append(links, ref{i, -1 - j})
		}
	}
	t := now()
	err := s.provTx(ctx, func(q Querier) error {
		for _, p := range profiles {
			if err := insertServiceProfile(ctx, q, p, t); err != nil {
				return fmt.Errorf("service profile %s: %w", p.ID, err)
			}
		}
		var encodeErr error
		err := s.b.Insert(ctx, q, "hss_impi", impiColumns, len(subs), func(i int) []any {
			args, err := impiArgs(&subs[i].Private, t)
			if err != nil && encodeErr == nil {
				encodeErr = fmt.Errorf("impi %s: %w", subs[i].Private.IMPI, err)
			}
			return args
		})
		if encodeErr != nil {
			return encodeErr
		}
		if err != nil {
			return fmt.Errorf("private identities: %w", err)
		}
		err = s.b.Insert(ctx, q, "hss_impu", impuColumns, len(impus), func(i int) []any {
			r := impus[i]
			return impuArgs(&subs[r.sub].Public[r.pub], subs[r.sub].Private.IMPI, t)
		})
		if err != nil {
			return fmt.Errorf("public identities: %w", err)
		}
		err = s.b.Insert(ctx, q, "hss_impi_impu", linkColumns, len(links), func(i int) []any {
			r := links[i]
			sub := &subs[r.sub]
			if r.pub < 0 {
				return []any{sub.Private.IMPI, sub.SharedIMPUs[-1-r.pub], false}
			}
			return []any{sub.Private.IMPI, sub.Public[r.pub].IMPU, false}
		})
		if err != nil {
			return fmt.Errorf("associations: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bulk create %d subscribers: %w", len(subs), s.b.Classify(err))
	}
	s.log.Info("subscribers created in bulk", zapCount(len(subs)))
	return nil
}

// GetSubscriber implements hss.ProvisioningStore.
func (s *Store) GetSubscriber(ctx context.Context, impi string) (*hss.Subscriber, error) {
	q := s.b.Read()
	p, err := getIMPI(ctx, q, impi)
	if err != nil {
		return nil, fmt.Errorf("get subscriber %s: %w", impi, err)
	}
	sub := &hss.Subscriber{Private: *p}
	if sub.Public, err = impusOfIMPI(ctx, q, impi); err != nil {
		return nil, fmt.Errorf("get subscriber %s: %w", impi, err)
	}
	if sub.ServiceProfiles, err = profilesOf(ctx, q, sub.Public, getServiceProfile); err != nil {
		return nil, fmt.Errorf("get subscriber %s: %w", impi, err)
	}
	return sub, nil
}

// DeleteSubscriber implements hss.ProvisioningStore.
func (s *Store) DeleteSubscriber(ctx context.Context, impi string) error {
	err := s.provTx(ctx, func(q Querier) error {
		impus, err := queryStrings(ctx, q, "SELECT impu FROM hss_impi_impu WHERE impi = $1", impi)
		if err != nil {
			return err
		}
		n, err := q.Exec(ctx, "DELETE FROM hss_impi WHERE impi = $1", impi) // associations cascade
		if err != nil {
			return err
		}
		if n == 0 {
			return hss.ErrNotFound
		}
		for _, u := range impus {
			// Shared identities stay with the private identities still associated with them.
			if _, err := q.Exec(ctx, "DELETE FROM hss_impu WHERE impu = $1 AND NOT EXISTS"+
				" (SELECT 1 FROM hss_impi_impu WHERE impu = $1)", u); err != nil {
				return fmt.Errorf("impu %s: %w", u, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete subscriber %s: %w", impi, s.b.Classify(err))
	}
	s.log.Debug("subscriber deleted", zapIMPI(impi))
	return nil
}

// ListSubscribers implements hss.ProvisioningStore.
func (s *Store) ListSubscribers(ctx context.Context, sq hss.SubscriberQuery) (*hss.SubscriberPage, error) {
	limit := sq.Limit
	if limit <= 0 {
		limit = hss.DefaultPageSize
	}
	if limit > hss.MaxPageSize {
		limit = hss.MaxPageSize
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if sq.After != "" {
		where = append(where, "impi > "+arg(sq.After))
	}
	prefix := func(column, p string) string {
		lo, hi, bounded := prefixRange(p)
		c := column + " >= " + arg(lo)
		if bounded {
			c += " AND " + column + " < " + arg(hi)
		}
		return c
	}
	if sq.IMSIPrefix != "" {
		where = append(where, prefix("imsi", sq.IMSIPrefix))
	}
	if sq.MSISDNPrefix != "" {
		where = append(where, prefix("msisdn", sq.MSISDNPrefix))
	}
	if sq.IMPUPrefix != "" {
		where = append(where, "EXISTS (SELECT 1 FROM hss_impi_impu l WHERE l.impi = hss_impi.impi AND "+
			prefix("l.impu", sq.IMPUPrefix)+")")
	}
	query := "SELECT " + cols("", impiColumns) + " FROM hss_impi"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY impi LIMIT %d", limit+1)

	q := s.b.Read()
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	page := &hss.SubscriberPage{}
	for rows.Next() {
		p, err := scanIMPI(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list subscribers: %w", err)
		}
		page.Subscribers = append(page.Subscribers, hss.Subscriber{Private: *p})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subscribers: %w", err)
	}
	if len(page.Subscribers) > limit {
		page.Subscribers = page.Subscribers[:limit]
		page.Next = page.Subscribers[limit-1].Private.IMPI
	}
	if len(page.Subscribers) == 0 {
		return page, nil
	}
	// The identities of the whole page in one query: the page is a contiguous IMPI range.
	index := make(map[string]int, len(page.Subscribers))
	for i, sub := range page.Subscribers {
		index[sub.Private.IMPI] = i
	}
	rows, err = q.Query(ctx, "SELECT "+cols("u.", impuColumns)+", l.impi FROM hss_impi_impu l"+
		" JOIN hss_impu u ON u.impu = l.impu WHERE l.impi >= $1 AND l.impi <= $2 ORDER BY l.impi, u.impu",
		page.Subscribers[0].Private.IMPI, page.Subscribers[len(page.Subscribers)-1].Private.IMPI)
	if err != nil {
		return nil, fmt.Errorf("list subscribers: identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var impi string
		u, err := scanIMPUThen(rows, &impi)
		if err != nil {
			return nil, fmt.Errorf("list subscribers: identities: %w", err)
		}
		if i, ok := index[impi]; ok {
			page.Subscribers[i].Public = append(page.Subscribers[i].Public, *u)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list subscribers: identities: %w", err)
	}
	return page, nil
}

// scanIMPUThen scans impuColumns followed by more columns.
func scanIMPUThen(r scanner, more ...any) (*hss.PublicIdentity, error) {
	return scanIMPU(tailScanner{r, more})
}

// tailScanner appends destinations after those of the caller.
type tailScanner struct {
	r    scanner
	more []any
}

func (t tailScanner) Scan(dest ...any) error {
	all := make([]any, 0, len(dest)+len(t.more))
	return t.r.Scan(append(append(all, dest...), t.more...)...)
}

// then returns a scanner whose Scan hands the destinations after the caller's to next: two scan functions
// reading one row (Identities: an IMPI's columns, then an IMPU's).
func (t tailScanner) then(next func(r scanner) error) scanner {
	return chainScanner{r: t.r, next: next}
}

type chainScanner struct {
	r    scanner
	next func(r scanner) error
}

func (c chainScanner) Scan(dest ...any) error {
	return c.next(collect{r: c.r, head: dest})
}

// collect is the scanner chainScanner gives next: its Scan scans the row into head followed by its dest.
type collect struct {
	r    scanner
	head []any
}

func (c collect) Scan(dest ...any) error {
	all := make([]any, 0, len(c.head)+len(dest))
	return c.r.Scan(append(append(all, c.head...), dest...)...)
}

// UpdatePrivateIdentity implements hss.ProvisioningStore.
func (s *Store) UpdatePrivateIdentity(ctx context.Context, p hss.PrivateIdentity) error {
	err := s.provTx(ctx, func(q Querier) error {
		cur, err := scanIMPI(q.QueryRow(ctx, "SELECT "+cols("", impiColumns)+" FROM hss_impi WHERE impi = $1"+
			s.b.ForUpdate(), p.IMPI))
		if isNoRows(err) {
			return hss.ErrNotFound
		}
		if err != nil {
			return err
		}
		// Keys and SQN are not this method's business: validate against the stored ones.
		p.K, p.OP, p.OPc, p.AMF, p.SQN = cur.K, cur.OP, cur.OPc, cur.AMF, cur.SQN
		if err := p.Validate(); err != nil {
			return err
		}
		args, err := impiArgs(&p, now())
		if err != nil {
			return err
		}
		// args follow impiColumns: 0 impi, 1 imsi, 2 msisdn, 8 auth_schemes, 9 password, 10 ha1,
		// 11 visited networks, 12 capabilities, 13 charging, 15 updated_at.
		_, err = q.Exec(ctx, "UPDATE hss_impi SET imsi = $2, msisdn = $3, auth_schemes = $4, digest_password = $5,"+
			" digest_ha1 = $6, visited_networks = $7, capabilities = $8, charging = $9, updated_at = $10 WHERE impi = $1",
			args[0], args[1], args[2], args[8], args[9], args[10], args[11], args[12], args[13], args[15])
		return err
	})
	if err != nil {
		return fmt.Errorf("update impi %s: %w", p.IMPI, s.b.Classify(err))
	}
	return nil
}

// UpdateKeys implements hss.ProvisioningStore.
func (s *Store) UpdateKeys(ctx context.Context, impi string, k hss.KeyUpdate) error {
	if err := k.Validate(); err != nil {
		return fmt.Errorf("update keys %s: %w", impi, err)
	}
	var sqn any
	if k.SQN != nil {
		sqn = int64(*k.SQN)
	}
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "UPDATE hss_impi SET k = $2, op = $3, opc = $4, amf = $5, sqn = COALESCE($6, sqn),"+
			" updated_at = $7 WHERE impi = $1",
			impi, nullBytes(k.K), nullBytes(k.OP), nullBytes(k.OPc), k.AMF[:], sqn, now())
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update keys %s: %w", impi, s.b.Classify(err))
	}
	s.log.Info("subscriber keys replaced", zapIMPI(impi), zapBool("sqn_reset", k.SQN != nil))
	return nil
}

// ---- public identities ------------------------------------------------------------------------------

// AddIMPU implements hss.ProvisioningStore.
func (s *Store) AddIMPU(ctx context.Context, impi string, p hss.PublicIdentity) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("add impu: %w", err)
	}
	t := now()
	err := s.provTx(ctx, func(q Querier) error {
		if err := impiExists(ctx, q, impi); err != nil {
			return err
		}
		if err := insertRow(ctx, q, "hss_impu", impuColumns, impuArgs(&p, impi, t)); err != nil {
			return err
		}
		return insertRow(ctx, q, "hss_impi_impu", linkColumns, []any{impi, p.IMPU, false})
	})
	if err != nil {
		return fmt.Errorf("add impu %s to %s: %w", p.IMPU, impi, s.b.Classify(err))
	}
	return nil
}

// UpdateIMPU implements hss.ProvisioningStore.
func (s *Store) UpdateIMPU(ctx context.Context, p hss.PublicIdentity) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("update impu: %w", err)
	}
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "UPDATE hss_impu SET identity_type = $2, wildcard_prefix = $3, barred = $4,"+
			" display_name = $5, implicit_set = COALESCE(NULLIF(CAST($6 AS TEXT), ''), implicit_set),"+
			" service_profile_id = $7, updated_at = $8 WHERE impu = $1",
			p.IMPU, int64(p.Type), wildcardPrefix(&p), p.Barred, p.DisplayName, p.ImplicitSetID, p.ServiceProfileID, now())
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update impu %s: %w", p.IMPU, s.b.Classify(err))
	}
	return nil
}

// DeleteIMPU implements hss.ProvisioningStore.
func (s *Store) DeleteIMPU(ctx context.Context, impu string) error {
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "DELETE FROM hss_impu WHERE impu = $1", impu)
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete impu %s: %w", impu, s.b.Classify(err))
	}
	return nil
}

// LinkIMPU implements hss.ProvisioningStore.
func (s *Store) LinkIMPU(ctx context.Context, impi, impu string) error {
	err := s.provTx(ctx, func(q Querier) error {
		if err := impiExists(ctx, q, impi); err != nil {
			return err
		}
		if err := impuExists(ctx, q, impu); err != nil {
			return err
		}
		_, err := q.Exec(ctx, "INSERT INTO hss_impi_impu (impi, impu, registered) VALUES ($1, $2, $3)"+
			" ON CONFLICT (impi, impu) DO NOTHING", impi, impu, false)
		return err
	})
	if err != nil {
		return fmt.Errorf("link %s %s: %w", impi, impu, s.b.Classify(err))
	}
	return nil
}

// UnlinkIMPU implements hss.ProvisioningStore.
func (s *Store) UnlinkIMPU(ctx context.Context, impi, impu string) error {
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "DELETE FROM hss_impi_impu WHERE impi = $1 AND impu = $2", impi, impu)
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("unlink %s %s: %w", impi, impu, s.b.Classify(err))
	}
	return nil
}

// ---- service profiles and shared iFC sets ------------------------------------------------------------

func insertServiceProfile(ctx context.Context, q Querier, p *hss.ServiceProfile, t time.Time) error {
	ifcs, err := ifcsJSON(p.IFCs)
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, "INSERT INTO hss_service_profile (id, media_profile_id, ifcs, created_at, updated_at)"+
		" VALUES ($1, $2, $3, $4, $4)", p.ID, mediaProfileArg(p), ifcs, t); err != nil {
		return err
	}
	return insertSharedLinks(ctx, q, p)
}

func insertSharedLinks(ctx context.Context, q Querier, p *hss.ServiceProfile) error {
	for _, id := range p.SharedIFCSetIDs {
		if _, err := q.Exec(ctx, "INSERT INTO hss_service_profile_shared_ifc_set (profile_id, set_id) VALUES ($1, $2)",
			p.ID, int64(id)); err != nil {
			return fmt.Errorf("shared iFC set %d: %w", id, err)
		}
	}
	return nil
}

func mediaProfileArg(p *hss.ServiceProfile) any {
	if p.SubscribedMediaProfileID == nil {
		return nil
	}
	return int64(*p.SubscribedMediaProfileID)
}

// CreateServiceProfile implements hss.ProvisioningStore.
func (s *Store) CreateServiceProfile(ctx context.Context, p hss.ServiceProfile) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("create service profile: %w", err)
	}
	err := s.provTx(ctx, func(q Querier) error { return insertServiceProfile(ctx, q, &p, now()) })
	if err != nil {
		return fmt.Errorf("create service profile %s: %w", p.ID, s.b.Classify(err))
	}
	return nil
}

// UpdateServiceProfile implements hss.ProvisioningStore.
func (s *Store) UpdateServiceProfile(ctx context.Context, p hss.ServiceProfile) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("update service profile: %w", err)
	}
	err := s.provTx(ctx, func(q Querier) error {
		ifcs, err := ifcsJSON(p.IFCs)
		if err != nil {
			return err
		}
		n, err := q.Exec(ctx, "UPDATE hss_service_profile SET media_profile_id = $2, ifcs = $3, updated_at = $4"+
			" WHERE id = $1", p.ID, mediaProfileArg(&p), ifcs, now())
		if err != nil {
			return err
		}
		if n == 0 {
			return hss.ErrNotFound
		}
		if _, err := q.Exec(ctx, "DELETE FROM hss_service_profile_shared_ifc_set WHERE profile_id = $1", p.ID); err != nil {
			return err
		}
		return insertSharedLinks(ctx, q, &p)
	})
	if err != nil {
		return fmt.Errorf("update service profile %s: %w", p.ID, s.b.Classify(err))
	}
	return nil
}

// GetServiceProfile implements hss.ProvisioningStore.
func (s *Store) GetServiceProfile(ctx context.Context, id string) (*hss.ServiceProfile, error) {
	p, err := getServiceProfile(ctx, s.b.Read(), id)
	if err != nil {
		return nil, fmt.Errorf("get service profile %s: %w", id, err)
	}
	return p, nil
}

func scanServiceProfile(r scanner) (*hss.ServiceProfile, error) {
	var (
		p     hss.ServiceProfile
		media sql.NullInt64
		ifcs  []byte
	)
	if err := r.Scan(&p.ID, &media, &ifcs, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	if media.Valid {
		v := int32(media.Int64)
		p.SubscribedMediaProfileID = &v
	}
	var err error
	if p.IFCs, err = decodeIFCs(ifcs); err != nil {
		return nil, fmt.Errorf("service profile %s: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return &p, nil
}

func getServiceProfile(ctx context.Context, q Querier, id string) (*hss.ServiceProfile, error) {
	p, err := scanServiceProfile(q.QueryRow(ctx, "SELECT id, media_profile_id, ifcs, created_at, updated_at"+
		" FROM hss_service_profile WHERE id = $1", id))
	if isNoRows(err) {
		return nil, hss.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, "SELECT set_id FROM hss_service_profile_shared_ifc_set WHERE profile_id = $1 ORDER BY set_id", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var setID int64
		if err := rows.Scan(&setID); err != nil {
			return nil, err
		}
		p.SharedIFCSetIDs = append(p.SharedIFCSetIDs, int32(setID))
	}
	return p, rows.Err()
}

// DeleteServiceProfile implements hss.ProvisioningStore.
func (s *Store) DeleteServiceProfile(ctx context.Context, id string) error {
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "DELETE FROM hss_service_profile WHERE id = $1", id)
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete service profile %s: %w", id, s.b.Classify(err))
	}
	return nil
}

// ListServiceProfiles implements hss.ProvisioningStore.
func (s *Store) ListServiceProfiles(ctx context.Context) ([]hss.ServiceProfile, error) {
	q := s.b.Read()
	rows, err := q.Query(ctx, "SELECT id, media_profile_id, ifcs, created_at, updated_at FROM hss_service_profile ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list service profiles: %w", err)
	}
	var out []hss.ServiceProfile
	index := map[string]int{}
	for rows.Next() {
		p, err := scanServiceProfile(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list service profiles: %w", err)
		}
		index[p.ID] = len(out)
		out = append(out, *p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list service profiles: %w", err)
	}
	rows, err = q.Query(ctx, "SELECT profile_id, set_id FROM hss_service_profile_shared_ifc_set ORDER BY profile_id, set_id")
	if err != nil {
		return nil, fmt.Errorf("list service profiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id    string
			setID int64
		)
		if err := rows.Scan(&id, &setID); err != nil {
			return nil, fmt.Errorf("list service profiles: %w", err)
		}
		if i, ok := index[id]; ok {
			out[i].SharedIFCSetIDs = append(out[i].SharedIFCSetIDs, int32(setID))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list service profiles: %w", err)
	}
	return out, nil
}

// CreateSharedIFCSet implements hss.ProvisioningStore.
func (s *Store) CreateSharedIFCSet(ctx context.Context, set hss.SharedIFCSet) error {
	if err := set.Validate(); err != nil {
		return fmt.Errorf("create shared iFC set: %w", err)
	}
	err := s.provTx(ctx, func(q Querier) error {
		ifcs, err := ifcsJSON(set.IFCs)
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, "INSERT INTO hss_shared_ifc_set (id, ifcs, created_at, updated_at) VALUES ($1, $2, $3, $3)",
			int64(set.ID), ifcs, now())
		return err
	})
	if err != nil {
		return fmt.Errorf("create shared iFC set %d: %w", set.ID, s.b.Classify(err))
	}
	return nil
}

// UpdateSharedIFCSet implements hss.ProvisioningStore.
func (s *Store) UpdateSharedIFCSet(ctx context.Context, set hss.SharedIFCSet) error {
	if err := set.Validate(); err != nil {
		return fmt.Errorf("update shared iFC set: %w", err)
	}
	err := s.provTx(ctx, func(q Querier) error {
		ifcs, err := ifcsJSON(set.IFCs)
		if err != nil {
			return err
		}
		n, err := q.Exec(ctx, "UPDATE hss_shared_ifc_set SET ifcs = $2, updated_at = $3 WHERE id = $1",
			int64(set.ID), ifcs, now())
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("update shared iFC set %d: %w", set.ID, s.b.Classify(err))
	}
	return nil
}

// GetSharedIFCSet implements hss.ProvisioningStore.
func (s *Store) GetSharedIFCSet(ctx context.Context, id int32) (*hss.SharedIFCSet, error) {
	set, err := getSharedIFCSet(ctx, s.b.Read(), id)
	if err != nil {
		return nil, fmt.Errorf("get shared iFC set %d: %w", id, err)
	}
	return set, nil
}

func scanSharedIFCSet(r scanner) (*hss.SharedIFCSet, error) {
	var (
		set  hss.SharedIFCSet
		id   int64
		ifcs []byte
	)
	if err := r.Scan(&id, &ifcs, &set.CreatedAt, &set.UpdatedAt); err != nil {
		return nil, err
	}
	set.ID = int32(id)
	var err error
	if set.IFCs, err = decodeIFCs(ifcs); err != nil {
		return nil, fmt.Errorf("shared iFC set %d: %w", id, err)
	}
	set.CreatedAt, set.UpdatedAt = set.CreatedAt.UTC(), set.UpdatedAt.UTC()
	return &set, nil
}

func getSharedIFCSet(ctx context.Context, q Querier, id int32) (*hss.SharedIFCSet, error) {
	set, err := scanSharedIFCSet(q.QueryRow(ctx, "SELECT id, ifcs, created_at, updated_at FROM hss_shared_ifc_set WHERE id = $1", int64(id)))
	if isNoRows(err) {
		return nil, hss.ErrNotFound
	}
	return set, err
}

// DeleteSharedIFCSet implements hss.ProvisioningStore.
func (s *Store) DeleteSharedIFCSet(ctx context.Context, id int32) error {
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "DELETE FROM hss_shared_ifc_set WHERE id = $1", int64(id))
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete shared iFC set %d: %w", id, s.b.Classify(err))
	}
	return nil
}

// ListSharedIFCSets implements hss.ProvisioningStore.
func (s *Store) ListSharedIFCSets(ctx context.Context) ([]hss.SharedIFCSet, error) {
	rows, err := s.b.Read().Query(ctx, "SELECT id, ifcs, created_at, updated_at FROM hss_shared_ifc_set ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("list shared iFC sets: %w", err)
	}
	defer rows.Close()
	var out []hss.SharedIFCSet
	for rows.Next() {
		set, err := scanSharedIFCSet(rows)
		if err != nil {
			return nil, fmt.Errorf("list shared iFC sets: %w", err)
		}
		out = append(out, *set)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list shared iFC sets: %w", err)
	}
	return out, nil
}

// ---- S-CSCFs and charging ----------------------------------------------------------------------------

// PutSCSCF implements hss.ProvisioningStore.
func (s *Store) PutSCSCF(ctx context.Context, c hss.SCSCF) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("put s-cscf: %w", err)
	}
	mandatory, err := encodeJSON(nonNilUint32s(c.Capabilities.Mandatory))
	if err != nil {
		return fmt.Errorf("put s-cscf %s: %w", c.Name, err)
	}
	optional, err := encodeJSON(nonNilUint32s(c.Capabilities.Optional))
	if err != nil {
		return fmt.Errorf("put s-cscf %s: %w", c.Name, err)
	}
	err = s.provTx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, "INSERT INTO hss_scscf (name, mandatory, optional, updated_at) VALUES ($1, $2, $3, $4)"+
			" ON CONFLICT (name) DO UPDATE SET mandatory = excluded.mandatory, optional = excluded.optional,"+
			" updated_at = excluded.updated_at", c.Name, mandatory, optional, now())
		return err
	})
	if err != nil {
		return fmt.Errorf("put s-cscf %s: %w", c.Name, s.b.Classify(err))
	}
	return nil
}

func nonNilUint32s(v []uint32) []uint32 {
	if v == nil {
		return []uint32{}
	}
	return v
}

// DeleteSCSCF implements hss.ProvisioningStore.
func (s *Store) DeleteSCSCF(ctx context.Context, name string) error {
	err := s.provTx(ctx, func(q Querier) error {
		n, err := q.Exec(ctx, "DELETE FROM hss_scscf WHERE name = $1", name)
		if err == nil && n == 0 {
			err = hss.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("delete s-cscf %s: %w", name, s.b.Classify(err))
	}
	return nil
}

// SetDefaultChargingInfo implements hss.ProvisioningStore.
func (s *Store) SetDefaultChargingInfo(ctx context.Context, c hss.ChargingInfo) error {
	v, err := encodeJSON(c)
	if err != nil {
		return fmt.Errorf("set default charging info: %w", err)
	}
	err = s.provTx(ctx, func(q Querier) error {
		_, err := q.Exec(ctx, "INSERT INTO hss_default_charging (id, charging, updated_at) VALUES (1, $1, $2)"+
			" ON CONFLICT (id) DO UPDATE SET charging = excluded.charging, updated_at = excluded.updated_at", v, now())
		return err
	})
	if err != nil {
		return fmt.Errorf("set default charging info: %w", s.b.Classify(err))
	}
	return nil
}
