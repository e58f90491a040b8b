package scscf

// Cx towards the HSS (TS 29.228 §6.1, §6.3; TS 29.229): MAR and SAR out, RTR and PPR in.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/doic"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/logging"
)

// CxError is a Cx answer that was not a success: the Result-Code or Experimental-Result-Code (Vendor
// non-zero) the HSS sent.
type CxError struct {
	Command string
	Code    diameter.ResultCode
	Vendor  uint32
}

func (e *CxError) Error() string {
	if e.Vendor != 0 {
		if n := cx.ExperimentalResultName(e.Code); n != "" {
			return fmt.Sprintf("%s: %s (%d)", e.Command, n, e.Code)
		}
	}
	return fmt.Sprintf("%s: result %d (vendor %d)", e.Command, e.Code, e.Vendor)
}

// Is maps the TS 29.229 §6.2 codes onto this package's sentinels.
func (e *CxError) Is(target error) bool {
	if e.Vendor == cx.Vendor3GPP {
		switch e.Code {
		case cx.ErrorUserUnknown:
			return target == ErrUserUnknown
		case cx.ErrorIdentitiesDontMatch:
			return target == ErrIdentitiesDontMatch
		}
	}
	return target == ErrHSS
}

// cxClient sends MAR and SAR to the HSS over the peer node.
type cxClient struct {
	node       *peer.Node
	cfg        DiameterConfig
	serverName string
	sessionHi  uint32
	sessionLo  atomic.Uint64
	log        *zap.Logger
	// overload, when set, is DOIC (RFC 7683): OC-Supported-Features in every request, the HSS's OC-OLR
	// taken from every answer, and the share of requests it asks for throttled before they are sent.
	overload *doic.Reactor
}

// admit applies the HSS's overload reports to a request for host (RFC 7683 §5.5.1) and, when it may go,
// returns the OC-Supported-Features it carries (§5.3.1); nil without DOIC.
func (c *cxClient) admit(command, impi, host string) (*cx.OCSupportedFeatures, error) {
	if c.overload == nil {
		return nil, nil
	}
	if ok, _ := c.overload.Admit(host, c.cfg.HSSRealm); !ok {
		return nil, fmt.Errorf("%s %s: %w: %w", command, impi, ErrHSS, ErrHSSOverloaded)
	}
	return doic.Supported(), nil
}

// observe takes the overload report of an answer, whatever its result (RFC 7683 §5.5.3).
func (c *cxClient) observe(command, originHost, originRealm string, olr *cx.OCOLR) {
	if c.overload != nil {
		c.overload.Observe(command, originHost, originRealm, olr)
	}
}

// newSessionID builds a Session-Id as RFC 6733 §8.8 recommends: <DiameterIdentity>;<high 32 bits>;<low 32 bits>.
func (c *cxClient) newSessionID() string {
	return fmt.Sprintf("%s;%d;%d", c.cfg.OriginHost, c.sessionHi, c.sessionLo.Add(1))
}

func randomUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// result turns an answer's outcome into nil or a *CxError.
func result(command string, code diameter.ResultCode, vendor uint32) error {
	if vendor == 0 && code == diameter.Success {
		return nil
	}
	if vendor == cx.Vendor3GPP && code >= 2000 && code < 3000 {
		return nil // DIAMETER_FIRST_REGISTRATION and the other §6.2.1 successes
	}
	return &CxError{Command: command, Code: code, Vendor: vendor}
}

// multimediaAuth is the MAR/MAA exchange (TS 29.228 §6.3.1). resync, when set, is RAND‖AUTS
// (TS 33.203 §6.1.2).
func (c *cxClient) multimediaAuth(ctx context.Context, impi, impu, scheme string, resync []byte) (*cx.MAA, error) {
	oc, err := c.admit("mar", impi, c.cfg.HSSHost)
	if err != nil {
		return nil, err
	}
	mar := &cx.MAR{
		OCSupportedFeatures: oc,
		SessionID:           c.newSessionID(),
		OriginHost:          c.cfg.OriginHost,
		OriginRealm:         c.cfg.OriginRealm,
		DestinationRealm:    c.cfg.HSSRealm,
		DestinationHost:     c.cfg.HSSHost,
		UserName:            impi,
		PublicIdentity:      impu,
		SIPAuthDataItem:     cx.SIPAuthDataItem{Scheme: scheme, Authorization: resync},
		SIPNumberAuthItems:  1,
		ServerName:          c.serverName,
	}
	// The byte path (docs/diameter.md): the struct straight to bytes and the answer straight back.
	req, err := mar.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("mar %s: %w", impi, err)
	}
	ans, err := c.node.RequestBinary(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("mar %s: %w: %w", impi, ErrHSS, err)
	}
	maa := new(cx.MAA)
	if err := maa.UnmarshalBinary(ans); err != nil {
		return nil, fmt.Errorf("mar %s: %w: %w", impi, ErrHSS, err)
	}
	c.observe("MAA", maa.OriginHost, maa.OriginRealm, maa.OCOLR)
	if code, vendor := maa.Result(); result("MAA", code, vendor) != nil {
		err := result("MAA", code, vendor)
		return nil, fmt.Errorf("mar %s: %w", impi, err)
	}
	c.log.Debug("MAA", logging.IMPI(impi), logging.SessionID(mar.SessionID), zap.Int("vectors", len(maa.SIPAuthDataItems)))
	return maa, nil
}

// serverAssignment is the SAR/SAA exchange (TS 29.228 §6.1.2). host is the HSS that holds the
// registration ("" lets the realm route it).
func (c *cxClient) serverAssignment(ctx context.Context, impi string, impus []string, sat cx.ServerAssignmentType,
	dataAvailable bool, host string) (*cx.SAA, error) {
	return c.serverAssignmentRestoring(ctx, impi, impus, sat, dataAvailable, host, nil)
}

// serverAssignmentRestoring is serverAssignment with the registration's SCSCF-Restoration-Info (TS 29.229
// §6.3.46; nil sends none): SAR REGISTRATION, RE_REGISTRATION and RESTORATION (TS 29.228 §6.1.2.1).
func (c *cxClient) serverAssignmentRestoring(ctx context.Context, impi string, impus []string, sat cx.ServerAssignmentType,
	dataAvailable bool, host string, restoration *cx.SCSCFRestorationInfo) (*cx.SAA, error) {
	if host == "" {
		host = c.cfg.HSSHost
	}
	oc, err := c.admit("sar", impi, host)
	if err != nil {
		return nil, err
	}
	sar := &cx.SAR{
		OCSupportedFeatures:  oc,
		SessionID:            c.newSessionID(),
		OriginHost:           c.cfg.OriginHost,
		OriginRealm:          c.cfg.OriginRealm,
		DestinationHost:      host,
		DestinationRealm:     c.cfg.HSSRealm,
		UserName:             impi,
		PublicIdentity:       impus,
		ServerName:           c.serverName,
		ServerAssignmentType: sat,
		SCSCFRestorationInfo: restoration,
	}
	if dataAvailable {
		sar.UserDataAlreadyAvailable = cx.UserDataAvailable // §6.3.26
	}
	req, err := sar.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("sar %s %v: %w", impi, sat, err)
	}
	ans, err := c.node.RequestBinary(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("sar %s %v: %w: %w", impi, sat, ErrHSS, err)
	}
	saa := new(cx.SAA)
	if err := saa.UnmarshalBinary(ans); err != nil {
		return nil, fmt.Errorf("sar %s %v: %w: %w", impi, sat, ErrHSS, err)
	}
	c.observe("SAA", saa.OriginHost, saa.OriginRealm, saa.OCOLR)
	if code, vendor := saa.Result(); result("SAA", code, vendor) != nil {
		err := result("SAA", code, vendor)
		return nil, fmt.Errorf("sar %s %v: %w", impi, sat, err)
	}
	c.log.Debug("SAA", logging.IMPI(impi), logging.SessionID(sar.SessionID), zap.Stringer("type", sat))
	return saa, nil
}

// cxTimeout bounds the background SARs (timeouts, failures) that no SIP transaction waits for.
const cxTimeout = 10 * time.Second

// ServeDiameter handles the requests the HSS sends: RTR (TS 29.228 §6.1.3) and PPR (§6.1.4).
func (s *Server) ServeDiameter(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	switch cx.Command(req.Header.CommandCode) {
	case cx.CmdRegistrationTermination:
		rtr, err := cx.ParseRTR(req)
		if err != nil {
			return nil, err
		}
		rta := cx.NewRTA(rtr)
		rta.OriginHost, rta.OriginRealm = s.cfg.Diameter.OriginHost, s.cfg.Diameter.OriginRealm
		if err := s.registrationTermination(ctx, rtr); err != nil {
			s.log.Warn("RTR", logging.IMPI(rtr.UserName), logging.Peer(from.OriginHost), zap.Error(err))
			if errors.Is(err, ErrUserUnknown) {
				rta.SetExperimentalResult(cx.Vendor3GPP, cx.ErrorIdentityNotRegistered)
			} else {
				rta.SetResultCode(diameter.UnableToComply)
			}
		} else {
			rta.SetResultCode(diameter.Success)
		}
		return rta.Marshal(s.dict)
	case cx.CmdPushProfile:
		ppr, err := cx.ParsePPR(req)
		if err != nil {
			return nil, err
		}
		ppa := cx.NewPPA(ppr)
		ppa.OriginHost, ppa.OriginRealm = s.cfg.Diameter.OriginHost, s.cfg.Diameter.OriginRealm
		if err := s.pushProfile(ctx, ppr); err != nil {
			s.log.Warn("PPR", logging.IMPI(ppr.UserName), logging.Peer(from.OriginHost), zap.Error(err))
			if errors.Is(err, ErrUserUnknown) {
				ppa.SetExperimentalResult(cx.Vendor3GPP, cx.ErrorUserUnknown)
			} else {
				ppa.SetResultCode(diameter.UnableToComply)
			}
		} else {
			ppa.SetResultCode(diameter.Success)
		}
		return ppa.Marshal(s.dict)
	}
	return nil, diameter.Errorf(diameter.CommandUnsupported, "command %d", req.Header.CommandCode)
}
