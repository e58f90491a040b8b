package qos

import (
	"context"
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/sip/sdp"
)

// The PCRF's requests to the AF: RAR (TS 29.214 §4.4.6.1, §5.6.3) and ASR (§4.4.6.2, §5.6.7).

// ServeDiameter answers the PCRF's RAR and ASR (peer.Handler). The answer goes back first; what the
// event means for the SIP side (Events) runs afterwards on the AF's own goroutine, followed by the
// STR that ends the Rx session (§4.4.4).
func (a *AF) ServeDiameter(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	m, err := rx.Parse(req)
	if err != nil {
		return nil, fmt.Errorf("rx request from %s: %w", from.OriginHost, err)
	}
	var ans rx.Message
	switch r := m.(type) {
	case *rx.RAR:
		ans = a.reAuth(r)
	case *rx.ASR:
		ans = a.abort(r)
	default:
		return nil, &diameter.Error{Code: diameter.CommandUnsupported, Err: fmt.Errorf("rx %s request from a PCRF", m.Command())}
	}
	return ans.Marshal(a.deps.Dictionary)
}

func (a *AF) lookup(id string) (session, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return session{}, false
	}
	return *s, true
}

// reAuth handles an RAR: loss or release of bearer (§4.4.6.1, TS 29.213 §4a.?) ends what the bearer
// carried; other events (recovery, IP-CAN change, …) are acknowledged and logged.
func (a *AF) reAuth(r *rx.RAR) *rx.RAA {
	raa := rx.NewRAA(r, a.deps.OriginHost, a.deps.OriginRealm)
	s, ok := a.lookup(r.SessionID)
	if !ok {
		raa.ResultCode = diameter.UnknownSessionID // RFC 6733 §8.3: a session we do not hold
		a.log.Info("RAR for an unknown AF session", zap.String("session_id", r.SessionID))
		return raa
	}
	raa.ResultCode = diameter.Success
	log := a.log.With(zap.String("session_id", s.id), zap.String("call_id", s.callID), zap.String("impu", s.impu))
	lost := r.Has(rx.IndicationOfLossOfBearer) || r.Has(rx.IndicationOfReleaseOfBearer)
	if !lost {
		log.Info("PCRF event", zap.Stringers("specific_action", r.SpecificActions))
		return raa
	}
	// TS 29.214 §4.4.6.1: for a media session the event may concern some flows only; without Flows,
	// or when every flow of the session is affected, the media are gone. A call whose flows are only
	// partly lost goes on (TS 24.229 §5.2.8.1.2 leaves a partial loss to the UE's re-INVITE).
	if s.kind == kindMedia && len(r.Flows) > 0 && !a.allFlows(s, r.Flows) {
		log.Info("bearer lost for some flows: the call goes on", zap.Int("flows", len(r.Flows)))
		return raa
	}
	log.Info("bearer lost: releasing", zap.Stringers("specific_action", r.SpecificActions))
	a.release(s, "bearer lost")
	return raa
}

// allFlows reports whether flows cover every media component of s that has flows.
func (a *AF) allFlows(s session, flows []rx.Flows) bool {
	a.mu.Lock()
	ue, remote := a.sides(&s)
	a.mu.Unlock()
	n := 0
	for _, d := range []*sdp.Session{ue, remote} {
		if d != nil {
			n = max(n, len(d.Media))
		}
	}
	hit := map[uint32]bool{}
	for _, f := range flows {
		hit[f.MediaComponentNumber] = true
	}
	for i := 1; i <= n; i++ {
		if !hit[uint32(i)] {
			return false
		}
	}
	return true
}

// abort handles an ASR (§4.4.6.2): the PCRF cannot serve the session any more.
func (a *AF) abort(r *rx.ASR) *rx.ASA {
	asa := rx.NewASA(r, a.deps.OriginHost, a.deps.OriginRealm)
	s, ok := a.lookup(r.SessionID)
	if !ok {
		asa.ResultCode = diameter.UnknownSessionID
		return asa
	}
	asa.ResultCode = diameter.Success
	a.log.Info("PCRF aborted the AF session: releasing", zap.String("session_id", s.id), zap.String("call_id", s.callID),
		zap.String("impu", s.impu), zap.Stringer("abort_cause", r.AbortCause))
	a.release(s, "bearer released: "+r.AbortCause.String())
	return asa
}

// release tells the P-CSCF (after the answer is sent) and ends the Rx session.
func (a *AF) release(s session, reason string) {
	a.report(func() {
		if s.kind == kindMedia {
			a.deps.Events.ReleaseCall(s.callKey, reason)
		} else {
			a.deps.Events.SignallingLost(s.key)
		}
		if err := a.terminate(a.ctx, s.id); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("STR after release failed", zap.String("session_id", s.id), zap.Error(err))
		}
	})
}

var _ peer.Handler = (*AF)(nil)
