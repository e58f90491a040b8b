package provision

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/imscore/imscore/hss"
)

// Service profiles, shared iFC sets (TS 29.228 Annex B.2, Annex E), S-CSCF capabilities (§6.7) and the
// default charging addresses (TS 29.229 §6.3.19).

func (h *handler) listProfiles(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.store.ListServiceProfiles(r.Context())
	if err != nil {
		return err
	}
	out := make([]Profile, 0, len(ps))
	for i := range ps {
		out = append(out, profileOut(&ps[i]))
	}
	writeJSON(w, http.StatusOK, struct {
		Profiles []Profile `json:"profiles"`
	}{out})
	return nil
}

func (h *handler) createProfile(w http.ResponseWriter, r *http.Request) error {
	var req Profile
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	sp, err := req.serviceProfile()
	if err != nil {
		return err
	}
	if err := h.store.CreateServiceProfile(r.Context(), sp); err != nil {
		return sharedSetRefError(err)
	}
	got, err := h.store.GetServiceProfile(r.Context(), sp.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/profiles/"+url.PathEscape(sp.ID))
	writeJSON(w, http.StatusCreated, profileOut(got))
	return nil
}

// sharedSetRefError names the field of a profile that references a missing shared iFC set.
func sharedSetRefError(err error) error {
	if errors.Is(err, hss.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "shared_ifc_set_ids",
			Message: err.Error(), cause: err}
	}
	return err
}

func (h *handler) getProfile(w http.ResponseWriter, r *http.Request) error {
	p, err := h.store.GetServiceProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileOut(p))
	return nil
}

func (h *handler) updateProfile(w http.ResponseWriter, r *http.Request) error {
	var req Profile
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if req.ID != "" && req.ID != id {
		return fieldError("id", "%q differs from the profile in the path", req.ID)
	}
	req.ID = id
	sp, err := req.serviceProfile()
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.store.UpdateServiceProfile(ctx, sp); err != nil {
		return sharedSetRefError(err)
	}
	// The iFCs of registered users changed: the S-CSCFs serving them get the new profile.
	impis, err := h.servedUsersOf(ctx, map[string]bool{id: true})
	if err != nil {
		return err
	}
	got, err := h.store.GetServiceProfile(ctx, id)
	if err != nil {
		return err
	}
	out := profileOut(got)
	out.ProfilePush = h.push(r, impis)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) deleteProfile(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteServiceProfile(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- shared iFC sets ----------------------------------------------------------------------------------

func ifcSetID(r *http.Request) (int32, error) {
	v := r.PathValue("id")
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fieldError("id", "%q: want a 32-bit integer", v)
	}
	return int32(n), nil
}

func (h *handler) listIFCSets(w http.ResponseWriter, r *http.Request) error {
	sets, err := h.store.ListSharedIFCSets(r.Context())
	if err != nil {
		return err
	}
	out := make([]IFCSet, 0, len(sets))
	for i := range sets {
		out = append(out, ifcSetOut(&sets[i]))
	}
	writeJSON(w, http.StatusOK, struct {
		IFCSets []IFCSet `json:"ifc_sets"`
	}{out})
	return nil
}

func (h *handler) createIFCSet(w http.ResponseWriter, r *http.Request) error {
	var req IFCSet
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	set, err := req.sharedIFCSet()
	if err != nil {
		return err
	}
	if err := h.store.CreateSharedIFCSet(r.Context(), set); err != nil {
		return err
	}
	got, err := h.store.GetSharedIFCSet(r.Context(), set.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/ifc-sets/"+strconv.Itoa(int(set.ID)))
	writeJSON(w, http.StatusCreated, ifcSetOut(got))
	return nil
}

func (h *handler) getIFCSet(w http.ResponseWriter, r *http.Request) error {
	id, err := ifcSetID(r)
	if err != nil {
		return err
	}
	set, err := h.store.GetSharedIFCSet(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ifcSetOut(set))
	return nil
}

func (h *handler) updateIFCSet(w http.ResponseWriter, r *http.Request) error {
	id, err := ifcSetID(r)
	if err != nil {
		return err
	}
	// The id member may be omitted; when given it must be the path's. Decode into a pointer to tell.
	var req struct {
		ID   *int32 `json:"id"`
		IFCs []IFC  `json:"ifcs"`
	}
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.ID != nil && *req.ID != id {
		return fieldError("id", "%d differs from the set in the path", *req.ID)
	}
	in := IFCSet{ID: id, IFCs: req.IFCs}
	set, err := in.sharedIFCSet()
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.store.UpdateSharedIFCSet(ctx, set); err != nil {
		return err
	}
	// Registered users of every profile referencing the set get it again (TS 29.228 Annex E: the HSS
	// expands the set for S-CSCFs without the SharedIFCSets feature).
	profiles, err := h.store.ListServiceProfiles(ctx)
	if err != nil {
		return err
	}
	using := map[string]bool{}
	for _, p := range profiles {
		for _, s := range p.SharedIFCSetIDs {
			if s == id {
				using[p.ID] = true
			}
		}
	}
	impis, err := h.servedUsersOf(ctx, using)
	if err != nil {
		return err
	}
	got, err := h.store.GetSharedIFCSet(ctx, id)
	if err != nil {
		return err
	}
	out := ifcSetOut(got)
	out.ProfilePush = h.push(r, impis)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) deleteIFCSet(w http.ResponseWriter, r *http.Request) error {
	id, err := ifcSetID(r)
	if err != nil {
		return err
	}
	if err := h.store.DeleteSharedIFCSet(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- S-CSCFs ------------------------------------------------------------------------------------------

func scscfOut(s hss.SCSCF) SCSCF {
	return SCSCF{Name: s.Name, Capabilities: s.Capabilities, UpdatedAt: s.UpdatedAt}
}

func (h *handler) listSCSCFs(w http.ResponseWriter, r *http.Request) error {
	all, err := h.store.SCSCFs(r.Context())
	if err != nil {
		return err
	}
	out := make([]SCSCF, 0, len(all))
	for _, s := range all {
		out = append(out, scscfOut(s))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, struct {
		SCSCFs []SCSCF `json:"scscfs"`
	}{out})
	return nil
}

func (h *handler) getSCSCF(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	all, err := h.store.SCSCFs(r.Context())
	if err != nil {
		return err
	}
	for _, s := range all {
		if s.Name == name {
			writeJSON(w, http.StatusOK, scscfOut(s))
			return nil
		}
	}
	return notFound("s-cscf %s: %v", name, hss.ErrNotFound)
}

// putSCSCF creates or replaces an S-CSCF: the name is its Server-Name, a SIP URI (TS 29.228 §6.7).
func (h *handler) putSCSCF(w http.ResponseWriter, r *http.Request) error {
	var req SCSCF
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	name := r.PathValue("name")
	if req.Name != "" && req.Name != name {
		return fieldError("name", "%q differs from the S-CSCF in the path", req.Name)
	}
	if err := validIMPU("name", name); err != nil {
		return err
	}
	if err := h.store.PutSCSCF(r.Context(), hss.SCSCF{Name: name, Capabilities: req.Capabilities}); err != nil {
		return err
	}
	return h.getSCSCF(w, r)
}

func (h *handler) deleteSCSCF(w http.ResponseWriter, r *http.Request) error {
	if err := h.store.DeleteSCSCF(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// putDefaultCharging sets the charging function addresses of subscribers without their own. Served
// users are not pushed: the S-CSCF receives the new addresses at the next SAR.
func (h *handler) putDefaultCharging(w http.ResponseWriter, r *http.Request) error {
	var req hss.ChargingInfo
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := validCharging("", req); err != nil {
		return err
	}
	if err := h.store.SetDefaultChargingInfo(r.Context(), req); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, req)
	return nil
}
