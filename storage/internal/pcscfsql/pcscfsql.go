// Package pcscfsql is the P-CSCF's binding journal (services/pcscf/bindings.Store) in SQL, shared by the SQLite
// and PostgreSQL backends (migration 0005_pcscf): a row per binding, a row per SA set, a version per binding
// compared and set on every write.
package pcscfsql

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/storage/internal/hsssql"
)

// Backend is what a storage backend gives the journal: reads, and write transactions ($N placeholders).
type Backend interface {
	Read() hsssql.Querier
	Tx(ctx context.Context, fn func(q hsssql.Querier) error) error
}

// Store implements bindings.Store on a Backend.
type Store struct{ B Backend }

const bindingCols = `impu, impi, contact_host, contact_port, transport, source, associated, service_route, expires_ms,
	sub_call_id, sub_local_tag, sub_peer, sub_expires_ms`

const saCols = `position, ue_addr, ue_port_c, ue_port_s, ue_spi_c, ue_spi_s, pcscf_addr, pcscf_port_c, pcscf_port_s,
	pcscf_spi_c, pcscf_spi_s, integrity, encryption, proto, ik, ck, security_server, security_client, expires_ms,
	confirmed, outbound_seq`

// LoadBindings implements bindings.Store.
func (s Store) LoadBindings(ctx context.Context, owner string) ([]bindings.Stored, error) {
	rows, err := s.B.Read().Query(ctx, `SELECT impu_key, contact, version, `+bindingCols+`
		FROM pcscf_binding WHERE owner = $1 ORDER BY impu_key, contact`, owner)
	if err != nil {
		return nil, fmt.Errorf("pcscf bindings of %s: %w", owner, err)
	}
	var out []bindings.Stored
	idx := map[bindings.Key]int{}
	for rows.Next() {
		var st bindings.Stored
		var k bindings.Key
		var port, exp, subExp int64
		var source, assoc, routes, callID, tag, peer string
		if err := rows.Scan(&k.IMPU, &k.Contact, &st.Version, &st.IMPU, &st.IMPI, &st.ContactHost, &port, &st.Transport,
			&source, &assoc, &routes, &exp, &callID, &tag, &peer, &subExp); err != nil {
			rows.Close()
			return nil, fmt.Errorf("pcscf bindings of %s: %w", owner, err)
		}
		st.Contact, st.ContactPort = k.Contact, uint16(port)
		st.Source, _ = netip.ParseAddrPort(source)
		st.Associated, st.ServiceRoute = lines(assoc), lines(routes)
		st.Expires = fromMS(exp)
		if callID != "" {
			p, _ := netip.ParseAddr(peer)
			st.RegEvent = &bindings.RegEvent{CallID: callID, LocalTag: tag, Peer: p, IMPU: st.IMPU, Contact: k.Contact, Expires: fromMS(subExp)}
		}
		idx[k] = len(out)
		out = append(out, st)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, fmt.Errorf("pcscf bindings of %s: %w", owner, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	sas, err := s.B.Read().Query(ctx, `SELECT s.impu_key, s.contact, `+prefixed("s.", saCols)+`
		FROM pcscf_sa s JOIN pcscf_binding b ON b.impu_key = s.impu_key AND b.contact = s.contact
		WHERE b.owner = $1 ORDER BY s.impu_key, s.contact, s.position`, owner)
	if err != nil {
		return nil, fmt.Errorf("pcscf SA sets of %s: %w", owner, err)
	}
	defer sas.Close()
	for sas.Next() {
		var k bindings.Key
		var pos, uePC, uePS, ueSC, ueSS, pPC, pPS, pSC, pSS, proto, exp, confirmed, seq int64
		var ueAddr, pAddr, integ, enc, server, client string
		var ik, ck []byte
		if err := sas.Scan(&k.IMPU, &k.Contact, &pos, &ueAddr, &uePC, &uePS, &ueSC, &ueSS, &pAddr, &pPC, &pPS, &pSC, &pSS,
			&integ, &enc, &proto, &ik, &ck, &server, &client, &exp, &confirmed, &seq); err != nil {
			return nil, fmt.Errorf("pcscf SA sets of %s: %w", owner, err)
		}
		i, ok := idx[k]
		if !ok {
			continue
		}
		sa := bindings.SASet{SecurityServer: server, SecurityClient: client, Expires: fromMS(exp), Confirmed: confirmed != 0,
			OutboundSeq: uint32(seq)}
		sa.Pair.UE = ipsec.Endpoint{Addr: addr(ueAddr), PortC: uint16(uePC), PortS: uint16(uePS), SPIC: uint32(ueSC), SPIS: uint32(ueSS)}
		sa.Pair.PCSCF = ipsec.Endpoint{Addr: addr(pAddr), PortC: uint16(pPC), PortS: uint16(pPS), SPIC: uint32(pSC), SPIS: uint32(pSS)}
		sa.Pair.Algs = ipsec.Algorithms{Integrity: ipsec.IntegrityAlg(integ), Encryption: ipsec.EncryptionAlg(enc)}
		sa.Pair.Proto = ipsec.Proto(proto)
		copy(sa.Pair.IK[:], ik)
		copy(sa.Pair.CK[:], ck)
		out[i].SAs = append(out[i].SAs, sa)
	}
	if err := sas.Err(); err != nil {
		return nil, fmt.Errorf("pcscf SA sets of %s: %w", owner, err)
	}
	return out, nil
}

// ApplyBindings implements bindings.Store.
func (s Store) ApplyBindings(ctx context.Context, owner string, changes []bindings.Change) ([]bindings.Outcome, error) {
	out := make([]bindings.Outcome, len(changes))
	err := s.B.Tx(ctx, func(q hsssql.Querier) error {
		for i, c := range changes {
			o, err := apply(ctx, q, owner, c)
			if err != nil {
				return fmt.Errorf("pcscf binding %s %s: %w", c.Key.IMPU, c.Key.Contact, err)
			}
			out[i] = o
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func apply(ctx context.Context, q hsssql.Querier, owner string, c bindings.Change) (bindings.Outcome, error) {
	if c.Binding == nil {
		if c.Version == 0 {
			return bindings.Outcome{}, nil // never written: nothing to remove
		}
		n, err := q.Exec(ctx, `DELETE FROM pcscf_binding WHERE impu_key = $1 AND contact = $2 AND version = $3`,
			c.Key.IMPU, c.Key.Contact, c.Version)
		if err != nil {
			return bindings.Outcome{}, err
		}
		if n == 0 {
			return bindings.Outcome{Lost: true}, nil
		}
		_, err = q.Exec(ctx, `DELETE FROM pcscf_sa WHERE impu_key = $1 AND contact = $2`, c.Key.IMPU, c.Key.Contact)
		return bindings.Outcome{}, err
	}
	b := c.Binding
	args := []any{c.Key.IMPU, c.Key.Contact, owner, b.IMPU, b.IMPI, b.ContactHost, int64(b.ContactPort), b.Transport,
		source(b.Source), strings.Join(b.Associated, "\n"), strings.Join(b.ServiceRoute, "\n"), toMS(b.Expires)}
	if e := b.RegEvent; e != nil {
		args = append(args, e.CallID, e.LocalTag, peer(e.Peer), toMS(e.Expires))
	} else {
		args = append(args, "", "", "", int64(0))
	}
	var version int64
	if c.Version == 0 {
		// New here: inserted, or the row of another node taken over at its next version (a UE registered again
		// through this P-CSCF); the other node's next compare-and-set fails and it lets the binding go.
		err := q.QueryRow(ctx, `INSERT INTO pcscf_binding (impu_key, contact, owner, version, `+bindingCols+`)
			VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (impu_key, contact) DO UPDATE SET owner = excluded.owner, version = pcscf_binding.version + 1,
			impu = excluded.impu, impi = excluded.impi, contact_host = excluded.contact_host,
			contact_port = excluded.contact_port, transport = excluded.transport, source = excluded.source,
			associated = excluded.associated, service_route = excluded.service_route, expires_ms = excluded.expires_ms,
			sub_call_id = excluded.sub_call_id, sub_local_tag = excluded.sub_local_tag, sub_peer = excluded.sub_peer,
			sub_expires_ms = excluded.sub_expires_ms
			RETURNING version`, args...).Scan(&version)
		if err != nil {
			return bindings.Outcome{}, err
		}
	} else {
		n, err := q.Exec(ctx, `UPDATE pcscf_binding SET owner = $3, version = version + 1, impu = $4, impi = $5,
			contact_host = $6, contact_port = $7, transport = $8, source = $9, associated = $10, service_route = $11,
			expires_ms = $12, sub_call_id = $13, sub_local_tag = $14, sub_peer = $15, sub_expires_ms = $16
			WHERE impu_key = $1 AND contact = $2 AND version = $17`, append(args, c.Version)...)
		if err != nil {
			return bindings.Outcome{}, err
		}
		if n == 0 {
			return bindings.Outcome{Lost: true}, nil
		}
		version = c.Version + 1
	}
	if _, err := q.Exec(ctx, `DELETE FROM pcscf_sa WHERE impu_key = $1 AND contact = $2`, c.Key.IMPU, c.Key.Contact); err != nil {
		return bindings.Outcome{}, err
	}
	for i, sa := range b.SAs {
		p := sa.Pair
		confirmed := int64(0)
		if sa.Confirmed {
			confirmed = 1
		}
		if _, err := q.Exec(ctx, `INSERT INTO pcscf_sa (impu_key, contact, `+saCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7,
			$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
			c.Key.IMPU, c.Key.Contact, int64(i), peer(p.UE.Addr), int64(p.UE.PortC), int64(p.UE.PortS), int64(p.UE.SPIC),
			int64(p.UE.SPIS), peer(p.PCSCF.Addr), int64(p.PCSCF.PortC), int64(p.PCSCF.PortS), int64(p.PCSCF.SPIC),
			int64(p.PCSCF.SPIS), string(p.Algs.Integrity), string(p.Algs.Encryption), int64(p.Proto), p.IK[:], p.CK[:],
			sa.SecurityServer, sa.SecurityClient, toMS(sa.Expires), confirmed, int64(sa.OutboundSeq)); err != nil {
			return bindings.Outcome{}, err
		}
	}
	return bindings.Outcome{Version: version}, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func toMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func source(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return ap.String()
}

func peer(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func addr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

var _ bindings.Store = Store{}
