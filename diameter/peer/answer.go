package peer

import (
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
)

// errorAnswer builds the answer the peer layer sends itself: for a request it rejects, or for a
// handler that returned an error. req may be nil when the request did not decode; frame, if
// given, is then searched for the Session-Id. errMsg, if not empty, goes in Error-Message.
//
// A 3xxx protocol error follows the answer-message format of RFC 6733 §7.2 with the 'E' bit.
// Any other code keeps the command's own answer shape: the application AVPs of the request
// (Vendor-Specific-/Auth-/Acct-Application-Id, Auth-Session-State) are copied, because command
// ABNFs such as TS 29.229's require them in every answer.
func (n *Node) errorAnswer(h header, req *diam.Message, frame []byte, de *diameter.Error, errMsg string) *diam.Message {
	protocol := de.VendorID == 0 && de.Code.IsProtocolError()
	flags := h.flags & flagProxiable // §6.2: 'P' as in the request
	if protocol {
		flags |= flagError
	}
	m := diam.NewMessage(h.code, flags, h.app, h.hbh, h.e2e, n.cfg.Dictionary)
	m.Header.HopByHopID, m.Header.EndToEndID = h.hbh, h.e2e
	sid := sessionIDOf(req)
	if req == nil && frame != nil {
		sid = rawSessionID(frame)
	}
	if sid != "" {
		// §8.8: Session-Id "MUST appear immediately following the Diameter header".
		m.AddAVP(newAVP(avpSessionID, avp.Mbit, datatype.UTF8String(sid)))
	}
	if !protocol && req != nil {
		for _, code := range []uint32{avpVendorSpecificApplicationID, avpAuthApplicationID, avpAcctApplicationID, avpAuthSessionState} {
			if a := findAVP(req.AVP, code); a != nil {
				m.AddAVP(a)
			}
		}
	}
	if de.VendorID != 0 {
		// §7.6: Experimental-Result ::= < AVP Header: 297 > { Vendor-Id } { Experimental-Result-Code }
		m.AddAVP(newAVP(avpExperimentalResult, avp.Mbit, &diam.GroupedAVP{AVP: []*diam.AVP{
			newAVP(avpVendorID, avp.Mbit, datatype.Unsigned32(de.VendorID)),
			newAVP(avpExperimentalResultCode, avp.Mbit, datatype.Unsigned32(de.Code)),
		}}))
	} else {
		m.AddAVP(newAVP(avpResultCode, avp.Mbit, datatype.Unsigned32(de.Code)))
	}
	m.AddAVP(newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginHost)))
	m.AddAVP(newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginRealm)))
	if errMsg != "" {
		m.AddAVP(newAVP(avpErrorMessage, 0, datatype.UTF8String(errMsg))) // §7.3: 'M' MUST NOT be set
	}
	if len(de.FailedAVPs) > 0 {
		// §7.5: Failed-AVP ::= < AVP Header: 279 > 1* {AVP}
		m.AddAVP(newAVP(avpFailedAVP, avp.Mbit, &diam.GroupedAVP{AVP: de.FailedAVPs}))
	}
	if req != nil {
		copyProxyInfo(m, req)
	}
	return m
}

// finishAnswer makes a handler's answer fit its request (RFC 6733 §3, §6.2): same Command-Code,
// Application-Id, Hop-by-Hop and End-to-End Identifiers, 'R' clear, 'P' as in the request, 'E'
// for a 3xxx Result-Code; the request's Session-Id first; Origin-Host and Origin-Realm added if
// missing; Proxy-Info copied if the handler did not.
func (n *Node) finishAnswer(req, ans *diam.Message) {
	if ans.Header == nil {
		ans.Header = &diam.Header{}
	}
	rh, ah := req.Header, ans.Header
	ah.Version = diameterVersion
	ah.CommandCode, ah.ApplicationID = rh.CommandCode, rh.ApplicationID
	ah.HopByHopID, ah.EndToEndID = rh.HopByHopID, rh.EndToEndID
	flags := rh.CommandFlags&flagProxiable | ah.CommandFlags&flagError
	if code, vendor, ok := resultOf(ans); ok && vendor == 0 && diameter.ResultCode(code).IsProtocolError() {
		flags |= flagError // §7.1.3: protocol errors are answered with the 'E' bit
	}
	ah.CommandFlags = flags
	avps := make([]*diam.AVP, 0, len(ans.AVP)+3)
	if sid := findAVP(req.AVP, avpSessionID); sid != nil {
		avps = append(avps, sid) // §8.8
	}
	for _, a := range ans.AVP {
		if a != nil && a.Code == avpSessionID && a.VendorID == 0 {
			continue
		}
		avps = append(avps, a)
	}
	if findAVP(avps, avpOriginHost) == nil {
		avps = append(avps, newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginHost)))
	}
	if findAVP(avps, avpOriginRealm) == nil {
		avps = append(avps, newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginRealm)))
	}
	ans.AVP = avps
	if findAVP(avps, avpProxyInfo) == nil {
		copyProxyInfo(ans, req)
	}
}

// copyProxyInfo appends the request's Proxy-Info AVPs to the answer, in order (RFC 6733 §6.2).
func copyProxyInfo(ans, req *diam.Message) {
	for _, a := range req.AVP {
		if a != nil && a.Code == avpProxyInfo && a.VendorID == 0 {
			ans.AVP = append(ans.AVP, a)
		}
	}
}

// asDiameterError finds the Diameter outcome in a handler error; any other error is
// DIAMETER_UNABLE_TO_COMPLY (RFC 6733 §7.1.5).
func asDiameterError(err error) *diameter.Error {
	var de *diameter.Error
	if errors.As(err, &de) {
		return de
	}
	return &diameter.Error{Code: diameter.UnableToComply, Err: err}
}

// encode serialises m, fixing its Message Length (go-diameter writes the stored value, which
// goes stale when AVPs are appended directly). Nil AVPs or values, which would make go-diameter
// panic, are errors.
func encode(m *diam.Message) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("encode: go-diameter panic: %v", r)
		}
	}()
	if m == nil || m.Header == nil {
		return nil, errors.New("encode: message or header is nil")
	}
	for i, a := range m.AVP {
		if a == nil || a.Data == nil {
			return nil, fmt.Errorf("encode: AVP #%d has no value", i)
		}
	}
	size := m.Len()
	if size > maxMessageLength {
		return nil, fmt.Errorf("encode: %d octets do not fit the 24-bit Message Length", size)
	}
	m.Header.MessageLength = uint32(size)
	b = make([]byte, size)
	if err := m.SerializeTo(b); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b, nil
}
