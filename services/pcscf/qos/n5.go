package qos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/services/pcscf/qos/n5"
)

// N5 (TS 29.514, Npcf_PolicyAuthorization): the same decisions as over Rx, as HTTP/2 resources. An
// AF session is an application session context; the PCF's callbacks (ServeHTTP) play the part of
// RAR and ASR.

// notifyURI is the notifUri of session s: NotifyURI with the session's id as last segment.
func (a *AF) notifyURI(s *session) string {
	return strings.TrimSuffix(a.cfg.NotifyURI, "/") + "/" + url.PathEscape(s.id)
}

// requestN5 creates the application session (TS 29.514 §4.2.2) or updates it (§4.2.3).
func (a *AF) requestN5(ctx context.Context, s *session, req authRequest) error {
	events := &n5.EventsSubscReqData{Events: []n5.AfEventSubscription{{Event: n5.EventFailedResourcesAllocation}},
		NotifURI: a.notifyURI(s)}
	status := ""
	if !req.signalling {
		status = map[rx.ServiceInfoStatus]string{rx.FinalServiceInformation: "FINAL", rx.PreliminaryServiceInformation: "PRELIMINARY"}[req.status]
	}
	a.mu.Lock()
	uri := s.n5URI
	a.mu.Unlock()
	if req.update && uri != "" {
		err := a.deps.N5.Update(ctx, uri, &n5.AppSessionContextUpdateDataPatch{AscReqData: &n5.AppSessionContextUpdateData{
			MedComponents: n5.FromRx(req.mcds), ServInfStatus: status}})
		return n5Error(err)
	}
	rd := &n5.AppSessionContextReqData{AfAppID: a.cfg.AFApplicationIdentifier, NotifURI: a.notifyURI(s), SuppFeat: "0",
		EvSubsc: events, MedComponents: n5.FromRx(req.mcds), ServInfStatus: status, AfChargID: s.icid}
	// TS 29.514 §5.6.2.3: exactly one of ueIpv4, ueIpv6, ueMac.
	if ue := s.ue.Unmap(); ue.Is4() {
		rd.UeIpv4 = ue.String()
	} else if ue.Is6() {
		rd.UeIpv6 = ue.String()
	} else {
		return fmt.Errorf("n5: no UE address for %s", s.id)
	}
	if msisdn, ok := strings.CutPrefix(s.impu, "tel:+"); ok {
		rd.Gpsi = "msisdn-" + msisdn
	}
	loc, err := a.deps.N5.Create(ctx, &n5.AppSessionContext{AscReqData: rd})
	if err != nil {
		return n5Error(err)
	}
	a.mu.Lock()
	s.n5URI = loc
	a.mu.Unlock()
	return nil
}

// n5Error marks a transport failure as unreachable (the operator policy tells it from a refusal).
func n5Error(err error) error {
	if errors.Is(err, n5.ErrTransport) {
		return &unreachableError{err}
	}
	return err
}

// terminateN5 deletes the application session (TS 29.514 §4.2.4).
func (a *AF) terminateN5(ctx context.Context, s *session) error {
	if s.n5URI == "" {
		return nil
	}
	err := a.deps.N5.Delete(ctx, s.n5URI)
	var pe *n5.ProblemError
	if errors.As(err, &pe) && pe.Status == http.StatusNotFound {
		return nil // gone already (the PCF ended it)
	}
	if err != nil {
		a.log.Warn("N5 delete failed", zap.String("session_id", s.id), zap.String("call_id", s.callID), zap.Error(err))
		return fmt.Errorf("n5 delete %s: %w", s.id, err)
	}
	a.log.Debug("AF session ended", zap.String("session_id", s.id), zap.String("call_id", s.callID))
	return nil
}

// CallbackPath is the path under which ServeHTTP expects the PCF's callbacks (NotifyURI's path).
func (a *AF) CallbackPath() string {
	u, err := url.Parse(a.cfg.NotifyURI)
	if err != nil {
		return "/"
	}
	return strings.TrimSuffix(u.Path, "/") + "/"
}

// ServeHTTP answers the PCF's callbacks (TS 29.514 §4.2.5): /terminate asks the AF to end the
// application session (answered 204, then the call is released and the session deleted, §4.2.5.3);
// /notify reports events, of which FAILED_RESOURCES_ALLOCATION for every component of a call
// releases it as a loss of bearer does over Rx.
func (a *AF) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cb, status, err := n5.ParseCallback(r, a.CallbackPath())
	if err != nil {
		a.log.Info("bad N5 callback", zap.String("path", r.URL.Path), zap.Error(err))
		writeProblem(w, status, err.Error())
		return
	}
	s, ok := a.lookup(cb.Session)
	if !ok {
		writeProblem(w, http.StatusNotFound, "no such application session")
		return
	}
	w.WriteHeader(http.StatusNoContent)
	log := a.log.With(zap.String("session_id", s.id), zap.String("call_id", s.callID), zap.String("impu", s.impu))
	if cb.Terminate != nil {
		log.Info("PCF terminates the application session: releasing", zap.String("cause", cb.Terminate.TermCause))
		a.release(s, "bearer released: "+cb.Terminate.TermCause)
		return
	}
	for _, ev := range cb.Notify.EvNotifs {
		if ev.Event != n5.EventFailedResourcesAllocation {
			log.Info("PCF event", zap.String("event", ev.Event))
			continue
		}
		flows := make([]rx.Flows, 0, len(ev.Flows))
		for _, f := range ev.Flows {
			flows = append(flows, rx.Flows{MediaComponentNumber: uint32(f.MedCompN)})
		}
		if s.kind == kindMedia && len(flows) > 0 && !a.allFlows(s, flows) {
			log.Info("resources failed for some flows: the call goes on", zap.Int("flows", len(flows)))
			continue
		}
		log.Info("resources failed: releasing")
		a.release(s, "bearer lost")
		return
	}
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%d,"detail":%q}`, status, detail)
}

var _ http.Handler = (*AF)(nil)
