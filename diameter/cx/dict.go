package cx

import (
	"bytes"
	"embed"
	"encoding/xml"
	"fmt"
	"sort"

	"github.com/fiorix/go-diameter/v4/diam/dict"
)

// dictionaryFiles holds the dictionaries we wrote: the base protocol (RFC 6733) and Cx/Dx
// (TS 29.229), in go-diameter's XML format. base.xml is loaded first: application 0 is what
// every other application falls back to.
//
//go:embed dict/base.xml dict/cx.xml
var dictionaryFiles embed.FS

// dictionaryOrder is the load order of dictionaryFiles.
func dictionaryOrder() []string { return []string{"dict/base.xml", "dict/cx.xml"} }

// opaqueVendorID is go-diameter's dict.UndefinedVendorID: the index slot a lookup falls back to
// when no AVP matches the code and vendor of a received AVP.
const opaqueVendorID = dict.UndefinedVendorID

// NewDictionary returns a new go-diameter dictionary holding the Diameter base protocol
// (application 0, RFC 6733 with DRMP, overload and load AVPs) and the Cx/Dx application
// (AppID, TS 29.229) with every AVP its commands carry. Each call builds a fresh parser:
// go-diameter's package-level dict.Default is neither used nor changed.
//
// go-diameter v4.3.0 decodes an AVP whose (code, vendor) it does not know with the definition
// of whichever AVP last claimed that code, so a vendor AVP it has never heard of would be read
// as, say, Result-Code, with that type's length rules. NewDictionary closes that hole: for every
// code defined in an application it adds an opaque OctetString entry in the "any vendor" slot,
// so an AVP whose vendor and code we do not know decodes to its exact bytes and re-encodes
// unchanged. Look AVPs up by code and vendor (FindAVPByCode / FindAVPWithVendor); a code-only
// lookup (vendor dict.UndefinedVendorID) finds that opaque entry.
func NewDictionary() (*dict.Parser, error) {
	p, err := dict.NewParser()
	if err != nil {
		return nil, fmt.Errorf("cx dictionary: %w", err)
	}
	for _, name := range dictionaryOrder() {
		raw, err := dictionaryFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("cx dictionary %s: %w", name, err)
		}
		guarded, err := withOpaqueFallbacks(raw)
		if err != nil {
			return nil, fmt.Errorf("cx dictionary %s: %w", name, err)
		}
		if err := p.Load(bytes.NewReader(guarded)); err != nil {
			return nil, fmt.Errorf("cx dictionary %s: %w", name, err)
		}
	}
	return p, nil
}

// withOpaqueFallbacks returns the dictionary file with, at the end of each application, one
// OctetString AVP per code that application defines, under the undefined vendor id. go-diameter
// indexes every AVP twice, by (code, vendor) and by (code, any vendor), last one wins; these
// entries come last and so own the "any vendor" slot, which is only consulted when the exact
// (code, vendor) is unknown.
func withOpaqueFallbacks(raw []byte) ([]byte, error) {
	var f dict.File
	if err := xml.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	for _, app := range f.App {
		codes := map[uint32]bool{}
		for _, a := range app.AVP {
			codes[a.Code] = true
		}
		sorted := make([]uint32, 0, len(codes))
		for c := range codes {
			sorted = append(sorted, c)
		}
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		for _, c := range sorted {
			app.AVP = append(app.AVP, &dict.AVP{
				Name:     opaqueAVPName(c),
				Code:     c,
				VendorID: opaqueVendorID,
				Data:     dict.Data{TypeName: "OctetString"},
			})
		}
	}
	return xml.Marshal(&f)
}

// opaqueAVPName names the fallback entry for code: what go-diameter's String() prints for an
// AVP of unknown vendor.
func opaqueAVPName(code uint32) string { return fmt.Sprintf("Opaque-AVP-%d", code) }
