package ipsec

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Every XFRM state and policy this package installs carries a reqid from one range, and that is
// how we recognise ours: Flush and Remove never touch an SA or policy whose reqid is outside it,
// so a strongSwan or another P-CSCF in the same namespace keeps its SAs. 0x494d is "IM".
const (
	DefaultReqIDBase  uint32 = 0x494d0000
	DefaultReqIDCount uint32 = 0x00010000
)

// netlinkTimeout bounds every netlink round trip, so that a wedged kernel socket turns into an
// error instead of a hung SIP transaction.
const netlinkTimeout = 5 * time.Second

// Config of a Manager.
type Config struct {
	// ReqIDBase and ReqIDCount bound our reqids: [ReqIDBase, ReqIDBase+ReqIDCount). Give the
	// UE simulator and the P-CSCF different ranges if they ever share a namespace.
	ReqIDBase  uint32
	ReqIDCount uint32
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{ReqIDBase: DefaultReqIDBase, ReqIDCount: DefaultReqIDCount}
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case c.ReqIDBase == 0:
		return errors.New("ipsec config: ReqIDBase must not be 0 (a 0 reqid in a template matches any SA)")
	case c.ReqIDCount < 4 || c.ReqIDCount%4 != 0:
		return fmt.Errorf("ipsec config: ReqIDCount %d must be a positive multiple of 4", c.ReqIDCount)
	case uint64(c.ReqIDBase)+uint64(c.ReqIDCount) > 1<<32:
		return fmt.Errorf("ipsec config: reqid range 0x%x+0x%x overflows 32 bits", c.ReqIDBase, c.ReqIDCount)
	}
	return nil
}

func (c Config) owns(reqid int) bool {
	return reqid >= int(c.ReqIDBase) && reqid < int(c.ReqIDBase)+int(c.ReqIDCount)
}

// OpenHandle opens a netlink handle in the network namespace ns (netns.None() for the caller's
// own) with only the families XFRM needs. Pitfall: netlink.NewHandleAt without families also
// opens NETLINK_NETFILTER, which fails unless nfnetlink is loaded.
func OpenHandle(ns netns.NsHandle) (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE, unix.NETLINK_XFRM)
	if err != nil {
		return nil, fmt.Errorf("ipsec: netlink handle: %w", classify(err))
	}
	if err := h.SetSocketTimeout(netlinkTimeout); err != nil {
		h.Close()
		return nil, fmt.Errorf("ipsec: netlink socket timeout: %w", err)
	}
	return h, nil
}

// Stats are the kernel's counters of one SA.
type Stats struct {
	Packets         uint64
	Bytes           uint64
	IntegrityFailed uint32 // packets dropped because the ICV did not verify
	ReplayFailed    uint32 // packets dropped by the anti-replay window
	// OutboundSeq is the sequence number of the last packet sent through the SA (0 for an inbound SA).
	OutboundSeq uint32
}

// InstallOption changes how Install adds an SA set.
type InstallOption func(*installOptions)

type installOptions struct {
	outboundSeq uint32
}

// WithOutboundSeq starts the outbound sequence numbers after seq instead of at 1. An SA set installed again
// after a restart must not start over: the peer's anti-replay window (RFC 4303 §3.4.3) has seen the numbers
// already sent and drops them as replays.
func WithOutboundSeq(seq uint32) InstallOption {
	return func(o *installOptions) { o.outboundSeq = seq }
}

// SA is one of our installed states as the kernel reports it.
type SA struct {
	SPI          uint32
	ReqID        uint32
	Src, Dst     netip.AddrPort // addresses of the SA, ports of its selector
	Proto        Proto          // transport protocol of its selector
	Auth, Crypt  string         // kernel algorithm names, e.g. "hmac(sha1)", "cbc(aes)"
	HardLifetime time.Duration  // from AddTime; 0 is "no limit"
	AddTime      time.Time
	Stats        Stats
}

// Filter narrows Flush. The zero Filter matches all of our SAs and policies.
type Filter struct {
	// Addr, if valid, matches SAs and policies with this address as source or destination:
	// e.g. the P-CSCF's protected address, to clear what a previous run left behind.
	Addr netip.Addr
}

func (f Filter) match(src, dst netip.Addr) bool {
	if !f.Addr.IsValid() {
		return true
	}
	a := f.Addr.Unmap()
	return src == a || dst == a
}

// Flushed counts what Flush removed.
type Flushed struct {
	States, Policies int
}

// Manager installs and removes IMS-AKA SA sets in one network namespace. Its methods may be
// called concurrently.
type Manager struct {
	h    *netlink.Handle
	cfg  Config
	log  *zap.Logger
	next atomic.Uint32 // reqid allocation cursor, in units of one reqid
}

// NewManager opens a Manager on the network namespace ns (netns.None() for the caller's own).
// A zero Config means DefaultConfig().
func NewManager(ns netns.NsHandle, cfg Config, log *zap.Logger) (*Manager, error) {
	if cfg == (Config{}) {
		cfg = DefaultConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	h, err := OpenHandle(ns)
	if err != nil {
		return nil, err
	}
	return &Manager{h: h, cfg: cfg, log: log.Named("ipsec")}, nil
}

// Close releases the netlink sockets. Installed SAs stay: Remove or Flush them first.
func (m *Manager) Close() { m.h.Close() }

// Probe reports what this namespace's kernel supports; see Probe.
func (m *Manager) Probe() (Support, error) { return probe(m.h, m.cfg.ReqIDBase) }

// allocReqIDs returns four consecutive reqids of our range, one per SA of a set. A reqid is
// reused after ReqIDCount/4 sets; that is harmless, since every template also names its SPI.
func (m *Manager) allocReqIDs() [4]uint32 {
	n := m.next.Add(4) - 4
	var ids [4]uint32
	for i := range ids {
		ids[i] = m.cfg.ReqIDBase + (n+uint32(i))%m.cfg.ReqIDCount
	}
	return ids
}

// Install adds the four SAs of p and their policies for this side, all or nothing: if any step
// fails, what was added is removed again before the error returns. lifetime is the hard
// lifetime of every SA (0: no limit); TS 33.203 §7.4 ties it to the registration, so the
// P-CSCF passes the registration expiry plus its grace period and calls UpdateLifetime on
// re-registration.
//
// Policies go in before states: from the first moment there is an SA, plaintext on its port pair
// is already refused, and outbound packets never leave unprotected.
func (m *Manager) Install(ctx context.Context, side Side, p Pair, lifetime time.Duration, opts ...InstallOption) error {
	var o installOptions
	for _, opt := range opts {
		opt(&o)
	}
	if side != SidePCSCF && side != SideUE {
		return fmt.Errorf("ipsec install: unknown side %v", side)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	keys, err := deriveKeys(p)
	if err != nil {
		return err
	}
	reqids := m.allocReqIDs()
	var undo undoStack
	if err := m.addPolicies(ctx, side, p, reqids, &undo); err != nil {
		return undo.rollback(err)
	}
	if err := m.addStates(ctx, p, reqids, keys, lifetimeSeconds(lifetime), o.outboundSeq, &undo); err != nil {
		return undo.rollback(err)
	}
	flows := p.Flows()
	m.log.Debug("SA set installed", zap.Stringer("side", side), zap.Stringer("algs", p.Algs),
		zap.Stringer("proto", p.Proto), zap.Stringer("ue", p.UE.Addr), zap.Stringer("pcscf", p.PCSCF.Addr),
		zap.Uint32s("spis", []uint32{flows[0].SPI, flows[1].SPI, flows[2].SPI, flows[3].SPI}),
		zap.Duration("lifetime", lifetime))
	return nil
}

// undoStack collects the inverse of every step of an Install, for its rollback.
type undoStack []func() error

// rollback undoes every step in reverse order and returns cause joined with any rollback errors.
func (u undoStack) rollback(cause error) error {
	errs := []error{cause}
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i](); err != nil {
			errs = append(errs, fmt.Errorf("rollback: %w", err))
		}
	}
	return errors.Join(errs...)
}

// addPolicies adds the policies of the four SAs, per transport protocol, in this side's directions.
func (m *Manager) addPolicies(ctx context.Context, side Side, p Pair, reqids [4]uint32, undo *undoStack) error {
	for i, f := range p.Flows() {
		dir := policyDir(f, side)
		for _, proto := range p.Proto.policyProtos() {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("ipsec install: %w", err)
			}
			opErr := func(op string, err error) error {
				return &OpError{Op: op + " " + proto.String(), SPI: f.SPI, Src: f.Src, Dst: f.Dst, Dir: dirName(dir), Err: classify(err)}
			}
			if err := m.h.XfrmPolicyAdd(buildPolicy(f, proto, dir, reqids[i])); err != nil {
				return opErr("add policy", err)
			}
			*undo = append(*undo, func() error {
				if err := m.h.XfrmPolicyDel(policySelector(f, proto, dir)); err != nil && !isNotFound(err) {
					return opErr("delete policy", err)
				}
				return nil
			})
		}
	}
	return nil
}

// addStates adds the four SAs.
func (m *Manager) addStates(ctx context.Context, p Pair, reqids [4]uint32, keys sessionKeys, hardSeconds uint64, outSeq uint32, undo *undoStack) error {
	for i, f := range p.Flows() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ipsec install: %w", err)
		}
		st := buildState(f, p.Proto, reqids[i], keys, hardSeconds)
		if outSeq > 0 {
			// XFRMA_REPLAY_VAL: the next outbound packet carries outSeq+1 (RFC 4303 §3.3.3). Only the
			// outbound SAs of this side send; on the inbound ones the value is never used.
			st.Replay = &netlink.XfrmReplayState{OSeq: outSeq}
		}
		if err := m.h.XfrmStateAdd(st); err != nil {
			return &OpError{Op: "add state", SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: classifyAdd(err)}
		}
		*undo = append(*undo, func() error {
			if err := m.h.XfrmStateDel(stateID(f)); err != nil && !isNotFound(err) {
				return &OpError{Op: "delete state", SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: classify(err)}
			}
			return nil
		})
	}
	return nil
}

// Remove deletes the four SAs of p and their policies, in either direction, so it works for
// both sides. It is idempotent: what is already gone is skipped. An SA or policy on the same
// flow that is not ours is left alone and reported with ErrNotOurs. States go first, so
// that until the policies go too, the flows stay closed rather than fall back to plaintext.
func (m *Manager) Remove(p Pair) error {
	if err := p.validateFlows(); err != nil {
		return err
	}
	var errs []error
	flows := p.Flows()
	for _, f := range flows {
		if err := m.removeState(f); err != nil {
			errs = append(errs, err)
		}
	}
	for _, f := range flows {
		for _, proto := range p.Proto.policyProtos() {
			for _, dir := range []netlink.Dir{netlink.XFRM_DIR_OUT, netlink.XFRM_DIR_IN} {
				if err := m.removePolicy(f, proto, dir); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if len(errs) == 0 {
		m.log.Debug("SA set removed", zap.Stringer("ue", p.UE.Addr), zap.Stringer("pcscf", p.PCSCF.Addr),
			zap.Uint32s("spis", []uint32{flows[0].SPI, flows[1].SPI, flows[2].SPI, flows[3].SPI}))
	}
	return errors.Join(errs...)
}

func (m *Manager) removeState(f Flow) error {
	opErr := func(op string, err error) error {
		return &OpError{Op: op, SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: err}
	}
	got, err := m.h.XfrmStateGet(stateID(f))
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return opErr("get state", classify(err))
	}
	if !m.cfg.owns(got.Reqid) {
		return opErr("delete state", fmt.Errorf("%w: reqid 0x%x", ErrNotOurs, got.Reqid))
	}
	if err := m.h.XfrmStateDel(stateID(f)); err != nil && !isNotFound(err) {
		return opErr("delete state", classify(err))
	}
	return nil
}

func (m *Manager) removePolicy(f Flow, proto Proto, dir netlink.Dir) error {
	opErr := func(op string, err error) error {
		return &OpError{Op: op + " " + proto.String(), SPI: f.SPI, Src: f.Src, Dst: f.Dst, Dir: dirName(dir), Err: err}
	}
	sel := policySelector(f, proto, dir)
	got, err := m.h.XfrmPolicyGet(sel)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return opErr("get policy", classify(err))
	}
	if !m.ownsPolicy(got) {
		return opErr("delete policy", ErrNotOurs)
	}
	if err := m.h.XfrmPolicyDel(sel); err != nil && !isNotFound(err) {
		return opErr("delete policy", classify(err))
	}
	return nil
}

func (m *Manager) ownsPolicy(p *netlink.XfrmPolicy) bool {
	for _, t := range p.Tmpls {
		if m.cfg.owns(t.Reqid) {
			return true
		}
	}
	return false
}

// UpdateLifetime sets the hard lifetime of the four SAs of p to lifetime from now (0: no
// limit), e.g. on re-registration. The kernel counts the hard lifetime from the SA's creation,
// so the new limit is the SA's age plus lifetime.
func (m *Manager) UpdateLifetime(ctx context.Context, p Pair, lifetime time.Duration) error {
	if err := p.Validate(); err != nil {
		return err
	}
	keys, err := deriveKeys(p)
	if err != nil {
		return err
	}
	for _, f := range p.Flows() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ipsec update lifetime: %w", err)
		}
		got, err := m.h.XfrmStateGet(stateID(f))
		if err != nil {
			return &OpError{Op: "get state", SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: classify(err)}
		}
		if !m.cfg.owns(got.Reqid) {
			return &OpError{Op: "update state", SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: fmt.Errorf("%w: reqid 0x%x", ErrNotOurs, got.Reqid)}
		}
		var hard uint64
		if lifetime > 0 {
			age := time.Since(time.Unix(int64(got.Statistics.AddTime), 0))
			hard = lifetimeSeconds(max(age, 0) + lifetime)
		}
		// XFRM_MSG_UPDSA takes a whole state, but on a valid SA the kernel copies only the
		// lifetime (and selector, encapsulation) into it: counters, keys and replay state stay.
		if err := m.h.XfrmStateUpdate(buildState(f, p.Proto, uint32(got.Reqid), keys, hard)); err != nil {
			return &OpError{Op: "update state", SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: classify(err)}
		}
	}
	return nil
}

// Counters returns the kernel's counters of the four SAs of p, keyed by SPI.
func (m *Manager) Counters(p Pair) (map[uint32]Stats, error) {
	if err := p.validateFlows(); err != nil {
		return nil, err
	}
	out := make(map[uint32]Stats, 4)
	for _, f := range p.Flows() {
		got, err := m.h.XfrmStateGet(stateID(f))
		if err != nil {
			return nil, &OpError{Op: "get state", SPI: f.SPI, Src: f.Src, Dst: f.Dst, Err: classify(err)}
		}
		out[f.SPI] = statsOf(got)
	}
	return out, nil
}

func outboundSeqOf(st *netlink.XfrmState) uint32 {
	if st.Replay == nil {
		return 0
	}
	return st.Replay.OSeq
}

func statsOf(st *netlink.XfrmState) Stats {
	return Stats{
		Packets:         st.Statistics.Packets,
		Bytes:           st.Statistics.Bytes,
		IntegrityFailed: st.Statistics.Failed,
		ReplayFailed:    st.Statistics.Replay,
		OutboundSeq:     outboundSeqOf(st),
	}
}

// List returns our installed SAs, in the kernel's order. Pitfall: never print a
// netlink.XfrmState with %v: its String dereferences the usually nil Pcpunum (v1.3.1).
func (m *Manager) List() ([]SA, error) {
	states, err := retryDump(func() ([]netlink.XfrmState, error) { return m.h.XfrmStateList(netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("ipsec list states: %w", classify(err))
	}
	var out []SA
	for i := range states {
		st := &states[i]
		if !m.cfg.owns(st.Reqid) {
			continue
		}
		out = append(out, saOf(st))
	}
	return out, nil
}

func saOf(st *netlink.XfrmState) SA {
	sa := SA{
		SPI:   uint32(st.Spi),
		ReqID: uint32(st.Reqid),
		Stats: statsOf(st),
	}
	var sport, dport uint16
	if st.Selector != nil {
		sport, dport = uint16(st.Selector.SrcPort), uint16(st.Selector.DstPort)
		sa.Proto = Proto(st.Selector.Proto)
	}
	sa.Src = netip.AddrPortFrom(addrFromIP(st.Src), sport)
	sa.Dst = netip.AddrPortFrom(addrFromIP(st.Dst), dport)
	if st.Auth != nil {
		sa.Auth = st.Auth.Name
	}
	if st.Crypt != nil {
		sa.Crypt = st.Crypt.Name
	}
	sa.HardLifetime = time.Duration(st.Limits.TimeHard) * time.Second
	if st.Statistics.AddTime != 0 {
		sa.AddTime = time.Unix(int64(st.Statistics.AddTime), 0)
	}
	return sa
}

// Flush removes our SAs and policies that match f, e.g. at start-up to clear what a crashed run
// left behind. SAs and policies of others (reqid outside our range) are never touched.
func (m *Manager) Flush(f Filter) (Flushed, error) {
	var done Flushed
	var errs []error
	policies, err := retryDump(func() ([]netlink.XfrmPolicy, error) { return m.h.XfrmPolicyList(netlink.FAMILY_ALL) })
	if err != nil {
		return done, fmt.Errorf("ipsec flush: list policies: %w", classify(err))
	}
	for i := range policies {
		pol := &policies[i]
		if !m.ownsPolicy(pol) || !f.match(netAddr(pol.Src), netAddr(pol.Dst)) {
			continue
		}
		// The index names the policy whatever its selector; the direction must come with it.
		if err := m.h.XfrmPolicyDel(&netlink.XfrmPolicy{Index: pol.Index, Dir: pol.Dir}); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("ipsec flush: delete policy index %d dir %s: %w", pol.Index, dirName(pol.Dir), classify(err)))
			continue
		}
		done.Policies++
	}
	states, err := retryDump(func() ([]netlink.XfrmState, error) { return m.h.XfrmStateList(netlink.FAMILY_ALL) })
	if err != nil {
		return done, errors.Join(append(errs, fmt.Errorf("ipsec flush: list states: %w", classify(err)))...)
	}
	for i := range states {
		st := &states[i]
		if !m.cfg.owns(st.Reqid) || !f.match(addrFromIP(st.Src), addrFromIP(st.Dst)) {
			continue
		}
		id := &netlink.XfrmState{Src: st.Src, Dst: st.Dst, Proto: st.Proto, Spi: st.Spi, Mark: st.Mark}
		if err := m.h.XfrmStateDel(id); err != nil && !isNotFound(err) {
			sa := saOf(st)
			errs = append(errs, &OpError{Op: "flush state", SPI: sa.SPI, Src: sa.Src, Dst: sa.Dst, Err: classify(err)})
			continue
		}
		done.States++
	}
	if done.States+done.Policies > 0 {
		m.log.Info("flushed stale IPsec state", zap.Int("states", done.States), zap.Int("policies", done.Policies))
	}
	return done, errors.Join(errs...)
}

// retryDump repeats a netlink dump that the kernel interrupted because the table changed.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range 3 {
		var out []T
		if out, err = dump(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return out, err
		}
	}
	return nil, err
}

func netAddr(n *net.IPNet) netip.Addr {
	if n == nil {
		return netip.Addr{}
	}
	return addrFromIP(n.IP)
}

func isNotFound(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}
