package pcscf

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/regstate"
)

// The admin listener's read-only view of the bindings (imsctl contacts, the console): GET
// /admin/v1/bindings?impu=URI, behind a token with the read scope (admin.tokens_file, checked as the HSS's
// provisioning API checks its own). It reads copies through Node.Bindings and shows the SA sets' ports, SPIs
// and algorithms, never CK or IK.

// mountBindings serves the route on mux.
func (n *Node) mountBindings(mux *http.ServeMux, admin *adminhttp.Admin) {
	mux.Handle("GET "+regstate.PCSCFPath, admin.Guard().Require(httpauth.ScopeRead, http.HandlerFunc(n.serveBindings)))
}

func (n *Node) serveBindings(w http.ResponseWriter, r *http.Request) {
	impu := r.URL.Query().Get("impu")
	if impu == "" {
		httpauth.WriteError(w, http.StatusBadRequest, "invalid_request", "give impu")
		return
	}
	now := time.Now()
	regs := n.Bindings(impu)
	out := regstate.Bindings{Bindings: make([]regstate.Binding, 0, len(regs))}
	for i := range regs {
		out.Bindings = append(out.Bindings, bindingView(&regs[i], now))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// bindingView is what the admin route shows of a binding.
func bindingView(b *Registration, now time.Time) regstate.Binding {
	v := regstate.Binding{IMPU: b.IMPU, IMPI: b.IMPI, ContactID: b.Contact, Transport: b.Transport,
		Registered: b.Registered(now), Expires: b.Expires, Associated: b.Associated, ServiceRoute: b.ServiceRoute}
	if b.ContactHost != "" {
		v.Contact = net.JoinHostPort(b.ContactHost, strconv.Itoa(int(b.ContactPort)))
	}
	if b.Source.IsValid() {
		v.Source = b.Source.String()
	}
	for _, sa := range b.SAs {
		p := sa.Pair
		v.SAs = append(v.SAs, regstate.SASet{
			UE:        regstate.Endpoint{Addr: p.UE.Addr.String(), PortC: p.UE.PortC, PortS: p.UE.PortS, SPIC: p.UE.SPIC, SPIS: p.UE.SPIS},
			PCSCF:     regstate.Endpoint{Addr: p.PCSCF.Addr.String(), PortC: p.PCSCF.PortC, PortS: p.PCSCF.PortS, SPIC: p.PCSCF.SPIC, SPIS: p.PCSCF.SPIS},
			Integrity: string(p.Algs.Integrity), Encryption: string(p.Algs.Encryption), Proto: p.Proto.String(),
			Expires: sa.Expires, Confirmed: sa.Confirmed})
	}
	return v
}
