package hsscx_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/hss"
	"github.com/imscore/imscore/hss/hsscx"
	"github.com/imscore/imscore/hss/hsstest"
	"github.com/imscore/imscore/internal/tshark"
)

// TestTsharkDecodesTheHSS captures a running HSS on loopback while CSCFs register a user, hit error cases
// and receive an RTR and a PPR, and has Wireshark's dissector judge every message the HSS sent: no malformed
// packet, no expert error, no unknown AVP, and the 3GPP result codes named.
func TestTsharkDecodesTheHSS(t *testing.T) {
	bin := tshark.Find(t)
	cfg := testConfig("sqlite://" + t.TempDir() + "/hss.db")
	probe, err := net.Listen("tcp", "127.0.0.1:0") // a known port, so the capture starts before the node
	must(t, err)
	cfg.Diameter.Listen = probe.Addr().String()
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	capture := tshark.StartCapture(t, bin, "lo", fmt.Sprintf("tcp port %d", port))

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	n, err := hsscx.Start(ctx, cfg, testLogger(t), hsscx.Options{})
	must(t, err)
	sub := hsstest.Subscriber("001010000000099", "15550099")
	sub.ServiceProfiles = []hss.ServiceProfile{hsstest.Profile(hsstest.DefaultProfileID)}
	must(t, n.Store().CreateSubscriber(ctx, sub))
	must(t, n.Store().SetDefaultChargingInfo(ctx, hss.ChargingInfo{PrimaryCCF: "aaa://ccf." + realm + ":3868;transport=tcp"}))
	impi, impu := sub.Private.IMPI, sub.Public[1].IMPU

	scscf := connect(t, n.DiameterAddr().String(), scscfHost)
	if _, err := scscf.mar("nobody@"+realm, impu, 1); err != nil { // 5001
		t.Fatal(err)
	}
	if _, err := scscf.mar(impi, impu, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := scscf.sar(impi, impu, cx.SATRegistration); err != nil {
		t.Fatal(err)
	}
	must(t, n.Server().PushProfile(ctx, impi))
	must(t, n.Server().Deregister(ctx, impi, nil, cx.ReasonPermanentTermination, "test"))
	if _, err := scscf.sar(impi, impu, cx.SATUserDeregistration); err != nil {
		t.Fatal(err)
	}
	stop()
	must(t, n.Wait())
	path := capture.Stop(t)

	verbose := tshark.DecodeDiameter(t, bin, path, port)
	for _, want := range []string{"DIAMETER_ERROR_USER_UNKNOWN", "SIP-Auth-Data-Item", "User-Data", "Charging-Information",
		"Registration-Termination", "Push-Profile", "Disconnect-Peer"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("%q not in the decoded capture", want)
		}
	}
}
