package peer

import (
	"net/netip"
	"slices"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"

	"github.com/imscore/imscore/diameter"
)

// capabilities is what a peer announced in its CER or CEA (RFC 6733 §5.3).
type capabilities struct {
	host, realm string
	stateID     uint32
	hostIPs     []netip.Addr
	vendorID    uint32
	product     string
	// apps holds every Auth- and Acct-Application-Id, top level and inside
	// Vendor-Specific-Application-Id.
	apps []uint32
}

// addCapabilities appends the AVPs shared by CER and CEA in the order of their ABNF
// (RFC 6733 §5.3.1, §5.3.2). local is used as Host-IP-Address when none is configured.
func (n *Node) addCapabilities(m *diam.Message, local netip.Addr) {
	m.AddAVP(newAVP(avpOriginHost, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginHost)))
	m.AddAVP(newAVP(avpOriginRealm, avp.Mbit, datatype.DiameterIdentity(n.cfg.OriginRealm)))
	addrs := n.cfg.HostIPAddresses
	if len(addrs) == 0 && local.IsValid() {
		addrs = []netip.Addr{local}
	}
	for _, a := range addrs {
		m.AddAVP(newAVP(avpHostIPAddress, avp.Mbit, datatype.Address(a.Unmap().AsSlice())))
	}
	m.AddAVP(newAVP(avpVendorID, avp.Mbit, datatype.Unsigned32(n.cfg.VendorID)))
	m.AddAVP(newAVP(avpProductName, 0, datatype.UTF8String(n.cfg.ProductName))) // §5.3.7: 'M' MUST NOT be set
	m.AddAVP(newAVP(avpOriginStateID, avp.Mbit, datatype.Unsigned32(n.stateID)))
	var vendors []uint32
	for _, a := range n.cfg.Applications {
		if a.VendorID != 0 && !slices.Contains(vendors, a.VendorID) {
			vendors = append(vendors, a.VendorID)
		}
	}
	for _, v := range vendors {
		m.AddAVP(newAVP(avpSupportedVendorID, avp.Mbit, datatype.Unsigned32(v)))
	}
	for _, a := range n.cfg.Applications {
		if a.VendorID == 0 {
			m.AddAVP(newAVP(avpAuthApplicationID, avp.Mbit, datatype.Unsigned32(a.ID)))
			continue
		}
		// §6.11: Vendor-Specific-Application-Id ::= { Vendor-Id } [ Auth-Application-Id ] [ Acct-Application-Id ]
		m.AddAVP(newAVP(avpVendorSpecificApplicationID, avp.Mbit, &diam.GroupedAVP{AVP: []*diam.AVP{
			newAVP(avpVendorID, avp.Mbit, datatype.Unsigned32(a.VendorID)),
			newAVP(avpAuthApplicationID, avp.Mbit, datatype.Unsigned32(a.ID)),
		}}))
	}
	if n.cfg.FirmwareRevision != 0 {
		m.AddAVP(newAVP(avpFirmwareRevision, 0, datatype.Unsigned32(n.cfg.FirmwareRevision))) // §5.3.4: no 'M'
	}
}

// buildCER is the Capabilities-Exchange-Request, RFC 6733 §5.3.1.
func (n *Node) buildCER(local netip.Addr) *diam.Message {
	m := diam.NewRequest(cmdCapabilitiesExchange, 0, n.cfg.Dictionary)
	n.addCapabilities(m, local)
	return m
}

// buildCEA is the Capabilities-Exchange-Answer to the CER with header h, RFC 6733 §5.3.2.
func (n *Node) buildCEA(h header, de *diameter.Error, local netip.Addr) *diam.Message {
	flags := uint8(0)
	if de.VendorID == 0 && de.Code.IsProtocolError() {
		flags |= flagError
	}
	m := diam.NewMessage(cmdCapabilitiesExchange, flags, 0, h.hbh, h.e2e, n.cfg.Dictionary)
	m.Header.HopByHopID, m.Header.EndToEndID = h.hbh, h.e2e
	m.AddAVP(newAVP(avpResultCode, avp.Mbit, datatype.Unsigned32(de.Code)))
	n.addCapabilities(m, local)
	if de.Code != diameter.Success && de.Err != nil {
		m.AddAVP(newAVP(avpErrorMessage, 0, datatype.UTF8String(de.Err.Error())))
	}
	if len(de.FailedAVPs) > 0 {
		m.AddAVP(newAVP(avpFailedAVP, avp.Mbit, &diam.GroupedAVP{AVP: de.FailedAVPs}))
	}
	return m
}

// parseCapabilities reads a CER or CEA. Origin-Host and Origin-Realm are required (a missing one
// is DIAMETER_MISSING_AVP with an example in Failed-AVP, §7.5); the other AVPs are read when
// present, so that a sloppy peer still interoperates.
func parseCapabilities(m *diam.Message) (capabilities, *diameter.Error) {
	var c capabilities
	var ok bool
	if c.host, ok = avpString(findAVP(m.AVP, avpOriginHost)); !ok || c.host == "" {
		return c, missingAVP(avpOriginHost, datatype.DiameterIdentity(""), "Origin-Host")
	}
	if err := validIdentity(c.host); err != nil {
		return c, avpError(diameter.InvalidAVPValue, findAVP(m.AVP, avpOriginHost), "Origin-Host: %v", err)
	}
	if c.realm, ok = avpString(findAVP(m.AVP, avpOriginRealm)); !ok || c.realm == "" {
		return c, missingAVP(avpOriginRealm, datatype.DiameterIdentity(""), "Origin-Realm")
	}
	c.stateID, _ = avpUint32(findAVP(m.AVP, avpOriginStateID))
	c.vendorID, _ = avpUint32(findAVP(m.AVP, avpVendorID))
	c.product, _ = avpString(findAVP(m.AVP, avpProductName))
	for _, a := range m.AVP {
		if a == nil || a.VendorID != 0 {
			continue
		}
		switch a.Code {
		case avpHostIPAddress:
			if v, ok := a.Data.(datatype.Address); ok {
				if ip, ok := netip.AddrFromSlice(v); ok {
					c.hostIPs = append(c.hostIPs, ip)
				}
			}
		case avpAuthApplicationID, avpAcctApplicationID:
			if id, ok := avpUint32(a); ok {
				c.apps = append(c.apps, id)
			}
		case avpVendorSpecificApplicationID:
			inner := groupedAVPs(a)
			for _, code := range []uint32{avpAuthApplicationID, avpAcctApplicationID} {
				if id, ok := avpUint32(findAVP(inner, code)); ok {
					c.apps = append(c.apps, id)
				}
			}
		}
	}
	return c, nil
}

// missingAVP is DIAMETER_MISSING_AVP with an example of the AVP (RFC 6733 §7.5).
func missingAVP(code uint32, zero datatype.Type, name string) *diameter.Error {
	return avpError(diameter.MissingAVP, newAVP(code, avp.Mbit, zero), "%s is missing", name)
}

// commonApplications are the local applications the peer advertised too (RFC 6733 §5.3);
// a peer advertising the Relay application (0xffffffff) takes them all.
func commonApplications(local []Application, peer []uint32) []Application {
	var common []Application
	relay := slices.Contains(peer, relayApplicationID)
	for _, a := range local {
		if relay || slices.Contains(peer, a.ID) {
			common = append(common, a)
		}
	}
	return common
}
