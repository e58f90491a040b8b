package bsf

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/bsf/gba"
)

// diameterHandler is the BSF's Diameter handler: Zn requests in wire form (serveZn); anything else is not
// served (the HSS sends nothing to the BSF on Zh).
type diameterHandler struct{ s *Server }

// ServeDiameter implements peer.Handler: no request is served the go-diameter way.
func (h diameterHandler) ServeDiameter(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
	return nil, diameter.Errorf(diameter.CommandUnsupported, "the BSF serves Zn BIR only")
}

// ServesBinary implements peer.BinaryHandler.
func (h diameterHandler) ServesBinary(app, command uint32) bool {
	return app == gaa.AppZn && command == uint32(gaa.CmdBootstrappingInfo)
}

// ServeDiameterBinary implements peer.BinaryHandler.
func (h diameterHandler) ServeDiameterBinary(ctx context.Context, frame []byte, from peer.PeerInfo) ([]byte, error) {
	return h.s.serveZn(ctx, frame, from)
}

// serveZn answers a Bootstrapping-Info-Request (TS 29.109 §6.1.3/§6.1.4, TS 33.220 §4.5.3 step 3–4): the NAF
// must be authorised for the NAF FQDN it names (else DIAMETER_ERROR_NOT_AUTHORIZED), the B-TID must name a
// session whose key has not expired (else DIAMETER_ERROR_IMPI_UNKNOWN, the UE bootstraps again); the answer
// holds Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, NAF_Id), its expiry, the IMPI and the GUSS.
func (s *Server) serveZn(_ context.Context, frame []byte, from peer.PeerInfo) ([]byte, error) {
	req := new(gaa.BIR)
	if err := req.UnmarshalBinary(frame); err != nil {
		s.metrics.zn.WithLabelValues("decode").Inc()
		return nil, err
	}
	ans := gaa.NewBIA(req)
	ans.OriginHost, ans.OriginRealm = s.cfg.Name, s.cfg.Realm
	for _, a := range req.Unknown { // RFC 6733 §6.7.2: Proxy-Info goes back unchanged
		if len(a) >= 8 && binary.BigEndian.Uint32(a) == uint32(gaa.AVPProxyInfo) {
			ans.Unknown = append(ans.Unknown, a)
		}
	}
	log := s.log.With(logging.SessionID(req.SessionID), logging.Peer(from.OriginHost), zap.String("btid", req.TransactionID))
	fqdn := strings.ToLower(string(req.NAFID[:max(0, len(req.NAFID)-5)]))
	now := s.now()
	switch sess := s.sessions.get(req.TransactionID, now); {
	case !s.nafAllowed(from.OriginHost, fqdn):
		ans.Result = gaa.Result{Code: gaa.ErrorNotAuthorized, Vendor: gaa.Vendor3GPP}
		log.Info("zn: NAF not authorised for this NAF_Id", zap.String("naf", fqdn))
	case sess == nil:
		ans.Result = gaa.Result{Code: gaa.ErrorImpiUnknown, Vendor: gaa.Vendor3GPP}
		log.Info("zn: B-TID unknown or expired")
	default:
		key, err := gba.KsNAF(sess.ks, sess.rand, sess.impi, req.NAFID)
		if err != nil {
			s.metrics.zn.WithLabelValues("error").Inc()
			return nil, diameter.Errorf(diameter.InvalidAVPValue, "zn: NAF-Id: %w", err)
		}
		t := gaa.GBAType3G
		ans.Result = gaa.Result{Code: uint32(diameter.Success)}
		ans.UserName, ans.MEKey, ans.Expiry, ans.CreatedAt, ans.GUSS, ans.GBAType = sess.impi, key, sess.expires, sess.created, sess.guss, &t
		log.Debug("zn: key given", logging.IMPI(sess.impi), zap.String("naf", fqdn))
	}
	s.metrics.zn.WithLabelValues(strconv.FormatUint(uint64(ans.Result.Code), 10)).Inc()
	out, err := ans.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("zn: encode BIA: %w", err)
	}
	return out, nil
}

// nafAllowed is the BSF's check that the NAF may have keys for fqdn (TS 33.220 §4.5.3): its own Origin-Host
// or one of the names zn.naf_names lists for it.
func (s *Server) nafAllowed(originHost, fqdn string) bool {
	if fqdn == "" {
		return false
	}
	if names, ok := s.cfg.Zn.NAFNames[originHost]; ok {
		return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, fqdn) })
	}
	return strings.EqualFold(originHost, fqdn)
}

var _ peer.BinaryHandler = diameterHandler{}
