package rx

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/fiorix/go-diameter/v4/diam/dict"
	"github.com/imscore/imscore/diameter/cx"
)

// NewDictionary returns a go-diameter dictionary holding the base protocol (from cx.NewDictionary:
// RFC 6733 with DRMP, overload and load AVPs), Cx, and the Rx application (AppID) with every AVP
// its commands carry. Each call builds a fresh parser; dict.Default is neither used nor changed.
func NewDictionary() (*dict.Parser, error) {
	p, err := cx.NewDictionary()
	if err != nil {
		return nil, fmt.Errorf("rx dictionary: %w", err)
	}
	if err := Load(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Load adds the Rx application to p, which must already hold the base protocol.
func Load(p *dict.Parser) error {
	raw, err := dictionaryXML()
	if err != nil {
		return fmt.Errorf("rx dictionary: %w", err)
	}
	if err := p.Load(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("rx dictionary: %w", err)
	}
	return nil
}

// dictionaryXML is the Rx application in go-diameter's XML format, built from rxAVPs so that the
// codec and the dictionary cannot disagree on a code, vendor, type or flag.
//
// go-diameter v4.3.0 decodes an AVP whose (code, vendor) it does not know with the last
// definition of that code, whatever its vendor; as cx.NewDictionary does, each code gets an
// opaque OctetString entry in the "any vendor" slot, added last, so that an unknown vendor's AVP
// decodes to its bytes rather than as an Rx AVP of another type.
func dictionaryXML() ([]byte, error) {
	app := &dict.App{ID: AppID, Type: "auth", Name: "3GPP Rx",
		Vendor: []*dict.Vendor{{ID: Vendor3GPP, Name: "3GPP"}}}
	for _, c := range []struct {
		code        Command
		short, name string
	}{{CmdReAuth, "RA", "Re-Auth"}, {CmdAA, "AA", "AA"}, {CmdAbortSession, "AS", "Abort-Session"},
		{CmdSessionTermination, "ST", "Session-Termination"}} {
		app.Command = append(app.Command, &dict.Command{Code: uint32(c.code), Short: c.short, Name: c.name})
	}
	codes := map[uint32]bool{}
	for _, a := range rxAVPs {
		d := &dict.AVP{Name: a.name, Code: uint32(a.key.code), VendorID: a.key.vendor,
			Data: dict.Data{TypeName: string(a.typ)}}
		var must, mustNot []string
		if a.m {
			must = append(must, "M")
		} else {
			mustNot = append(mustNot, "M")
		}
		if a.key.vendor != 0 {
			must = append(must, "V")
		} else {
			mustNot = append(mustNot, "V")
		}
		d.Must, d.MustNot = strings.Join(must, ","), strings.Join(mustNot, ",")
		app.AVP = append(app.AVP, d)
		codes[d.Code] = true
	}
	for _, a := range rxAVPs {
		if c := uint32(a.key.code); codes[c] {
			delete(codes, c)
			app.AVP = append(app.AVP, &dict.AVP{Name: fmt.Sprintf("Opaque-AVP-%d", c), Code: c,
				VendorID: dict.UndefinedVendorID, Data: dict.Data{TypeName: "OctetString"}})
		}
	}
	return xml.Marshal(&dict.File{App: []*dict.App{app}})
}
