package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imscore/imscore/services/imsagw/h248"
	"github.com/imscore/imscore/services/pcscf/alg"
)

// benchStreams is how many G.711 streams each relay carries at once in BenchmarkRTPRelay.
const benchStreams = 200

// BenchmarkRTPRelay relays the same RTP streams (172-byte G.711 packets, one direction, UE → core) through
// cmd/imsagw (set up over Iq by the IMS-ALG's client, latching on) and, side by side, through rtpengine in
// userspace mode (--table=-1, set up over its ng control protocol), each a process of its own. Reported:
// packets/s, the relay process's CPU per packet (utime+stime from /proc, 10 ms ticks: run with a large
// -benchtime), the CPU share one 50 packets/s stream costs, and the loss. Not a timed test: it asserts nothing
// about speed.
//
//	go test -run '^$' -bench BenchmarkRTPRelay -benchtime 200000x ./internal/e2e
func BenchmarkRTPRelay(b *testing.B) {
	b.Run("imsagw", func(b *testing.B) {
		Need(b, bins.Has("imsagw"), "cmd/imsagw not in the tree yet")
		agw := StartAGW(b, bins, "log: {level: warn}\nrtp_idle_timeout: 10m\n")
		ep, err := h248.Listen(h248.EndpointConfig{Listen: netip.MustParseAddrPort("127.0.0.1:0"),
			Peers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}, alg.NotifyHandler(func(_, _, _ string) {}), nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ep.Run(ctx) }()
		b.Cleanup(func() { cancel(); <-done })
		client := alg.New(ep, netip.MustParseAddrPort(agw.Iq))
		benchRelay(b, agw.Process, func(ueSDP, coreSDP []byte) (string, string, error) {
			var m alg.Media
			toCore, err := client.AnchorRTP(ctx, &m, ueSDP, true)
			if err != nil {
				return "", "", err
			}
			toUE, err := client.AnchorRTP(ctx, &m, coreSDP, false)
			return string(toUE), string(toCore), err
		})
	})
	b.Run("rtpengine", func(b *testing.B) {
		bin, err := exec.LookPath("rtpengine")
		Need(b, err == nil, "rtpengine not installed (Debian rtpengine-daemon)")
		ng := Addr(FreePort(b))
		first := 40000 + FreePort(b)%10000
		p := StartProcess(b, "rtpengine", bin, "--config-file=none", "--foreground", "--log-stderr", "--log-level=4",
			"--table=-1", "--interface=127.0.0.1", "--listen-ng="+ng,
			"--port-min="+strconv.Itoa(first), "--port-max="+strconv.Itoa(first+4*benchStreams+100))
		conn, err := net.Dial("udp", ng)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		n := 0
		ngCall := func(cmd string, kv ...string) (string, error) {
			n++
			msg := fmt.Sprintf("c%d d7:command%d:%s", n, len(cmd), cmd)
			for i := 0; i+1 < len(kv); i += 2 {
				msg += fmt.Sprintf("%d:%s%d:%s", len(kv[i]), kv[i], len(kv[i+1]), kv[i+1])
			}
			msg += "e"
			buf := make([]byte, 8192)
			for try := 0; try < 50; try++ { // rtpengine may still be starting
				_ = conn.SetDeadline(time.Now().Add(200 * time.Millisecond))
				if _, err := conn.Write([]byte(msg)); err != nil {
					return "", err
				}
				k, err := conn.Read(buf)
				if err != nil {
					time.Sleep(100 * time.Millisecond) // refused at once while rtpengine starts
					continue
				}
				return ngSDP(string(buf[:k]))
			}
			return "", fmt.Errorf("rtpengine: no answer to %s", cmd)
		}
		benchRelay(b, p, func(ueSDP, coreSDP []byte) (string, string, error) {
			id := strconv.Itoa(n)
			toCore, err := ngCall("offer", "sdp", string(ueSDP), "call-id", id, "from-tag", "ue")
			if err != nil {
				return "", "", err
			}
			toUE, err := ngCall("answer", "sdp", string(coreSDP), "call-id", id, "from-tag", "ue", "to-tag", "core")
			return toUE, toCore, err
		})
	})
}

// ngSDP reads the sdp of an ng reply (bencode: "3:sdp<len>:<sdp>").
func ngSDP(reply string) (string, error) {
	i := strings.Index(reply, "3:sdp")
	if i < 0 {
		return "", fmt.Errorf("rtpengine: %q", reply)
	}
	rest := reply[i+5:]
	l, body, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(l)
	if !ok || err != nil || n > len(body) {
		return "", fmt.Errorf("rtpengine: %q", reply)
	}
	return body[:n], nil
}

var benchAudioRE = regexp.MustCompile(`m=audio (\d+) `)
var benchConnRE = regexp.MustCompile(`c=IN IP4 (\S+)`)

// benchRelay sets up benchStreams streams with setup (it gets the UE's and the core's SDP and returns the SDP
// the UE receives: where it sends), then sends b.N packets round robin, at most 64 in flight.
func benchRelay(b *testing.B, relay *Process, setup func(ueSDP, coreSDP []byte) (toUE, toCore string, err error)) {
	sdp := func(port int) []byte {
		return fmt.Appendf(nil, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n", port)
	}
	type stream struct {
		ue, core *net.UDPConn
		to       *net.UDPAddr
	}
	var streams []stream
	var received atomic.Int64
	for range benchStreams {
		ue, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		core, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ue.Close(); _ = core.Close() })
		toUE, toCore, err := setup(sdp(ue.LocalAddr().(*net.UDPAddr).Port), sdp(core.LocalAddr().(*net.UDPAddr).Port))
		if err != nil {
			b.Fatal(err)
		}
		// One packet from the core's side first: a relay may forward only between confirmed endpoints.
		if _, err := core.WriteToUDP([]byte{0x80, 0}, sdpAddr(b, toCore)); err != nil {
			b.Fatal(err)
		}
		_ = ue.SetReadDeadline(time.Now().Add(time.Second))
		_, _, _ = ue.ReadFromUDP(make([]byte, 64))
		streams = append(streams, stream{ue: ue, core: core, to: sdpAddr(b, toUE)})
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := core.ReadFromUDP(buf); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	pkt := make([]byte, 172) // 12-byte RTP header + 20 ms of G.711
	pkt[0] = 0x80
	cpu0 := procCPU(b, relay)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for int64(i)-received.Load() >= 64 {
			if time.Since(start) > time.Duration(b.N)*time.Millisecond+10*time.Second {
				break // packets lost: do not wait for them
			}
			time.Sleep(20 * time.Microsecond)
		}
		s := streams[i%len(streams)]
		// RFC 3550 §5.1: each stream's sequence number and timestamp advance (a relay may drop repeats).
		seq := uint16(i / len(streams))
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		ts := uint32(seq) * 160
		pkt[4], pkt[5], pkt[6], pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		pkt[11] = byte(i % len(streams)) // SSRC
		if _, err := s.ue.WriteToUDP(pkt, s.to); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for received.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := procCPU(b, relay) - cpu0
	got := received.Load()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "pkts/s")
	perPkt := cpu.Seconds() * 1e6 / float64(max(got, 1))
	b.ReportMetric(perPkt, "relay-cpu-µs/pkt")
	b.ReportMetric(perPkt*50/1e4, "cpu-%/stream") // one G.711 direction: 50 packets/s
	b.ReportMetric(100*float64(int64(b.N)-got)/float64(b.N), "loss-%")
}

// sdpAddr is the audio address of an SDP body (its last c= line, the m=audio port).
func sdpAddr(b *testing.B, sdp string) *net.UDPAddr {
	pm, cm := benchAudioRE.FindStringSubmatch(sdp), benchConnRE.FindAllStringSubmatch(sdp, -1)
	if pm == nil || cm == nil {
		b.Fatalf("no address in %q", sdp)
	}
	port, _ := strconv.Atoi(pm[1])
	return &net.UDPAddr{IP: net.ParseIP(cm[len(cm)-1][1]), Port: port}
}

// procCPU is the user and system CPU time a process has used (/proc/<pid>/stat, clock ticks of 10 ms).
func procCPU(b *testing.B, p *Process) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}
