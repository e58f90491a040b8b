package icscf

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/diameter/cx"
)

// candidate is one S-CSCF a request may be sent to.
type candidate struct {
	name string  // the Server-Name as the HSS knows it
	uri  sip.Uri // name parsed: goes into the Route header
	key  string  // canonicalServerName
	addr netip.AddrPort
	caps []uint32
}

// directory holds the configured S-CSCFs.
type directory struct {
	list []candidate
}

func newDirectory(cfgs []SCSCF) (*directory, error) {
	d := &directory{}
	for _, c := range cfgs {
		cand, err := newCandidate(c.Name)
		if err != nil {
			return nil, err
		}
		if c.Address != "" {
			ap, err := netip.ParseAddrPort(c.Address)
			if err != nil {
				return nil, fmt.Errorf("scscf %s address %q: %w", c.Name, c.Address, err)
			}
			cand.addr = ap
		}
		cand.caps = slices.Clone(c.Capabilities)
		d.list = append(d.list, cand)
	}
	return d, nil
}

func newCandidate(name string) (candidate, error) {
	u, err := parseSIPURI(name)
	if err != nil {
		return candidate{}, fmt.Errorf("scscf %q: %w", name, err)
	}
	return candidate{name: name, uri: u, key: canonicalServerName(u)}, nil
}

// lookup returns the S-CSCF named name: the configured entry (with its address) or, for a name not
// configured, one resolved from the URI when forwarded.
func (d *directory) lookup(name string) (candidate, error) {
	c, err := newCandidate(name)
	if err != nil {
		return c, err
	}
	for _, k := range d.list {
		if k.key == c.key {
			k.name = name
			return k, nil
		}
	}
	return c, nil
}

// configured returns the configured S-CSCF a URI names (same scheme, host and port), if any.
func (d *directory) configured(u sip.Uri) (candidate, bool) {
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return candidate{}, false
	}
	key := canonicalServerName(u)
	for _, c := range d.list {
		if c.key == key {
			return c, true
		}
	}
	return candidate{}, false
}

// selectByCapabilities chooses an S-CSCF per TS 29.228 §6.7 and Annex A: it must offer every mandatory
// capability (or be named by the HSS, when its capabilities are not configured); among those, S-CSCFs the HSS named in Server-Capabilities come first, then those offering more
// of the optional capabilities, then configuration order. S-CSCFs in tried are skipped (TS 24.229 §5.3.1.3:
// a new S-CSCF). A nil sc means no requirement: any S-CSCF will do.
func (d *directory) selectByCapabilities(sc *cx.ServerCapabilities, tried map[string]bool) (candidate, error) {
	var mandatory, optional []uint32
	var named []string
	if sc != nil {
		mandatory, optional, named = sc.MandatoryCapabilities, sc.OptionalCapabilities, sc.ServerNames
	}
	namedKeys := make(map[string]bool)
	for _, n := range named {
		if c, err := newCandidate(n); err == nil {
			namedKeys[c.key] = true
		}
	}
	best, bestScore := -1, -1
	for i, c := range d.list {
		if tried[c.key] {
			continue
		}
		// An S-CSCF configured without capabilities has unknown ones: it qualifies when the HSS names it (the
		// HSS lists S-CSCFs that offer every mandatory capability), else only when nothing is mandatory.
		unknown := len(c.caps) == 0
		if !hasAll(c.caps, mandatory) && !(unknown && namedKeys[c.key]) {
			continue
		}
		score := countIn(c.caps, optional)
		if namedKeys[c.key] {
			score += 1 << 16 // an S-CSCF the HSS named outranks any number of optional capabilities
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best >= 0 {
		return d.list[best], nil
	}
	// Server-Name entries not configured here are still usable, resolved from their URI (TS 29.228 §6.7:
	// the names are of S-CSCFs the I-CSCF may select), provided nothing mandatory is asked for: their
	// capabilities are unknown.
	if len(mandatory) == 0 {
		for _, n := range named {
			c, err := d.lookup(n)
			if err == nil && !tried[c.key] {
				return c, nil
			}
		}
	}
	return candidate{}, ErrNoSCSCF
}

func hasAll(have, want []uint32) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func countIn(have, want []uint32) int {
	n := 0
	for _, w := range want {
		if slices.Contains(have, w) {
			n++
		}
	}
	return n
}
