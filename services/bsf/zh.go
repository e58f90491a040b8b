package bsf

import (
	"context"
	"fmt"
	"strconv"

	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/hss/aka"
)

// vector is what the BSF takes from a Zh MAA: one AKA vector and the user's GUSS.
type vector struct {
	impi         string
	rand, autn   []byte
	xres, ck, ik []byte
	guss         []byte
}

// fetchVector sends the Zh MAR for impi (TS 29.109 §6.1.1; TS 33.220 §4.5.2 step 2), with RAND ‖ AUTS after a
// synchronisation failure, and returns the vector. A refusal by the HSS is its *diameter.Error.
func (s *Server) fetchVector(ctx context.Context, impi string, resync []byte) (*vector, error) {
	one := uint32(1)
	req := &gaa.MAR{SessionID: s.newSessionID(), OriginHost: s.cfg.Name, OriginRealm: s.cfg.Realm,
		DestinationRealm: s.cfg.Zh.HSSRealm, UserName: impi, NumberAuthItems: &one, ServerName: s.cfg.Name}
	if resync != nil {
		req.AuthDataItem = &gaa.AuthDataItem{Scheme: "Digest-AKAv1-MD5", Authorization: resync}
	}
	frame, err := req.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("zh mar %s: %w", impi, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Zh.RequestTimeout)
	defer cancel()
	out, err := s.node.RequestBinary(ctx, frame)
	if err != nil {
		s.metrics.zh.WithLabelValues("0").Inc()
		return nil, fmt.Errorf("zh mar %s: %w", impi, err)
	}
	ans := new(gaa.MAA)
	if err := ans.UnmarshalBinary(out); err != nil {
		s.metrics.zh.WithLabelValues("0").Inc()
		return nil, fmt.Errorf("zh maa %s: %w", impi, err)
	}
	s.metrics.zh.WithLabelValues(strconv.FormatUint(uint64(ans.Result.Code), 10)).Inc()
	if err := ans.Result.Err(); err != nil {
		return nil, fmt.Errorf("zh mar %s: %w", impi, err)
	}
	it := ans.AuthDataItem
	if it == nil || len(it.Authenticate) != 32 || len(it.CK) != 16 || len(it.IK) != 16 || len(it.Authorization) == 0 {
		return nil, fmt.Errorf("zh maa %s: no usable AKA vector", impi)
	}
	v := &vector{impi: impi, rand: it.Authenticate[:16], autn: it.Authenticate[16:], xres: it.Authorization,
		ck: it.CK, ik: it.IK, guss: ans.GUSS}
	if ans.UserName != "" {
		v.impi = ans.UserName
	}
	return v, nil
}

// resyncData is RAND ‖ AUTS for the Zh MAR (TS 29.229 §6.3.11 as TS 29.109 uses it).
func resyncData(rand, auts []byte) []byte {
	if len(rand) != 16 || len(auts) != aka.AUTSLen {
		return nil
	}
	return append(append(make([]byte, 0, 30), rand...), auts...)
}
