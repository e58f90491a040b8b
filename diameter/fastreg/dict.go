package fastreg

import (
	"bytes"
	"encoding/xml"
	"fmt"

	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter/cx"
)

// NewDictionary returns a go-diameter dictionary holding the base protocol and Cx (cx.NewDictionary) and
// the token application. Each call builds a fresh parser.
func NewDictionary() (*dict.Parser, error) {
	p, err := cx.NewDictionary()
	if err != nil {
		return nil, fmt.Errorf("fastreg dictionary: %w", err)
	}
	if err := Load(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Load adds the token application to p, which must already hold the base protocol (the HSS adds it to its
// Cx dictionary).
func Load(p *dict.Parser) error {
	raw, err := dictionaryXML()
	if err != nil {
		return fmt.Errorf("fastreg dictionary: %w", err)
	}
	if err := p.Load(bytes.NewReader(raw)); err != nil {
		return fmt.Errorf("fastreg dictionary: %w", err)
	}
	return nil
}

// dictionaryXML is the application in go-diameter's XML format. As diameter/rx does, each of our codes also
// gets an opaque OctetString entry under the undefined vendor, added last: go-diameter decodes an AVP whose
// (code, vendor) it does not know with the last definition of that code whatever its vendor, and another
// vendor's AVP 100 must not decode as our Token.
func dictionaryXML() ([]byte, error) {
	req := []string{"<Session-Id>", "{Vendor-Specific-Application-Id}", "{Auth-Session-State}", "{Origin-Host}",
		"{Origin-Realm}", "{Destination-Realm}", "[Destination-Host]", "{User-Name}"}
	ans := []string{"<Session-Id>", "{Vendor-Specific-Application-Id}", "[Result-Code]", "{Auth-Session-State}",
		"{Origin-Host}", "{Origin-Realm}", "[User-Name]", "[Error-Message]", "[Failed-AVP]"}
	app := &dict.App{ID: AppID, Type: "auth", Name: "imscore fast registration token",
		Vendor: []*dict.Vendor{{ID: VendorID, Name: "imscore (RFC 5612 documentation PEN)"}},
		Command: []*dict.Command{
			{Code: uint32(CmdTokenPush), Short: "TP", Name: "Token-Push",
				Request: dict.CommandRule{Rule: rules(append(append([]string{}, req...), "{Token}", "{Token-Lifetime}"))},
				Answer:  dict.CommandRule{Rule: rules(ans)}},
			{Code: uint32(CmdTokenDrop), Short: "TD", Name: "Token-Drop",
				Request: dict.CommandRule{Rule: rules(req)}, Answer: dict.CommandRule{Rule: rules(ans)}},
		},
		AVP: []*dict.AVP{
			{Name: "Token", Code: uint32(AVPToken), VendorID: VendorID, Must: "V", MustNot: "M",
				Data: dict.Data{TypeName: "OctetString"}},
			{Name: "Token-Lifetime", Code: uint32(AVPTokenLifetime), VendorID: VendorID, Must: "V", MustNot: "M",
				Data: dict.Data{TypeName: "Unsigned32"}},
			{Name: "Opaque-AVP-100", Code: uint32(AVPToken), VendorID: dict.UndefinedVendorID,
				Data: dict.Data{TypeName: "OctetString"}},
			{Name: "Opaque-AVP-101", Code: uint32(AVPTokenLifetime), VendorID: dict.UndefinedVendorID,
				Data: dict.Data{TypeName: "OctetString"}},
		}}
	return xml.Marshal(&dict.File{App: []*dict.App{app}})
}

// rules turns ABNF items ("<X>", "{X}" required, "[X]" optional) into go-diameter rules.
func rules(abnf []string) []*dict.Rule {
	out := make([]*dict.Rule, 0, len(abnf))
	for _, item := range abnf {
		required := item[0] != '['
		r := &dict.Rule{AVP: item[1 : len(item)-1], Required: required, Max: 1}
		if required {
			r.Min = 1
		}
		out = append(out, r)
	}
	return out
}
