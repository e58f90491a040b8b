package provision

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/internal/logging"
)

// Registration state and the network-initiated procedures: RTR (TS 29.228 §6.1.3) and PPR (§6.2.2).

// ReasonCode is a Reason-Code of TS 29.229 §6.3.17 in JSON: written as its name, read as a name or a
// number. The zero value is PERMANENT_TERMINATION.
type ReasonCode cx.ReasonCode

// ParseReasonCode accepts PERMANENT_TERMINATION, NEW_SERVER_ASSIGNED, SERVER_CHANGE, REMOVE_S-CSCF
// (case-insensitive; "_" and "-" alike) or the number 0–3.
func ParseReasonCode(s string) (cx.ReasonCode, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < int(cx.ReasonPermanentTermination) || n > int(cx.ReasonRemoveSCSCF) {
			return 0, fmt.Errorf("reason code %d: want 0 to 3 (TS 29.229 §6.3.17)", n)
		}
		return cx.ReasonCode(n), nil
	}
	norm := func(v string) string { return strings.ReplaceAll(strings.ToUpper(v), "-", "_") }
	for c := cx.ReasonPermanentTermination; c <= cx.ReasonRemoveSCSCF; c++ {
		if norm(s) == norm(c.String()) || norm(s) == strings.ReplaceAll(norm(c.String()), "S_CSCF", "SCSCF") {
			return c, nil
		}
	}
	return 0, fmt.Errorf("reason %q: want PERMANENT_TERMINATION, NEW_SERVER_ASSIGNED, SERVER_CHANGE or REMOVE_S-CSCF", s)
}

// MarshalJSON writes the name.
func (r ReasonCode) MarshalJSON() ([]byte, error) { return json.Marshal(cx.ReasonCode(r).String()) }

// UnmarshalJSON reads a name or a number.
func (r *ReasonCode) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" { // absent, as encoding/json treats null
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return fieldError("reason", "want a name or a number")
		}
	}
	c, err := ParseReasonCode(s)
	if err != nil {
		return fieldError("reason", "%v", err)
	}
	*r = ReasonCode(c)
	return nil
}

// served reports whether an S-CSCF holds the identity: registered, or unregistered with an S-CSCF kept
// for terminating services (TS 23.008 §5.1.2.1). Only then is there someone to send RTR or PPR to.
func served(u *hss.PublicIdentity) bool { return u.Registration.State != hss.NotRegistered }

func anyServed(us []hss.PublicIdentity) bool {
	for i := range us {
		if served(&us[i]) {
			return true
		}
	}
	return false
}

func (h *handler) getRegistration(w http.ResponseWriter, r *http.Request) error {
	impi := r.PathValue("impi")
	ctx := r.Context()
	impus, err := h.store.IMPUsOfIMPI(ctx, impi)
	if err != nil {
		return err
	}
	held, err := h.store.RegisteredIMPUs(ctx, impi, "")
	if err != nil {
		return err
	}
	mine := make(map[string]bool, len(held))
	for _, u := range held {
		mine[u.IMPU] = true
	}
	out := RegistrationStatus{IMPI: impi, Registered: len(held) > 0, IMPUs: make([]IMPURegistration, 0, len(impus))}
	for _, u := range impus {
		out.IMPUs = append(out.IMPUs, IMPURegistration{IMPU: u.IMPU, ImplicitSet: u.ImplicitSetID,
			Registration: registrationOut(u.Registration), RegisteredByIMPI: mine[u.IMPU]})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *handler) deregister(w http.ResponseWriter, r *http.Request) error {
	if h.network == nil {
		return errNoNetwork()
	}
	var req DeregisterRequest
	if err := readJSON(w, r, &req, true); err != nil {
		return err
	}
	impi := r.PathValue("impi")
	ctx := r.Context()
	impus, err := h.store.IMPUsOfIMPI(ctx, impi)
	if err != nil {
		return err
	}
	byIMPU := make(map[string]*hss.PublicIdentity, len(impus))
	for i := range impus {
		byIMPU[impus[i].IMPU] = &impus[i]
	}
	isServed := len(req.IMPUs) == 0 && anyServed(impus)
	for i, u := range req.IMPUs {
		p, ok := byIMPU[u]
		if !ok {
			return fieldError(fmt.Sprintf("impus[%d]", i), "%q is not associated with %s", u, impi)
		}
		isServed = isServed || served(p)
	}
	if !isServed {
		return &Error{Status: http.StatusConflict, Code: CodeNotRegistered,
			Message: fmt.Sprintf("%s: no S-CSCF serves these identities: nothing to de-register", impi)}
	}
	reason := cx.ReasonCode(req.Reason)
	op, err := h.network.StartDeregister(impi, req.IMPUs, reason, req.Info)
	if err != nil {
		return startError(w, "RTR", impi, err)
	}
	h.log.Info("network-initiated de-registration started", logging.IMPI(impi), zap.Stringer("reason", reason),
		zap.Strings("impus", req.IMPUs), zap.String("operation", op.ID))
	return h.answerOperation(w, r, "RTR", op, DeregisterResult{IMPI: impi, Reason: reason.String(), IMPUs: req.IMPUs, Operation: op.ID})
}

func (h *handler) pushProfile(w http.ResponseWriter, r *http.Request) error {
	if h.network == nil {
		return errNoNetwork()
	}
	var none struct{}
	if err := readJSON(w, r, &none, true); err != nil {
		return err
	}
	impi := r.PathValue("impi")
	ctx := r.Context()
	impus, err := h.store.IMPUsOfIMPI(ctx, impi)
	if err != nil {
		return err
	}
	if !anyServed(impus) {
		return &Error{Status: http.StatusConflict, Code: CodeNotRegistered,
			Message: fmt.Sprintf("%s: no S-CSCF serves this user: nowhere to push the profile", impi)}
	}
	op, err := h.network.StartPushProfile(impi)
	if err != nil {
		return startError(w, "PPR", impi, err)
	}
	h.log.Info("profile push started", logging.IMPI(impi), zap.String("operation", op.ID))
	return h.answerOperation(w, r, "PPR", op, PushResult{IMPI: impi, Operation: op.ID})
}

// pushIfServed sends a PPR for impi when, before the change, an S-CSCF served one of its identities (sub).
func (h *handler) pushIfServed(r *http.Request, sub *hss.Subscriber, impi string) *PushReport {
	if !anyServed(sub.Public) {
		return nil
	}
	return h.push(r, []string{impi})
}

// push starts a PPR (TS 29.228 §6.2.2) for each IMPI and reports them as operations; with wait=true it waits
// for them and reports the outcome. The provisioning change is already stored: a failed PPR is reported, not
// undone. nil when impis is empty.
func (h *handler) push(r *http.Request, impis []string) *PushReport {
	if len(impis) == 0 {
		return nil
	}
	if h.network == nil {
		h.log.Warn("profile changed for registered users but no Cx server is attached: PPR not sent",
			zap.Int("impis", len(impis)))
		return &PushReport{Skipped: errNoNetwork().Message}
	}
	rep := &PushReport{}
	var started []hss.Operation
	for _, impi := range impis {
		op, err := h.network.StartPushProfile(impi)
		if err != nil {
			h.log.Warn("PPR after a profile change not started", logging.IMPI(impi), zap.Error(err))
			rep.Failed = append(rep.Failed, PushFailure{IMPI: impi, Error: err.Error()})
			continue
		}
		started = append(started, op)
	}
	wait := wantWait(r)
	for _, op := range started {
		if wait {
			done, err := h.network.Operations().Wait(r.Context(), op.ID)
			if err == nil {
				op = done
			}
			switch {
			case err != nil:
				rep.Failed = append(rep.Failed, PushFailure{IMPI: op.IMPI, Error: err.Error()})
			case op.Err != nil:
				h.log.Warn("PPR after a profile change failed", logging.IMPI(op.IMPI), zap.Error(op.Err))
				rep.Failed = append(rep.Failed, PushFailure{IMPI: op.IMPI, Error: op.Err.Error()})
			default:
				rep.Pushed = append(rep.Pushed, op.IMPI)
			}
		}
		rep.Operations = append(rep.Operations, operationOut(op))
	}
	h.log.Debug("PPRs after a profile change", zap.Int("started", len(started)), zap.Int("not_started", len(impis)-len(started)))
	return rep
}

// servedUsersOf returns, sorted, the IMPIs with a served identity whose service profile is in profiles.
// The store has no index from profile to identities, so this pages through every subscriber
// (MaxPageSize at a time): linear in the subscriber base, acceptable for a rare operator action.
func (h *handler) servedUsersOf(ctx context.Context, profiles map[string]bool) ([]string, error) {
	if len(profiles) == 0 {
		return nil, nil
	}
	var impis []string
	q := hss.SubscriberQuery{Limit: hss.MaxPageSize}
	for {
		page, err := h.store.ListSubscribers(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("find registered users of profiles: %w", err)
		}
		for _, s := range page.Subscribers {
			for i := range s.Public {
				if served(&s.Public[i]) && profiles[s.Public[i].ServiceProfileID] {
					impis = append(impis, s.Private.IMPI)
					break
				}
			}
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	sort.Strings(impis)
	return impis, nil
}
