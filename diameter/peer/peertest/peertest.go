// Package peertest plays a Diameter peer by hand, for the tests of the nodes that use diameter/peer: it
// sends what a real peer of ours never would, such as a CER claiming an identity the node was not
// configured with.
package peertest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"

	"github.com/imscore/imscore/diameter"
)

// Cx is the application a CER advertises: Cx/Dx, vendor 3GPP (TS 29.229 §6.1).
const (
	cxAppID    = 16777216
	vendor3GPP = 10415
)

// CER connects to addr over TCP, sends a Capabilities-Exchange-Request announcing Origin-Host host and
// Origin-Realm realm with the Cx application (RFC 6733 §5.3.1), and returns the CEA's Result-Code and whether
// the node then closed the connection (within a few seconds). It fails t when no CEA comes.
func CER(t testing.TB, addr, host, realm string) (diameter.ResultCode, bool) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatalf("peertest: dial %s: %v", addr, err)
	}
	defer nc.Close()
	cer := diam.NewRequest(diam.CapabilitiesExchange, 0, dict.Default)
	cer.NewAVP(avp.OriginHost, avp.Mbit, 0, datatype.DiameterIdentity(host))
	cer.NewAVP(avp.OriginRealm, avp.Mbit, 0, datatype.DiameterIdentity(realm))
	cer.NewAVP(avp.HostIPAddress, avp.Mbit, 0, datatype.Address(net.ParseIP("127.0.0.1").To4()))
	cer.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP))
	cer.NewAVP(avp.ProductName, 0, 0, datatype.UTF8String("peertest"))
	cer.NewAVP(avp.SupportedVendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP))
	cer.NewAVP(avp.VendorSpecificApplicationID, avp.Mbit, 0, &diam.GroupedAVP{AVP: []*diam.AVP{
		diam.NewAVP(avp.VendorID, avp.Mbit, 0, datatype.Unsigned32(vendor3GPP)),
		diam.NewAVP(avp.AuthApplicationID, avp.Mbit, 0, datatype.Unsigned32(cxAppID)),
	}})
	b, err := cer.Serialize()
	if err != nil {
		t.Fatalf("peertest: CER: %v", err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(b); err != nil {
		t.Fatalf("peertest: write CER: %v", err)
	}
	br := bufio.NewReader(nc)
	cea, err := diam.ReadMessage(br, dict.Default)
	if err != nil {
		t.Fatalf("peertest: no CEA: %v", err)
	}
	if cea.Header.CommandCode != diam.CapabilitiesExchange || cea.Header.CommandFlags&diam.RequestFlag != 0 {
		t.Fatalf("peertest: want a CEA, got %s", cea)
	}
	rc, err := cea.FindAVP(avp.ResultCode, 0)
	if err != nil {
		t.Fatalf("peertest: CEA without Result-Code: %s", cea)
	}
	code := diameter.ResultCode(rc.Data.(datatype.Unsigned32))
	// Closed: the next read ends (EOF or reset) instead of timing out.
	_, err = io.Copy(io.Discard, br)
	var ne net.Error
	closed := err == nil || !(errors.As(err, &ne) && ne.Timeout())
	return code, closed
}
