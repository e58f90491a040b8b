package hss

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/internal/logging"
)

// The Zh server: the HSS side of TS 29.109 §4 (Zh, BSF → HSS) for GBA (TS 33.220 §4.5.2). A BSF asks for one
// AKA vector of a private identity, and for the user's GBA User Security Settings, with a Multimedia-Auth-
// Request of the Zh application (16777221). The vector comes from the same subscriber data and the same SQN
// handling as a Cx MAR (akaItems: the reserved SQN blocks, resynchronisation with RAND ‖ AUTS), but nothing of
// the IMS registration is read or written: no S-CSCF name is stored as pending, no RTR is sent. Bootstrapping
// over Ub must not disturb the user's IMS registration (a Cx MAR from a non-S-CSCF would: TS 29.228 §6.3.1
// step 5 stores the requester as the pending S-CSCF).

// RoleBSF may send the Zh MAR (TS 29.109 §6.1.1).
const RoleBSF = "bsf"

// zhApplication is the Zh application the HSS advertises in CER/CEA besides Cx (TS 29.109 §6.2).
func zhApplication() peer.Application {
	return peer.Application{ID: gaa.AppZh, VendorID: gaa.Vendor3GPP}
}

// zhPermissions are the Zh requests a BSF may send.
func zhPermissions() []peer.Command {
	return []peer.Command{{App: gaa.AppZh, Code: uint32(gaa.CmdMultimediaAuth)}}
}

// servesZh reports whether (app, command) is the Zh MAR, served in wire form by serveZh.
func servesZh(app, command uint32) bool {
	return app == gaa.AppZh && command == uint32(gaa.CmdMultimediaAuth)
}

// serveZh answers a Zh MAR frame: TS 29.109 §6.1.1/§6.1.2 and TS 33.220 §4.5.2 steps 2–3. The answer holds one
// AKA vector (Digest-AKAv1-MD5: RAND ‖ AUTN, XRES, CK, IK) and the GUSS (TS 29.109 Annex A) listing the user's
// public user identities, the identities a NAF may let the user act as. Errors of the request's own making are
// answered with their Experimental-Result; a decoding error is returned for the peer layer to answer.
func (s *Server) serveZh(ctx context.Context, frame []byte, from peer.PeerInfo) ([]byte, error) {
	start := time.Now()
	req := new(gaa.MAR)
	if err := req.UnmarshalBinary(frame); err != nil {
		s.logZh(req, from, start, err)
		return nil, err
	}
	ans := gaa.NewMAA(req)
	ans.OriginHost, ans.OriginRealm = s.cfg.Diameter.OriginHost, s.cfg.Diameter.Realm
	for _, a := range req.Unknown { // RFC 6733 §6.7.2: the answer carries the request's Proxy-Info unchanged
		if len(a) >= 8 && a[0] == 0 && a[1] == 0 && a[2] == 0x01 && a[3] == 0x1c {
			ans.Unknown = append(ans.Unknown, a)
		}
	}
	err := s.zhMAR(ctx, req, ans)
	var de *diameter.Error
	switch {
	case err == nil:
		ans.Result = gaa.Result{Code: uint32(diameter.Success)}
	case errors.As(err, &de) && !de.Code.IsProtocolError():
		ans.Result = gaa.Result{Code: uint32(de.Code), Vendor: de.VendorID}
		ans.AuthDataItem, ans.GUSS, ans.NumberAuthItems = nil, nil, nil
	default:
		s.logZh(req, from, start, err)
		return nil, err // store failure: DIAMETER_UNABLE_TO_COMPLY from the peer layer
	}
	s.logZh(req, from, start, err)
	return ans.AppendBinary(nil)
}

// zhMAR fills ans for req.
func (s *Server) zhMAR(ctx context.Context, req *gaa.MAR, ans *gaa.MAA) error {
	priv, err := s.store.GetIMPI(ctx, req.UserName)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// TS 29.109 §6.1.2: an unknown IMPI is DIAMETER_ERROR_USER_UNKNOWN.
			return &diameter.Error{Code: diameter.ResultCode(gaa.ErrorUserUnknown), VendorID: gaa.Vendor3GPP, Err: fmt.Errorf("zh mar %s: %w", req.UserName, err)}
		}
		return fmt.Errorf("zh mar %s: %w", req.UserName, err)
	}
	// GBA runs UMTS AKA (TS 33.220 §4.5.2): the subscriber must have an AKA scheme and keys.
	if !priv.AuthSchemes.Has(AuthAKAv1MD5) && !priv.AuthSchemes.Has(AuthAKAv2MD5) {
		return &diameter.Error{Code: diameter.ResultCode(gaa.ErrorAuthSchemeNotSupported), VendorID: gaa.Vendor3GPP,
			Err: fmt.Errorf("zh mar %s: the subscriber may not use AKA (%s)", priv.IMPI, priv.AuthSchemes)}
	}
	keys, err := aka.NewKeys(priv.K, priv.OP, priv.OPc, priv.AMF)
	if err != nil {
		return fmt.Errorf("zh mar %s: keys: %w", priv.IMPI, err)
	}
	var sqnMS aka.SQN
	resync := req.AuthDataItem != nil && len(req.AuthDataItem.Authorization) > 0
	if resync {
		// TS 33.220 §4.5.2, TS 29.109 §6.1.1: SIP-Authorization holds RAND ‖ AUTS after a synchronisation failure.
		a := req.AuthDataItem.Authorization
		if len(a) != resyncLen {
			return diameter.Errorf(diameter.InvalidAVPValue, "zh mar %s: SIP-Authorization of %d octets, want RAND ‖ AUTS = %d", priv.IMPI, len(a), resyncLen)
		}
		var rand [16]byte
		copy(rand[:], a[:16])
		if sqnMS, err = aka.Resync(keys, rand, a[16:]); err != nil {
			s.metrics.observeResync(false)
			if errors.Is(err, aka.ErrMACSMismatch) || errors.Is(err, aka.ErrInvalidAUTS) {
				return diameter.Errorf(diameter.AuthenticationRejected, "zh mar %s: resynchronisation refused: %w", priv.IMPI, err)
			}
			return fmt.Errorf("zh mar %s: resync: %w", priv.IMPI, err)
		}
		s.metrics.observeResync(true)
	}
	// One vector, from the SQN blocks a Cx MAR uses; no registration function: the IMS registration is untouched.
	items, err := s.akaItems(ctx, priv, nil, keys, SchemeAKAv1, 1, resync, sqnMS, nil)
	if err != nil {
		return err
	}
	impus, err := s.store.IMPUsOfIMPI(ctx, priv.IMPI)
	if err != nil {
		return fmt.Errorf("zh mar %s: public identities: %w", priv.IMPI, err)
	}
	guss, err := GUSS(priv.IMPI, impus)
	if err != nil {
		return fmt.Errorf("zh mar %s: %w", priv.IMPI, err)
	}
	it := items[0]
	one := uint32(1)
	ans.UserName, ans.NumberAuthItems, ans.GUSS = priv.IMPI, &one, guss
	ans.AuthDataItem = &gaa.AuthDataItem{Scheme: it.Scheme, Authenticate: it.Authenticate, Authorization: it.Authorization,
		CK: it.ConfidentialityKey, IK: it.IntegrityKey}
	s.metrics.observeVectors(SchemeAKAv1, 1)
	return nil
}

// GUSS is the GBA User Security Settings document of TS 29.109 Annex A for impi: one USS (type 1, no NAF group)
// whose uids are the public user identities that are not barred, in store order. A NAF lets the user act as
// one of these only (TS 33.222 §5.3, TS 24.623 §5.2.3: the XUI of an XCAP request).
func GUSS(impi string, impus []PublicIdentity) ([]byte, error) {
	type uss struct {
		ID    string   `xml:"id,attr"`
		Type  string   `xml:"type,attr"`
		UIDs  []string `xml:"uids>uid"`
		Flags struct{} `xml:"flags"`
	}
	doc := struct {
		XMLName xml.Name `xml:"urn:3GPP:ns:PicsGUSS:1.0 guss"`
		ID      string   `xml:"id,attr"`
		BSFInfo struct {
			UICCType string `xml:"uiccType"`
		} `xml:"bsfInfo"`
		USS []uss `xml:"ussList>uss"`
	}{ID: impi}
	doc.BSFInfo.UICCType = "GBA"
	u := uss{ID: "1", Type: "1"}
	for _, p := range impus {
		if p.Type == IdentityPublicUser && !p.Barred {
			u.UIDs = append(u.UIDs, p.IMPU)
		}
	}
	doc.USS = []uss{u}
	b, err := xml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("guss: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// logZh logs one Zh transaction: Debug when served, Info when refused, Warn when the store failed.
func (s *Server) logZh(req *gaa.MAR, from peer.PeerInfo, start time.Time, err error) {
	level := zapcore.DebugLevel
	var de *diameter.Error
	switch {
	case err == nil, errors.Is(err, context.Canceled):
	case errors.As(err, &de):
		level = zapcore.InfoLevel
	default:
		level = zapcore.WarnLevel
	}
	if ce := s.log.Check(level, "zh MAR"); ce != nil {
		fields := []zap.Field{logging.SessionID(req.SessionID), logging.IMPI(req.UserName), logging.Peer(from.OriginHost),
			zap.Bool("resync", req.AuthDataItem != nil && len(req.AuthDataItem.Authorization) > 0), zap.Duration("took", time.Since(start))}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		ce.Write(fields...)
	}
}
