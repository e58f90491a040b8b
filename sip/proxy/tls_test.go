package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/imscore/imscore/internal/tshark"
)

// observedLogger is the test logger plus an observer of Info and above, for tests that check a log line.
func observedLogger(t testing.TB) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(zapcore.NewTee(testLogger(t).Core(), core)), logs
}

// waitLog waits (bounded) for a log line with msg whose "reason" field contains reason.
func waitLog(t testing.TB, logs *observer.ObservedLogs, msg, reason string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		for _, e := range logs.FilterMessage(msg).All() {
			if r, ok := e.ContextMap()["reason"].(string); ok && strings.Contains(r, reason) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log %q with reason %q; have %v", msg, reason, logs.All())
}

// homeNode is the far node of the TLS tests (an I-CSCF of home.test, say): it answers REGISTER itself, forwards
// an initial INVITE to uas with Record-Route, and follows the Route set otherwise. Each request's Source goes to
// seen.
func homeNode(uas *sip.Uri, seen chan<- Source) Router {
	return RouterFunc(func(_ context.Context, req *sip.Request, src Source) (Decision, error) {
		select {
		case seen <- src:
		default:
		}
		switch {
		case req.Method == sip.REGISTER:
			return Respond(200, "OK"), nil
		case src.ConsumedRoute == nil && req.Method == sip.INVITE && uas != nil:
			return Decision{RecordRoute: true, Targets: []Target{{URI: uas}}}, nil
		}
		return Decision{}, nil
	})
}

// visitedNode forwards every request outside a route set to nh (the home network's border over TLS), with
// Record-Route.
func visitedNode(nh NextHop) Router {
	return RouterFunc(func(_ context.Context, req *sip.Request, src Source) (Decision, error) {
		if src.ConsumedRoute != nil || req.Route() != nil {
			return Decision{}, nil
		}
		h := nh
		return Decision{RecordRoute: true, Targets: []Target{{NextHop: &h}}}, nil
	})
}

func withTLS(tc TLSConfig) func(*Config) { return func(c *Config) { c.TLS = tc } }

// homeLeaf is the home border's certificate: its SIP domain as a sip URI, its host name, its loopback address
// (named by the numeric Record-Route a dialog's requests follow).
var homeLeaf = leaf{cn: "icscf.home.test", uris: []string{"sip:home.test"}, dns: []string{"icscf.home.test"}, ips: []string{"127.0.0.1"}}

// TestTLSRegisterAndCall: a REGISTER and a call (INVITE, ACK, BYE) from a UE on UDP through a visited node that
// reaches the home node over mutual TLS (RFC 3261 §26.2, RFC 5922): the home node sees TLS, Via and Record-Route
// say TLS, and the BYE follows the Record-Route over the same TLS connection (the pooled connection's certificate
// names the numeric next hop too).
func TestTLSRegisterAndCall(t *testing.T) {
	checkLeaksAtEnd(t)
	ca := newTestCA(t, "interconnect test CA")
	uas := startUAS(t, false, nil)
	seen := make(chan Source, 16)
	home := startProxy(t, homeNode(&uas.uri, seen), withTLS(ca.tlsConfig(homeLeaf)))
	visited := startProxy(t, visitedNode(NextHop{Transport: "TLS", Addr: home.addr(transportTLS), ServerName: "home.test"}),
		withTLS(ca.tlsConfig(leaf{cn: "pcscf.visited.test", uris: []string{"sip:visited.test"}})))

	ue := newRawUDP(t, "127.0.0.1:0")
	ue.send(ue.request(reqOpts{method: sip.REGISTER, ruri: "sip:home.test"}), visited.addr(transportUDP))
	ue.response(200)
	if src := <-seen; src.Transport != transportTLS || !slices.Equal(src.TLSPeer, []string{"visited.test"}) {
		t.Fatalf("home node got the REGISTER over %q from %v, want TLS from visited.test", src.Transport, src.TLSPeer)
	}

	inv := ue.request(reqOpts{method: sip.INVITE, ruri: "sip:bob@home.test", callID: uniq("tls-call")})
	ue.send(inv, visited.addr(transportUDP))
	ok := ue.response(200, 100, 180)
	got := uas.nextOf(sip.INVITE)
	if vias := strings.Join(headerValues(got, "Via"), "\n"); !strings.Contains(vias, "SIP/2.0/TLS") {
		t.Errorf("the INVITE's Via names no TLS hop:\n%s", vias)
	}
	rr := headerValues(ok, "Record-Route")
	wantTLSRR := "transport=tls"
	if n := strings.Count(strings.Join(rr, ","), wantTLSRR); n != 2 {
		t.Errorf("Record-Route %v: want 2 entries with %s (the visited node's out side and the home node's in side)", rr, wantTLSRR)
	}
	// The UAC's route set is the Record-Route reversed (RFC 3261 §12.1.2).
	var routes []sip.Uri
	for _, v := range rr {
		for _, part := range strings.Split(v, ",") {
			routes = append(routes, mustURI(t, strings.Trim(strings.TrimSpace(part), "<>")))
		}
	}
	slices.Reverse(routes)
	toTag, _ := ok.To().Params.Get("tag")
	contact := ok.Contact().Address.String()
	ack := ue.request(reqOpts{method: sip.ACK, ruri: contact, callID: inv.CallID().Value(), toTag: toTag, routes: routes})
	ue.send(ack, visited.addr(transportUDP))
	uas.nextOf(sip.ACK)
	for len(seen) > 0 {
		<-seen
	}
	bye := ue.request(reqOpts{method: sip.BYE, ruri: contact, callID: inv.CallID().Value(), cseq: 2, toTag: toTag, routes: routes})
	ue.send(bye, visited.addr(transportUDP))
	ue.response(200)
	uas.nextOf(sip.BYE)
	if src := <-seen; src.Transport != transportTLS {
		t.Errorf("home node got the BYE over %q, want TLS", src.Transport)
	}
}

// TestTLSRefusesBadPeers: a handshake with a certificate that names another domain, of an unknown CA, or with no
// client certificate in mutual mode is refused, logged with the reason, and the request never reaches the far
// node (the UE gets an error response).
func TestTLSRefusesBadPeers(t *testing.T) {
	checkLeaksAtEnd(t)
	ca := newTestCA(t, "interconnect test CA")
	other := newTestCA(t, "somebody else's CA")
	tests := []struct {
		name       string
		homeCert   func() TLSConfig // the home node's TLS (trusting ca)
		visitCert  func() TLSConfig // the visited node's TLS (trusting ca)
		want       string           // the home node's name the visited node checks
		refusedBy  string           // "visited" (the client refuses the server) or "home"
		reasonPart string
	}{
		{name: "server certificate names another domain", want: "home.test", refusedBy: "visited",
			reasonPart: "does not name the peer",
			homeCert: func() TLSConfig {
				return ca.tlsConfig(leaf{cn: "home.test", uris: []string{"sip:other.test"}, dns: []string{"home.test"}})
			},
			visitCert: func() TLSConfig { return ca.tlsConfig(leaf{uris: []string{"sip:visited.test"}}) }},
		{name: "only a CN names the domain, beside a SAN", want: "home.test", refusedBy: "visited",
			reasonPart: "does not name the peer",
			homeCert:   func() TLSConfig { return ca.tlsConfig(leaf{cn: "home.test", ips: []string{"127.0.0.1"}}) },
			visitCert:  func() TLSConfig { return ca.tlsConfig(leaf{uris: []string{"sip:visited.test"}}) }},
		{name: "server certificate of an unknown CA", want: "home.test", refusedBy: "visited",
			reasonPart: "unknown CA",
			homeCert: func() TLSConfig {
				c := other.tlsConfig(homeLeaf)
				c.CAFile = ca.CAFile
				return c
			},
			visitCert: func() TLSConfig { return ca.tlsConfig(leaf{uris: []string{"sip:visited.test"}}) }},
		{name: "client certificate of an unknown CA", want: "home.test", refusedBy: "home",
			reasonPart: "unknown CA",
			homeCert:   func() TLSConfig { return ca.tlsConfig(homeLeaf) },
			visitCert: func() TLSConfig {
				c := other.tlsConfig(leaf{uris: []string{"sip:visited.test"}})
				c.CAFile = ca.CAFile
				return c
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := make(chan Source, 4)
			homeLog, homeLogs := observedLogger(t)
			visitLog, visitLogs := observedLogger(t)
			home := startProxyLog(t, homeLog, homeNode(nil, seen), withTLS(tc.homeCert()))
			visited := startProxyLog(t, visitLog, visitedNode(NextHop{Transport: "TLS", Addr: home.addr(transportTLS), ServerName: tc.want}),
				withTLS(tc.visitCert()))
			ue := newRawUDP(t, "127.0.0.1:0")
			ue.send(ue.request(reqOpts{method: sip.REGISTER, ruri: "sip:home.test"}), visited.addr(transportUDP))
			if res := ue.final(); res.StatusCode < 400 {
				t.Errorf("REGISTER answered %d through a refused TLS hop", res.StatusCode)
			}
			if tc.refusedBy == "visited" {
				waitLog(t, visitLogs, "tls handshake with next hop failed", tc.reasonPart)
			} else {
				waitLog(t, homeLogs, "refused tls connection: handshake failed", tc.reasonPart)
			}
			if len(seen) > 0 {
				t.Errorf("the home node routed a request that came over a refused connection: %+v", <-seen)
			}
		})
	}

	t.Run("no client certificate in mutual mode", func(t *testing.T) {
		log, logs := observedLogger(t)
		home := startProxyLog(t, log, homeNode(nil, nil), withTLS(ca.tlsConfig(homeLeaf)))
		roots := x509.NewCertPool()
		pem, _ := os.ReadFile(ca.CAFile)
		roots.AppendCertsFromPEM(pem)
		c, err := tls.Dial("tcp", home.addr(transportTLS).String(), &tls.Config{RootCAs: roots, ServerName: "icscf.home.test"})
		if err == nil {
			// TLS 1.3: the client finishes first; the server's refusal arrives on the first read.
			_ = c.SetReadDeadline(time.Now().Add(waitLong))
			_, err = c.Read(make([]byte, 1))
			_ = c.Close()
		}
		if err == nil {
			t.Fatal("a client without certificate was served")
		}
		waitLog(t, logs, "refused tls connection: handshake failed", "no client certificate")
	})
}

// TestTLSReload: a certificate renewed in place (new files over the old ones) is served from the next handshake
// on, without a restart, both when the files are polled and on ReloadTLS; a broken renewal keeps the old one.
func TestTLSReload(t *testing.T) {
	checkLeaksAtEnd(t)
	ca := newTestCA(t, "interconnect test CA")
	seen := make(chan Source, 4)
	hc := ca.tlsConfig(leaf{uris: []string{"sip:old.test"}})
	hc.ReloadInterval = 20 * time.Millisecond
	log, logs := observedLogger(t)
	home := startProxyLog(t, log, homeNode(nil, seen), withTLS(hc))
	visited := startProxy(t, visitedNode(NextHop{Transport: "TLS", Addr: home.addr(transportTLS), ServerName: "new.test"}),
		withTLS(ca.tlsConfig(leaf{uris: []string{"sip:visited.test"}})))
	register := func() int {
		ue := newRawUDP(t, "127.0.0.1:0")
		defer ue.close()
		ue.send(ue.request(reqOpts{method: sip.REGISTER, ruri: "sip:new.test"}), visited.addr(transportUDP))
		return ue.final().StatusCode
	}
	if code := register(); code == 200 {
		t.Fatal("REGISTER succeeded before the home node had a certificate for new.test")
	}

	// A broken renewal (a key that does not match) is refused and the old certificate stays.
	_, otherKey := ca.issue(leaf{uris: []string{"sip:new.test"}})
	key, _ := os.ReadFile(otherKey)
	certOnly, _ := ca.issue(leaf{uris: []string{"sip:broken.test"}})
	cert, _ := os.ReadFile(certOnly)
	writeFile(t, hc.CertFile, cert)
	writeFile(t, hc.KeyFile, key)
	waitLogMsg(t, logs, "tls files changed but do not load; the previous certificate stays in use")
	if ids := servedIdentities(t, ca, home); !slices.Equal(ids, []string{"old.test"}) {
		t.Fatalf("after a broken renewal the node serves %v, want the old certificate", ids)
	}

	ca.issueInto(leaf{uris: []string{"sip:new.test"}}, hc.CertFile, hc.KeyFile)
	deadline := time.Now().Add(waitLong)
	for !slices.Equal(servedIdentities(t, ca, home), []string{"new.test"}) {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not picked up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := register(); code != 200 {
		t.Fatalf("REGISTER after the renewal: %d, want 200", code)
	}
	if ok, err := home.ReloadTLS(); ok || err != nil {
		t.Errorf("ReloadTLS with unchanged files: %v, %v; want false, nil", ok, err)
	}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "renew.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func waitLogMsg(t testing.TB, logs *observer.ObservedLogs, msg string) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for logs.FilterMessage(msg).Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no log %q", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// servedIdentities dials p's TLS listener with a client certificate of ca and returns the SIP domain
// identities of the certificate it serves.
func servedIdentities(t testing.TB, ca testCA, p *Proxy) []string {
	t.Helper()
	cf, kf := ca.issue(leaf{uris: []string{"sip:probe.test"}})
	cert, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", p.addr(transportTLS).String(), &tls.Config{Certificates: []tls.Certificate{cert},
		InsecureSkipVerify: true}) //nolint:gosec // the test reads the certificate, it does not trust it
	if err != nil {
		t.Fatalf("probe dial: %v", err)
	}
	defer c.Close()
	return SIPDomainIdentities(c.ConnectionState().PeerCertificates[0])
}

// TestTLSHandshakeFlood: connections that open and never handshake (a slowloris on the handshake), and one
// that is not TLS at all, are bounded by MaxHandshakes, HandshakeTimeout and the per-source limit; they are
// closed, and the node goes on serving a real peer.
func TestTLSHandshakeFlood(t *testing.T) {
	checkLeaksAtEnd(t)
	ca := newTestCA(t, "interconnect test CA")
	seen := make(chan Source, 64)
	m := &countingMetrics{counts: map[string]int{}}
	hc := ca.tlsConfig(homeLeaf)
	hc.MaxHandshakes = 2
	hc.HandshakeTimeout = 3 * time.Second
	home := startProxy(t, homeNode(nil, seen), withTLS(hc), func(c *Config) {
		c.Metrics = m
		c.Limits.MaxConnectionsPerSource = 8
	})
	visited := startProxy(t, visitedNode(NextHop{Transport: "TLS", Addr: home.addr(transportTLS), ServerName: "home.test"}),
		withTLS(ca.tlsConfig(leaf{uris: []string{"sip:visited.test"}})))

	var flood []net.Conn
	for range 12 {
		c, err := net.Dial("tcp", home.addr(transportTLS).String())
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	if _, err := flood[0].Write([]byte("REGISTER sip:home.test SIP/2.0\r\n\r\n")); err != nil { // not TLS
		t.Fatal(err)
	}
	// Every flood connection is closed by the node: at once (handshakes busy, per source) or at the timeout.
	for i, c := range flood {
		_ = c.SetReadDeadline(time.Now().Add(waitLong))
		if _, err := c.Read(make([]byte, 512)); err == nil {
			for err == nil {
				_, err = c.Read(make([]byte, 512)) // an alert first, then the close
			}
		} else if isTimeout(err) {
			t.Fatalf("flood connection %d still open after %v", i, waitLong)
		}
		_ = c.Close()
	}
	if n := m.get("limit " + string(LimitHandshakes)); n == 0 {
		t.Errorf("no connection refused for max_handshakes; counts %v", m.counts)
	}
	if n := m.get("limit " + string(LimitHandshake)); n == 0 {
		t.Errorf("no failed handshake counted; counts %v", m.counts)
	}
	// The node still serves a real peer.
	ue := newRawUDP(t, "127.0.0.1:0")
	ue.send(ue.request(reqOpts{method: sip.REGISTER, ruri: "sip:home.test"}), visited.addr(transportUDP))
	if code := ue.final().StatusCode; code != 200 {
		t.Fatalf("REGISTER after the flood: %d", code)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestTLSPerSourceLimit: the per-source connection limit counts TLS connections as TCP ones.
func TestTLSPerSourceLimit(t *testing.T) {
	checkLeaksAtEnd(t)
	ca := newTestCA(t, "interconnect test CA")
	m := &countingMetrics{counts: map[string]int{}}
	hc := ca.tlsConfig(homeLeaf)
	hc.HandshakeTimeout = waitLong
	home := startProxy(t, homeNode(nil, nil), withTLS(hc), func(c *Config) {
		c.Metrics = m
		c.Limits.MaxConnectionsPerSource = 2
	})
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", home.addr(transportTLS).String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		defer c.Close()
	}
	deadline := time.Now().Add(waitLong)
	for m.get("limit "+string(LimitPerSource)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("3 connections from one source with max 2: none refused; counts %v", m.counts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTLSTshark: tshark dissects the TLS handshake between two nodes and, with the session keys, the SIP
// REGISTER and its 200 inside it.
func TestTLSTshark(t *testing.T) {
	bin := tshark.Find(t)
	checkLeaksAtEnd(t)
	ca := newTestCA(t, "interconnect test CA")
	keys, kw := tshark.KeyLog(t)
	hc := ca.tlsConfig(homeLeaf)
	hc.keyLog = kw
	home := startProxy(t, homeNode(nil, nil), withTLS(hc))
	port := home.addr(transportTLS).Port()
	capture := tshark.StartCapture(t, bin, "lo", "tcp port "+portString(int(port)))
	visited := startProxy(t, visitedNode(NextHop{Transport: "TLS", Addr: home.addr(transportTLS), ServerName: "home.test"}),
		withTLS(ca.tlsConfig(leaf{uris: []string{"sip:visited.test"}})))
	ue := newRawUDP(t, "127.0.0.1:0")
	ue.send(ue.request(reqOpts{method: sip.REGISTER, ruri: "sip:home.test"}), visited.addr(transportUDP))
	ue.response(200)
	vals := tshark.DissectTLS(t, bin, capture.Stop(t), port, keys, "sip", "tls.handshake.type", "sip.Method", "sip.Status-Code")
	for _, want := range []string{"1", "2", "REGISTER", "200"} { // ClientHello, ServerHello, the SIP inside
		if !slices.Contains(vals, want) {
			t.Errorf("tshark found no %q: %v", want, vals)
		}
	}
	if slices.Contains(vals, "Malformed") {
		t.Errorf("tshark found a malformed packet: %v", vals)
	}
}
