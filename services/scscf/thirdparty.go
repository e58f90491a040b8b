package scscf

// Third-party registration to application servers, TS 24.229 §5.4.1.7: after a successful registration,
// re-registration or de-registration, the S-CSCF evaluates the iFCs against the REGISTER and sends its own
// REGISTER to every AS whose iFC matches.

import (
	"context"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/userdata"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/scscf/registrar"
	"github.com/imscore/imscore/sip/trust"
)

// thirdPartyRegister sends the REGISTERs for reg on goroutines the Server waits for. expires is the
// registration's remaining time (0 for a de-registration).
func (s *Server) thirdPartyRegister(orig *sip.Request, reg *registrar.Registration, rt RegistrationType, expires time.Duration) {
	sp := ProfileFor(parseProfile(reg), reg.IMPU)
	if sp == nil {
		return
	}
	ifcs := MatchingIFCs(sp, IFCRequest{Request: orig, SessionCase: userdata.SessionOriginating, Registered: true,
		RegistrationType: rt})
	for _, ifc := range ifcs {
		var as sip.Uri
		if err := sip.ParseUri(ifc.ApplicationServer.ServerName, &as); err != nil {
			continue
		}
		req := sip.NewRequest(sip.REGISTER, as)
		req.AppendHeader(sip.NewHeader("From", "<"+s.cfg.ServerName+">;tag="+newTag()))
		req.AppendHeader(sip.NewHeader("To", "<"+reg.IMPU+">"))
		callID := sip.CallIDHeader(newTag() + "@" + s.advertise.Addr().String())
		req.AppendHeader(&callID)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.REGISTER})
		req.AppendHeader(sip.NewHeader("Contact", "<"+s.contactURI+">"))
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
		if ext := ifc.ApplicationServer.Extension; ext != nil && ext.IncludeRegisterRequest != nil {
			// TS 24.229 §5.4.1.7: the incoming REGISTER as a message/sip body (TS 29.228 Annex B.2.3).
			body := orig
			if s.edge.Outside(&as) {
				// TS 24.229 §4.4, RFC 3325 §5: an AS outside the trust domain gets no trust-domain header
				// field (P-Access-Network-Info, P-Charging-Vector, ...), in a body neither.
				body = orig.Clone()
				trust.Strip(body)
			}
			req.AppendHeader(sip.NewHeader("Content-Type", "message/sip"))
			req.SetBody([]byte(body.String()))
		}
		s.wg.Add(1)
		go func(as string, handling *userdata.DefaultHandling) {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(s.runCtx, s.cfg.ASTimeout) // no answer in time: the AS failed
			defer cancel()
			res, err := s.proxy.Send(ctx, req)
			log := s.log.With(logging.IMPU(reg.IMPU), zap.String("as", as))
			failed := err != nil || res.StatusCode == 408 || res.StatusCode >= 500
			switch {
			case err != nil:
				log.Info("third-party REGISTER failed", zap.Error(err))
			case res.StatusCode >= 300:
				log.Info("third-party REGISTER rejected", zap.Int("code", res.StatusCode))
			default:
				log.Debug("third-party REGISTER accepted")
			}
			// TS 24.229 §5.4.1.7: no answer (or 408, 5xx) and DefaultHandling SESSION_TERMINATED → the
			// S-CSCF de-registers the user (network-initiated, §5.4.1.5).
			if failed && expires > 0 && handling != nil && *handling == userdata.SessionTerminated {
				s.administrativeDeregister(ctx, reg.IMPU, log)
			}
		}(ifc.ApplicationServer.ServerName, ifc.ApplicationServer.DefaultHandling)
	}
}

// administrativeDeregister ends a registration on this node's own decision: SAR
// ADMINISTRATIVE_DEREGISTRATION, removal, NOTIFY with event "deactivated" (TS 24.229 §5.4.1.5).
func (s *Server) administrativeDeregister(ctx context.Context, impu string, log *zap.Logger) {
	reg, err := s.reg.Registration(ctx, impu)
	if err != nil {
		return
	}
	if _, err := s.cx.serverAssignment(ctx, reg.IMPI, []string{reg.IMPU}, cx.SATAdministrativeDeregistration, false, reg.HSS.Host); err != nil {
		log.Warn("SAR ADMINISTRATIVE_DEREGISTRATION", zap.Error(err))
	}
	// Applied only to the registration the SAR was about (no lock is held across the SAR).
	if err := s.table.DeleteRegistrationIf(ctx, reg.IMPU, reg.Version); err != nil {
		log.Warn("administrative de-registration", zap.Error(err))
		return
	}
	log.Info("de-registered: AS unreachable and its default handling is SESSION_TERMINATED")
	s.notifyTerminated(reg, EventDeactivated)
}
