package console

import (
	"context"
	"strings"

	"github.com/imscore/imscore/hss/provision"
	"github.com/imscore/imscore/internal/regstate"
)

// The per-subscriber page's live state: the contacts the S-CSCF holds for each registered implicit set and
// the P-CSCF's bindings with the UE's address and SA sets, read from the admin routes of the nodes named
// scscf… and pcscf… with Options.NodeToken (internal/regstate).

// liveData is the page's section.
type liveData struct {
	// Asked: a token and at least one S-CSCF to ask.
	Asked         bool
	Registrations []liveRegistration
	Bindings      []liveBinding
	// Errors name the nodes that could not be read.
	Errors []string
}

type liveRegistration struct {
	Node string
	Reg  regstate.Registration
}

type liveBinding struct {
	Node string
	B    regstate.Binding
}

// liveBindings asks the S-CSCFs for the registration of each registered implicit set of s, then the P-CSCFs
// for the bindings of each registration's IMPU.
func (c *Console) liveBindings(ctx context.Context, s *provision.Subscriber) *liveData {
	d := &liveData{}
	var scscfs, pcscfs []Node
	for _, n := range c.nodes {
		switch {
		case strings.HasPrefix(n.Name, "scscf"):
			scscfs = append(scscfs, n)
		case strings.HasPrefix(n.Name, "pcscf"):
			pcscfs = append(pcscfs, n)
		}
	}
	if c.nodeTok == "" || len(scscfs) == 0 {
		return d
	}
	d.Asked = true
	rc := &regstate.Client{HTTP: c.hc, Token: c.nodeTok}
	sets := map[string]bool{}
	for _, u := range s.IMPUs {
		if u.Registration.State != "REGISTERED" || sets[u.ImplicitSet] {
			continue
		}
		sets[u.ImplicitSet] = true
		for _, n := range scscfs {
			regs, err := rc.SCSCF(ctx, n.URL, u.IMPU, "")
			if err != nil {
				d.Errors = append(d.Errors, n.Name+": "+err.Error())
				continue
			}
			if len(regs) > 0 {
				d.Registrations = append(d.Registrations, liveRegistration{Node: n.Name, Reg: regs[0]})
				break
			}
		}
	}
	for _, reg := range d.Registrations {
		for _, n := range pcscfs {
			bs, err := rc.PCSCF(ctx, n.URL, reg.Reg.IMPU)
			if err != nil {
				d.Errors = append(d.Errors, n.Name+": "+err.Error())
				continue
			}
			for _, b := range bs {
				d.Bindings = append(d.Bindings, liveBinding{Node: n.Name, B: b})
			}
		}
	}
	return d
}
