package cx

import (
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter"
)

// Message is a typed Cx request or answer.
//
// Marshal builds the go-diameter message with dictionary d (from NewDictionary): flags as the
// command defines them, Hop-by-Hop and End-to-End identifiers left 0 for the peer layer. It
// fails (ErrInvalidField, ErrNotInDictionary) rather than build a message a peer must reject.
//
// Unmarshal fills the struct from a decoded message. A message that breaks the command's ABNF
// gives a *diameter.Error ready for the answer: DIAMETER_MISSING_AVP with an example of the
// missing AVP, DIAMETER_INVALID_AVP_VALUE / DIAMETER_INVALID_AVP_LENGTH, or
// DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, with the offending AVP in FailedAVPs (RFC 6733 §7.5);
// in requests an unknown AVP with the 'M' bit gives DIAMETER_AVP_UNSUPPORTED (§4.1). The struct
// still holds every field that could be decoded, so the error answer can be built from it.
// A message of another command, application or direction gives ErrUnexpectedMessage.
// Unmarshal never panics.
type Message interface {
	// AppendBinary and UnmarshalBinary are the codec: wire bytes straight to and from the struct.
	AppendBinary(b []byte) ([]byte, error)
	UnmarshalBinary(b []byte) error
	// Marshal and Unmarshal go through go-diameter's message type, for code that has one.
	Marshal(d *dict.Parser) (*diam.Message, error)
	Unmarshal(msg *diam.Message) error
	Command() Command
	IsRequest() bool
}

// Answer is a typed Cx answer: it carries Result-Code or Experimental-Result, and Failed-AVP.
type Answer interface {
	Message
	// Result returns the outcome: the Experimental-Result-Code and its vendor, or the
	// Result-Code and vendor 0.
	Result() (code diameter.ResultCode, vendorID uint32)
	// SetResultCode sets a base Result-Code (RFC 6733 §7.1) and clears Experimental-Result.
	SetResultCode(code diameter.ResultCode)
	// SetExperimentalResult sets an Experimental-Result (Cx codes: vendor Vendor3GPP) and
	// clears Result-Code.
	SetExperimentalResult(vendorID uint32, code diameter.ResultCode)
	// SetError sets the outcome from err: a *diameter.Error anywhere in its chain gives the
	// code, vendor and Failed-AVP; any other error gives DIAMETER_UNABLE_TO_COMPLY.
	SetError(err error)
}

// Parse decodes msg into the typed Cx message its command code and 'R' bit name: *UAR, *UAA,
// *SAR, … . The message is returned with the error when decoding found a problem (see
// Message.Unmarshal); an application or command Cx does not define gives ErrUnexpectedMessage.
func Parse(msg *diam.Message) (Message, error) {
	if msg == nil || msg.Header == nil {
		return nil, fmt.Errorf("%w: no message", ErrUnexpectedMessage)
	}
	m := newMessage(Command(msg.Header.CommandCode), msg.Header.CommandFlags&diam.RequestFlag != 0)
	if m == nil || msg.Header.ApplicationID != AppID {
		return nil, fmt.Errorf("%w: application %d command %d", ErrUnexpectedMessage,
			msg.Header.ApplicationID, msg.Header.CommandCode)
	}
	return m, m.Unmarshal(msg)
}

// newMessage returns an empty typed message for a command and direction, or nil.
func newMessage(cmd Command, request bool) Message {
	switch {
	case cmd == CmdUserAuthorization && request:
		return new(UAR)
	case cmd == CmdUserAuthorization:
		return new(UAA)
	case cmd == CmdServerAssignment && request:
		return new(SAR)
	case cmd == CmdServerAssignment:
		return new(SAA)
	case cmd == CmdLocationInfo && request:
		return new(LIR)
	case cmd == CmdLocationInfo:
		return new(LIA)
	case cmd == CmdMultimediaAuth && request:
		return new(MAR)
	case cmd == CmdMultimediaAuth:
		return new(MAA)
	case cmd == CmdRegistrationTermination && request:
		return new(RTR)
	case cmd == CmdRegistrationTermination:
		return new(RTA)
	case cmd == CmdPushProfile && request:
		return new(PPR)
	case cmd == CmdPushProfile:
		return new(PPA)
	}
	return nil
}

// cloneVSAI, cloneState and cloneProxyInfo copy what an answer takes from its request.
func cloneVSAI(v *VendorSpecificApplicationID) *VendorSpecificApplicationID {
	if v == nil {
		return nil
	}
	c := *v
	c.Unknown = append([]*diam.AVP(nil), v.Unknown...)
	return &c
}

func cloneState(s *AuthSessionState) *AuthSessionState {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// cloneProxyInfo copies the request's Proxy-Info AVPs: RFC 6733 §6.2 requires the answer to
// carry them unchanged and in the same order.
func cloneProxyInfo(p []ProxyInfo) []ProxyInfo {
	if p == nil {
		return nil
	}
	return append([]ProxyInfo(nil), p...)
}
