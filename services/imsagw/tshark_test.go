package imsagw

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imscore/imscore/internal/tshark"
	"github.com/imscore/imscore/services/imsagw/h248"
)

// TestIqWireshark captures the Iq traffic of a whole session on loopback (Add and Add with TLS and
// interlinkage, Modify, Notify of the released bearer and its reply, AuditValue on Context=*, Subtract, an
// error reply) and has Wireshark's MEGACO dissector decode every message: no malformed packet, no expert
// error.
func TestIqWireshark(t *testing.T) {
	t.Parallel() // tshark takes seconds to start; the two captures filter on their own ports
	bin := tshark.Find(t)
	n := startAGW(t, nil)
	port := n.IqAddr().Port()
	capture := tshark.StartCapture(t, bin, "lo", fmt.Sprintf("udp port %d", port))
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1", "", h248.Prop(PropEstab, estabInterlinked))
	alg.must(c.ctx, h248.Command("Modify", c.t2.id, stream("", remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""))))
	ueConn, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	exchange(t, ueConn, coreConn, "captured")
	_ = coreConn.Close()
	alg.waitNotify(c.t1.id)
	alg.waitNotify(c.t2.id)
	alg.must(h248.All, h248.Assign("AuditValue", h248.All))
	_, _ = alg.request("4711", h248.Subtract("ip/1/core/1"))
	alg.must(c.ctx, h248.Subtract(c.t1.id), h248.Subtract(c.t2.id))
	path := capture.Stop(t)

	out := tshark.Run(t, bin, "-r", path, "-d", fmt.Sprintf("udp.port==%d,megaco", port), "-V")
	for _, bad := range []string{"Malformed", "[Expert Info (Error"} {
		if strings.Contains(out, bad) {
			t.Fatalf("tshark reports %q:\n%s", bad, tshark.Around(out, bad))
		}
	}
	fields := tshark.Run(t, bin, "-r", path, "-d", fmt.Sprintf("udp.port==%d,megaco", port), "-T", "fields",
		"-e", "megaco.transid", "-e", "megaco.command", "-e", "megaco.termid", "-e", "sdp.media")
	t.Logf("tshark fields:\n%s", fields)
	for _, want := range []string{"Add", "Modify", "Subtract", "Notify", "AuditValue", c.t1.id, "TCP/TLS/MSRP", "TCP/MSRP"} {
		if !strings.Contains(fields, want) {
			t.Errorf("tshark did not see %q", want)
		}
	}
	if frames := strings.Count(strings.TrimSpace(fields), "\n") + 1; frames < 12 {
		t.Errorf("%d Iq frames captured, want the whole session:\n%s", frames, fields)
	}
}

// TestMediaWireshark captures the media path of an e2ae session (the UE's TLS at T1, MSRP between T2 and the
// core) and has Wireshark decode it: the TLS handshake at T1, MSRP SEND and 200 towards the core, nothing
// malformed.
func TestMediaWireshark(t *testing.T) {
	t.Parallel()
	bin := tshark.Find(t)
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1",
		remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""), h248.Prop(PropEstab, estabInterlinked))
	capture := tshark.StartCapture(t, bin, "lo", fmt.Sprintf("tcp port %s or tcp port %d", c.t1.local.Port, cr.port()))
	ueConn, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	exchange(t, ueConn, coreConn, "seen by Wireshark")
	exchange(t, coreConn, ueConn, "and back")
	_ = ueConn.Close()
	alg.waitNotify(c.t1.id)
	path := capture.Stop(t)
	decode := []string{"-r", path, "-d", "tcp.port==" + c.t1.local.Port + ",tls", "-d", fmt.Sprintf("tcp.port==%d,msrp", cr.port())}
	out := tshark.Run(t, bin, append(decode, "-V")...)
	for _, bad := range []string{"Malformed", "[Expert Info (Error"} {
		if strings.Contains(out, bad) {
			t.Fatalf("tshark reports %q:\n%s", bad, tshark.Around(out, bad))
		}
	}
	fields := tshark.Run(t, bin, append(decode, "-T", "fields", "-e", "tls.handshake.type", "-e", "msrp.method", "-e", "msrp.status.code")...)
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(fields, func(r rune) bool { return r == '\t' || r == ',' || r == '\n' }) {
		seen[f] = true
	}
	for _, want := range []string{"1", "2", "SEND", "200"} { // TLS ClientHello and ServerHello, MSRP both ways
		if !seen[want] {
			t.Errorf("tshark did not see %q:\n%s", want, fields)
		}
	}
}
