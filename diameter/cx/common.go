package cx

import (
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// This file holds what all twelve Cx messages share: the header AVPs of TS 29.229 §6.1
// (Session-Id, DRMP, Vendor-Specific-Application-Id, Auth-Session-State, Origin-*,
// Destination-*, Supported-Features, OC-*, Proxy-Info, Route-Record, and in answers Result-Code,
// Experimental-Result, Load, Failed-AVP), and the message framing.

// newEncoder starts a Marshal with dictionary d.
func newEncoder(d *dict.Parser) *encoder {
	e := &encoder{dict: d}
	if d == nil {
		e.fail(fmt.Errorf("%w: nil dictionary", ErrNotInDictionary))
	}
	return e
}

// requestHead writes the AVPs every Cx request starts with, in ABNF order:
// < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } { Auth-Session-State }
// { Origin-Host } { Origin-Realm }.
func (e *encoder) requestHead(sessionID string, drmp *DRMP, vsai *VendorSpecificApplicationID,
	state *AuthSessionState, originHost, originRealm string) {
	e.str(base(AVPSessionID), "Session-Id", sessionID)
	encodeOptEnum(e, base(AVPDRMP), drmp)
	vsai.put(e)
	e.authSessionState(state)
	e.ident(base(AVPOriginHost), "Origin-Host", originHost)
	e.ident(base(AVPOriginRealm), "Origin-Realm", originRealm)
}

// answerHead writes the AVPs every Cx answer starts with, in ABNF order:
// < Session-Id > [ DRMP ] { Vendor-Specific-Application-Id } [ Result-Code ]
// [ Experimental-Result ] { Auth-Session-State } { Origin-Host } { Origin-Realm }.
func (e *encoder) answerHead(sessionID string, drmp *DRMP, vsai *VendorSpecificApplicationID,
	rc diameter.ResultCode, er *ExperimentalResult, state *AuthSessionState, originHost, originRealm string) {
	e.str(base(AVPSessionID), "Session-Id", sessionID)
	encodeOptEnum(e, base(AVPDRMP), drmp)
	vsai.put(e)
	switch {
	case rc == 0 && er == nil:
		e.invalid("answer has neither Result-Code nor Experimental-Result")
	case rc != 0 && er != nil:
		e.invalid("answer has both Result-Code %d and Experimental-Result %d", rc, er.Code)
	case rc != 0:
		e.u32(base(AVPResultCode), uint32(rc))
	default:
		er.put(e)
	}
	e.authSessionState(state)
	e.ident(base(AVPOriginHost), "Origin-Host", originHost)
	e.ident(base(AVPOriginRealm), "Origin-Realm", originRealm)
}

// authSessionState writes Auth-Session-State; nil means NO_STATE_MAINTAINED, what Cx uses.
func (e *encoder) authSessionState(s *AuthSessionState) {
	v := NoStateMaintained
	if s != nil {
		v = *s
	}
	encodeEnum(e, base(AVPAuthSessionState), v)
}

func (e *encoder) ocSupportedFeatures(x *OCSupportedFeatures) {
	if x != nil {
		x.put(e)
	}
}

func (e *encoder) supportedFeatures(list []SupportedFeatures) {
	for i := range list {
		list[i].put(e)
	}
}

func (e *encoder) answerLoad(olr *OCOLR, load []Load) {
	if olr != nil {
		olr.put(e)
	}
	for i := range load {
		load[i].put(e)
	}
}

// tail writes *[ AVP ] (the Unknown AVPs), [ Failed-AVP ] for answers, *[ Proxy-Info ] and
// *[ Route-Record ], the end of every Cx command's ABNF.
func (e *encoder) tail(unknown, failed []*diam.AVP, proxy []ProxyInfo, route []string) {
	e.extra(unknown)
	putFailedAVP(e, failed)
	for i := range proxy {
		proxy[i].put(e)
	}
	for _, r := range route {
		e.ident(base(AVPRouteRecord), "Route-Record", r)
	}
}

// request builds the request message: 'R' and 'P' set (TS 29.229 §6.1: every Cx command is
// proxiable), Hop-by-Hop and End-to-End identifiers 0 for the peer layer to assign.
func (e *encoder) request(cmd Command) (*diam.Message, error) {
	return e.message(cmd, diam.RequestFlag|diam.ProxiableFlag)
}

// answer builds the answer message: 'R' clear, 'P' as in the request; 'E' set when rc is a
// protocol error (RFC 6733 §7.1.3, §7.2).
func (e *encoder) answer(cmd Command, rc diameter.ResultCode) (*diam.Message, error) {
	flags := uint8(diam.ProxiableFlag)
	if rc.IsProtocolError() {
		flags |= diam.ErrorFlag
	}
	return e.message(cmd, flags)
}

func (e *encoder) message(cmd Command, flags uint8) (*diam.Message, error) {
	if e.err != nil {
		return nil, e.err
	}
	m := diam.NewMessage(uint32(cmd), flags, AppID, 0, 0, e.dict)
	// diam.NewMessage draws random identifiers for 0; the peer layer owns them (RFC 6733 §3).
	m.Header.HopByHopID, m.Header.EndToEndID = 0, 0
	for _, a := range e.avps {
		m.AddAVP(a)
	}
	return m, nil
}

// common points at the fields of one message that every Cx message shares, so that one function
// decodes them; pointers are nil for AVPs the command does not have.
type common struct {
	sessionID         *string
	drmp              **DRMP
	vsai              **VendorSpecificApplicationID
	authSessionState  **AuthSessionState
	originHost        *string
	originRealm       *string
	destinationHost   *string // requests
	destinationRealm  *string // requests
	ocSupported       **OCSupportedFeatures
	supportedFeatures *[]SupportedFeatures
	proxyInfo         *[]ProxyInfo
	routeRecord       *[]string
	resultCode        *diameter.ResultCode // answers
	experimental      **ExperimentalResult // answers
	ocOLR             **OCOLR              // answers
	load              *[]Load              // answers
	failedAVP         *[]*diam.AVP         // answers
}

// visit decodes a if it is one of the shared AVPs and reports whether it was.
func (c *common) visit(d *decoder, a *diam.AVP) bool {
	switch keyOf(a) {
	case base(AVPSessionID):
		d.setStr(a, c.sessionID)
	case base(AVPDRMP):
		setOptEnum(d, a, c.drmp)
	case base(AVPVendorSpecificApplicationID):
		if d.once(a) {
			*c.vsai = decodeVendorSpecificApplicationID(d, a)
		}
	case base(AVPAuthSessionState):
		setOptEnum(d, a, c.authSessionState)
	case base(AVPOriginHost):
		d.setStr(a, c.originHost)
	case base(AVPOriginRealm):
		d.setStr(a, c.originRealm)
	case base(AVPDestinationHost):
		if c.destinationHost == nil {
			return false
		}
		d.setStr(a, c.destinationHost)
	case base(AVPDestinationRealm):
		if c.destinationRealm == nil {
			return false
		}
		d.setStr(a, c.destinationRealm)
	case base(AVPOCSupportedFeatures):
		if c.ocSupported == nil {
			return false
		}
		if d.once(a) {
			*c.ocSupported = decodeOCSupportedFeatures(d, a)
		}
	case tgpp(AVPSupportedFeatures):
		if d.many(a) {
			*c.supportedFeatures = append(*c.supportedFeatures, decodeSupportedFeatures(d, a))
		}
	case base(AVPProxyInfo):
		if d.many(a) {
			*c.proxyInfo = append(*c.proxyInfo, decodeProxyInfo(d, a))
		}
	case base(AVPRouteRecord):
		d.addStr(a, c.routeRecord)
	case base(AVPResultCode):
		if c.resultCode == nil {
			return false
		}
		if d.once(a) {
			if v, ok := d.u32(a); ok {
				*c.resultCode = diameter.ResultCode(v)
			}
		}
	case base(AVPExperimentalResult):
		if c.experimental == nil {
			return false
		}
		if d.once(a) {
			*c.experimental = decodeExperimentalResult(d, a)
		}
	case base(AVPOCOLR):
		if c.ocOLR == nil {
			return false
		}
		if d.once(a) {
			*c.ocOLR = decodeOCOLR(d, a)
		}
	case base(AVPLoad):
		if c.load == nil {
			return false
		}
		if d.many(a) {
			*c.load = append(*c.load, decodeLoad(d, a))
		}
	case base(AVPFailedAVP):
		if c.failedAVP == nil {
			return false
		}
		if d.once(a) {
			*c.failedAVP = decodeFailedAVP(d, a)
		}
	default:
		return false
	}
	return true
}

// check reports the shared required AVPs that are missing. An answer with the 'E' bit follows
// RFC 6733 §7.2 (answer-message): only Origin-Host, Origin-Realm and Result-Code are required.
func (c *common) check(d *decoder, h *diam.Header) {
	errorAnswer := c.resultCode != nil && h.CommandFlags&diam.ErrorFlag != 0
	if !errorAnswer {
		d.need(base(AVPSessionID), "Session-Id", datatype.UTF8String(""))
		d.need(base(AVPVendorSpecificApplicationID), "Vendor-Specific-Application-Id", &diam.GroupedAVP{})
		d.need(base(AVPAuthSessionState), "Auth-Session-State", datatype.Enumerated(0))
	}
	d.need(base(AVPOriginHost), "Origin-Host", datatype.DiameterIdentity(""))
	d.need(base(AVPOriginRealm), "Origin-Realm", datatype.DiameterIdentity(""))
	if c.destinationRealm != nil {
		d.need(base(AVPDestinationRealm), "Destination-Realm", datatype.DiameterIdentity(""))
	}
	if c.resultCode != nil && !d.has(base(AVPExperimentalResult)) &&
		(errorAnswer || !d.has(base(AVPResultCode))) {
		d.need(base(AVPResultCode), "Result-Code", datatype.Unsigned32(0))
	}
}

// checkHeader verifies that msg is the command this Unmarshal handles.
func checkHeader(msg *diam.Message, cmd Command, request bool) error {
	if msg == nil || msg.Header == nil {
		return fmt.Errorf("%w: no message", ErrUnexpectedMessage)
	}
	h := msg.Header
	isRequest := h.CommandFlags&diam.RequestFlag != 0
	if h.ApplicationID != AppID || h.CommandCode != uint32(cmd) || isRequest != request {
		return fmt.Errorf("%w: application %d command %d request=%t, want %s (%d) request=%t",
			ErrUnexpectedMessage, h.ApplicationID, h.CommandCode, isRequest, cmd, AppID, request)
	}
	if request && h.CommandFlags&diam.ErrorFlag != 0 {
		// RFC 6733 §3: the 'E' bit is only set in answers.
		return &diameter.Error{Code: diameter.InvalidHdrBits, Err: fmt.Errorf("%s request with the E bit", cmd)}
	}
	return nil
}

// recoverDecode turns a panic below an Unmarshal (go-diameter types can panic on data they did
// not validate) into DIAMETER_UNABLE_TO_COMPLY, so malformed input never crashes a node.
func recoverDecode(op string, err *error) {
	if r := recover(); r != nil {
		*err = &diameter.Error{Code: diameter.UnableToComply, Err: fmt.Errorf("%s: decoder panic: %v", op, r)}
	}
}

// recoverEncode turns a panic below a Marshal into an error.
func recoverEncode(op string, msg **diam.Message, err *error) {
	if r := recover(); r != nil {
		*msg, *err = nil, fmt.Errorf("%s: %w: encoder panic: %v", op, ErrInvalidField, r)
	}
}

// marshalled wraps a Marshal error with the message name.
func marshalled(op string, m *diam.Message, err error) (*diam.Message, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return m, nil
}
