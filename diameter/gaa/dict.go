package gaa

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter/cx"
)

// NewDictionary returns a go-diameter dictionary holding the base protocol and Cx (cx.NewDictionary) and the
// Zh and Zn applications. Each call builds a fresh parser; dict.Default is neither used nor changed.
func NewDictionary() (*dict.Parser, error) {
	p, err := cx.NewDictionary()
	if err != nil {
		return nil, fmt.Errorf("gaa dictionary: %w", err)
	}
	if err := Load(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Load adds Zh and Zn to p, which must already hold the base protocol: the peer layer checks the requests of
// both with it (diameter/peer checkRequest).
func Load(p *dict.Parser) error {
	for _, app := range []*dict.App{application(AppZh, "3GPP Zh", zhRules), application(AppZn, "3GPP Zn", znRules)} {
		raw, err := xml.Marshal(&dict.File{App: []*dict.App{app}})
		if err != nil {
			return fmt.Errorf("gaa dictionary: %w", err)
		}
		if err := p.Load(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("gaa dictionary %s: %w", app.Name, err)
		}
	}
	return nil
}

// commandRule is one command's ABNF: "{X}" required, "[X]" optional, "*[X]" any number (the trailing
// *[ AVP ] is implied). The base-protocol AVPs come from application 0.
type commandRule struct {
	code            Command
	short, name     string
	request, answer []string
}

// zhRules is TS 29.109 §6.1.1 and §6.1.2.
var zhRules = []commandRule{{CmdMultimediaAuth, "MA", "Multimedia-Auth",
	[]string{"<Session-Id>", "{Vendor-Specific-Application-Id}", "{Auth-Session-State}", "{Origin-Host}",
		"{Origin-Realm}", "{Destination-Realm}", "[Destination-Host]", "{User-Name}", "[Public-Identity]",
		"[SIP-Auth-Data-Item]", "[SIP-Number-Auth-Items]", "[Server-Name]", "[GUSS-Timestamp]",
		"*[Proxy-Info]", "*[Route-Record]"},
	[]string{"<Session-Id>", "{Vendor-Specific-Application-Id}", "[Result-Code]", "[Experimental-Result]",
		"{Auth-Session-State}", "{Origin-Host}", "{Origin-Realm}", "[User-Name]", "[Public-Identity]",
		"[SIP-Number-Auth-Items]", "*[SIP-Auth-Data-Item]", "[GBA-UserSecSettings]", "[Failed-AVP]",
		"*[Proxy-Info]", "*[Route-Record]"}}}

// znRules is TS 29.109 §6.1.3 and §6.1.4.
var znRules = []commandRule{{CmdBootstrappingInfo, "BI", "Bootstrapping-Info",
	[]string{"<Session-Id>", "{Vendor-Specific-Application-Id}", "[Auth-Session-State]", "{Origin-Host}",
		"{Origin-Realm}", "{Destination-Realm}", "[Destination-Host]", "{Transaction-Identifier}", "{NAF-Id}",
		"*[GAA-Service-Identifier]", "[GBA_U-Awareness-Indicator]", "*[Proxy-Info]", "*[Route-Record]"},
	[]string{"<Session-Id>", "{Vendor-Specific-Application-Id}", "[Result-Code]", "[Experimental-Result]",
		"[Auth-Session-State]", "{Origin-Host}", "{Origin-Realm}", "[User-Name]", "[ME-Key-Material]",
		"[UICC-Key-Material]", "[Key-ExpiryTime]", "[BootstrapInfoCreationTime]", "[GBA-UserSecSettings]",
		"[GBA-Type]", "[Failed-AVP]", "*[Proxy-Info]", "*[Route-Record]"}}}

// application builds one application from gaaAVPs, so that the codec and the dictionary cannot disagree on
// a code, vendor, type or flag. As cx.NewDictionary does, each code also gets an opaque entry in the "any
// vendor" slot, added last: an unknown vendor's AVP of that code decodes to its bytes (go-diameter v4.3.0
// would otherwise read it with this application's definition).
func application(id uint32, name string, cmds []commandRule) *dict.App {
	app := &dict.App{ID: id, Type: "auth", Name: name, Vendor: []*dict.Vendor{{ID: Vendor3GPP, Name: "3GPP"}}}
	for _, c := range cmds {
		cmd := &dict.Command{Code: uint32(c.code), Short: c.short, Name: c.name}
		cmd.Request.Rule, cmd.Answer.Rule = rules(c.request), rules(c.answer)
		app.Command = append(app.Command, cmd)
	}
	for _, a := range gaaAVPs {
		d := &dict.AVP{Name: a.name, Code: uint32(a.key.code), VendorID: a.key.vendor, Must: "M,V", MustNot: "",
			Data: dict.Data{TypeName: string(a.typ)}}
		if a.typ == tGrouped {
			d.Data.Rule = rules(groupRules[a.key.code])
		}
		app.AVP = append(app.AVP, d)
	}
	for _, a := range gaaAVPs {
		app.AVP = append(app.AVP, &dict.AVP{Name: fmt.Sprintf("Opaque-AVP-%d", a.key.code), Code: uint32(a.key.code),
			VendorID: dict.UndefinedVendorID, Data: dict.Data{TypeName: "OctetString"}})
	}
	return app
}

// groupRules are the contents of the grouped AVPs (TS 29.229 §6.3.13 as TS 29.109 uses it).
var groupRules = map[AVPCode][]string{
	AVPSIPAuthDataItem: {"[SIP-Authentication-Scheme]", "[SIP-Authenticate]", "[SIP-Authorization]",
		"[Confidentiality-Key]", "[Integrity-Key]"},
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
