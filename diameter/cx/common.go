package cx

import (
	"encoding/binary"
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

// newEncoder starts a message at the end of b: it reserves the 20-byte header (RFC 6733 §3)
// that request or answer fills in, and returns where the message starts.
func newEncoder(b []byte) (*encoder, int) {
	start := len(b)
	return &encoder{buf: append(b, make([]byte, diam.HeaderLength)...)}, start
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

// request finishes the request begun at start: 'R' and 'P' set (TS 29.229 §6.1: every Cx
// command is proxiable), Hop-by-Hop and End-to-End identifiers 0 for the peer layer to assign.
func (e *encoder) request(start int, cmd Command) ([]byte, error) {
	return e.message(start, cmd, diam.RequestFlag|diam.ProxiableFlag)
}

// answer finishes the answer begun at start: 'R' clear, 'P' as in the request; 'E' set when rc
// is a protocol error (RFC 6733 §7.1.3, §7.2).
func (e *encoder) answer(start int, cmd Command, rc diameter.ResultCode) ([]byte, error) {
	flags := uint8(diam.ProxiableFlag)
	if rc.IsProtocolError() {
		flags |= diam.ErrorFlag
	}
	return e.message(start, cmd, flags)
}

// message writes the header (RFC 6733 §3) of the message begun at start. On error the buffer
// is returned as it was before the message.
func (e *encoder) message(start int, cmd Command, flags uint8) ([]byte, error) {
	n := len(e.buf) - start
	if e.err == nil && n > maxAVPLength {
		e.invalid("message of %d bytes exceeds the 24-bit Message Length", n)
	}
	if e.err != nil {
		return e.buf[:start], e.err
	}
	h := e.buf[start : start+diam.HeaderLength]
	h[0] = 1 // Version, §3
	h[1], h[2], h[3] = byte(n>>16), byte(n>>8), byte(n)
	h[4] = flags
	h[5], h[6], h[7] = byte(cmd>>16), byte(cmd>>8), byte(cmd)
	binary.BigEndian.PutUint32(h[8:12], AppID)
	clear(h[12:20]) // Hop-by-Hop and End-to-End: the peer layer's
	return e.buf, nil
}

// msgHeader is the part of a message header (RFC 6733 §3) Unmarshal checks.
type msgHeader struct {
	flags uint8
	code  uint32
	app   uint32
}

func parseMsgHeader(b []byte) msgHeader {
	return msgHeader{flags: b[4], code: uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]),
		app: binary.BigEndian.Uint32(b[8:12])}
}

// bodyDecoder is a typed message as unmarshalBinary and unmarshalDiam fill it.
type bodyDecoder interface {
	decodeBody(h msgHeader, body []byte) error
}

// unmarshalBinary checks the header of b (RFC 6733 §3: version, a length that is b's) and decodes
// the AVPs from one private copy of b, which the decoded byte slices then share: one allocation
// for all the OctetString values of the message.
func unmarshalBinary(m bodyDecoder, b []byte) error {
	if err := validateHeader(b, len(b)); err != nil {
		return err
	}
	own := append([]byte(nil), b...)
	return m.decodeBody(parseMsgHeader(own), own[diam.HeaderLength:])
}

// unmarshalDiam decodes a go-diameter message: serialized again, then decoded from its bytes.
func unmarshalDiam(m bodyDecoder, msg *diam.Message) (err error) {
	if msg == nil || msg.Header == nil {
		return fmt.Errorf("%w: no message", ErrUnexpectedMessage)
	}
	defer recoverDecode("unmarshal", &err)
	b, err := msg.Serialize()
	if err != nil {
		return &diameter.Error{Code: diameter.InvalidAVPValue, Err: fmt.Errorf("serialize: %w", err)}
	}
	return m.decodeBody(parseMsgHeader(b), b[diam.HeaderLength:])
}

// marshalDiam builds the go-diameter message of m: its wire form decoded with dictionary d.
// The command must be in d (ErrNotInDictionary otherwise).
func marshalDiam(m Message, d *dict.Parser) (*diam.Message, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil dictionary", ErrNotInDictionary)
	}
	if _, err := d.FindCommand(AppID, uint32(m.Command())); err != nil {
		return nil, fmt.Errorf("%w: command %s: %v", ErrNotInDictionary, m.Command(), err)
	}
	b, err := m.AppendBinary(nil)
	if err != nil {
		return nil, err
	}
	msg, err := DecodeMessage(b, d)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w: %w", m.Command().Request(), ErrNotInDictionary, err)
	}
	return msg, nil
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
func (c *common) visit(d *decoder, a wireAVP) bool {
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
func (c *common) check(d *decoder, h msgHeader) {
	errorAnswer := c.resultCode != nil && h.flags&diam.ErrorFlag != 0
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

// checkHeader verifies that h is the command this Unmarshal handles.
func checkHeader(h msgHeader, cmd Command, request bool) error {
	isRequest := h.flags&diam.RequestFlag != 0
	if h.app != AppID || h.code != uint32(cmd) || isRequest != request {
		return fmt.Errorf("%w: application %d command %d request=%t, want %s (%d) request=%t",
			ErrUnexpectedMessage, h.app, h.code, isRequest, cmd, AppID, request)
	}
	if request && h.flags&diam.ErrorFlag != 0 {
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
func recoverEncode(op string, out *[]byte, err *error) {
	if r := recover(); r != nil {
		*out, *err = nil, fmt.Errorf("%s: %w: encoder panic: %v", op, ErrInvalidField, r)
	}
}

// marshalled wraps a Marshal error with the message name.
func marshalled(op string, m []byte, err error) ([]byte, error) {
	if err != nil {
		return m, fmt.Errorf("%s: %w", op, err)
	}
	return m, nil
}
