package imsagw

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imscore/imscore/services/imsagw/h248"
)

// call is one MSRP e2ae session's context on the AGW.
type call struct {
	ctx    string
	t1, t2 added
}

// reserveOriginating is TS 23.334 §6.2.10.3.1.1: the UE's offer (a=setup:active, its fingerprint) gives
// T1's Remote; T2 towards the core offers actpass. remoteT2 is the core's answer, "" when it comes later.
func reserveOriginating(t testing.TB, alg *controller, u ue, ueSource string, remoteT2 string, t2Props ...*h248.Node) call {
	t.Helper()
	tr := alg.must(h248.Choose,
		h248.Command("Add", h248.Choose, stream(localT1(h248.Choose),
			remoteSDP(ProtoTCPTLSMSRP, ueSource, 9, SetupActive, u.fingerprint),
			h248.Prop(PropRealm, `"access"`), h248.Prop(PropSAF, "on")), events("1")),
		h248.Command("Add", h248.Choose, stream(localT2(SetupActPass), remoteT2,
			append([]*h248.Node{h248.Prop(PropRealm, `"core"`)}, t2Props...)...), events("2")))
	as := addsOf(t, tr)
	if len(as) != 2 {
		t.Fatalf("want two Add replies, got %+v", tr)
	}
	c := call{ctx: as[0].context, t1: as[0], t2: as[1]}
	if c.t1.local.Proto != ProtoTCPTLSMSRP || c.t1.local.Setup != SetupPassive || !strings.HasPrefix(c.t1.local.Fingerprint, "sha-256 ") {
		t.Fatalf("T1 Local = %+v", c.t1.local)
	}
	if c.t2.local.Proto != ProtoTCPMSRP || c.t2.local.Fingerprint != "" || c.t2.local.Setup != SetupActPass {
		t.Fatalf("T2 Local = %+v", c.t2.local)
	}
	return c
}

// TS 23.334 §6.2.10.3.1.1.1: the UE's connection at T1 (TLS, fingerprint checked) triggers the AGW's
// connection at T2; MSRP SEND and 200 cross both ways; the UE closing releases the bearer and the ALG is told.
func TestOriginatingInterlinked(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1",
		remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""), h248.Prop(PropEstab, estabInterlinked))
	if c.t1.local.Fingerprint != n.Fingerprint() {
		t.Fatalf("T1 fingerprint %q, AGW's %q", c.t1.local.Fingerprint, n.Fingerprint())
	}
	if conn := cr.accept(t, 300*time.Millisecond); conn != nil {
		t.Fatal("the AGW connected to the core before the UE connected to T1")
	}
	ueConn, err := u.dial(t, c.t1.addr(t), "127.0.0.1", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("the UE's connection did not trigger the AGW's connection to the core")
	}
	exchange(t, ueConn, coreConn, "Hello core, this is the UE over TLS.")
	exchange(t, coreConn, ueConn, "Hello UE, this is the core over TCP.")
	_ = ueConn.Close()
	for _, id := range []string{c.t1.id, c.t2.id} {
		if got := alg.waitNotify(id); got.cause != causeNormalRelease || got.context != c.ctx {
			t.Fatalf("Notify %+v, want g/cause NR on context %s", got, c.ctx)
		}
	}
	if _, err := coreConn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the core connection is still open after the bearer was released")
	}
	alg.must(c.ctx, h248.Subtract(c.t1.id), h248.Subtract(c.t2.id))
	if n.Contexts() != 0 {
		t.Fatalf("%d contexts after both terminations were subtracted", n.Contexts())
	}
	if _, err := net.DialTimeout("tcp", c.t1.addr(t), wait); err == nil {
		t.Fatal("T1 still accepts connections after Subtract")
	}
}

// TS 23.334 §6.2.10.3.1.1.2: the ALG asks the AGW to open the core connection once the answer's a=setup is
// known (Modify with the core's Remote, a=setup:passive); it is up before the UE connects.
func TestEstablishOnRequest(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1", "")
	alg.must(c.ctx, h248.Command("Modify", c.t2.id, stream("", remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""),
		h248.Prop(PropEstab, estabNow))))
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("no connection to the core after the ALG's request")
	}
	ueConn, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, ueConn, coreConn, "first")
	exchange(t, coreConn, ueConn, "second")
}

// A UE certificate that does not match the a=fingerprint of the SDP never reaches the core (TS 33.328 §7.3);
// the termination keeps waiting for the right one.
func TestWrongFingerprintRefused(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, impostor, cr := newUE(t), newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1",
		remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""), h248.Prop(PropEstab, estabInterlinked))
	bad, err := impostor.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err == nil {
		// TLS 1.3: the client finishes first; the server's refusal arrives as the first read's error.
		if _, err = bad.Read(make([]byte, 1)); err == nil {
			t.Fatal("the AGW accepted a certificate that does not match a=fingerprint")
		}
		_ = bad.Close()
	}
	if conn := cr.accept(t, 300*time.Millisecond); conn != nil {
		t.Fatal("a wrong fingerprint reached the core")
	}
	if got := counterValue(n.metrics.refused.WithLabelValues(refusedTLS)); got != 1 {
		t.Fatalf("refused{tls} = %v, want 1", got)
	}
	good, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("the right UE did not get through after a refused one")
	}
	exchange(t, good, coreConn, "after an impostor")
}

// Source filtering (TS 23.334 §6.2.4): a connection from another address than the Remote's is closed
// before TLS; the UE's own gets through.
func TestSourceFiltering(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1",
		remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""), h248.Prop(PropEstab, estabInterlinked))
	if conn, err := u.dial(t, c.t1.addr(t), "127.0.0.2", c.t1.local.Fingerprint); err == nil {
		_ = conn.Close()
		t.Fatal("a connection from 127.0.0.2 was served; the Remote says 127.0.0.1")
	}
	if got := counterValue(n.metrics.refused.WithLabelValues(refusedSource)); got != 1 {
		t.Fatalf("refused{source} = %v, want 1", got)
	}
	if conn := cr.accept(t, 300*time.Millisecond); conn != nil {
		t.Fatal("a connection from the wrong source reached the core")
	}
	ueConn, err := u.dial(t, c.t1.addr(t), "127.0.0.1", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("no core connection")
	}
	exchange(t, ueConn, coreConn, "filtered")
	// Step 10': a second SYN while the bearer is up is refused; the relay goes on.
	if extra, err := u.dial(t, c.t1.addr(t), "127.0.0.1", c.t1.local.Fingerprint); err == nil {
		_ = extra.SetReadDeadline(time.Now().Add(wait))
		if _, err := extra.Read(make([]byte, 1)); err == nil {
			t.Fatal("a repeated connection was served")
		}
	}
	exchange(t, coreConn, ueConn, "still relaying")
}

// A SYN before the Remote descriptor (terminating side: the UE answers and connects at once) is held until the
// ALG configures T1, then served; without configuration within config_hold it is closed.
func TestConnectionBeforeConfiguration(t *testing.T) {
	n := startAGW(t, func(c *Config) { c.ConfigHold = wait })
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	tr := alg.must(h248.Choose,
		h248.Command("Add", h248.Choose, stream(localT1(SetupActPass), "", h248.Prop(PropRealm, `"access"`))),
		h248.Command("Add", h248.Choose, stream(localT2(SetupActive), remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""),
			h248.Prop(PropRealm, `"core"`), h248.Prop(PropEstab, estabInterlinked))))
	as := addsOf(t, tr)
	t1, t2 := as[0], as[1]
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := u.dial(t, t1.addr(t), "", t1.local.Fingerprint)
		done <- result{c, err}
	}()
	// The TCP connection is up and held; configure T1 with the UE's answer now.
	for deadline := time.Now().Add(wait); heldCount(n, t1) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the UE's connection was not held")
		}
	}
	alg.must(t1.context, h248.Command("Modify", t1.id, stream("", remoteSDP(ProtoTCPTLSMSRP, "127.0.0.1", 9, SetupActive, u.fingerprint))))
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("no core connection")
	}
	exchange(t, r.conn, coreConn, "held, then served")
	_ = t2
}

func heldCount(n *Node, a added) int {
	id, _ := strconv.ParseUint(a.context, 10, 32)
	cx := n.context(uint32(id))
	if cx == nil {
		return 0
	}
	cx.mu.Lock()
	defer cx.mu.Unlock()
	if t := cx.find(a.id); t != nil {
		return len(t.held)
	}
	return 0
}

func TestConnectionBeforeConfigurationExpires(t *testing.T) {
	n := startAGW(t, func(c *Config) { c.ConfigHold = 50 * time.Millisecond })
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	tr := alg.must(h248.Choose, h248.Command("Add", h248.Choose, stream(localT1(SetupPassive), "", h248.Prop(PropRealm, `"access"`))))
	t1 := addsOf(t, tr)[0]
	conn, err := net.DialTimeout("tcp", t1.addr(t), wait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF && !isReset(err) {
		t.Fatalf("held connection: read %v, want it closed", err)
	}
	if got := counterValue(n.metrics.refused.WithLabelValues(refusedUnconfigured)); got != 1 {
		t.Fatalf("refused{unconfigured} = %v", got)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reset")
}

// Calls survive the P-CSCF: with the controller gone the relay goes on; a restarted controller on the same
// address finds the context with AuditValue on Context=* and releases it.
func TestControllerRestart(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	algAddr := alg.ep.Addr().String()
	c, ueConn, coreConn := connectedCall(t, alg)
	exchange(t, ueConn, coreConn, "before the restart")
	alg.close()
	exchange(t, ueConn, coreConn, "while the P-CSCF is down")
	exchange(t, coreConn, ueConn, "both ways")

	alg2 := startController(t, n.IqAddr(), algAddr)
	tr := alg2.must(h248.All, h248.Assign("AuditValue", h248.All))
	var found []string
	for _, a := range tr.Actions {
		if a.Context != c.ctx {
			continue
		}
		for _, cmd := range a.Commands {
			ss := h248.Streams(cmd)
			if len(ss) != 1 || ss[0].Local == "" {
				t.Fatalf("audit of %s without its descriptors: %+v", cmd.Value, cmd)
			}
			found = append(found, cmd.Value)
		}
	}
	if strings.Join(found, ",") != c.t1.id+","+c.t2.id {
		t.Fatalf("audit found %v, want %s and %s", found, c.t1.id, c.t2.id)
	}
	exchange(t, ueConn, coreConn, "after the audit")
	alg2.must(c.ctx, h248.Subtract(h248.All))
	_ = ueConn.SetReadDeadline(time.Now().Add(wait))
	if _, err := ueConn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the UE connection is open after Subtract")
	}
	if n.Contexts() != 0 {
		t.Fatalf("%d contexts left", n.Contexts())
	}
}

// A context whose bearer never came up and whose ALG said nothing for setup_timeout goes, sockets with it.
func TestSetupTimeout(t *testing.T) {
	n := startAGW(t, func(c *Config) { c.SetupTimeout = 100 * time.Millisecond })
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	tr := alg.must(h248.Choose, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "")))
	a := addsOf(t, tr)[0]
	deadline := time.Now().Add(wait)
	for n.Contexts() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("context kept past setup_timeout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := net.DialTimeout("tcp", a.addr(t), wait); err == nil {
		t.Fatal("the removed context's termination still listens")
	}
	if _, err := alg.request(a.context, h248.Subtract(a.id)); err == nil || !strings.Contains(err.Error(), "411") {
		t.Fatalf("Subtract on the removed context: %v, want error 411", err)
	}

	// Half a bearer: the UE is connected, the core side never configured; the UE's connection goes too.
	u := newUE(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1", "")
	ueConn, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	_ = ueConn.SetReadDeadline(time.Now().Add(wait))
	if _, err := ueConn.Read(make([]byte, 1)); err == nil {
		t.Fatal("the UE's connection outlived setup_timeout without a core side")
	}
	if n.Contexts() != 0 {
		t.Fatalf("%d contexts left", n.Contexts())
	}
}

// Refused commands get the H.248.8 code and leave nothing behind.
func TestIqErrors(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	tr := alg.must(h248.Choose, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "")))
	ctxID := addsOf(t, tr)[0].context
	tests := []struct {
		name    string
		context string
		cmd     *h248.Node
		code    string
	}{
		{"unknown context", "4711", h248.Subtract("ip/1/core/1"), "411"},
		{"unknown termination", ctxID, h248.Subtract("ip/9/core/9"), "430"},
		{"named termination in Add", h248.Choose, h248.Command("Add", "ip/1/core/77", stream(localT2(SetupPassive), "")), "430"},
		{"neither TCP nor RTP", h248.Choose, h248.Command("Add", h248.Choose, stream("v=0\r\nc=IN IP4 $\r\nm=audio $ UDP/TLS/RTP/SAVP 0\r\n", "")), "449"},
		{"unknown realm", h248.Choose, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "", h248.Prop(PropRealm, `"mars"`))), "449"},
		{"TLS without fingerprint", h248.Choose, h248.Command("Add", h248.Choose, stream(localT1(SetupPassive),
			remoteSDP(ProtoTCPTLSMSRP, "127.0.0.1", 9, SetupActive, ""), h248.Prop(PropRealm, `"access"`))), "449"},
		{"bad property value", h248.Choose, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "", h248.Prop(PropSAF, "maybe"))), "449"},
		{"unsupported command", ctxID, h248.Assign("Move", "ip/1/core/1"), "443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := alg.request(tt.context, tt.cmd)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			for _, a := range tr.Actions {
				for _, c := range a.Commands {
					if strings.EqualFold(c.Name, "Error") {
						msg += " " + c.Value
					}
				}
			}
			if !strings.Contains(msg, tt.code) {
				t.Fatalf("got %q (%+v), want error %s", msg, tr, tt.code)
			}
		})
	}
	if n.Contexts() != 1 {
		t.Fatalf("%d contexts after the refused commands, want the first one only", n.Contexts())
	}
	// A third termination in a context: 434.
	alg.must(ctxID, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "")))
	tr, _ = alg.request(ctxID, h248.Command("Add", h248.Choose, stream(localT2(SetupPassive), "")))
	if len(tr.Actions) != 1 || !strings.Contains(nodeText(tr.Actions[0].Commands), "Error=434") {
		t.Fatalf("third Add: %+v", tr)
	}
}

func nodeText(nodes []*h248.Node) string {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(n.Name + "=" + n.Value + " ")
	}
	return b.String()
}

// Both realms on IPv6: the Local descriptors say IN IP6, and the relay works as on IPv4.
func TestIPv6(t *testing.T) {
	n := startAGW(t, func(c *Config) { c.AccessAddress, c.CoreAddress = "::1", "::1" })
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCoreOn(t, "::1")
	c := reserveOriginating(t, alg, u, "::1", remoteSDP(ProtoTCPMSRP, "::1", cr.port(), SetupPassive, ""),
		h248.Prop(PropEstab, estabInterlinked))
	if c.t1.local.Addr != "::1" || !strings.Contains(c.t1.local.render(), "c=IN IP6 ::1") {
		t.Fatalf("T1 Local %+v", c.t1.local)
	}
	ueConn, err := u.dial(t, c.t1.addr(t), "::1", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("no core connection over IPv6")
	}
	exchange(t, ueConn, coreConn, "over IPv6")
	exchange(t, coreConn, ueConn, "and back")
}

// A peer that opens a TCP connection to T1 and says nothing does not hold the UE off: handshakes run side by
// side and the first to complete is the bearer.
func TestSilentPeerDoesNotBlockUE(t *testing.T) {
	n := startAGW(t, nil)
	alg := startController(t, n.IqAddr(), "127.0.0.1:0")
	u, cr := newUE(t), newCore(t)
	c := reserveOriginating(t, alg, u, "127.0.0.1",
		remoteSDP(ProtoTCPMSRP, "127.0.0.1", cr.port(), SetupPassive, ""), h248.Prop(PropEstab, estabInterlinked))
	silent, err := dialTCP(c.t1.addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ueConn, err := u.dial(t, c.t1.addr(t), "", c.t1.local.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	coreConn := cr.accept(t, wait)
	if coreConn == nil {
		t.Fatal("the UE did not get through while a silent connection was open")
	}
	exchange(t, ueConn, coreConn, "past the silent one")
}
