package provision

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
)

// Subscribers: create, read, list, update, delete, keys.

func (h *handler) createSubscriber(w http.ResponseWriter, r *http.Request) error {
	var req SubscriberRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	sub, err := req.subscriber(h.domain)
	if err != nil {
		return err
	}
	noteAudit(r, func(n *auditNote) { n.impi = sub.Private.IMPI })
	if err := h.ensureDefaultProfile(r.Context(), []hss.Subscriber{sub}); err != nil {
		return err
	}
	if err := h.store.CreateSubscriber(r.Context(), sub); err != nil {
		return createError(err)
	}
	out, err := h.store.GetSubscriber(r.Context(), sub.Private.IMPI)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/subscribers/"+url.PathEscape(sub.Private.IMPI))
	writeJSON(w, http.StatusCreated, subscriberOut(out))
	return nil
}

// createError names the field a failed CreateSubscriber is about where the cause says it: a missing
// service profile (ErrConflict) or a shared IMPU that does not exist (ErrNotFound).
func createError(err error) error {
	switch {
	case errors.Is(err, hss.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "profile_id", Message: err.Error(), cause: err}
	case errors.Is(err, hss.ErrNotFound):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "shared_impus", Message: err.Error(), cause: err}
	}
	return err
}

// ensureDefaultProfile creates the empty DefaultProfileID service profile when one of subs uses it and it
// does not exist yet, so that a subscriber can be created without provisioning a profile first.
func (h *handler) ensureDefaultProfile(ctx context.Context, subs []hss.Subscriber) error {
	used := false
	for i := range subs {
		for j := range subs[i].Public {
			if subs[i].Public[j].ServiceProfileID == DefaultProfileID {
				used = true
			}
		}
	}
	if !used {
		return nil
	}
	_, err := h.store.GetServiceProfile(ctx, DefaultProfileID)
	if !errors.Is(err, hss.ErrNotFound) {
		return err
	}
	err = h.store.CreateServiceProfile(ctx, hss.ServiceProfile{ID: DefaultProfileID})
	if err != nil && !errors.Is(err, hss.ErrAlreadyExists) { // created meanwhile by another request
		return fmt.Errorf("create default service profile: %w", err)
	}
	return nil
}

func (h *handler) getSubscriber(w http.ResponseWriter, r *http.Request) error {
	sub, err := h.store.GetSubscriber(r.Context(), r.PathValue("impi"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, subscriberOut(sub))
	return nil
}

// listSubscribers serves GET /subscribers. The store pages by IMPI with prefix filters; exact imsi,
// msisdn and impu filters are applied on top, so a page may hold fewer than limit subscribers while
// next_cursor is still set.
func (h *handler) listSubscribers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sq := hss.SubscriberQuery{After: q.Get("cursor"), Limit: hss.DefaultPageSize}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > hss.MaxPageSize {
			return fieldError("limit", "%q: want 1 to %d", v, hss.MaxPageSize)
		}
		sq.Limit = n
	}
	imsi, msisdn, impu := q.Get("imsi"), q.Get("msisdn"), q.Get("impu")
	if imsi != "" {
		if err := validIMSI("imsi", imsi); err != nil {
			return err
		}
	}
	if msisdn != "" {
		d, err := normalMSISDN("msisdn", msisdn)
		if err != nil {
			return err
		}
		msisdn = d
	}
	imsiPrefix := q.Get("imsi_prefix")
	if p := q.Get("prefix"); p != "" {
		if imsiPrefix != "" && imsiPrefix != p {
			return fieldError("prefix", "give prefix or imsi_prefix, not both")
		}
		imsiPrefix = p
	}
	for field, v := range map[string]string{"prefix": imsiPrefix, "msisdn_prefix": q.Get("msisdn_prefix")} {
		if v != "" && !allDigits(v) {
			return fieldError(field, "%q: want digits", v)
		}
	}
	sq.IMSIPrefix, sq.MSISDNPrefix, sq.IMPUPrefix = imsiPrefix, q.Get("msisdn_prefix"), q.Get("impu_prefix")
	if imsi != "" {
		if imsiPrefix != "" && !strings.HasPrefix(imsi, imsiPrefix) {
			writeJSON(w, http.StatusOK, SubscriberList{Subscribers: []Subscriber{}})
			return nil
		}
		sq.IMSIPrefix = imsi
	}
	if msisdn != "" {
		if sq.MSISDNPrefix != "" && !strings.HasPrefix(msisdn, sq.MSISDNPrefix) {
			writeJSON(w, http.StatusOK, SubscriberList{Subscribers: []Subscriber{}})
			return nil
		}
		sq.MSISDNPrefix = msisdn
	}
	match := func(s *hss.Subscriber) bool {
		return (imsi == "" || s.Private.IMSI == imsi) && (msisdn == "" || s.Private.MSISDN == msisdn)
	}
	var (
		list = SubscriberList{Subscribers: []Subscriber{}}
		err  error
	)
	if impu != "" {
		list, err = h.listByIMPU(r.Context(), impu, sq, match)
		if err != nil {
			return err
		}
	} else {
		page, err := h.store.ListSubscribers(r.Context(), sq)
		if err != nil {
			return err
		}
		for i := range page.Subscribers {
			if match(&page.Subscribers[i]) {
				list.Subscribers = append(list.Subscribers, subscriberOut(&page.Subscribers[i]))
			}
		}
		list.NextCursor = page.Next
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// listByIMPU lists the subscribers associated with impu (exactly, or through the wildcarded identity
// matching it), with the other filters and the cursor applied.
func (h *handler) listByIMPU(ctx context.Context, impu string, sq hss.SubscriberQuery,
	match func(*hss.Subscriber) bool) (SubscriberList, error) {
	list := SubscriberList{Subscribers: []Subscriber{}}
	impis, err := h.store.IMPIsOfIMPU(ctx, impu)
	if errors.Is(err, hss.ErrNotFound) {
		return list, nil
	}
	if err != nil {
		return list, err
	}
	sort.Strings(impis)
	for _, impi := range impis {
		if impi <= sq.After && sq.After != "" {
			continue
		}
		if len(list.Subscribers) == sq.Limit {
			list.NextCursor = list.Subscribers[len(list.Subscribers)-1].IMPI
			break
		}
		sub, err := h.store.GetSubscriber(ctx, impi)
		if errors.Is(err, hss.ErrNotFound) { // deleted meanwhile
			continue
		}
		if err != nil {
			return list, err
		}
		if !match(sub) || !strings.HasPrefix(sub.Private.IMSI, sq.IMSIPrefix) ||
			!strings.HasPrefix(sub.Private.MSISDN, sq.MSISDNPrefix) || !hasIMPUPrefix(sub, sq.IMPUPrefix) {
			continue
		}
		sub.ServiceProfiles = nil // as in a page of ListSubscribers
		list.Subscribers = append(list.Subscribers, subscriberOut(sub))
	}
	return list, nil
}

func hasIMPUPrefix(sub *hss.Subscriber, prefix string) bool {
	if prefix == "" {
		return true
	}
	for _, u := range sub.Public {
		if strings.HasPrefix(u.IMPU, prefix) {
			return true
		}
	}
	return false
}

func (h *handler) patchSubscriber(w http.ResponseWriter, r *http.Request) error {
	var patch SubscriberPatch
	if err := readJSON(w, r, &patch, false); err != nil {
		return err
	}
	impi := r.PathValue("impi")
	ctx := r.Context()
	cur, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	p := cur.Private
	if patch.IMSI != nil {
		if *patch.IMSI != "" {
			if err := validIMSI("imsi", *patch.IMSI); err != nil {
				return err
			}
		}
		p.IMSI = *patch.IMSI
	}
	if patch.MSISDN != nil {
		p.MSISDN = ""
		if *patch.MSISDN != "" {
			if p.MSISDN, err = normalMSISDN("msisdn", *patch.MSISDN); err != nil {
				return err
			}
		}
	}
	if patch.Password != nil || patch.HA1 != nil {
		// A new credential replaces the old one, whichever kind it was.
		var password, ha1 string
		if patch.Password != nil {
			password = *patch.Password
		}
		if patch.HA1 != nil {
			ha1 = *patch.HA1
		}
		if err := digestCredentials(password, ha1); err != nil {
			return err
		}
		p.DigestPassword, p.DigestHA1 = password, ha1
	}
	if patch.Schemes != nil {
		if p.AuthSchemes, err = parseSchemes("schemes", *patch.Schemes); err != nil {
			return err
		}
	}
	if p.AuthSchemes.AKA() && len(p.K) == 0 {
		return fieldError("schemes", "AKA needs keys: set them first (PUT …/keys)")
	}
	if p.AuthSchemes.Has(hss.AuthSIPDigest) && p.DigestPassword == "" && p.DigestHA1 == "" {
		return fieldError("password", "required for SIP-Digest (or give ha1)")
	}
	if patch.AllowedVisitedNetworks != nil {
		if p.AllowedVisitedNetworks, err = visitedNetworks(*patch.AllowedVisitedNetworks); err != nil {
			return err
		}
	}
	if patch.RequiredCapabilities != nil {
		p.RequiredCapabilities = *patch.RequiredCapabilities
	}
	chargingChanged := false
	if patch.Charging != nil {
		if err := validCharging("charging", *patch.Charging); err != nil {
			return err
		}
		p.Charging = nil
		if *patch.Charging != (hss.ChargingInfo{}) {
			c := *patch.Charging
			p.Charging = &c
		}
		chargingChanged = true
	}
	if err := h.store.UpdatePrivateIdentity(ctx, p); err != nil {
		return err
	}
	var push *PushReport
	if chargingChanged {
		// PPR carries Charging-Information too (TS 29.228 §6.2.2): the S-CSCF must learn the new addresses.
		push = h.pushIfServed(r, cur, impi)
	}
	return h.writeSubscriber(ctx, w, impi, push)
}

// writeSubscriber answers with the stored subscriber and the PPR report of the change.
func (h *handler) writeSubscriber(ctx context.Context, w http.ResponseWriter, impi string, push *PushReport) error {
	sub, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	out := subscriberOut(sub)
	out.ProfilePush = push
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) deleteSubscriber(w http.ResponseWriter, r *http.Request) error {
	impi := r.PathValue("impi")
	ctx := r.Context()
	impus, err := h.store.IMPUsOfIMPI(ctx, impi)
	if err != nil {
		return err
	}
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		if force, err = strconv.ParseBool(v); err != nil {
			return fieldError("force", "%q: want true or false", v)
		}
	}
	res := DeleteResult{IMPI: impi}
	if anyServed(impus) {
		// The subscription is withdrawn: the S-CSCF must drop the registration first (TS 29.228 §6.1.3,
		// PERMANENT_TERMINATION). Deleting a user whose S-CSCF did not confirm it would leave the user
		// reachable there, with nothing left in the HSS to end it: refused, unless the operator forces it.
		var cause error
		switch {
		case h.network == nil:
			cause = errors.New(errNoNetwork().Message)
		default:
			// The deletion needs the outcome: the RTR runs as an operation (visible in /api/v1/operations and
			// the metrics) and this request waits for it, at most the Diameter timeout.
			op, err := h.network.StartDeregister(impi, nil, cx.ReasonPermanentTermination, "")
			if err != nil {
				cause = err
				break
			}
			res.Operation = op.ID
			noteAudit(r, func(n *auditNote) { n.operation = op.ID })
			if op, err = h.network.Operations().Wait(ctx, op.ID); err != nil {
				return err // the client went away: nothing deleted
			}
			cause = op.Err
		}
		switch {
		case cause == nil:
			res.Deregistered = true
		case !force:
			return &Error{Status: http.StatusConflict, Code: CodeDeregisterFailed, cause: cause,
				Message: fmt.Sprintf("%s is registered and its S-CSCF did not confirm the de-registration (%v); nothing "+
					"was deleted. Retry, or delete with force=true: the S-CSCF then keeps serving the user until the "+
					"registration expires", impi, cause)}
		default:
			res.DeregisterError = cause.Error()
			res.Warning = "deleted while registered: the serving S-CSCF keeps the registration until it expires"
		}
	}
	if err := h.store.DeleteSubscriber(ctx, impi); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (h *handler) putKeys(w http.ResponseWriter, r *http.Request) error {
	var req KeysRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if req.K == "" {
		return fieldError("k", "required")
	}
	km, err := parseKeys(req.K, req.OP, req.OPc, req.StoreOPc)
	if err != nil {
		return err
	}
	impi := r.PathValue("impi")
	ctx := r.Context()
	ku := hss.KeyUpdate{K: km.k, OP: km.op, OPc: km.opc, SQN: req.SQN}
	if req.SQN != nil && *req.SQN > hss.MaxSQN {
		return fieldError("sqn", "%d: over 48 bits (TS 33.102 §6.3.2)", *req.SQN)
	}
	if req.AMF != "" {
		if ku.AMF, err = parseAMF("amf", req.AMF); err != nil {
			return err
		}
	} else {
		cur, err := h.store.GetIMPI(ctx, impi)
		if err != nil {
			return err
		}
		ku.AMF = cur.AMF
	}
	if err := h.store.UpdateKeys(ctx, impi, ku); err != nil {
		return err
	}
	return h.writeSubscriber(ctx, w, impi, nil)
}

// ---- public identities ------------------------------------------------------------------------------

func (h *handler) addIMPU(w http.ResponseWriter, r *http.Request) error {
	var req IMPURequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	impi := r.PathValue("impi")
	ctx := r.Context()
	cur, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	p, err := req.publicIdentity("", DefaultProfileID)
	if err != nil {
		return err
	}
	if p.ImplicitSetID == "" {
		p.ImplicitSetID = impi
	}
	if err := h.ensureDefaultProfile(ctx, []hss.Subscriber{{Public: []hss.PublicIdentity{p}}}); err != nil {
		return err
	}
	if err := h.store.AddIMPU(ctx, impi, p); err != nil {
		if errors.Is(err, hss.ErrConflict) {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "profile_id", Message: err.Error(), cause: err}
		}
		return err
	}
	sub, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	// A new identity in a registered implicit set changes the user profile the S-CSCF holds.
	out := subscriberOut(sub)
	out.ProfilePush = h.pushIfServed(r, cur, impi)
	w.Header().Set("Location", "/api/v1/subscribers/"+url.PathEscape(impi)+"/impus/"+url.PathEscape(p.IMPU))
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// ownIMPU returns impu as associated with impi; 404 when it is not.
func (h *handler) ownIMPU(ctx context.Context, impi, impu string) (*hss.Subscriber, *hss.PublicIdentity, error) {
	sub, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return nil, nil, err
	}
	for i := range sub.Public {
		if sub.Public[i].IMPU == impu {
			return sub, &sub.Public[i], nil
		}
	}
	return nil, nil, notFound("impu %s is not associated with %s", impu, impi)
}

func (h *handler) updateIMPU(w http.ResponseWriter, r *http.Request) error {
	var req IMPURequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	impi, impu := r.PathValue("impi"), r.PathValue("impu")
	if req.IMPU != "" && req.IMPU != impu {
		return fieldError("impu", "%q differs from the identity in the path", req.IMPU)
	}
	req.IMPU = impu
	ctx := r.Context()
	_, cur, err := h.ownIMPU(ctx, impi, impu)
	if err != nil {
		return err
	}
	p, err := req.publicIdentity("", cur.ServiceProfileID)
	if err != nil {
		return err
	}
	if err := h.store.UpdateIMPU(ctx, p); err != nil {
		if errors.Is(err, hss.ErrConflict) {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Field: "profile_id", Message: err.Error(), cause: err}
		}
		return err
	}
	// Barring, profile or display name of a served identity changed: push to every IMPI sharing it.
	var push *PushReport
	if cur.Registration.State != hss.NotRegistered {
		impis, err := h.store.IMPIsOfIMPU(ctx, impu)
		if err != nil {
			return err
		}
		push = h.push(r, impis)
	}
	return h.writeSubscriber(ctx, w, impi, push)
}

func (h *handler) deleteIMPU(w http.ResponseWriter, r *http.Request) error {
	impi, impu := r.PathValue("impi"), r.PathValue("impu")
	ctx := r.Context()
	_, cur, err := h.ownIMPU(ctx, impi, impu)
	if err != nil {
		return err
	}
	var impis []string
	if cur.Registration.State != hss.NotRegistered {
		if impis, err = h.store.IMPIsOfIMPU(ctx, impu); err != nil {
			return err
		}
	}
	if err := h.store.DeleteIMPU(ctx, impu); err != nil {
		return err
	}
	// The implicit set of a served user lost an identity: the S-CSCF gets the new profile.
	return h.writeSubscriber(ctx, w, impi, h.push(r, impis))
}

func (h *handler) linkIMPU(w http.ResponseWriter, r *http.Request) error {
	var req LinkRequest
	if err := readJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := validIMPU("impu", req.IMPU); err != nil {
		return err
	}
	impi := r.PathValue("impi")
	ctx := r.Context()
	cur, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	if err := h.store.LinkIMPU(ctx, impi, req.IMPU); err != nil {
		return err
	}
	return h.writeSubscriber(ctx, w, impi, h.pushIfServed(r, cur, impi))
}

func (h *handler) unlinkIMPU(w http.ResponseWriter, r *http.Request) error {
	impi, impu := r.PathValue("impi"), r.PathValue("impu")
	ctx := r.Context()
	cur, err := h.store.GetSubscriber(ctx, impi)
	if err != nil {
		return err
	}
	if err := h.store.UnlinkIMPU(ctx, impi, impu); err != nil {
		return err
	}
	return h.writeSubscriber(ctx, w, impi, h.pushIfServed(r, cur, impi))
}
