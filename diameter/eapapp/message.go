package eapapp

import (
	"errors"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

// ErrMissing is a required AVP (RFC 6733 §7.1.5 DIAMETER_MISSING_AVP) missing from a message.
var ErrMissing = errors.New("missing AVP")

// builder adds AVPs to one go-diameter message.
type builder struct{ m *diam.Message }

func (b builder) text(code uint32, v string, required bool) {
	if v != "" || required {
		b.m.NewAVP(code, avp.Mbit, 0, datatype.UTF8String(v))
	}
}

func (b builder) ident(code uint32, v string) {
	if v != "" {
		b.m.NewAVP(code, avp.Mbit, 0, datatype.DiameterIdentity(v))
	}
}

func (b builder) u32(code uint32, v uint32) { b.m.NewAVP(code, avp.Mbit, 0, datatype.Unsigned32(v)) }

func (b builder) octets(code uint32, flags uint8, v []byte) {
	if v != nil {
		b.m.NewAVP(code, flags, 0, datatype.OctetString(v))
	}
}

func (b builder) head(sessionID, originHost, originRealm string) {
	b.text(AVPSessionID, sessionID, true) // < Session-Id > first (RFC 6733 §8.8)
	b.u32(AVPAuthApplicationID, AppID)
	b.ident(AVPOriginHost, originHost)
	b.ident(AVPOriginRealm, originRealm)
}

func (b builder) extra(avps []*diam.AVP) {
	for _, a := range avps {
		b.m.AddAVP(a)
	}
}

// fields reads the AVPs of a message into typed fields.
type fields struct {
	seen map[uint32]bool
}

func str(a *diam.AVP) string {
	switch v := a.Data.(type) {
	case datatype.UTF8String:
		return string(v)
	case datatype.DiameterIdentity:
		return string(v)
	case datatype.OctetString:
		return string(v)
	}
	return ""
}

func octets(a *diam.AVP) []byte {
	if v, ok := a.Data.(datatype.OctetString); ok {
		return append([]byte(nil), v...)
	}
	return nil
}

func u32(a *diam.AVP) uint32 {
	switch v := a.Data.(type) {
	case datatype.Unsigned32:
		return uint32(v)
	case datatype.Enumerated:
		return uint32(v)
	case datatype.Integer32:
		return uint32(v)
	}
	return 0
}

// named is an AVP code with its name, for the error about its absence.
type named struct {
	code uint32
	name string
}

var (
	sessionIDAVP   = named{AVPSessionID, "Session-Id"}
	originHostAVP  = named{AVPOriginHost, "Origin-Host"}
	originRealmAVP = named{AVPOriginRealm, "Origin-Realm"}
	destRealmAVP   = named{AVPDestinationRealm, "Destination-Realm"}
	resultCodeAVP  = named{AVPResultCode, "Result-Code"}
)

// need reports the first of avps the message of command cmd lacks (RFC 6733 §7.1.5 DIAMETER_MISSING_AVP).
func (f *fields) need(cmd string, avps ...named) error {
	for _, a := range avps {
		if !f.seen[a.code] {
			return diameter.Errorf(diameter.MissingAVP, "%s without %s: %w", cmd, a.name, ErrMissing)
		}
	}
	return nil
}

// walk calls fn for every top-level AVP without a vendor; vendor AVPs go to unknown.
func walk(m *diam.Message, fn func(a *diam.AVP) bool, unknown *[]*diam.AVP) *fields {
	f := &fields{seen: map[uint32]bool{}}
	for _, a := range m.AVP {
		if a == nil || a.Data == nil {
			continue
		}
		if a.VendorID == 0 && fn(a) {
			f.seen[a.Code] = true
			continue
		}
		*unknown = append(*unknown, a)
	}
	return f
}

func newMessage(cmd uint32, request bool, d *dict.Parser) (*diam.Message, error) {
	if d == nil {
		return nil, errors.New("eapapp: nil dictionary")
	}
	flags := uint8(diam.ProxiableFlag)
	if request {
		flags |= diam.RequestFlag
	}
	return diam.NewMessage(cmd, flags, AppID, 0, 0, d), nil
}

func checkHeader(m *diam.Message, cmd uint32, request bool) error {
	if m.Header.ApplicationID != AppID || m.Header.CommandCode != cmd || m.Header.CommandFlags&diam.RequestFlag != 0 != request {
		return diameter.Errorf(diameter.UnableToComply, "eapapp: app %d command %d flags %#x, want app %d command %d",
			m.Header.ApplicationID, m.Header.CommandCode, m.Header.CommandFlags, AppID, cmd)
	}
	return nil
}

// wrap gives a decoding problem the result code of the answer that reports it.
func wrap(err error) error {
	var de *diameter.Error
	if err == nil || errors.As(err, &de) {
		return err
	}
	return diameter.Errorf(diameter.UnableToComply, "%v", err)
}
