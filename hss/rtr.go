package hss

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/logging"
)

// Deregister de-registers impi's public identities at their serving S-CSCF with a Registration-Termination-
// Request (TS 29.228 §6.1.3): impus lists the identities (each must be associated with impi), empty means
// every identity impi holds a registration of or that is unregistered with an S-CSCF keeping its profile.
// An RTR goes to each S-CSCF involved, addressed by the Origin-Host of its SAR, with Deregistration-Reason
// reason and Reason-Info info. When the S-CSCF answers DIAMETER_SUCCESS (or DIAMETER_LIMITED_SUCCESS, whose
// emergency-registered identities stay), the registration data is cleared as §6.1.3.1 says: a set other
// private identities still hold stays registered for them; otherwise it becomes not registered.
//
// Whole implicit registration sets are de-registered (TS 29.228 §6.5.2.2). Nothing registered is not an
// error: Deregister returns nil without sending anything. Errors wrap ErrNotFound (unknown impi or impu),
// ErrNotAssociated, ErrInvalid (reason), ErrSCSCFUnreachable or ErrRefused (*AnswerError).
func (s *Server) Deregister(ctx context.Context, impi string, impus []string, reason cx.ReasonCode, info string) error {
	if s.isClosed() {
		return ErrServerClosed
	}
	if reason < cx.ReasonPermanentTermination || reason > cx.ReasonRemoveSCSCF {
		return fmt.Errorf("deregister %s: reason %d: %w", impi, reason, ErrInvalid)
	}
	if _, err := s.store.GetIMPI(ctx, impi); err != nil {
		return fmt.Errorf("deregister %s: %w", impi, err)
	}
	var targets []PublicIdentity // one identity per implicit registration set
	seen := make(map[string]bool)
	add := func(p PublicIdentity) {
		if !seen[p.ImplicitSetID] && p.Registration.State != NotRegistered {
			seen[p.ImplicitSetID] = true
			targets = append(targets, p)
		}
	}
	if len(impus) > 0 {
		for _, u := range impus {
			pub, err := s.store.GetIMPU(ctx, u)
			if err != nil {
				return fmt.Errorf("deregister %s: %w", impi, err)
			}
			ok, err := s.store.IsAssociated(ctx, impi, pub.IMPU)
			if err != nil {
				return fmt.Errorf("deregister %s: %w", impi, err)
			}
			if !ok {
				return fmt.Errorf("deregister %s: %s: %w", impi, u, ErrNotAssociated)
			}
			add(*pub)
		}
	} else {
		registered, err := s.store.RegisteredIMPUs(ctx, impi, "")
		if err != nil {
			return fmt.Errorf("deregister %s: %w", impi, err)
		}
		all, err := s.store.IMPUsOfIMPI(ctx, impi)
		if err != nil {
			return fmt.Errorf("deregister %s: %w", impi, err)
		}
		for _, p := range registered {
			add(p)
		}
		for _, p := range all {
			if p.Registration.State == Unregistered {
				add(p)
			}
		}
	}
	if len(targets) == 0 {
		s.log.Info("cx RTR not sent: nothing registered", logging.IMPI(impi), zap.Strings("impus", impus))
		return nil
	}
	byHost := make(map[string][]PublicIdentity)
	var hosts []string
	for _, p := range targets {
		h := p.Registration.SCSCFOriginHost
		if _, ok := byHost[h]; !ok {
			hosts = append(hosts, h)
		}
		byHost[h] = append(byHost[h], p)
	}
	var firstErr error
	for _, host := range hosts {
		if err := s.deregisterAt(ctx, host, impi, byHost[host], reason, info); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// StartDeregister is Deregister in the background: it returns at once the pending Operation (command
// RTR), whose outcome Operations().Get and Wait read later. The procedure runs under the server's
// operations (cx.operations: bounded number, concurrency and retention) and is cancelled by Close. An
// invalid reason is refused at once (ErrInvalid); every other error of Deregister is the operation's.
func (s *Server) StartDeregister(impi string, impus []string, reason cx.ReasonCode, info string) (Operation, error) {
	if reason < cx.ReasonPermanentTermination || reason > cx.ReasonRemoveSCSCF {
		return Operation{}, fmt.Errorf("deregister %s: reason %d: %w", impi, reason, ErrInvalid)
	}
	if s.isClosed() {
		return Operation{}, ErrServerClosed
	}
	impus = slices.Clone(impus)
	return s.ops.Start(Operation{Command: cx.CmdRegistrationTermination, IMPI: impi, IMPUs: impus, Reason: reason},
		func(ctx context.Context) error { return s.Deregister(ctx, impi, impus, reason, info) })
}

// Operations are the network-initiated procedures started with StartDeregister and StartPushProfile.
func (s *Server) Operations() *Operations { return s.ops }

// deregisterAt sends one RTR to host for the sets of reps and clears them on success.
func (s *Server) deregisterAt(ctx context.Context, host, impi string, reps []PublicIdentity, reason cx.ReasonCode, info string) error {
	if host == "" {
		return fmt.Errorf("deregister %s: no S-CSCF Origin-Host stored for %s: %w", impi, reps[0].IMPU, ErrSCSCFUnreachable)
	}
	var members [][]string // the identities of each set, in reps order
	var all []string
	for _, p := range reps {
		set, err := s.store.ImplicitSet(ctx, p.IMPU)
		if err != nil {
			return fmt.Errorf("deregister %s: %w", impi, err)
		}
		var us []string
		for _, m := range set {
			us = append(us, m.IMPU)
		}
		members = append(members, us)
		all = append(all, us...)
	}
	// TS 29.228 §6.1.3.1 lets an RTR without Public-Identity mean every identity of the private one (for
	// every reason but NEW_SERVER_ASSIGNED), but S-CSCFs in the field do not all handle that form: Kamailio
	// 5.6 never answers it, and a deleted subscriber stayed reachable there. So the RTR always lists the
	// identities of the sets this S-CSCF serves, which means the same thing to an S-CSCF that reads either.
	rta, err := s.sendRTR(ctx, host, impi, all, reason, info)
	if err != nil {
		return fmt.Errorf("deregister %s: %w", impi, err)
	}
	kept := make(map[string]bool) // identities the S-CSCF did not de-register (emergency, TS 29.228 Annex G)
	for _, e := range rta.IdentityWithEmergencyRegistration {
		kept[e.PublicIdentity] = true
	}
	for i, p := range reps {
		if slices.ContainsFunc(members[i], func(u string) bool { return kept[u] }) {
			continue
		}
		if err := s.clearRegistration(ctx, impi, p.IMPU, host); err != nil {
			return fmt.Errorf("deregister %s: %w", impi, err)
		}
	}
	return nil
}

// clearRegistration ends impi's hold on impu's set after the S-CSCF at host let it go: the set stays
// registered for other private identities, otherwise it is not registered any more (TS 29.228 §6.1.3.1).
// A set that meanwhile moved to another S-CSCF is left alone.
func (s *Server) clearRegistration(ctx context.Context, impi, impu, host string) error {
	return s.store.UpdateRegistration(ctx, impi, impu, func(cur ImplicitSetState) (RegistrationChange, error) {
		reg := cur.Registration
		if reg.State == NotRegistered || reg.SCSCFOriginHost != host {
			return RegistrationChange{Registration: reg, IMPIRegistered: cur.IMPIRegistered}, nil
		}
		if reg.State == Registered && slices.ContainsFunc(cur.RegisteredIMPIs, func(r string) bool { return r != impi }) {
			return RegistrationChange{Registration: reg, IMPIRegistered: false}, nil
		}
		return RegistrationChange{Registration: Registration{}}, nil
	})
}

// sendRTR sends one RTR to the S-CSCF whose Origin-Host is host and returns its answer. An answer other
// than DIAMETER_SUCCESS or DIAMETER_LIMITED_SUCCESS is an *AnswerError.
func (s *Server) sendRTR(ctx context.Context, host, impi string, impus []string, reason cx.ReasonCode, info string) (*cx.RTA, error) {
	realm, err := s.openPeer(host)
	if err != nil {
		return nil, err
	}
	req := &cx.RTR{
		SessionID:            s.newSessionID(),
		OriginHost:           s.cfg.Diameter.OriginHost,
		OriginRealm:          s.cfg.Diameter.Realm,
		DestinationHost:      host,
		DestinationRealm:     realm,
		UserName:             impi,
		PublicIdentity:       impus,
		DeregistrationReason: cx.DeregistrationReason{Code: reason, Info: info},
	}
	msg, err := req.Marshal(s.dict)
	if err != nil {
		return nil, fmt.Errorf("rtr: %w", err)
	}
	ans, code, vendor, err := s.request(ctx, cx.CmdRegistrationTermination, msg, host, req.SessionID, impi)
	if err != nil {
		return nil, err
	}
	rta, err := cx.ParseRTA(ans)
	if err != nil {
		return nil, fmt.Errorf("rta from %s: %w", host, err)
	}
	s.log.Info("cx RTR", logging.SessionID(req.SessionID), logging.IMPI(impi), zap.Strings("impus", impus),
		logging.Peer(host), zap.Stringer("reason", reason), zap.Uint32("result", uint32(code)), zap.Uint32("vendor", vendor))
	if vendor != 0 || (code != diameter.Success && code != diameter.LimitedSuccess) {
		return rta, &AnswerError{Command: cx.CmdRegistrationTermination, Host: host, Code: code, VendorID: vendor}
	}
	return rta, nil
}

// openPeer returns the realm of the open connection with host, or ErrSCSCFUnreachable: a request must never
// fall back to another peer of the realm (an I-CSCF) when the S-CSCF it is meant for is gone.
func (s *Server) openPeer(host string) (string, error) {
	for _, p := range s.node.Peers() {
		if p.OriginHost == host && p.State == peer.StateOpen {
			return p.OriginRealm, nil
		}
	}
	return "", fmt.Errorf("%s: %w", host, ErrSCSCFUnreachable)
}

// request sends a network-initiated request and returns the answer with its outcome.
func (s *Server) request(ctx context.Context, cmd cx.Command, msg *diam.Message, host, sessionID, impi string) (*diam.Message, diameter.ResultCode, uint32, error) {
	if s.isClosed() {
		return nil, 0, 0, ErrServerClosed
	}
	s.metrics.observeSent(cmd)
	start := time.Now()
	ans, err := s.node.Request(ctx, msg)
	if err != nil {
		if errors.Is(err, peer.ErrNoPeer) {
			err = fmt.Errorf("%w: %w", ErrSCSCFUnreachable, err)
		}
		s.log.Warn("cx "+cmd.Request()+" failed", logging.SessionID(sessionID), logging.IMPI(impi),
			logging.Peer(host), zap.Error(err))
		return nil, 0, 0, fmt.Errorf("%s to %s: %w", cmd.Request(), host, err)
	}
	code, vendor := answerResult(ans)
	s.metrics.observeAnswered(cmd, code, vendor, time.Since(start))
	return ans, code, vendor, nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// answerResult reads an answer's outcome: the Experimental-Result (RFC 6733 §7.6) when there is one, else
// the Result-Code.
func answerResult(m *diam.Message) (diameter.ResultCode, uint32) {
	u32 := func(a *diam.AVP) uint32 {
		if v, ok := a.Data.(datatype.Unsigned32); ok {
			return uint32(v)
		}
		return 0
	}
	var result diameter.ResultCode
	for _, a := range m.AVP {
		switch {
		case a == nil || a.VendorID != 0:
		case a.Code == uint32(cx.AVPExperimentalResult):
			g, ok := a.Data.(*diam.GroupedAVP)
			if !ok {
				continue
			}
			var code, vendor uint32
			for _, c := range g.AVP {
				switch {
				case c == nil:
				case c.Code == uint32(cx.AVPExperimentalResultCode):
					code = u32(c)
				case c.Code == uint32(cx.AVPVendorID):
					vendor = u32(c)
				}
			}
			return diameter.ResultCode(code), vendor
		case a.Code == uint32(cx.AVPResultCode):
			result = diameter.ResultCode(u32(a))
		}
	}
	return result, 0
}
