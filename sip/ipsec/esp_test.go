package ipsec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/ipsec/ipsectest"
	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// The tests in this file send real traffic through kernel ESP between two network namespaces,
// "ue" and "pcscf", joined by a veth pair. They need a kernel with ESP, which the development
// machines lack: they skip there and run in the VM (make test-ipsec), where
// IMSCORE_REQUIRE_ESP=1 turns a skip into a failure.

// ioTimeout bounds every read that expects data; it is generous because the VM emulates its CPU.
const ioTimeout = 5 * time.Second

// silence is how long a read waits to conclude that a packet was dropped.
const silence = 250 * time.Millisecond

// env is one topology with a Manager on each side.
type env struct {
	link      *ipsectest.Link
	ue, pcscf *ipsec.Manager
	nextPort  uint16
	nextSPI   uint32
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ipsectest.RequireRoot(t)
	l := ipsectest.NewLink(t)
	e := &env{link: l, nextPort: 20000, nextSPI: 0x10000}
	for _, side := range []struct {
		m  **ipsec.Manager
		ns *ipsectest.NS
	}{{&e.ue, l.UE}, {&e.pcscf, l.PCSCF}} {
		m, err := ipsec.NewManager(side.ns.Handle, ipsec.DefaultConfig(), zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		*side.m = m
	}
	s, err := e.pcscf.Probe()
	if err != nil {
		t.Fatal(err)
	}
	ipsectest.RequireESP(t, s.ESP, s.Reason)
	return e
}

// pair returns a fresh SA set description: new ports every time, so that no TIME_WAIT socket of
// an earlier subtest is in the way, and new SPIs.
func (e *env) pair(ipv6 bool, algs ipsec.Algorithms) ipsec.Pair {
	ue, pc := e.link.UE4, e.link.PCSCF4
	if ipv6 {
		ue, pc = e.link.UE6, e.link.PCSCF6
	}
	port := func() uint16 { e.nextPort++; return e.nextPort }
	spi := func() uint32 { e.nextSPI++; return e.nextSPI }
	p := ipsec.Pair{
		UE:    ipsec.Endpoint{Addr: ue, PortC: port(), PortS: port(), SPIC: spi(), SPIS: spi()},
		PCSCF: ipsec.Endpoint{Addr: pc, PortC: port(), PortS: port(), SPIC: spi(), SPIS: spi()},
		Algs:  algs,
		Proto: ipsec.ProtoAny,
	}
	copy(p.IK[:], "IK of this test!")
	copy(p.CK[:], "CK of this test!")
	return p
}

func (e *env) install(t *testing.T, p ipsec.Pair, sides ...ipsec.Side) {
	t.Helper()
	for _, side := range sides {
		m := e.manager(side)
		if err := m.Install(context.Background(), side, p, 5*time.Minute); err != nil {
			t.Fatalf("install %v: %v", side, err)
		}
		t.Cleanup(func() {
			if err := m.Remove(p); err != nil {
				t.Errorf("cleanup remove %v: %v", side, err)
			}
		})
	}
}

func (e *env) manager(side ipsec.Side) *ipsec.Manager {
	if side == ipsec.SideUE {
		return e.ue
	}
	return e.pcscf
}

func (e *env) ns(side ipsec.Side) *ipsectest.NS {
	if side == ipsec.SideUE {
		return e.link.UE
	}
	return e.link.PCSCF
}

// udpSend sends msg from src (in namespace from) to dst (in namespace to), where a server
// echoes it. It returns what came back, or an error if the server got nothing within wait.
func udpSend(t *testing.T, from *ipsectest.NS, src netip.AddrPort, to *ipsectest.NS, dst netip.AddrPort, msg []byte, wait time.Duration) error {
	t.Helper()
	var server, client *net.UDPConn
	if err := to.Do(func() (err error) { server, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst)); return err }); err != nil {
		t.Fatalf("listen udp %v: %v", dst, err)
	}
	defer server.Close()
	if err := from.Do(func() (err error) { client, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(src)); return err }); err != nil {
		t.Fatalf("bind udp %v: %v", src, err)
	}
	defer client.Close()

	var wg sync.WaitGroup
	var serverErr error
	wg.Go(func() {
		buf := make([]byte, 2048)
		if err := server.SetReadDeadline(time.Now().Add(wait)); err != nil {
			serverErr = err
			return
		}
		n, peer, err := server.ReadFromUDPAddrPort(buf)
		if err != nil {
			serverErr = fmt.Errorf("server %v got nothing: %w", dst, err)
			return
		}
		if peer != src {
			serverErr = fmt.Errorf("server %v: datagram from %v, want %v", dst, peer, src)
			return
		}
		_, serverErr = server.WriteToUDPAddrPort(buf[:n], peer)
	})
	if _, err := client.WriteToUDPAddrPort(msg, dst); err != nil {
		wg.Wait()
		return fmt.Errorf("send %v -> %v: %w", src, dst, err)
	}
	wg.Wait()
	if serverErr != nil {
		return serverErr
	}
	buf := make([]byte, 2048)
	if err := client.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	n, _, err := client.ReadFromUDPAddrPort(buf)
	if err != nil {
		return fmt.Errorf("echo %v -> %v: %w", dst, src, err)
	}
	if !bytes.Equal(buf[:n], msg) {
		return fmt.Errorf("echo %v -> %v: got %q", dst, src, buf[:n])
	}
	return nil
}

// tcpEcho connects from src to dst, sends msg and expects it back. The server closes first,
// so the TIME_WAIT lands on the listening side.
func tcpEcho(t *testing.T, from *ipsectest.NS, src netip.AddrPort, to *ipsectest.NS, dst netip.AddrPort, msg []byte) error {
	t.Helper()
	var ln *net.TCPListener
	if err := to.Do(func() (err error) { ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(dst)); return err }); err != nil {
		t.Fatalf("listen tcp %v: %v", dst, err)
	}
	defer ln.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	var serverErr error
	wg.Go(func() {
		if err := ln.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
			serverErr = err
			return
		}
		c, err := ln.AcceptTCP()
		if err != nil {
			serverErr = fmt.Errorf("accept on %v: %w", dst, err)
			return
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
			serverErr = err
			return
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(c, buf); err != nil {
			serverErr = fmt.Errorf("server read: %w", err)
			return
		}
		_, serverErr = c.Write(buf)
	})

	var conn net.Conn
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(src), Timeout: ioTimeout}
	if err := from.Do(func() (err error) { conn, err = d.Dial("tcp", dst.String()); return err }); err != nil {
		return fmt.Errorf("connect %v -> %v: %w", src, dst, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("write %v -> %v: %w", src, dst, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return fmt.Errorf("echo %v -> %v: %w", dst, src, err)
	}
	if !bytes.Equal(buf, msg) {
		return fmt.Errorf("echo %v -> %v: got %q", dst, src, buf)
	}
	if _, err := conn.Read(buf[:1]); !errors.Is(err, io.EOF) { // wait for the server's FIN
		return fmt.Errorf("after echo, want EOF from the server, got %v", err)
	}
	wg.Wait()
	return serverErr
}

func addrPort(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

// TestESPTraffic installs both sides of an SA set for every algorithm combination of TS 33.203,
// over IPv4 and IPv6, and carries UDP and TCP in both directions of both SA pairs through it.
func TestESPTraffic(t *testing.T) {
	e := newEnv(t)
	for _, fam := range []struct {
		name string
		ipv6 bool
	}{{"ipv4", false}, {"ipv6", true}} {
		for _, algs := range ipsec.AllAlgorithms() {
			t.Run(fam.name+"/"+string(algs.Integrity)+"+"+string(algs.Encryption), func(t *testing.T) {
				p := e.pair(fam.ipv6, algs)
				e.install(t, p, ipsec.SideUE, ipsec.SidePCSCF)
				checkListed(t, e.pcscf, p)
				sniff := ipsectest.NewSniffer(t, e.link.PCSCF, e.link.PCSCFIfindex)
				marker := []byte(fmt.Sprintf("IMSCORE-PLAINTEXT-MARKER-%d", p.UE.PortC))

				ueC, ueS := addrPort(p.UE.Addr, p.UE.PortC), addrPort(p.UE.Addr, p.UE.PortS)
				pcC, pcS := addrPort(p.PCSCF.Addr, p.PCSCF.PortC), addrPort(p.PCSCF.Addr, p.PCSCF.PortS)
				steps := []struct {
					name string
					run  func() error
				}{
					{"udp ue-c>pcscf-s", func() error { return udpSend(t, e.link.UE, ueC, e.link.PCSCF, pcS, marker, ioTimeout) }},
					{"udp pcscf-c>ue-s", func() error { return udpSend(t, e.link.PCSCF, pcC, e.link.UE, ueS, marker, ioTimeout) }},
					{"tcp ue-c>pcscf-s", func() error { return tcpEcho(t, e.link.UE, ueC, e.link.PCSCF, pcS, marker) }},
					{"tcp pcscf-c>ue-s", func() error { return tcpEcho(t, e.link.PCSCF, pcC, e.link.UE, ueS, marker) }},
				}
				for _, s := range steps {
					if err := s.run(); err != nil {
						t.Fatalf("%s: %v", s.name, err)
					}
				}

				// Every SA carried packets on both sides, none failed integrity, and the sender
				// counted at least what the receiver did. TCP's last ACKs may still be under way,
				// so each receiver is read before its sender: P-CSCF, UE, P-CSCF again.
				pcFirst, err := e.pcscf.Counters(p)
				if err != nil {
					t.Fatal(err)
				}
				ueStats, err := e.ue.Counters(p)
				if err != nil {
					t.Fatal(err)
				}
				pcLater, err := e.pcscf.Counters(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range p.Flows() {
					tx, rx := ueStats[f.SPI], pcFirst[f.SPI]
					if f.Sender == ipsec.SidePCSCF {
						tx, rx = pcLater[f.SPI], ueStats[f.SPI]
					}
					if rx.Packets < 2 || tx.Packets < rx.Packets || rx.Bytes == 0 {
						t.Errorf("%v spi 0x%x: sent %d packets, received %d (want >= 2: one UDP, one TCP exchange)", f.ID, f.SPI, tx.Packets, rx.Packets)
					}
					if tx.IntegrityFailed != 0 || rx.IntegrityFailed != 0 {
						t.Errorf("%v spi 0x%x: integrity failures %d/%d", f.ID, f.SPI, tx.IntegrityFailed, rx.IntegrityFailed)
					}
				}

				// On the wire: ESP only, exactly the four SPIs, no plaintext unless ESP-NULL.
				c := sniff.Drain(t)
				if c.Plain != 0 {
					t.Errorf("%d plain UDP/TCP frames on the P-CSCF's link", c.Plain)
				}
				for _, f := range p.Flows() {
					if c.ESPBySPI[f.SPI] == 0 {
						t.Errorf("no ESP frame with spi 0x%x (%v)", f.SPI, f.ID)
					}
				}
				if len(c.ESPBySPI) != 4 {
					t.Errorf("ESP SPIs on the wire %v, want the four of the set", c.ESPBySPI)
				}
				visible := c.Contains(marker)
				if wantVisible := algs.Encryption == ipsec.EncryptionNull; visible != wantVisible {
					t.Errorf("plaintext marker visible on the wire: %v, want %v", visible, wantVisible)
				}

				for _, side := range []ipsec.Side{ipsec.SideUE, ipsec.SidePCSCF} {
					if err := e.manager(side).Remove(p); err != nil {
						t.Fatalf("remove %v: %v", side, err)
					}
					checkEmpty(t, e.ns(side))
				}
			})
		}
	}
}

// checkListed compares List with the pair.
func checkListed(t *testing.T, m *ipsec.Manager, p ipsec.Pair) {
	t.Helper()
	sas, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(sas) != 4 {
		t.Fatalf("List has %d SAs, want 4", len(sas))
	}
	bySPI := map[uint32]ipsec.SA{}
	for _, sa := range sas {
		bySPI[sa.SPI] = sa
	}
	for _, f := range p.Flows() {
		sa, ok := bySPI[f.SPI]
		if !ok {
			t.Fatalf("List lacks spi 0x%x", f.SPI)
		}
		if sa.Src != f.Src || sa.Dst != f.Dst || sa.Proto != p.Proto || sa.HardLifetime != 5*time.Minute {
			t.Errorf("List spi 0x%x: %v -> %v proto %v lifetime %v, want %v -> %v", f.SPI, sa.Src, sa.Dst, sa.Proto, sa.HardLifetime, f.Src, f.Dst)
		}
		if sa.Auth == "" || sa.Crypt == "" {
			t.Errorf("List spi 0x%x: algorithms %q %q", f.SPI, sa.Auth, sa.Crypt)
		}
	}
}

// checkEmpty asserts that a namespace holds no XFRM state and no policy at all.
func checkEmpty(t *testing.T, ns *ipsectest.NS) {
	t.Helper()
	states, err := ns.Netlink.XfrmStateList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	policies, err := ns.Netlink.XfrmPolicyList(netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != 0 || len(policies) != 0 {
		t.Fatalf("%s: %d states and %d policies left", ns.Name, len(states), len(policies))
	}
}

// TestESPPlaintextRejected: with the P-CSCF's policies in place, a plaintext datagram from the
// UE's protected client port to the protected server port is dropped, while one from any other
// port still arrives (which shows that the drop is the policy's doing, and that the P-CSCF must
// check the source port of what arrives on port-s itself).
func TestESPPlaintextRejected(t *testing.T) {
	e := newEnv(t)
	for _, ipv6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "ipv4", true: "ipv6"}[ipv6], func(t *testing.T) {
			p := e.pair(ipv6, ipsec.Algorithms{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC})
			e.install(t, p, ipsec.SidePCSCF) // the UE side sends in plaintext: it has no SAs
			pcS := addrPort(p.PCSCF.Addr, p.PCSCF.PortS)
			unprotected := addrPort(p.UE.Addr, p.UE.PortC+1000)
			if err := udpSend(t, e.link.UE, unprotected, e.link.PCSCF, pcS, []byte("control"), ioTimeout); err != nil {
				t.Fatalf("control datagram from an unprotected port: %v", err)
			}
			err := udpSend(t, e.link.UE, addrPort(p.UE.Addr, p.UE.PortC), e.link.PCSCF, pcS, []byte("plaintext"), silence)
			if err == nil {
				t.Fatal("a plaintext datagram on the protected port pair was delivered")
			}
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("want the server to time out, got %v", err)
			}
		})
	}
}

// TestESPWrongKey: when the UE derived a different IK, its packets fail the P-CSCF's integrity
// check, are dropped, and the kernel counts them.
func TestESPWrongKey(t *testing.T) {
	e := newEnv(t)
	for _, algs := range []ipsec.Algorithms{
		{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC},
		{Integrity: ipsec.HMACMD596, Encryption: ipsec.EncryptionNull},
	} {
		t.Run(string(algs.Integrity)+"+"+string(algs.Encryption), func(t *testing.T) {
			p := e.pair(false, algs)
			e.install(t, p, ipsec.SidePCSCF)
			wrong := p
			wrong.IK[0] ^= 0x01
			e.install(t, wrong, ipsec.SideUE)
			err := udpSend(t, e.link.UE, addrPort(p.UE.Addr, p.UE.PortC), e.link.PCSCF, addrPort(p.PCSCF.Addr, p.PCSCF.PortS), []byte("forged"), silence)
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("want the datagram dropped, got %v", err)
			}
			spi := p.Flows()[0].SPI
			ueStats, err := e.ue.Counters(p)
			if err != nil {
				t.Fatal(err)
			}
			pcStats, err := e.pcscf.Counters(p)
			if err != nil {
				t.Fatal(err)
			}
			if ueStats[spi].Packets == 0 {
				t.Fatalf("the UE did not send through spi 0x%x", spi)
			}
			if pcStats[spi].IntegrityFailed == 0 || pcStats[spi].Packets != 0 {
				t.Fatalf("P-CSCF spi 0x%x: %d integrity failures, %d packets accepted; want > 0 and 0", spi, pcStats[spi].IntegrityFailed, pcStats[spi].Packets)
			}
		})
	}
}

// TestESPUpdateLifetime: a re-registration extends the SAs without disturbing them.
func TestESPUpdateLifetime(t *testing.T) {
	e := newEnv(t)
	p := e.pair(true, ipsec.Algorithms{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionDES3})
	e.install(t, p, ipsec.SideUE, ipsec.SidePCSCF)
	ueC, pcS := addrPort(p.UE.Addr, p.UE.PortC), addrPort(p.PCSCF.Addr, p.PCSCF.PortS)
	if err := udpSend(t, e.link.UE, ueC, e.link.PCSCF, pcS, []byte("before"), ioTimeout); err != nil {
		t.Fatal(err)
	}
	if err := e.pcscf.UpdateLifetime(context.Background(), p, time.Hour); err != nil {
		t.Fatal(err)
	}
	sas, err := e.pcscf.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(sas) != 4 {
		t.Fatalf("%d SAs after update", len(sas))
	}
	for _, sa := range sas {
		if age := time.Since(sa.AddTime) + 2*time.Second; sa.HardLifetime < time.Hour || sa.HardLifetime > time.Hour+age {
			t.Errorf("spi 0x%x: hard lifetime %v, want an hour from now", sa.SPI, sa.HardLifetime)
		}
	}
	before, err := e.pcscf.Counters(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := udpSend(t, e.link.UE, ueC, e.link.PCSCF, pcS, []byte("after"), ioTimeout); err != nil {
		t.Fatalf("traffic after the update: %v", err)
	}
	after, err := e.pcscf.Counters(p)
	if err != nil {
		t.Fatal(err)
	}
	spi := p.Flows()[0].SPI
	if after[spi].Packets <= before[spi].Packets || before[spi].Packets == 0 {
		t.Fatalf("spi 0x%x packets %d then %d: the update reset or broke the SA", spi, before[spi].Packets, after[spi].Packets)
	}
}

// TestESPProtoUDPOnly: a UDP-only SA set protects UDP and leaves TCP on the same ports alone.
func TestESPProtoUDPOnly(t *testing.T) {
	e := newEnv(t)
	p := e.pair(false, ipsec.Algorithms{Integrity: ipsec.HMACMD596, Encryption: ipsec.EncryptionAESCBC})
	p.Proto = ipsec.ProtoUDP
	e.install(t, p, ipsec.SideUE, ipsec.SidePCSCF)
	sniff := ipsectest.NewSniffer(t, e.link.PCSCF, e.link.PCSCFIfindex)
	ueC, pcS := addrPort(p.UE.Addr, p.UE.PortC), addrPort(p.PCSCF.Addr, p.PCSCF.PortS)
	if err := udpSend(t, e.link.UE, ueC, e.link.PCSCF, pcS, []byte("udp"), ioTimeout); err != nil {
		t.Fatal(err)
	}
	if c := sniff.Drain(t); c.Plain != 0 || c.ESPBySPI[p.Flows()[0].SPI] == 0 {
		t.Fatalf("UDP: %d plain frames, ESP %v", c.Plain, c.ESPBySPI)
	}
	if err := tcpEcho(t, e.link.UE, ueC, e.link.PCSCF, pcS, []byte("tcp")); err != nil {
		t.Fatal(err)
	}
	if c := sniff.Drain(t); c.Plain == 0 || len(c.ESPBySPI) != 0 {
		t.Fatalf("TCP: %d plain frames, ESP %v; want plaintext only", c.Plain, c.ESPBySPI)
	}
}

// TestLinkWithoutSAs checks the test topology itself, on any kernel: without SAs, UDP and TCP
// cross the veth in plaintext and the sniffer sees them, marker included. It is what makes the
// "no plaintext" assertions above able to fail.
func TestLinkWithoutSAs(t *testing.T) {
	ipsectest.RequireRoot(t)
	l := ipsectest.NewLink(t)
	for _, fam := range []struct {
		name      string
		ue, pcscf netip.Addr
	}{{"ipv4", l.UE4, l.PCSCF4}, {"ipv6", l.UE6, l.PCSCF6}} {
		t.Run(fam.name, func(t *testing.T) {
			sniff := ipsectest.NewSniffer(t, l.PCSCF, l.PCSCFIfindex)
			marker := []byte("IMSCORE-PLAINTEXT-MARKER-" + fam.name)
			ue, pc := addrPort(fam.ue, 21001), addrPort(fam.pcscf, 21002)
			if err := udpSend(t, l.UE, ue, l.PCSCF, pc, marker, ioTimeout); err != nil {
				t.Fatal(err)
			}
			if err := tcpEcho(t, l.PCSCF, pc, l.UE, ue, marker); err != nil {
				t.Fatal(err)
			}
			c := sniff.Drain(t)
			// UDP: datagram and echo; TCP: at least SYN, SYN-ACK, ACK, data, echo, FINs.
			if c.Plain < 2+6 || len(c.ESPBySPI) != 0 || !c.Contains(marker) {
				t.Fatalf("captured %d plain frames, ESP %v, marker %v", c.Plain, c.ESPBySPI, c.Contains(marker))
			}
		})
	}
}

// TestESPOutboundSeq: an SA set installed again (a restarted P-CSCF) continues its outbound sequence numbers
// where WithOutboundSeq says, so that the peer, whose SAs kept their anti-replay windows, accepts the packets;
// from 1, the peer drops them as replays (RFC 4303 §3.4.3).
func TestESPOutboundSeq(t *testing.T) {
	e := newEnv(t)
	p := e.pair(false, ipsec.Algorithms{Integrity: ipsec.HMACSHA196, Encryption: ipsec.EncryptionAESCBC})
	e.install(t, p, ipsec.SideUE, ipsec.SidePCSCF)
	pcS, ueC := addrPort(p.PCSCF.Addr, p.PCSCF.PortS), addrPort(p.UE.Addr, p.UE.PortC)
	for i := range 3 {
		if err := udpSend(t, e.link.PCSCF, pcS, e.link.UE, ueC, []byte(fmt.Sprint("before ", i)), ioTimeout); err != nil {
			t.Fatalf("before the restart: %v", err)
		}
	}
	spi := p.Flows()[1].SPI // P-CSCF port-s → UE port-c
	st, err := e.pcscf.Counters(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := st[spi].OutboundSeq; got < 3 {
		t.Fatalf("outbound sequence after 3 datagrams: %d", got)
	}
	last := st[spi].OutboundSeq

	for _, tc := range []struct {
		name      string
		opts      []ipsec.InstallOption
		delivered bool
	}{
		{"from 1: replays", nil, false},
		{"continued", []ipsec.InstallOption{ipsec.WithOutboundSeq(last + 100)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := e.ue.Counters(p)
			if err != nil {
				t.Fatal(err)
			}
			// The P-CSCF side only goes and comes back; the UE's SAs keep their replay state.
			if err := e.pcscf.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := e.pcscf.Install(context.Background(), ipsec.SidePCSCF, p, time.Hour, tc.opts...); err != nil {
				t.Fatal(err)
			}
			wait := ioTimeout
			if !tc.delivered {
				wait = silence
			}
			err = udpSend(t, e.link.PCSCF, pcS, e.link.UE, ueC, []byte("after"), wait)
			if tc.delivered != (err == nil) {
				t.Fatalf("delivered %v (%v), want %v", err == nil, err, tc.delivered)
			}
			ue, err := e.ue.Counters(p)
			if err != nil {
				t.Fatal(err)
			}
			drops := ue[spi].ReplayFailed - before[spi].ReplayFailed
			if tc.delivered && drops != 0 {
				t.Errorf("UE replay drops %d, want 0", drops)
			}
			if !tc.delivered && drops == 0 {
				t.Error("no replay drop counted at the UE")
			}
		})
	}
}
