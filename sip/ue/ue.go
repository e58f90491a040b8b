// Package ue is a simulated IMS user equipment (TS 24.229 §5.1): a USIM (hss/aka Milenage), the
// AKA digest of RFC 3310 / RFC 4169, the UE's half of the security agreement (RFC 3329,
// TS 33.203 §7) with its own four SAs installed through sip/ipsec, and the requests a test or a
// person needs: REGISTER, re-REGISTER, de-REGISTER, MESSAGE, INVITE (placed and answered) and
// SUBSCRIBE to the reg event, over UDP or TCP.
//
// It is a library first (tests of the P-CSCF and the end-to-end suite use it) and the engine of
// cmd/imsue. A UE is not a full user agent: one registration and non-forking calls, but it
// sends what a handset sends (sec-agree headers on every request over the SAs, +sip.instance,
// 100rel) and reacts to failures as TS 24.229 §5.1 says.
package ue

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/sip/digest"
	"github.com/imscore/imscore/sip/ipsec"
)

// SAInstaller is what the UE needs from sip/ipsec (an *ipsec.Manager in the UE's namespace).
type SAInstaller interface {
	Install(ctx context.Context, side ipsec.Side, p ipsec.Pair, lifetime time.Duration, opts ...ipsec.InstallOption) error
	Remove(p ipsec.Pair) error
}

var _ SAInstaller = (*ipsec.Manager)(nil)

// Config of one simulated UE.
type Config struct {
	// IMPI is the private identity, e.g. 001010000000001@ims.mnc001.mcc001.3gppnetwork.org.
	IMPI string
	// IMPU is the public identity registered, e.g. sip:001010000000001@ims.mnc001.mcc001.3gppnetwork.org.
	IMPU string
	// Domain is the home domain: the REGISTER Request-URI and the digest realm. Default: the
	// host of IMPU.
	Domain string
	// PCSCF is the P-CSCF's unprotected address.
	PCSCF netip.AddrPort
	// Transport is "udp" (default) or "tcp".
	Transport string
	// Local is the UE's own address (default: 127.0.0.1 or ::1, the family of PCSCF).
	Local netip.Addr
	// Keys are the USIM's K and OP or OPc.
	Keys aka.Keys
	// SQN, when set, is the USIM's starting SQN_MS.
	SQN aka.SQN
	// Algorithm is AKAv1-MD5 (default) or AKAv2-MD5 (RFC 4169): used when the challenge does not say.
	Algorithm string
	// SecAgree offers ipsec-3gpp (RFC 3329, TS 33.203 §7.2) with Offer, strongest first.
	SecAgree bool
	Offer    []ipsec.Algorithms
	// PortC and PortS are the protected client and server ports (0: free ports); SPIC and SPIS
	// the SPIs (0: random).
	PortC, PortS uint16
	SPIC, SPIS   uint32
	// SAs installs the UE's side of the SAs. nil: sec-agree is negotiated but nothing is
	// installed, so traffic on the protected ports is plaintext (tests on a kernel without ESP).
	SAs SAInstaller
	// InNamespace runs fn in the UE's network namespace; every socket is created through it
	// (ipsectest.NS.Do fits). nil: the caller's namespace.
	InNamespace func(fn func() error) error
	// Expires is the registration expiry asked for. Default 600 s.
	Expires time.Duration
	// Timeout bounds one transaction. Default 10 s.
	Timeout time.Duration
	// Instance is the instance ID put in the REGISTER's Contact as +sip.instance (RFC 5626 §4.1,
	// TS 24.229 §5.1.1.2.1): "urn:gsma:imei:…" (TS 24.229 §5.1.1.2.1, RFC 7254) or "urn:uuid:…".
	// Default: a random urn:uuid (RFC 4122 §4.4), kept for the UE's life.
	Instance string
	// RegID is the Contact's reg-id (RFC 5626 §4.2), sent with Supported: outbound. Default 1;
	// negative: no reg-id (a UE without multiple registrations, TS 24.229 §5.1.1.2.1).
	RegID int
	// Refresh re-registers before the registration expires (TS 24.229 §5.1.1.4.1: 600 s before
	// when it lasts more than 1200 s, else half way) until Close or Deregister.
	Refresh bool
	// NoAnswer makes the UE ring (180) on an incoming INVITE and never answer it: the caller
	// cancels (RFC 3261 §9), the UE then answers 487. Default false: answered at once.
	NoAnswer bool
	// MaxRetryAfter is the longest Retry-After (RFC 3261 §20.33) of a 500 or 503 the UE waits
	// out before it tries again; longer, the request fails. Default 32 s (RFC 3261 Timer B).
	MaxRetryAfter time.Duration
	// Media, when set, makes the SDP of the UE's calls (media.go: an MSRP session, sip/ue/msrp); nil: one
	// G.711 audio stream on port 49170.
	Media Media
	// Mediasec indicates support of end-to-access-edge media security at registration (TS 24.229
	// §5.1.1.2.1): Security-Client "msrp-tls;mediasec" when the UE does not negotiate IPsec.
	Mediasec bool
	// FastReg, when set, is presented in the first REGISTER of an initial registration: the access token and
	// an AIB (fastreg.go, docs/fastreg.md). Anything but a 200 continues as a standard registration.
	FastReg *FastReg
}

func (c *Config) defaults() error {
	if c.IMPI == "" || c.IMPU == "" {
		return errors.New("ue config: IMPI and IMPU are required")
	}
	var u sip.Uri
	if err := sip.ParseUri(c.IMPU, &u); err != nil {
		return fmt.Errorf("ue config: IMPU %q: %w", c.IMPU, err)
	}
	if c.Domain == "" {
		c.Domain = u.Host
	}
	if !c.PCSCF.IsValid() {
		return errors.New("ue config: PCSCF address is required")
	}
	c.Transport = strings.ToUpper(c.Transport)
	if c.Transport == "" {
		c.Transport = "UDP"
	}
	if c.Transport != "UDP" && c.Transport != "TCP" {
		return fmt.Errorf("ue config: transport %q: want udp or tcp", c.Transport)
	}
	if !c.Local.IsValid() {
		c.Local = netip.MustParseAddr("127.0.0.1")
		if c.PCSCF.Addr().Is6() && !c.PCSCF.Addr().Is4In6() {
			c.Local = netip.IPv6Loopback()
		}
	}
	if c.Algorithm == "" {
		c.Algorithm = digest.AlgAKAv1MD5
	}
	if len(c.Offer) == 0 {
		c.Offer = ipsec.AllAlgorithms()
	}
	if c.Expires == 0 {
		c.Expires = 600 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Instance == "" {
		c.Instance = newUUIDURN()
	}
	if c.RegID == 0 {
		c.RegID = 1
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 32 * time.Second
	}
	if c.InNamespace == nil {
		c.InNamespace = func(fn func() error) error { return fn() }
	}
	return c.Keys.Validate()
}

// Registration is what the last successful REGISTER established.
type Registration struct {
	Expires      time.Duration
	ServiceRoute []string // Service-Route values, top first
	Associated   []string // P-Associated-URI values
	// Contacts are the bindings the registrar listed in the 200, each a Contact value with its
	// parameters (RFC 3261 §10.3 step 8: all current bindings of the AOR).
	Contacts   []string
	SecAgree   bool
	Algorithms ipsec.Algorithms // when SecAgree
	Pair       ipsec.Pair       // when SecAgree (keys included)
}

// UE is one simulated user equipment. Methods are safe for concurrent use, but a UE registers
// once at a time.
type UE struct {
	cfg    Config
	log    *zap.Logger
	usim   *aka.USIM
	parser *sip.Parser

	mu         sync.Mutex
	pending    map[string]chan *sip.Response // by Via branch
	cseq       uint32
	callID     string // of the registration
	reg        *Registration
	sa         *saState // current SA set
	old        []*saState
	unprot     *net.UDPConn
	unprotT    net.Conn // TCP to the P-CSCF's unprotected port
	tcpMu      sync.Mutex
	tcpMuWrite sync.Mutex

	incoming chan *sip.Request
	uas      map[string]*uasCall // incoming INVITEs being answered, by Call-ID
	regSet   chan struct{}       // a registration was made or changed: the refresher re-arms
	// regMu makes registration procedures (the caller's, the refresher's, a restoration's) run
	// one at a time.
	regMu sync.Mutex
	// minExpires is the last 423's Min-Expires (RFC 3261 §10.2.8), the least expiry asked for.
	minExpires time.Duration

	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// saState is one set of the UE's protected ports and SAs.
type saState struct {
	portC, portS uint16
	spiC, spiS   uint32
	udpC, udpS   *net.UDPConn
	tcpS         net.Listener
	tcpC         net.Conn // to the P-CSCF's port-s, dialled on first use
	tcpMu        sync.Mutex
	writeMu      sync.Mutex
	pcscf        netip.AddrPort // its protected server port
	pcscfC       uint16
	pair         *ipsec.Pair // installed
	server       string      // Security-Server value, echoed in Security-Verify
	sharedServer bool        // udpS and tcpS belong to another set too
}

// New makes a UE, binds its sockets and starts reading them. Close releases everything.
func New(cfg Config, log *zap.Logger) (*UE, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	usimCfg := aka.DefaultUSIMConfig()
	usim, err := aka.NewUSIM(cfg.Keys, usimCfg)
	if err != nil {
		return nil, fmt.Errorf("ue: %w", err)
	}
	if cfg.SQN != 0 {
		if err := usim.SetSQNms(cfg.SQN); err != nil {
			return nil, fmt.Errorf("ue: %w", err)
		}
	}
	u := &UE{
		cfg: cfg, log: log.With(zap.String("impu", cfg.IMPU)), usim: usim, parser: sip.NewParser(),
		pending:  make(map[string]chan *sip.Response),
		incoming: make(chan *sip.Request, 64),
		uas:      make(map[string]*uasCall),
		regSet:   make(chan struct{}, 1),
		callID:   randHex(12),
	}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	err = cfg.InNamespace(func() error {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.Local, 0)))
		if err != nil {
			return err
		}
		u.unprot = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ue: unprotected socket: %w", err)
	}
	u.wg.Go(func() { u.readUDP(u.unprot) })
	if cfg.Refresh {
		u.wg.Go(u.refreshLoop)
	}
	if cfg.SecAgree {
		st, err := u.openSet(cfg.PortC, cfg.PortS, cfg.SPIC, cfg.SPIS)
		if err != nil {
			u.Close()
			return nil, err
		}
		u.sa = st
	}
	return u, nil
}

// openSet binds a set of protected ports (port-s kept from the current set when there is one).
func (u *UE) openSet(portC, portS uint16, spiC, spiS uint32) (*saState, error) {
	st := &saState{spiC: spiC, spiS: spiS}
	for st.spiC < 256 || st.spiS < 256 || st.spiC == st.spiS {
		st.spiC, st.spiS = randSPI(), randSPI()
	}
	err := u.cfg.InNamespace(func() error {
		if u.sa != nil && portS == 0 {
			// Re-registration: the server port stays (the Contact names it), TS 33.203 §7.4.
			st.portS, st.udpS, st.tcpS = u.sa.portS, u.sa.udpS, u.sa.tcpS
			st.sharedServer = true
		} else {
			// UDP and TCP on one port: with port 0 the kernel picks the UDP port, and when TCP
			// has that number in use another one is tried.
			var lastErr error
			for range 20 {
				s, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.cfg.Local, portS)))
				if err != nil {
					return err
				}
				port := unmap(s.LocalAddr().(*net.UDPAddr).AddrPort()).Port()
				lc := net.ListenConfig{Control: reuseAddr}
				ln, err := lc.Listen(context.Background(), "tcp", netip.AddrPortFrom(u.cfg.Local, port).String())
				if err != nil {
					_ = s.Close()
					lastErr = err
					if portS != 0 {
						break
					}
					continue
				}
				st.udpS, st.portS, st.tcpS, lastErr = s, port, ln, nil
				break
			}
			if lastErr != nil {
				return lastErr
			}
			s, ln := st.udpS, st.tcpS
			u.wg.Go(func() { u.readUDP(s) })
			u.wg.Go(func() { u.acceptTCP(ln) })
		}
		// The client port also sources a TCP connection later: make sure TCP can bind it too.
		var c *net.UDPConn
		for range 20 {
			var err error
			if c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.cfg.Local, portC))); err != nil {
				return err
			}
			port := unmap(c.LocalAddr().(*net.UDPAddr).AddrPort()).Port()
			probe, err := net.Listen("tcp", netip.AddrPortFrom(u.cfg.Local, port).String())
			if err == nil {
				_ = probe.Close()
				break
			}
			if portC != 0 {
				break // asked for this port: take it as it is
			}
			_ = c.Close()
			c = nil
		}
		if c == nil {
			return errors.New("no port free for both UDP and TCP")
		}
		st.udpC = c
		st.portC = unmap(c.LocalAddr().(*net.UDPAddr).AddrPort()).Port()
		u.wg.Go(func() { u.readUDP(c) })
		return nil
	})
	if err != nil {
		st.closeSockets(!st.sharedServer)
		return nil, fmt.Errorf("ue: protected ports: %w", err)
	}
	return st, nil
}

// closeSet removes a set's SAs and closes its sockets (keeping shared server sockets when keep).
func (u *UE) closeSet(st *saState) {
	if st.pair != nil && u.cfg.SAs != nil {
		if err := u.cfg.SAs.Remove(*st.pair); err != nil {
			u.log.Warn("removing SAs", zap.Error(err))
		}
	}
	st.tcpMu.Lock()
	if st.tcpC != nil {
		_ = st.tcpC.Close()
	}
	st.tcpMu.Unlock()
	st.closeSockets(!st.sharedServer)
}

// closeSockets closes the client sockets, and the server ones when withServer.
func (st *saState) closeSockets(withServer bool) {
	if st.udpC != nil {
		_ = st.udpC.Close()
	}
	if !withServer {
		return
	}
	if st.udpS != nil {
		_ = st.udpS.Close()
	}
	if st.tcpS != nil {
		_ = st.tcpS.Close()
	}
}

// Close removes the UE's SAs and closes its sockets. It does not de-register.
func (u *UE) Close() {
	u.cancel()
	u.mu.Lock()
	sets := append([]*saState{}, u.old...)
	if u.sa != nil {
		sets = append(sets, u.sa)
	}
	u.sa, u.old = nil, nil
	u.mu.Unlock()
	for _, st := range sets {
		u.closeSet(st)
		st.closeSockets(true) // shared server sockets too; closing twice is harmless
	}
	if u.unprot != nil {
		_ = u.unprot.Close()
	}
	u.tcpMu.Lock()
	if u.unprotT != nil {
		_ = u.unprotT.Close()
	}
	u.tcpMu.Unlock()
	u.wg.Wait()
}

// Incoming delivers the requests the UE received (MESSAGE, NOTIFY, INVITE, BYE …), after the UE
// answered them. When nobody reads, the oldest are dropped.
func (u *UE) Incoming() <-chan *sip.Request { return u.incoming }

// Contact is the UE's contact address: its protected server port with sec-agree
// (TS 24.229 §5.1.1.2.1), else its unprotected socket.
func (u *UE) Contact() netip.AddrPort {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.contactLocked()
}

func (u *UE) contactLocked() netip.AddrPort {
	if u.sa != nil {
		return netip.AddrPortFrom(u.cfg.Local, u.sa.portS)
	}
	if u.cfg.Transport == "TCP" {
		u.tcpMu.Lock()
		defer u.tcpMu.Unlock()
		if u.unprotT != nil {
			return unmap(u.unprotT.LocalAddr().(*net.TCPAddr).AddrPort())
		}
	}
	return unmap(u.unprot.LocalAddr().(*net.UDPAddr).AddrPort())
}

// Registration returns the current registration, nil when not registered.
func (u *UE) Registration() *Registration {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.reg == nil {
		return nil
	}
	r := *u.reg
	return &r
}

// ProtectedPorts returns the current set's port-c and port-s (0, 0 without sec-agree).
func (u *UE) ProtectedPorts() (portC, portS uint16) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sa == nil {
		return 0, 0
	}
	return u.sa.portC, u.sa.portS
}

func (u *UE) readUDP(c *net.UDPConn) {
	buf := make([]byte, 65535)
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		msg, err := u.parser.ParseSIP(append([]byte(nil), buf[:n]...))
		if err != nil {
			continue
		}
		u.dispatch(msg, udpWire{c: c, dst: unmap(src)})
	}
}

func (u *UE) acceptTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		u.wg.Go(func() {
			<-u.ctx.Done()
			_ = c.Close()
		})
		u.wg.Go(func() { u.readTCP(c) })
	}
}

func (u *UE) readTCP(c net.Conn) {
	w := tcpWire{c: c, mu: &sync.Mutex{}}
	_ = readStream(c, u.parser, func(m sip.Message) { u.dispatch(m, w) })
	_ = c.Close()
}

func (u *UE) dispatch(msg sip.Message, w wire) {
	switch m := msg.(type) {
	case *sip.Response:
		via := m.Via()
		if via == nil {
			return
		}
		branch, _ := via.Params.Get("branch")
		cseq := m.CSeq()
		if cseq == nil {
			return
		}
		u.mu.Lock()
		ch := u.pending[branch+" "+string(cseq.MethodName)]
		u.mu.Unlock()
		if ch != nil {
			select {
			case ch <- m:
			default:
			}
		}
	case *sip.Request:
		u.handleRequest(m, w)
	}
}

// newUUIDURN is a random urn:uuid (RFC 4122 §4.4, version 4).
func newUUIDURN() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "urn:uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randSPI is a random SPI above the IANA-reserved range (RFC 4303 §2.1).
func randSPI() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return 0x1000 + binary.BigEndian.Uint32(b[:])%0x7fff0000
}
