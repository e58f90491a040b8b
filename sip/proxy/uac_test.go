package proxy

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestSend covers the UAC side: a request the node originates gets its final response, or a typed error.
func TestSend(t *testing.T) {
	checkLeaksAtEnd(t)
	uas := startUAS(t, false, uasHandlers{
		sip.NOTIFY: func(u *testUAS, req *sip.Request, tx sip.ServerTransaction) {
			u.respond(req, tx, 100, "Trying") // skipped by Send
			u.respond(req, tx, 200, "OK")
		},
	})
	hole, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	refusedL, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	refused := refusedL.Addr().(*net.TCPAddr).AddrPort()
	refusedL.Close()

	p := startProxy(t, localRouter{}, func(c *Config) { c.TimerF = 300 * time.Millisecond })
	ua := newRawUDP(t, "127.0.0.1:0") // only used to build requests
	tests := []struct {
		name    string
		method  sip.RequestMethod
		ruri    string
		route   string
		opts    []SendOption
		mutate  func(*sip.Request)
		want    int
		wantErr error
	}{
		{name: "by request-uri", method: sip.NOTIFY, ruri: uas.uri.String(), want: 200},
		{name: "by route", method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", route: "sip:" + uas.addr.String() + ";lr", want: 200},
		{name: "by next hop", method: sip.MESSAGE, ruri: "sip:bob@ims.mnc001.mcc001.3gppnetwork.org", opts: []SendOption{WithNextHop(NextHop{Addr: uas.addr})}, want: 200},
		{name: "black hole", method: sip.MESSAGE, ruri: "sip:bob@" + hole.LocalAddr().String(), wantErr: ErrTimeout},
		{name: "tcp refused", method: sip.MESSAGE, ruri: "sip:bob@" + refused.String() + ";transport=tcp", wantErr: ErrTransport},
		{name: "invite refused", method: sip.INVITE, ruri: uas.uri.String(), wantErr: ErrNotSendable},
		{name: "missing call-id", method: sip.MESSAGE, ruri: uas.uri.String(), mutate: func(r *sip.Request) { r.RemoveHeader("Call-ID") }, wantErr: ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := reqOpts{method: tc.method, ruri: tc.ruri}
			if tc.route != "" {
				o.routes = []sip.Uri{mustURI(t, tc.route)}
			}
			req := ua.request(o)
			if tc.mutate != nil {
				tc.mutate(req)
			}
			before := req.String()
			res, err := p.Send(context.Background(), req, tc.opts...)
			if req.String() != before {
				t.Errorf("Send modified the caller's request")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.StatusCode != tc.want {
				t.Fatalf("got %s, want %d", res.StartLine(), tc.want)
			}
			got := uas.nextOf(tc.method)
			if v := viaSentBys(got); len(v) != 1 || v[0] != p.addr(transportUDP).String() {
				t.Errorf("Via at UAS %v, want only the proxy's", v)
			}
		})
	}

	t.Run("after close", func(t *testing.T) {
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Send(context.Background(), ua.request(reqOpts{method: sip.MESSAGE, ruri: uas.uri.String()})); !errors.Is(err, ErrClosed) {
			t.Fatalf("err %v, want ErrClosed", err)
		}
	})
}

// TestSendCancelledByContext: Send returns ctx's error and leaves no transaction behind.
func TestSendCancelledByContext(t *testing.T) {
	checkLeaksAtEnd(t)
	hole, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	p := startProxy(t, localRouter{})
	ua := newRawUDP(t, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = p.Send(ctx, ua.request(reqOpts{method: sip.OPTIONS, ruri: "sip:x@" + hole.LocalAddr().String()}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want deadline exceeded", err)
	}
	if n := p.clients.len(); n != 0 {
		t.Errorf("%d client transactions left", n)
	}
}
