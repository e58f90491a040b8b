// Package pcscf is the Proxy-CSCF (TS 24.229 §5.2): the UE's first SIP hop. It runs IMS-AKA
// security agreement (RFC 3329, TS 33.203 §7) and installs the UE's IPsec SAs in the kernel
// through sip/ipsec, forwards REGISTER to the I-CSCF, asserts the UE's identity
// (P-Asserted-Identity, RFC 3325) and routes its requests by the Service-Route (RFC 3608).
//
// The story of a registration (docs/design.md §4) is in register.go; other requests in route.go; the
// trust-domain edge (who may send what: core side, access side, dialogs) in edge.go; the reg event in
// regevent.go; the protected ports and SPIs in sa.go; the registrations and their persistence in contacts.go.
package pcscf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/adminhttp"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/pcscf/bindings"
	"github.com/imscore/imscore/sip/ipsec"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/resolve"
	"github.com/imscore/imscore/sip/secagree"
	"github.com/imscore/imscore/sip/trust"
)

// Node is a running P-CSCF. Build it with New, serve with Run.
type Node struct {
	cfg      Config
	log      *zap.Logger
	proxy    *proxy.Proxy
	sas      SAManager // nil when sec-agree is not offered
	closeSAs func()
	alloc    *allocator
	regs     *registry
	// store is the journal of the bindings (nil: memory only), db what holds it when this node opened it.
	store  bindings.Store
	db     io.Closer
	nodeID string
	prefs  secagree.Preference
	icscf  netip.AddrPort
	// resolver finds the home network's I-CSCF by DNS (Config.ICSCF "dns"), nil with a static ICSCF.
	resolver *resolve.Resolver
	// core are the unprotected listeners, protected the client and server port listeners, by IP.
	core      []netip.AddrPort
	protected map[netip.Addr]bool
	metrics   *metrics
	// trusted is the trust domain (Config.TrustedNetworks); own are our listeners' addresses (every port).
	trusted trust.Domain
	own     map[netip.AddrPort]bool
	// dialogs are the dialogs record-routed for UEs, subs our reg event subscriptions (edge.go, regevent.go).
	dialogs dialogs
	subs    regSubs
	// qos is policy control towards a PCRF or PCF (qos.go); nil when off.
	qos *qosHook
	// alg is the IMS-ALG towards an IMS-AGW (imsalg.go); nil when off.
	alg *algHook
	// deregs are the de-REGISTERs in flight: SAs of their registrations ended meanwhile wait for their final
	// response (register.go).
	deregs deregWaits
	ready  chan struct{}
	// journalKick holds a token when the registry changed since the journal last wrote.
	journalKick chan struct{}

	wg        sync.WaitGroup
	base      context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// New validates cfg, probes the kernel, binds every listener and restores persisted state.
func New(cfg Config, log *zap.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pcscf config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	n := &Node{
		cfg:         cfg,
		log:         log,
		alloc:       newAllocator(cfg),
		regs:        newRegistry(),
		prefs:       secagree.Preference{Mechanisms: []string{secagree.MechIPsec3GPP}, Integrity: cfg.Integrity, Encryption: cfg.Encryption},
		protected:   make(map[netip.Addr]bool),
		metrics:     newMetrics(),
		journalKick: make(chan struct{}, 1),
		ready:       make(chan struct{}),
	}
	if cfg.byDNS() {
		r, err := resolve.New(cfg.DNS, log.Named("dns"))
		if err != nil {
			return nil, fmt.Errorf("pcscf config: dns: %w", err)
		}
		n.resolver = r
	} else {
		n.icscf = netip.MustParseAddrPort(cfg.ICSCF)
	}
	trusted, err := trust.ParseDomain(cfg.TrustedNetworks)
	if err != nil {
		return nil, fmt.Errorf("pcscf config: %w", err)
	}
	n.trusted = trusted
	n.base, n.cancel = context.WithCancel(context.Background())
	if err := n.newQoS(); err != nil {
		return nil, fmt.Errorf("pcscf qos: %w", err)
	}
	if err := n.openStore(); err != nil {
		return nil, err
	}
	if err := n.setupIPsec(); err != nil {
		n.closeStore()
		return nil, err
	}
	pcfg := proxy.Config{Router: n, Metrics: n.metrics, InNamespace: cfg.InNamespace, Limits: cfg.SIP.Limits,
		Resolver: dnsResolver(cfg), DSCP: cfg.QoS.sipDSCP(), TLS: cfg.SIP.TLS} // qos.go
	for _, l := range cfg.Listen {
		ap := netip.MustParseAddrPort(l)
		n.core = append(n.core, ap)
		pcfg.Listen = append(pcfg.Listen, proxy.Listen{Addr: l})
		if n.sas == nil {
			continue
		}
		n.protected[ap.Addr().Unmap()] = true
		for i := range n.alloc.slots() {
			for _, port := range []uint16{cfg.ClientPorts.First + i, cfg.ServerPorts.First + i} {
				pcfg.Listen = append(pcfg.Listen, proxy.Listen{Addr: netip.AddrPortFrom(ap.Addr(), port).String()})
			}
		}
	}
	p, err := proxy.New(pcfg, log)
	if err != nil {
		n.closeIPsec()
		n.closeStore()
		return nil, fmt.Errorf("pcscf: %w", err)
	}
	n.proxy = p
	// Port 0 in tests: learn the bound core ports.
	n.core = n.core[:0]
	n.own = make(map[netip.AddrPort]bool)
	for _, l := range p.Listeners() {
		n.own[netip.AddrPortFrom(l.Addr.Addr().Unmap(), l.Addr.Port())] = true
		if l.Transport == "UDP" && !n.isProtectedPort(l.Addr.Port()) {
			n.core = append(n.core, l.Addr)
		}
	}
	if err := n.restore(); err != nil {
		_ = p.Close()
		n.closeIPsec()
		n.closeStore()
		return nil, err
	}
	if err := n.newALG(); err != nil { // imsalg.go
		_ = p.Close()
		n.closeIPsec()
		return nil, fmt.Errorf("pcscf alg: %w", err)
	}
	return n, nil
}

// setupIPsec decides, once at start-up, whether sec-agree is offered (docs/design.md §5).
func (n *Node) setupIPsec() error {
	if n.cfg.IPsec == IPsecOff {
		n.log.Warn("IMS-AKA sec-agree disabled by configuration (--ipsec=off): UEs are served without IPsec")
		return nil
	}
	if n.cfg.SAs != nil {
		n.sas = n.cfg.SAs
		n.closeSAs = func() {}
		return nil
	}
	m, err := ipsec.NewManager(netns.None(), ipsec.Config{}, n.log)
	if err != nil {
		return n.noESP(err.Error())
	}
	sup, err := m.Probe()
	if err != nil || !sup.ESP {
		m.Close()
		reason := sup.String()
		if err != nil {
			reason = err.Error()
		}
		return n.noESP(reason)
	}
	n.log.Info(sup.String())
	n.sas = m
	n.closeSAs = m.Close
	return nil
}

func (n *Node) noESP(reason string) error {
	if n.cfg.IPsec == IPsecRequired {
		return fmt.Errorf("%w: %s", ErrESPRequired, reason)
	}
	n.log.Warn("kernel has no usable ESP: sec-agree is not offered; UEs without sec-agree are served, UEs that require it get 420 (--ipsec=required would refuse to start)",
		zap.String("reason", reason))
	return nil
}

func (n *Node) closeIPsec() {
	n.closeOnce.Do(func() {
		if n.closeSAs != nil {
			n.closeSAs()
		}
		n.closeStore()
	})
}

// Close releases the sockets and the netlink handle of a Node whose Run was never called (Run
// releases them itself when it returns). Installed SAs stay: they are in the store.
func (n *Node) Close() error {
	n.cancel()
	if n.alg != nil {
		n.alg.ep.Close()
	}
	err := n.proxy.Close()
	n.closeIPsec()
	return err
}

// Run serves until ctx ends, then stops: SIP transactions drained, SAs of the kernel removed
// (their state stays in the store, so the next start installs them again).
func Run(ctx context.Context, cfg Config, log *zap.Logger) error {
	n, err := New(cfg, log)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// Run serves until ctx ends.
func (n *Node) Run(ctx context.Context) error {
	defer n.closeIPsec() // closes the store too
	defer n.flush()      // after every goroutine stopped: a clean stop loses nothing
	defer n.wg.Wait()
	defer n.cancel()
	var httpSrv *http.Server
	if n.cfg.HTTP != "" {
		admin, err := adminhttp.New(n.cfg.Admin, n.log.Named("admin"))
		if err != nil {
			_ = n.proxy.Close()
			return fmt.Errorf("pcscf admin: %w", err)
		}
		ln, err := admin.Listen(n.cfg.HTTP)
		if err != nil {
			_ = n.proxy.Close()
			return fmt.Errorf("pcscf http %s: %w", n.cfg.HTTP, err)
		}
		httpSrv = adminhttp.NewServer(n.httpHandler(admin), n.log.Named("admin"))
		n.wg.Go(func() {
			if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("http server", zap.Error(err))
			}
		})
	}
	n.wg.Go(n.expiryLoop)
	n.runQoS(ctx)
	n.runALG(ctx) // imsalg.go
	if n.store != nil {
		n.wg.Go(n.journalWriter)
	}
	errc := make(chan error, 1)
	n.wg.Go(func() { errc <- n.proxy.Run(ctx) })
	close(n.ready)
	n.log.Info("P-CSCF ready", zap.Stringers("listen", n.core), zap.String("icscf", n.cfg.ICSCF), zap.Bool("sec_agree", n.sas != nil))
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_ = n.proxy.Close()
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = httpSrv.Shutdown(sctx)
		cancel()
	}
	n.cancel()
	if n.sas != nil {
		// SAs go with the process; the store keeps them, and how far their outbound sequence numbers got,
		// for the next start.
		n.recordOutboundSeq()
		for _, reg := range n.regs.snapshot() {
			for _, sa := range reg.SAs {
				_ = n.sas.Remove(sa.Pair)
			}
		}
		// Sets of ended registrations still waiting for a de-REGISTER's response that never came.
		for _, sa := range n.deregs.drain() {
			_ = n.sas.Remove(sa.Pair)
		}
	}
	return err
}

// restoreSeqMargin is added to the last outbound sequence number known for an SA set when it is installed
// again: packets sent after the P-CSCF last recorded it (a crash records nothing) must not be reused either.
// An SA set lives one registration period and carries SIP signalling only; 2^16 packets is far above that,
// and far below the 2^32 at which the sequence would wrap.
const restoreSeqMargin = 1 << 16

// recordOutboundSeq stores, per SA set, the highest sequence number the kernel has used on our outbound SAs
// (RFC 4303 §3.3.3), so that a restart continues after it: the UE's anti-replay window (§3.4.3) drops a
// number it has seen.
func (n *Node) recordOutboundSeq() {
	for _, reg := range n.regs.snapshot() {
		seqs := map[uint32]uint32{} // P-CSCF spi-s → highest outbound sequence number
		for _, sa := range reg.SAs {
			counters, err := n.sas.Counters(sa.Pair)
			if err != nil {
				n.log.Info("reading the SAs' sequence numbers failed", logging.IMPU(reg.IMPU), zap.Error(err))
				continue
			}
			var high uint32
			for _, st := range counters {
				high = max(high, st.OutboundSeq)
			}
			seqs[sa.Pair.PCSCF.SPIS] = high
		}
		if len(seqs) == 0 {
			continue
		}
		n.regs.update(keyOf(reg.IMPU, reg.Contact), "", func(r *Registration) bool {
			for i := range r.SAs {
				if s, ok := seqs[r.SAs[i].Pair.PCSCF.SPIS]; ok && s > r.SAs[i].OutboundSeq {
					r.SAs[i].OutboundSeq = s
				}
			}
			return true
		})
	}
}

// Listeners returns the bound SIP addresses (tests use port 0).
func (n *Node) Listeners() []proxy.ListenAddr { return n.proxy.Listeners() }

// CoreAddr is the first unprotected UDP address: where UEs send their first REGISTER.
func (n *Node) CoreAddr() netip.AddrPort { return n.core[0] }

// Ready is closed once Run serves.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Registration returns the binding of impu registered first (tests, diagnostics); Bindings has them all.
func (n *Node) Registration(impu string) (Registration, bool) {
	if b := n.regs.ofIMPU(impu); len(b) > 0 {
		return b[0], true
	}
	return Registration{}, false
}

// Bindings returns every binding of impu, one per contact, oldest first (tests, diagnostics).
func (n *Node) Bindings(impu string) []Registration { return n.regs.ofIMPU(impu) }

func (n *Node) isProtectedPort(port uint16) bool {
	if n.sas == nil {
		return false
	}
	return inRange(n.cfg.ClientPorts, port) || inRange(n.cfg.ServerPorts, port)
}

func (n *Node) isProtectedServer(local netip.AddrPort) bool {
	return n.sas != nil && inRange(n.cfg.ServerPorts, local.Port()) && n.protected[local.Addr().Unmap()]
}

func inRange(r PortRange, p uint16) bool { return p >= r.First && int(p) < int(r.First)+int(r.Count) }

// persist records a change of the registry: the gauges at once, the journal within DBFlushInterval
// (journalWriter, never on the caller's goroutine: no request waits for the store).
func (n *Node) persist() {
	regs, sas := n.regs.count(time.Now())
	n.metrics.registrations.Set(float64(regs))
	n.metrics.saSets.Set(float64(sas))
	select {
	case n.journalKick <- struct{}{}:
	default: // a write is already due
	}
}

// expiryLoop removes expired registrations and SA sets.
func (n *Node) expiryLoop() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-n.base.Done():
			return
		case now := <-t.C:
			n.expire(now)
		}
	}
}

func (n *Node) expire(now time.Time) {
	gone, ended, changed := n.regs.expire(now)
	for _, k := range ended {
		n.dialogs.dropBinding(k)
		n.algDeregistered(k) // imsalg.go
	}
	n.subs.expire(now)
	n.removeSAs(gone)
	if changed {
		n.persist()
	}
}

// removeSAs deletes SA sets from the kernel and gives their ports and SPIs back.
func (n *Node) removeSAs(sets []SASet) {
	for _, sa := range sets {
		if n.sas != nil {
			if err := n.sas.Remove(sa.Pair); err != nil && !errors.Is(err, ipsec.ErrNotFound) {
				n.log.Warn("removing SAs failed", zap.Error(err))
			}
		}
		n.alloc.release(sa.Pair.UE.Addr, sa.Pair.PCSCF.PortC, sa.Pair.PCSCF.SPIC, sa.Pair.PCSCF.SPIS)
		n.metrics.saRemoved.Inc()
	}
}

// removeLater removes SA sets after d, so that a final response sent through them leaves first
// (docs/design.md §4: "removes the SAs after the final response went out through them").
func (n *Node) removeLater(sets []SASet, d time.Duration) {
	if len(sets) == 0 {
		return
	}
	n.wg.Go(func() {
		select {
		case <-time.After(d):
		case <-n.base.Done():
		}
		n.removeSAs(sets)
	})
}

var _ proxy.Router = (*Node)(nil)
