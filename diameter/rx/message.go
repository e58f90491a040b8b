package rx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// Message is a typed Rx request or answer.
//
// AppendBinary appends the message in wire form to b, Hop-by-Hop and End-to-End identifiers 0
// for the peer layer (peer.Node.RequestBinary) to set; on error b comes back unchanged.
// UnmarshalBinary fills the struct from one whole message and keeps no reference to b. A message
// that breaks the command's ABNF gives a *diameter.Error ready for the answer (Result-Code and
// Failed-AVP, RFC 6733 §7.5), with the struct holding all that could be decoded; a message of
// another command, application or direction gives ErrUnexpectedMessage.
// Marshal and Unmarshal do the same through go-diameter's message type.
type Message interface {
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
	Marshal(d *dict.Parser) (*diam.Message, error)
	Unmarshal(msg *diam.Message) error
	Command() Command
	IsRequest() bool
}

// diameterOccurs is the code for an AVP beyond its ABNF's upper bound (RFC 6733 §7.1.5).
const diameterOccurs = diameter.AVPOccursTooManyTimes

// headerLength is the Diameter header, RFC 6733 §3.
const headerLength = 20

// begin reserves the header of a message at the end of b and returns the writer and where the
// message starts.
func begin(b []byte) (*writer, int) {
	at := len(b)
	return &writer{buf: append(b, make([]byte, headerLength)...)}, at
}

// finish writes the header (RFC 6733 §3: version 1, length, flags, code, Application-Id; the
// identifiers 0). Every Rx command is proxiable (TS 29.214 §5.6: "PXY"); an answer with a 3xxx
// Result-Code carries 'E' (§7.1.3). On error the buffer is cut back to before the message.
func (w *writer) finish(at int, cmd Command, request bool, rc uint32) ([]byte, error) {
	n := len(w.buf) - at
	if w.err == nil && n > maxLength {
		w.invalid("message of %d bytes", n)
	}
	if w.err != nil {
		return w.buf[:at], w.err
	}
	flags := uint8(diam.ProxiableFlag)
	if request {
		flags |= diam.RequestFlag
	} else if diameter.ResultCode(rc).IsProtocolError() {
		flags |= diam.ErrorFlag
	}
	h := w.buf[at : at+headerLength]
	h[0] = 1
	h[1], h[2], h[3] = byte(n>>16), byte(n>>8), byte(n)
	h[4] = flags
	h[5], h[6], h[7] = byte(cmd>>16), byte(cmd>>8), byte(cmd)
	binary.BigEndian.PutUint32(h[8:12], AppID)
	clear(h[12:20])
	return w.buf, nil
}

// header is the part of a message header (RFC 6733 §3) the decoders check.
type header struct {
	flags uint8
	code  uint32
	app   uint32
}

// frame checks b as one whole message (RFC 6733 §3: version 1, Message Length equal to len(b) and
// a multiple of 4, not both 'R' and 'E') and returns its header and a private copy of its body.
func frame(b []byte) (header, []byte, error) {
	if len(b) < headerLength {
		return header{}, nil, &diameter.Error{Code: diameter.InvalidMessageLength,
			Err: fmt.Errorf("%d bytes, a Diameter header needs %d", len(b), headerLength)}
	}
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	switch {
	case b[0] != 1:
		return header{}, nil, &diameter.Error{Code: diameter.UnsupportedVersion, Err: fmt.Errorf("version %d", b[0])}
	case n != len(b) || n%4 != 0:
		return header{}, nil, &diameter.Error{Code: diameter.InvalidMessageLength,
			Err: fmt.Errorf("Message Length %d for %d bytes", n, len(b))}
	case b[4]&diam.RequestFlag != 0 && b[4]&diam.ErrorFlag != 0:
		return header{}, nil, &diameter.Error{Code: diameter.InvalidHdrBits, Err: errors.New("'E' bit on a request")}
	}
	h := header{flags: b[4], code: uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]), app: binary.BigEndian.Uint32(b[8:12])}
	return h, append([]byte(nil), b[headerLength:]...), nil
}

// expect checks that h is the command and direction the caller decodes.
func expect(h header, cmd Command, request bool) error {
	isRequest := h.flags&diam.RequestFlag != 0
	if h.app != AppID || h.code != uint32(cmd) || isRequest != request {
		return fmt.Errorf("%w: application %d command %d request=%t, want %s request=%t",
			ErrUnexpectedMessage, h.app, h.code, isRequest, cmd, request)
	}
	return nil
}

// body is what each typed message implements for unmarshal and unmarshalDiam.
type body interface {
	decode(h header, b []byte) error
}

func unmarshal(m body, b []byte) (err error) {
	defer recoverDecode(&err)
	h, own, err := frame(b)
	if err != nil {
		return err
	}
	return m.decode(h, own)
}

func unmarshalDiam(m body, msg *diam.Message) error {
	if msg == nil || msg.Header == nil {
		return fmt.Errorf("%w: no message", ErrUnexpectedMessage)
	}
	b, err := msg.Serialize()
	if err != nil {
		return &diameter.Error{Code: diameter.InvalidAVPValue, Err: fmt.Errorf("serialize: %w", err)}
	}
	return unmarshal(m, b)
}

// marshalDiam builds the go-diameter message of m: its wire form read back with dictionary d.
func marshalDiam(m Message, d *dict.Parser) (*diam.Message, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: nil dictionary", ErrNotInDictionary)
	}
	if _, err := d.FindCommand(AppID, uint32(m.Command())); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotInDictionary, m.Command(), err)
	}
	b, err := m.AppendBinary(nil)
	if err != nil {
		return nil, err
	}
	msg, err := diam.ReadMessage(bytes.NewReader(b), d)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotInDictionary, m.Command(), err)
	}
	return msg, nil
}

// recoverDecode turns a panic below a decoder into DIAMETER_UNABLE_TO_COMPLY: malformed input
// never crashes a node. The fuzz targets fail if it ever fires.
func recoverDecode(err *error) {
	if r := recover(); r != nil {
		*err = &diameter.Error{Code: diameter.UnableToComply, Err: fmt.Errorf("rx decoder panic: %v", r)}
	}
}

// Parse decodes msg into the typed message its command code and 'R' bit name.
func Parse(msg *diam.Message) (Message, error) {
	if msg == nil || msg.Header == nil || msg.Header.ApplicationID != AppID {
		return nil, fmt.Errorf("%w: not an Rx message", ErrUnexpectedMessage)
	}
	m := newMessage(Command(msg.Header.CommandCode), msg.Header.CommandFlags&diam.RequestFlag != 0)
	if m == nil {
		return nil, fmt.Errorf("%w: command %d", ErrUnexpectedMessage, msg.Header.CommandCode)
	}
	return m, m.Unmarshal(msg)
}

// ParseBinary decodes one message in wire form as Parse does.
func ParseBinary(b []byte) (Message, error) {
	if len(b) < headerLength || binary.BigEndian.Uint32(b[8:12]) != AppID {
		return nil, fmt.Errorf("%w: not an Rx message", ErrUnexpectedMessage)
	}
	m := newMessage(Command(uint32(b[5])<<16|uint32(b[6])<<8|uint32(b[7])), b[4]&diam.RequestFlag != 0)
	if m == nil {
		return nil, fmt.Errorf("%w: command %d", ErrUnexpectedMessage, uint32(b[5])<<16|uint32(b[6])<<8|uint32(b[7]))
	}
	return m, m.UnmarshalBinary(b)
}

func newMessage(c Command, request bool) Message {
	switch {
	case c == CmdAA && request:
		return new(AAR)
	case c == CmdAA:
		return new(AAA)
	case c == CmdReAuth && request:
		return new(RAR)
	case c == CmdReAuth:
		return new(RAA)
	case c == CmdSessionTermination && request:
		return new(STR)
	case c == CmdSessionTermination:
		return new(STA)
	case c == CmdAbortSession && request:
		return new(ASR)
	case c == CmdAbortSession:
		return new(ASA)
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// What the commands share.

// Outcome is the result an answer carries: Result-Code, or Experimental-Result (RFC 6733 §7.6).
type Outcome struct {
	ResultCode         diameter.ResultCode // [ Result-Code ]: 0 when absent
	ExperimentalResult *ExperimentalResult // [ Experimental-Result ]
	FailedAVP          []*diam.AVP         // [ Failed-AVP ]: its contents
}

// Result returns the Experimental-Result-Code and its vendor, or the Result-Code and vendor 0.
func (o *Outcome) Result() (diameter.ResultCode, uint32) {
	if o.ExperimentalResult != nil {
		return diameter.ResultCode(o.ExperimentalResult.Code), o.ExperimentalResult.VendorID
	}
	return o.ResultCode, 0
}

// Success reports whether the answer is DIAMETER_SUCCESS or another 2xxx.
func (o *Outcome) Success() bool { c, _ := o.Result(); return c.IsSuccess() }

// SetError sets the outcome from err: a *diameter.Error gives the code, vendor and Failed-AVP;
// any other error DIAMETER_UNABLE_TO_COMPLY.
func (o *Outcome) SetError(err error) {
	var de *diameter.Error
	if !errors.As(err, &de) {
		*o = Outcome{ResultCode: diameter.UnableToComply}
		return
	}
	*o = Outcome{FailedAVP: de.FailedAVPs}
	if de.VendorID != 0 {
		o.ExperimentalResult = &ExperimentalResult{VendorID: de.VendorID, Code: uint32(de.Code)}
	} else {
		o.ResultCode = de.Code
	}
}

// put writes [ Result-Code ] [ Experimental-Result ]: exactly one of them.
func (o *Outcome) put(w *writer, experimentalAllowed bool) {
	switch {
	case o.ResultCode == 0 && o.ExperimentalResult == nil:
		w.invalid("answer has neither Result-Code nor Experimental-Result")
	case o.ResultCode != 0 && o.ExperimentalResult != nil:
		w.invalid("answer has both Result-Code and Experimental-Result")
	case o.ResultCode != 0:
		w.u32(base(AVPResultCode), uint32(o.ResultCode))
	case !experimentalAllowed:
		w.invalid("this answer carries no Experimental-Result")
	default:
		o.ExperimentalResult.put(w)
	}
}

// wireCode is the Result-Code the header's 'E' bit depends on.
func (o *Outcome) wireCode() uint32 { return uint32(o.ResultCode) }

// common points at the fields one message shares with the others, so that one function decodes
// them; nil pointers are AVPs the command does not have.
type common struct {
	sessionID, originHost, originRealm *string
	destinationHost, destinationRealm  *string // requests
	authApplicationID                  bool    // { Auth-Application-Id } (AAR, AAA, RAR, STR, ASR)
	originStateID                      **uint32
	class                              *[][]byte
	proxyInfo                          *[]ProxyInfo
	routeRecord                        *[]string // requests
	outcome                            *Outcome  // answers
	experimental                       bool      // the answer's ABNF has Experimental-Result
	errorMessage, errorReportingHost   *string   // answers
}

// visit decodes f if it is a shared AVP and reports whether it was.
func (c *common) visit(r *reader, f field) bool {
	switch f.key() {
	case base(AVPSessionID):
		r.setText(f, c.sessionID)
	case base(AVPOriginHost):
		r.setText(f, c.originHost)
	case base(AVPOriginRealm):
		r.setText(f, c.originRealm)
	case base(AVPDestinationHost):
		if c.destinationHost == nil {
			return false
		}
		r.setText(f, c.destinationHost)
	case base(AVPDestinationRealm):
		if c.destinationRealm == nil {
			return false
		}
		r.setText(f, c.destinationRealm)
	case base(AVPAuthApplicationID):
		if !c.authApplicationID {
			return false
		}
		if r.single(f) {
			if v, ok := r.u32(f); ok && v != AppID {
				// TS 29.214 §5.6: Auth-Application-Id is the Rx application.
				r.fail(diameter.InvalidAVPValue, f.diam(), "Auth-Application-Id %d, want %d", v, AppID)
			}
		}
	case base(AVPOriginStateID):
		r.setOptU32(f, c.originStateID)
	case base(AVPClass):
		if c.class == nil {
			return false
		}
		r.addOctets(f, c.class)
	case base(AVPProxyInfo):
		r.repeated(f)
		*c.proxyInfo = append(*c.proxyInfo, decodeProxyInfo(r, f))
	case base(AVPRouteRecord):
		if c.routeRecord == nil {
			return false
		}
		r.addText(f, c.routeRecord)
	case base(AVPResultCode):
		if c.outcome == nil {
			return false
		}
		if r.single(f) {
			if v, ok := r.u32(f); ok {
				c.outcome.ResultCode = diameter.ResultCode(v)
			}
		}
	case base(AVPExperimentalResult):
		if c.outcome == nil || !c.experimental {
			return false
		}
		if r.single(f) {
			c.outcome.ExperimentalResult = decodeExperimentalResult(r, f)
		}
	case base(AVPFailedAVP):
		if c.outcome == nil {
			return false
		}
		if r.single(f) {
			c.outcome.FailedAVP = decodeFailedAVP(r, f)
		}
	case base(AVPErrorMessage):
		if c.errorMessage == nil {
			return false
		}
		r.setText(f, c.errorMessage)
	case base(AVPErrorReportingHost):
		if c.errorReportingHost == nil {
			return false
		}
		r.setText(f, c.errorReportingHost)
	default:
		return false
	}
	return true
}

// check reports the shared required AVPs that are missing. An answer with 'E' follows RFC 6733
// §7.2 (answer-message): Origin-Host, Origin-Realm and Result-Code only.
func (c *common) check(r *reader, h header) {
	errorAnswer := c.outcome != nil && h.flags&diam.ErrorFlag != 0
	if !errorAnswer {
		r.need(base(AVPSessionID), "Session-Id", datatype.UTF8String(""))
		if c.authApplicationID {
			r.need(base(AVPAuthApplicationID), "Auth-Application-Id", datatype.Unsigned32(0))
		}
	}
	r.need(base(AVPOriginHost), "Origin-Host", datatype.DiameterIdentity(""))
	r.need(base(AVPOriginRealm), "Origin-Realm", datatype.DiameterIdentity(""))
	if c.destinationRealm != nil {
		r.need(base(AVPDestinationRealm), "Destination-Realm", datatype.DiameterIdentity(""))
	}
	if c.outcome != nil && !r.has(base(AVPExperimentalResult)) {
		r.need(base(AVPResultCode), "Result-Code", datatype.Unsigned32(0))
	}
}

// requestHead writes < Session-Id > and, in the order of each request's ABNF, what follows it.
func (w *writer) sessionID(id string) { w.text(base(AVPSessionID), "Session-Id", id, true) }

func (w *writer) origin(host, realm string) {
	w.text(base(AVPOriginHost), "Origin-Host", host, true)
	w.text(base(AVPOriginRealm), "Origin-Realm", realm, true)
}

func (w *writer) appID() { w.u32(base(AVPAuthApplicationID), AppID) }

// tail writes *[ Class ], *[ Proxy-Info ], *[ Route-Record ] and *[ AVP ].
func (w *writer) tail(class [][]byte, proxy []ProxyInfo, route []string, unknown []*diam.AVP) {
	for _, c := range class {
		w.raw(base(AVPClass), c)
	}
	for i := range proxy {
		proxy[i].put(w)
	}
	for _, r := range route {
		w.text(base(AVPRouteRecord), "Route-Record", r, true)
	}
	w.extra(unknown)
}

// answerErrors writes [ Error-Message ] [ Error-Reporting-Host ] [ Failed-AVP ].
func (w *writer) answerErrors(msg, host string, o *Outcome) {
	w.text(base(AVPErrorMessage), "Error-Message", msg, false)
	w.text(base(AVPErrorReportingHost), "Error-Reporting-Host", host, false)
	putFailedAVP(w, o.FailedAVP)
}
