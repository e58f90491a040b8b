package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// BenchmarkProxiedMessage measures complete MESSAGE transactions per second through one proxy over loopback UDP:
// UAC → proxy → UAS → proxy → UAC, with concurrent UACs each keeping one transaction in flight. The UAS is a
// bare socket answering 200 so that the proxy dominates the cost.
func BenchmarkProxiedMessage(b *testing.B) {
	for _, conc := range []int{1, 32} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			uas := startEchoUAS(b)
			target := sip.Uri{Scheme: "sip", User: "bob", Host: "127.0.0.1", Port: int(uas.Port())}
			p, err := New(Config{Listen: []Listen{{Addr: "127.0.0.1:0"}}, Router: RouterFunc(
				func(context.Context, *sip.Request, Source) (Decision, error) {
					return Forward(Target{URI: &target}), nil
				})}, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = p.Run(context.Background()) }()
			defer p.Close()
			proxyAddr := p.addr(transportUDP)

			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, conc)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for w := range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := benchUAC(proxyAddr, w, &next, int64(b.N)); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
		})
	}
}

// benchUAC runs transactions until the shared counter reaches n.
func benchUAC(proxy netip.AddrPort, worker int, next *atomic.Int64, n int64) error {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer c.Close()
	local := c.LocalAddr().String()
	buf := make([]byte, 65535)
	for {
		i := next.Add(1)
		if i > n {
			return nil
		}
		branch := fmt.Sprintf("z9hG4bKbench%d.%d", worker, i)
		msg := "MESSAGE sip:bob@ims.mnc001.mcc001.3gppnetwork.org SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP " + local + ";branch=" + branch + "\r\n" +
			"Max-Forwards: 70\r\n" +
			"From: <sip:alice@ims.mnc001.mcc001.3gppnetwork.org>;tag=b" + strconv.Itoa(worker) + "\r\n" +
			"To: <sip:bob@ims.mnc001.mcc001.3gppnetwork.org>\r\n" +
			"Call-ID: bench-" + branch + "\r\n" +
			"CSeq: 1 MESSAGE\r\n" +
			"Content-Type: text/plain\r\n" +
			"Content-Length: 5\r\n\r\nhello"
		if _, err := c.WriteToUDPAddrPort([]byte(msg), proxy); err != nil {
			return err
		}
		for {
			if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				return err
			}
			nr, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return fmt.Errorf("transaction %d: %w", i, err)
			}
			res, err := sip.ParseMessage(buf[:nr])
			if err != nil {
				return err
			}
			if r, ok := res.(*sip.Response); ok && r.StatusCode >= 200 && callIDOf(r) == "bench-"+branch {
				if r.StatusCode != 200 {
					return fmt.Errorf("transaction %d: %s", i, r.StartLine())
				}
				break
			}
		}
	}
}

// startEchoUAS answers every request with 200 from a bare UDP socket.
func startEchoUAS(b *testing.B) netip.AddrPort {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		parser := sip.NewParser()
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			msg, err := parser.ParseSIP(buf[:n])
			if err != nil {
				continue
			}
			req, ok := msg.(*sip.Request)
			if !ok || req.IsAck() {
				continue
			}
			res := sip.NewResponseFromRequest(req, 200, "OK", nil)
			_, _ = c.WriteToUDPAddrPort([]byte(res.String()), from)
		}
	}()
	b.Cleanup(func() { _ = c.Close(); <-done })
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}
