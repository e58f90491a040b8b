package fastreg

import (
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// What TPR and TDR share: the common AVPs, then Destination-Realm, Destination-Host and User-Name.

// requestHead points at the shared fields of a TPR or TDR.
type requestHead struct {
	cmd                           Command
	c                             *common
	destRealm, destHost, userName *string
}

// marshal starts the request: the common AVPs, the destination and the user.
func (h requestHead) marshal(d *dict.Parser) (*diam.Message, error) {
	if *h.destRealm == "" || *h.userName == "" {
		return nil, fmt.Errorf("%w: %s: Destination-Realm and User-Name are required", ErrInvalidField, h.cmd)
	}
	m, err := newMessage(h.cmd, true, d, *h.c)
	if err != nil {
		return nil, err
	}
	m.NewAVP(avp.DestinationRealm, avp.Mbit, 0, datatype.DiameterIdentity(*h.destRealm))
	if *h.destHost != "" {
		m.NewAVP(avp.DestinationHost, avp.Mbit, 0, datatype.DiameterIdentity(*h.destHost))
	}
	m.NewAVP(avp.UserName, avp.Mbit, 0, datatype.UTF8String(*h.userName))
	return m, nil
}

// decode reads a request of h.cmd in wire form into the shared fields, handing every other AVP to more.
// A required AVP that is absent is DIAMETER_MISSING_AVP; more's own required AVPs are its caller's to check.
func (h requestHead) decode(b []byte, name string, more func(f field) error) error {
	hdr, body, err := splitMessage(b)
	if err != nil {
		return err
	}
	if hdr.code != h.cmd || hdr.app != AppID || hdr.flags&flagRequest == 0 {
		return fmt.Errorf("%w: command %d application %d flags %#x is no %s", ErrMalformed, hdr.code, hdr.app, hdr.flags, name)
	}
	var sawVSAI bool
	err = walk(body, func(f field) error {
		if ok, err := h.c.visit(name, f, &sawVSAI); ok || err != nil {
			return err
		}
		switch {
		case f.vendor == 0 && f.code == avpDestinationRealm:
			return text(name, f, h.destRealm)
		case f.vendor == 0 && f.code == avpDestinationHost:
			return text(name, f, h.destHost)
		case f.vendor == 0 && f.code == avpUserName:
			return text(name, f, h.userName)
		}
		return more(f)
	})
	if err != nil {
		return err
	}
	if err := h.c.required(name, sawVSAI); err != nil {
		return err
	}
	switch {
	case *h.destRealm == "":
		return missing(name, "Destination-Realm", avpDestinationRealm, 0)
	case *h.userName == "":
		return missing(name, "User-Name", avpUserName, 0)
	}
	return nil
}

// unmarshalDiam decodes a go-diameter message with decode, from its wire form.
func unmarshalDiam(m *diam.Message, decode func([]byte) error) error {
	b, err := m.Serialize()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return decode(b)
}
