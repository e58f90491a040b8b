package scscf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/header"
)

// S-CSCF restoration (TS 23.380 §5.2; TS 29.228 §6.1.2.1; docs/scscf.md "Restoration"). This S-CSCF hands
// the HSS what another S-CSCF needs to serve a registered user — per contact the Contact, Path, Call-ID and
// CSeq of the REGISTER, and when the registration ends — with every SAR REGISTRATION and RE_REGISTRATION,
// and with SAR RESTORATION when contacts end without a REGISTER. When a request reaches it for (or from) a
// user it has no registration of, the SAA of its SAR UNREGISTERED_USER carries that information if the user
// is registered at an S-CSCF that is gone; this S-CSCF then rebuilds the registration and serves the user as
// registered until the UE registers again (the UE refreshes it here: the I-CSCF's UAR names this S-CSCF).

// restorationInfo is reg's SCSCF-Restoration-Info (TS 29.229 §6.3.46): one Restoration-Info per live contact
// (§6.3.52) and Registration-Time-Out (§6.3.71), the latest contact expiry. nil when restoration is off or
// no contact is live.
func (s *Server) restorationInfo(reg *registrar.Registration, now time.Time) *cx.SCSCFRestorationInfo {
	if !s.cfg.Restoration || reg == nil {
		return nil
	}
	x := &cx.SCSCFRestorationInfo{UserName: reg.IMPI}
	var until time.Time
	for _, c := range reg.Contacts {
		if !c.Expires.After(now) {
			continue
		}
		contact := "<" + c.URI + ">"
		if c.Params != "" {
			contact += ";" + c.Params
		}
		cseq := c.CSeq
		x.RestorationInfo = append(x.RestorationInfo, cx.RestorationInfo{
			Path:                      []byte(strings.Join(c.Path, ", ")), // §6.3.47: the Path header value
			Contact:                   []byte(contact),                    // §6.3.48: the Contact header value
			InitialCSeqSequenceNumber: &cseq,                              // §6.3.62
			CallIDSIPHeader:           []byte(c.CallID),
		})
		if c.Expires.After(until) {
			until = c.Expires
		}
	}
	if len(x.RestorationInfo) == 0 {
		return nil
	}
	until = until.UTC().Truncate(time.Second)
	x.RegistrationTimeOut = &until
	return x
}

// sendRestoration tells the HSS the registration's restoration information after a change no REGISTER
// carried (SAR RESTORATION, TS 29.228 §6.1.2.1). Best effort: the HSS keeps the older information, which
// names a contact more than the registration has.
func (s *Server) sendRestoration(ctx context.Context, reg *registrar.Registration) {
	info := s.restorationInfo(reg, time.Now())
	if info == nil {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, cxTimeout)
	defer cancel()
	if _, err := s.cx.serverAssignmentRestoring(cctx, reg.IMPI, []string{reg.IMPU}, cx.SATRestoration, true, reg.HSS.Host, info); err != nil {
		s.log.Info("SAR RESTORATION", logging.IMPI(reg.IMPI), logging.IMPU(reg.IMPU), zap.Error(err))
	}
}

// errNothingToRestore: the SAA carries no usable restoration information.
var errNothingToRestore = errors.New("no restoration information")

// restore serves impu after SAR UNREGISTERED_USER: when the SAA carries restoration information, the
// registration it describes is rebuilt and stored here (TS 23.380 §5.2.2.2 terminating, §5.2.2.1
// originating) and returned; errNothingToRestore when it carries none (the user is not registered, or not
// restorable). saa is the answer to that SAR.
func (s *Server) restore(ctx context.Context, impu string, saa *cx.SAA, log *zap.Logger) (*registrar.Registration, error) {
	if !s.cfg.Restoration || len(saa.SCSCFRestorationInfo) == 0 {
		return nil, errNothingToRestore
	}
	now := time.Now()
	// One registration per registered IMPU and private identity here: the first group's private identity
	// (the HSS orders them), with its contacts. Other private identities sharing the identity register
	// again to be reachable (docs/scscf.md "Restoration").
	info := saa.SCSCFRestorationInfo[0]
	reg := &registrar.Registration{IMPU: impu, IMPI: info.UserName}
	until := now.Add(s.cfg.Registration.DefaultExpires)
	if t := info.RegistrationTimeOut; t != nil {
		until = *t
	}
	if !until.After(now) {
		return nil, fmt.Errorf("restore %s: %w: registration timed out at %s", impu, errNothingToRestore, until.Format(time.RFC3339))
	}
	for i, ri := range info.RestorationInfo {
		uri, params, err := splitContact(string(ri.Contact))
		if err != nil {
			log.Info("restoration: contact skipped", zap.Error(err))
			continue
		}
		c := registrar.Contact{URI: uri, Params: params, Expires: until, CallID: string(ri.CallIDSIPHeader), ID: strconv.Itoa(i + 1)}
		if ri.InitialCSeqSequenceNumber != nil {
			c.CSeq = *ri.InitialCSeqSequenceNumber
		}
		if p := strings.TrimSpace(string(ri.Path)); p != "" {
			c.Path = header.SplitList(p)
		}
		reg.Contacts = append(reg.Contacts, c)
	}
	if len(reg.Contacts) == 0 {
		return nil, fmt.Errorf("restore %s: %w: no usable contact", impu, errNothingToRestore)
	}
	if len(saa.UserData) > 0 {
		if err := applyProfile(reg, saa.UserData); err != nil {
			return nil, fmt.Errorf("restore %s: User-Data: %w", impu, err)
		}
	}
	if len(reg.Identities) == 0 {
		reg.Identities = []registrar.Identity{{URI: impu}}
	}
	reg.HSS = registrar.HSSSession{Host: saa.OriginHost, Realm: saa.OriginRealm, ServerName: s.cfg.ServerName}
	reg.Expires = earliestExpiry(reg.Contacts)
	if err := s.table.SaveRegistrationIf(ctx, reg, registrar.Absent); err != nil {
		if errors.Is(err, registrar.ErrConflict) {
			// Restored (or registered) meanwhile by another request: that one stands.
			return s.reg.Registration(ctx, impu)
		}
		return nil, fmt.Errorf("restore %s: %w", impu, err)
	}
	log.Info("registration restored from the HSS", logging.IMPI(reg.IMPI), zap.Int("contacts", len(reg.Contacts)),
		zap.Time("expires", until))
	s.metrics.registrations.WithLabelValues("restored").Inc()
	return reg, nil
}

// splitContact splits a Contact header value ("<uri>;params" or a bare URI) into the URI and its
// parameters, as the registrar keeps them.
func splitContact(v string) (uri, params string, err error) {
	v = strings.TrimSpace(v)
	if start := strings.IndexByte(v, '<'); start >= 0 { // a display name before it is dropped
		end := strings.IndexByte(v[start:], '>')
		if end < 0 {
			return "", "", fmt.Errorf("contact %q: no closing '>'", v)
		}
		end += start
		uri = v[start+1 : end]
		params = strings.TrimPrefix(strings.TrimSpace(v[end+1:]), ";")
	} else {
		uri, params, _ = strings.Cut(v, ";")
	}
	if uri == "" {
		return "", "", fmt.Errorf("contact %q: no URI", v)
	}
	return uri, params, nil
}

// restoreOriginating restores a served user that sends a request through this S-CSCF without being
// registered here (TS 23.380 §5.2.2.1: its S-CSCF is gone and the request reached another one): SAR
// UNREGISTERED_USER and the restoration information of the SAA. nil when there is nothing to restore.
func (s *Server) restoreOriginating(ctx context.Context, impu string, log *zap.Logger) (*registrar.Registration, error) {
	if !s.cfg.Restoration {
		return nil, errNothingToRestore
	}
	saa, err := s.cx.serverAssignment(ctx, "", []string{impu}, cx.SATUnregisteredUser, false, "")
	if err != nil {
		return nil, err
	}
	return s.restore(ctx, impu, saa, log)
}
