package scscf

import (
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/httpauth"
	"github.com/imscore/imscore/internal/regstate"
	"github.com/imscore/imscore/services/scscf/registrar"
)

// The admin listener's read-only view of the registrar (imsctl contacts, the console): GET
// /admin/v1/registrations?impu=URI or ?impi=IMPI, behind a token with the read scope (the tokens file of
// admin.tokens_file, checked as the HSS's provisioning API checks its own). It reads through the Table's
// public API: a copy of each registration, never the AKA challenges.

// mountRegistrations serves the route on mux.
func (s *Server) mountRegistrations(mux *http.ServeMux) {
	mux.Handle("GET "+regstate.SCSCFPath, s.admin.Guard().Require(httpauth.ScopeRead, http.HandlerFunc(s.serveRegistrations)))
}

func (s *Server) serveRegistrations(w http.ResponseWriter, r *http.Request) {
	impu, impi := r.URL.Query().Get("impu"), r.URL.Query().Get("impi")
	if (impu == "") == (impi == "") {
		httpauth.WriteError(w, http.StatusBadRequest, "invalid_request", "give impu or impi")
		return
	}
	var (
		regs []*registrar.Registration
		err  error
	)
	if impu != "" {
		var reg *registrar.Registration
		if reg, err = s.table.Registration(r.Context(), impu); err == nil {
			regs = []*registrar.Registration{reg}
		}
	} else {
		regs, err = s.table.RegistrationsByIMPI(r.Context(), impi)
	}
	if err != nil && !errors.Is(err, registrar.ErrNotFound) {
		s.log.Warn("admin: registration lookup failed", zap.String("impu", impu), zap.String("impi", impi), zap.Error(err))
		httpauth.WriteError(w, http.StatusInternalServerError, "internal", "registration lookup failed")
		return
	}
	out := regstate.Registrations{Registrations: make([]regstate.Registration, 0, len(regs))}
	for _, reg := range regs {
		out.Registrations = append(out.Registrations, registrationView(reg))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

// registrationView is what the admin route shows of a registration: no profile, no HSS session but its name.
func registrationView(reg *registrar.Registration) regstate.Registration {
	v := regstate.Registration{IMPU: reg.IMPU, IMPI: reg.IMPI, SCSCFName: reg.HSS.ServerName, Expires: reg.Expires,
		Contacts: make([]regstate.Contact, 0, len(reg.Contacts))}
	for _, id := range reg.Identities {
		v.Identities = append(v.Identities, regstate.Identity{URI: id.URI, Barred: id.Barred})
	}
	for _, c := range reg.Contacts {
		inst, regID := regstate.ContactInstance(c.Params)
		v.Contacts = append(v.Contacts, regstate.Contact{URI: c.URI, Instance: inst, RegID: regID, Params: c.Params,
			Path: c.Path, Expires: c.Expires, CallID: c.CallID, CSeq: c.CSeq, UserAgent: c.UserAgent})
	}
	return v
}
