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
	for _, c := range commandRules {
		cmd := &dict.Command{Code: uint32(c.code), Short: c.short, Name: c.name}
		cmd.Request.Rule, cmd.Answer.Rule = rules(c.request), rules(c.answer)
		app.Command = append(app.Command, cmd)
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

// commandRules are the ABNF of TS 29.214 §5.6 in order: "{X}" required, "[X]" optional, "*[X]" any
// number (the trailing *[ AVP ] is implied). The base-protocol AVPs come from application 0.
var commandRules = []struct {
	code            Command
	short, name     string
	request, answer []string
}{
	{CmdReAuth, "RA", "Re-Auth",
		[]string{"<Session-Id>", "{Origin-Host}", "{Origin-Realm}", "{Destination-Realm}", "{Destination-Host}",
			"{Auth-Application-Id}", "*{Specific-Action}", "*[Flows]", "*[Subscription-Id]", "[Abort-Cause]",
			"[IP-CAN-Type]", "[RAT-Type]", "[Origin-State-Id]", "*[Class]", "*[Proxy-Info]", "*[Route-Record]"},
		[]string{"<Session-Id>", "{Origin-Host}", "{Origin-Realm}", "[Result-Code]", "[Experimental-Result]",
			"*[Media-Component-Description]", "[Origin-State-Id]", "*[Class]", "[Error-Message]",
			"[Error-Reporting-Host]", "[Failed-AVP]", "*[Proxy-Info]"}},
	{CmdAA, "AA", "AA",
		[]string{"<Session-Id>", "{Auth-Application-Id}", "{Origin-Host}", "{Origin-Realm}", "{Destination-Realm}",
			"[Destination-Host]", "[Auth-Session-State]", "[AF-Application-Identifier]",
			"*[Media-Component-Description]", "[Service-Info-Status]", "[AF-Charging-Identifier]",
			"[SIP-Forking-Indication]", "*[Specific-Action]", "*[Subscription-Id]", "[Framed-IP-Address]",
			"[Framed-IPv6-Prefix]", "[Called-Station-Id]", "[Service-URN]", "[Rx-Request-Type]",
			"[Origin-State-Id]", "*[Proxy-Info]", "*[Route-Record]"},
		[]string{"<Session-Id>", "{Auth-Application-Id}", "{Origin-Host}", "{Origin-Realm}", "[Result-Code]",
			"[Experimental-Result]", "[Auth-Session-State]", "[IP-CAN-Type]", "[RAT-Type]", "*[Subscription-Id]",
			"*[Class]", "[Error-Message]", "[Error-Reporting-Host]", "[Failed-AVP]", "[Origin-State-Id]",
			"*[Proxy-Info]"}},
	{CmdAbortSession, "AS", "Abort-Session",
		[]string{"<Session-Id>", "{Origin-Host}", "{Origin-Realm}", "{Destination-Realm}", "{Destination-Host}",
			"{Auth-Application-Id}", "{Abort-Cause}", "[Origin-State-Id]", "*[Proxy-Info]", "*[Route-Record]"},
		[]string{"<Session-Id>", "{Origin-Host}", "{Origin-Realm}", "[Result-Code]", "[Origin-State-Id]",
			"[Error-Message]", "[Error-Reporting-Host]", "[Failed-AVP]", "*[Proxy-Info]"}},
	{CmdSessionTermination, "ST", "Session-Termination",
		[]string{"<Session-Id>", "{Origin-Host}", "{Origin-Realm}", "{Destination-Realm}", "{Auth-Application-Id}",
			"{Termination-Cause}", "[Destination-Host]", "*[Class]", "*[Proxy-Info]", "*[Route-Record]"},
		[]string{"<Session-Id>", "{Origin-Host}", "{Origin-Realm}", "[Result-Code]", "[Error-Message]",
			"[Error-Reporting-Host]", "[Failed-AVP]", "[Origin-State-Id]", "*[Class]", "*[Proxy-Info]"}},
}

// rules turns ABNF items into go-diameter rules.
func rules(abnf []string) []*dict.Rule {
	out := make([]*dict.Rule, 0, len(abnf))
	for _, item := range abnf {
		many := strings.HasPrefix(item, "*")
		item = strings.TrimPrefix(item, "*")
		required := item[0] != '['
		r := &dict.Rule{AVP: item[1 : len(item)-1], Required: required}
		if !many {
			r.Max = 1
		}
		if required {
			r.Min = 1
		}
		out = append(out, r)
	}
	return out
}
