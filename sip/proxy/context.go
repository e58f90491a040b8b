package proxy

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imscore/imscore/sip/header"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
)

// proxyCtx is the response context of RFC 3261 §16: one per server transaction, holding the branches the request
// was forked to and choosing what goes upstream (§16.7), with CANCEL (§16.10) and timeouts (§16.8).
type proxyCtx struct {
	p      *Proxy
	key    string
	req    *sip.Request // as received; §16.4 preprocessing is applied to it before routing
	view   *view        // req's header index and verdicts, made when it arrived
	stx    *sip.ServerTx
	in     inbound
	log    *zap.Logger
	invite bool

	routeCtx    context.Context // cancelled by CANCEL, transaction end and Close
	routeCancel context.CancelFunc
	inflight    atomic.Bool

	mu            sync.Mutex
	branches      []*branch
	startedAll    bool // every target has been tried: best-response selection may run
	finalCode     int  // status of the final response sent upstream, 0 until then
	noNewBranches bool // a 6xx arrived or the upstream cancelled (§16.7 step 5, §16.10)
	canceled      bool // CANCEL received from upstream
	closed        bool // proxy shutting down: send nothing more
	onResponse    func(res *sip.Response, generated bool)

	// Serial forwarding (Decision.OnFailure).
	hash       string // the loop-detection hash of §16.6 step 8, for every round's branches
	onFailure  func(ctx context.Context, req *sip.Request, best *sip.Response, generated bool) (*Decision, error)
	round      int  // the current round of branches; only its responses compete under §16.7
	consulting bool // OnFailure is running: the best response waits for its verdict
}

// branch is one client transaction of a response context (§16.6 step 10).
type branch struct {
	pc           *proxyCtx
	idx          int
	req          *sip.Request
	out          *outbound
	tx           *sip.ClientTx
	provisional  bool          // any provisional received: a CANCEL may now be sent (§9.1)
	final        *sip.Response // the final response, received or generated
	generated    bool          // final was made by this proxy (timeout, transport error)
	cancelWanted bool          // cancel as soon as a provisional arrives (§9.1)
	cancelSent   bool
	timer        *time.Timer // Timer C (INVITE), Timer F (non-INVITE), or the wait after CANCEL
	round        int         // the proxyCtx round this branch belongs to
	noResponse   time.Duration
	noRespTimer  *time.Timer // Target.NoResponseTimeout, stopped by the first response (INVITE) or the final one

	// Failover (Target.Failover): the Decision and Target this branch carries out, the hop this attempt went to
	// and the hops not tried yet. A branch that failed over is superseded by the attempt after it: only that
	// one competes under §16.7.
	dec        *Decision
	target     *Target
	rr         bool
	hop        NextHop
	rest       []NextHop
	superseded bool
}

// newProxyCtx creates the server transaction for a new request. It runs under the server store's lock.
func (p *Proxy) newProxyCtx(key string, v *view, in inbound) (*proxyCtx, error) {
	req := v.req
	conn, err := p.replyConn(req, in)
	if err != nil {
		return nil, err
	}
	stx := sip.NewServerTx(key, req, conn, p.slog)
	if err := stx.Init(); err != nil {
		_, _ = conn.TryClose()
		return nil, fmt.Errorf("server transaction: %w", err)
	}
	pc := &proxyCtx{
		p:      p,
		key:    key,
		req:    req,
		view:   v,
		stx:    stx,
		in:     in,
		log:    p.log.With(logging.CallID(callIDOf(req)), zap.String("method", string(req.Method))),
		invite: req.IsInvite(),
	}
	pc.routeCtx, pc.routeCancel = context.WithCancel(p.base)
	pc.inflight.Store(true)
	p.inflight.Add(1)
	stx.OnTerminate(func(string, error) {
		// Runs inside sipgo's state machine, possibly under pc.mu: touch only what needs no lock.
		p.servers.dropIf(key, pc)
		pc.routeCancel()
		pc.markAnswered()
	})
	return pc, nil
}

// Terminate ends the server transaction; used when the proxy closes.
func (pc *proxyCtx) Terminate() {
	pc.mu.Lock()
	pc.closed = true
	for _, b := range pc.branches {
		b.stopTimer()
	}
	pc.mu.Unlock()
	pc.routeCancel()
	pc.stx.Terminate()
}

func (pc *proxyCtx) markAnswered() {
	if pc.inflight.CompareAndSwap(true, false) {
		pc.p.inflight.Add(-1)
		pc.p.metrics.InFlight(-1)
	}
}

func (pc *proxyCtx) answered2xx() bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.finalCode >= 200 && pc.finalCode < 300
}

// process runs on its own goroutine for each new request: validate, route, carry out the decision.
func (pc *proxyCtx) process() {
	p := pc.p
	defer func() {
		if r := recover(); r != nil {
			pc.log.Error("recovered from panic", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			pc.reject(&StatusError{Code: sip.StatusInternalServerError})
		}
	}()
	if se := p.checkView(pc.view); se != nil {
		pc.reject(se)
		return
	}
	if pc.invite {
		// A stateful proxy answers an INVITE with 100 (Trying) at once (RFC 3261 §16.2, §17.2.1), before the
		// router's lookups, so the upstream stops retransmitting.
		if err := pc.stx.Respond(sip.NewResponseFromRequest(pc.req, sip.StatusTrying, reasonPhrase(sip.StatusTrying), nil)); err != nil {
			pc.log.Debug("sending 100 failed", zap.Error(err))
		}
	}
	hash := loopHashOf(pc.view, pc.req.Via()) // over the request as received, before §16.4 changes it
	src := pc.in.source()
	src.ConsumedRoute = p.preprocessRoute(pc.req)
	src.Headers = pc.view.ix
	if src.ConsumedRoute != nil {
		src.Headers = header.NewIndex(pc.req) // §16.4 removed a Route line: index the request the router sees
	}
	pc.hash = hash

	ctx, cancel := context.WithTimeout(pc.routeCtx, p.cfg.RouteTimeout)
	d, err := pc.route(ctx, src)
	cancel()
	if err != nil {
		pc.routeFailed(err)
		return
	}
	if d.Reply != nil {
		pc.replyLocal(d.Reply)
		return
	}
	pc.start(&d, hash)
}

func (pc *proxyCtx) route(ctx context.Context, src Source) (d Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			pc.log.Error("router panicked", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			err = fmt.Errorf("router panic: %v", r)
		}
	}()
	return pc.p.router.Route(ctx, pc.req, src)
}

// routeFailed answers a request the router returned an error for.
func (pc *proxyCtx) routeFailed(err error) {
	pc.mu.Lock()
	canceled := pc.canceled
	pc.mu.Unlock()
	var se *StatusError
	switch {
	case canceled:
		se = &StatusError{Code: sip.StatusRequestTerminated}
	case errors.As(err, &se):
	case errors.Is(err, context.DeadlineExceeded):
		// RFC 3261 §21.5.5: a server consulted while processing (HSS, DNS) did not answer in time.
		se = &StatusError{Code: sip.StatusGatewayTimeout, Err: err}
	case pc.p.closing.Load():
		return
	default:
		se = &StatusError{Code: sip.StatusInternalServerError, Err: err}
	}
	pc.reject(se)
}

// reject sends the response for se, generated by this proxy.
func (pc *proxyCtx) reject(se *StatusError) {
	reason := se.Reason
	if reason == "" {
		reason = reasonPhrase(se.Code)
	}
	res := sip.NewResponseFromRequest(pc.req, se.Code, reason, nil)
	sanitizeRejection(res)
	for _, h := range se.Headers {
		res.AppendHeader(sip.HeaderClone(h))
	}
	fields := []zap.Field{zap.Int("code", se.Code), zap.String("reason", reason)}
	if se.Err != nil {
		fields = append(fields, zap.Error(se.Err))
	}
	if se.Code >= 500 {
		pc.log.Warn("request failed", fields...)
	} else {
		pc.log.Info("request rejected", fields...)
	}
	pc.mu.Lock()
	pc.sendUpstreamLocked(res, false)
	pc.mu.Unlock()
}

// replyLocal sends the router's own answer (RFC 3261 §8.2.6: this node acts as UAS).
func (pc *proxyCtx) replyLocal(r *Reply) {
	reason := r.Reason
	if reason == "" {
		reason = reasonPhrase(r.Code)
	}
	res := sip.NewResponseFromRequest(pc.req, r.Code, reason, r.Body)
	for _, h := range r.Headers {
		res.AppendHeader(sip.HeaderClone(h))
	}
	if r.Body != nil {
		res.SetBody(r.Body)
	}
	pc.log.Debug("answered locally", zap.Int("code", r.Code))
	pc.mu.Lock()
	pc.sendUpstreamLocked(res, false)
	pc.mu.Unlock()
	if r.Sent != nil {
		r.Sent()
	}
}

// start forks the request to every target (RFC 3261 §16.5, §16.6).
func (pc *proxyCtx) start(d *Decision, hash string) {
	pc.mu.Lock()
	if pc.canceled {
		pc.sendUpstreamLocked(pc.generated(sip.StatusRequestTerminated), true)
		pc.mu.Unlock()
		return
	}
	pc.onResponse = d.OnResponse
	pc.onFailure = d.OnFailure
	round := pc.round
	pc.mu.Unlock()

	targets := d.Targets
	if len(targets) == 0 {
		targets = []Target{{}}
	}
	// Record-Route has no meaning in REGISTER (RFC 3261 §10.3, Path does that job, RFC 3327).
	rr := d.RecordRoute && pc.req.Method != sip.REGISTER
	for i := range targets {
		b := pc.prepareBranch(i, d, &targets[i], hash, rr)
		b.round = round
		pc.mu.Lock()
		if pc.noNewBranches || pc.closed {
			pc.mu.Unlock()
			b.release()
			break
		}
		pc.branches = append(pc.branches, b)
		if b.final == nil {
			pc.launchLocked(b)
		}
		pc.mu.Unlock()
	}
	pc.mu.Lock()
	pc.startedAll = true
	pc.maybeFinishLocked()
	pc.mu.Unlock()
}

// prepareBranch builds the copy for one target and gets it a connection. Unlocked: it may resolve and connect.
// A target that cannot be reached goes on with its next Failover hop; without one it gets a final response at
// once: 503 (RFC 3261 §16.9), or see statusForSendError.
func (pc *proxyCtx) prepareBranch(i int, d *Decision, t *Target, hash string, rr bool) *branch {
	b := &branch{pc: pc, idx: i, noResponse: t.NoResponseTimeout, dec: d, target: t, rr: rr}
	pc.prepareAttempt(b, t.NextHop, t.Failover, hash)
	return b
}

// launchLocked starts the branch's client transaction and its timer.
func (pc *proxyCtx) launchLocked(b *branch) {
	p := pc.p
	key, err := sip.ClientTxKeyMake(b.req)
	if err != nil {
		b.fail(sip.StatusInternalServerError, err)
		return
	}
	tx := sip.NewClientTx(key, b.req, b.out.conn, p.slog)
	if err := p.addClientTx(key, tx); err != nil {
		_, _ = b.out.conn.TryClose()
		b.fail(sip.StatusServiceUnavailable, err)
		pc.failoverLocked(b, 0)
		return
	}
	if pc.invite {
		// RFC 6026 §7.2: 2xx retransmissions reach the transaction in the Accepted state and are forwarded.
		tx.OnRetransmission(func(res *sip.Response) { pc.forwardRetransmission(res) })
	}
	if err := tx.Init(); err != nil {
		tx.Terminate()
		pc.log.Info("sending to next hop failed", zap.Int("branch", b.idx), zap.Stringer("to", b.out.dst), zap.Error(err))
		b.fail(sip.StatusServiceUnavailable, err) // RFC 3261 §16.9
		pc.failoverLocked(b, 0)
		return
	}
	b.tx = tx
	if pc.invite {
		b.timer = time.AfterFunc(p.cfg.TimerC, b.timerCFired) // §16.6 step 11
	} else {
		b.timer = time.AfterFunc(p.cfg.TimerF, b.timerFFired)
	}
	if b.noResponse > 0 {
		b.noRespTimer = time.AfterFunc(b.noResponse, b.noResponseFired)
	}
	if !p.spawn(b.run) {
		b.stopTimer()
		tx.Terminate()
	}
}

// fail gives a branch a generated final response (pc.mu held).
func (b *branch) fail(code int, err error) {
	b.final, b.generated = b.pc.generated(code), true
	b.pc.log.Debug("branch failed", zap.Int("branch", b.idx), zap.Int("treated_as", code), zap.Error(err))
}

func (b *branch) release() {
	if b.out != nil && b.tx == nil {
		_, _ = b.out.conn.TryClose()
	}
}

func (b *branch) stopTimer() {
	if b.timer != nil {
		b.timer.Stop()
	}
	b.stopNoResponseTimer()
}

func (b *branch) stopNoResponseTimer() {
	if b.noRespTimer != nil {
		b.noRespTimer.Stop()
	}
}

// timerK is how long a completed non-INVITE client transaction over UDP absorbs retransmitted responses
// (RFC 3261 §17.1.2.2: Timer K = T4). sipgo keeps it for Timer D (32 s) instead; the proxy ends it sooner.
const timerK = 5 * time.Second

// run reads the branch's client transaction until its final response or its end.
func (b *branch) run() {
	for {
		select {
		case res := <-b.tx.Responses():
			b.pc.onBranchResponse(b, res)
			if res.StatusCode >= 200 {
				if u, ok := b.out.conn.(*udpConn); ok {
					u.release() // the request is not retransmitted after a final response (RFC 3261 §17.1)
				}
				if !b.pc.invite && b.out.transport == transportUDP {
					time.AfterFunc(timerK, b.tx.Terminate)
				}
				return // later retransmissions are absorbed by the transaction (or reach OnRetransmission)
			}
		case <-b.tx.Done():
			b.pc.onBranchEnded(b, b.tx.Err())
			return
		}
	}
}

// onBranchResponse applies RFC 3261 §16.7 steps 2–5 and 10 to a response from a branch.
func (pc *proxyCtx) onBranchResponse(b *branch, res *sip.Response) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed || b.final != nil {
		return
	}
	code := res.StatusCode
	if code < 200 {
		if pc.invite {
			b.stopNoResponseTimer() // the next hop is alive; Timer C governs from here (Target.NoResponseTimeout)
		}
		b.provisional = true
		if pc.invite && code > 100 && b.timer != nil && !b.cancelSent {
			b.timer.Reset(pc.p.cfg.TimerC) // step 2: 101–199 reset Timer C
		}
		if b.cancelWanted {
			b.sendCancelLocked() // §9.1: the CANCEL waited for this provisional
		}
		if code > 100 && pc.finalCode == 0 {
			pc.forwardLocked(res) // step 5: provisional responses other than 100 go up at once
		}
		return
	}
	b.final = res
	b.stopTimer()
	if code == sip.StatusServiceUnavailable {
		pc.failoverLocked(b, retryAfterOf(res)) // RFC 3263 §4.3
	}
	switch {
	case code < 300:
		// Step 5: every 2xx to an INVITE goes up at once, even after another final; for other methods only the
		// first final response does.
		if pc.invite || pc.finalCode == 0 {
			pc.forwardLocked(res)
		}
		// Step 10: a final response went up, cancel what is still pending.
		pc.cancelPendingLocked(b)
	case code >= 600:
		// Step 5: a 6xx is not forwarded at once, but ends the search: cancel the others, no new branches.
		pc.noNewBranches = true
		pc.cancelPendingLocked(b)
	}
	pc.maybeFinishLocked()
}

// onBranchEnded handles a client transaction that ended without a final response: a timeout behaves as a 408
// (RFC 3261 §16.8, §17.1.1.2 Timer B, §17.1.2.2 Timer F), a transport error as a 503 (§16.9).
func (pc *proxyCtx) onBranchEnded(b *branch, err error) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed || b.final != nil {
		return
	}
	code := sip.StatusRequestTimeout
	if errors.Is(err, sip.ErrTransactionTransport) {
		code = sip.StatusServiceUnavailable
	}
	pc.log.Info("branch ended without final response", zap.Int("branch", b.idx), zap.Stringer("to", b.out.dst),
		zap.Int("treated_as", code), zap.Error(err))
	b.final, b.generated = pc.generated(code), true
	b.stopTimer()
	pc.failoverLocked(b, 0) // RFC 3263 §4.3: a timeout or a transport error
	pc.maybeFinishLocked()
}

// timerCFired: RFC 3261 §16.8. With a provisional response the branch is cancelled; without, it is treated as
// having received 408.
func (b *branch) timerCFired() {
	pc := b.pc
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed || b.final != nil {
		return
	}
	if b.provisional {
		pc.log.Info("timer C fired, cancelling branch", zap.Int("branch", b.idx))
		b.sendCancelLocked()
		return
	}
	pc.log.Info("timer C fired without provisional response", zap.Int("branch", b.idx))
	b.timeoutLocked()
}

// timerFFired: the non-INVITE branch got no final response in time (§17.1.2.2): 408.
func (b *branch) timerFFired() {
	pc := b.pc
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed || b.final != nil {
		return
	}
	pc.log.Info("timer F fired", zap.Int("branch", b.idx), zap.Stringer("to", b.out.dst))
	b.timeoutLocked()
}

// noResponseFired: Target.NoResponseTimeout passed without the response it waits for; the branch is given up as
// if it had received 408 (RFC 3261 §16.8 treats a timed-out branch so), which lets Decision.OnFailure go on.
func (b *branch) noResponseFired() {
	pc := b.pc
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed || b.final != nil || pc.invite && b.provisional {
		return
	}
	pc.log.Info("next hop did not answer in time", zap.Int("branch", b.idx), zap.Stringer("to", b.out.dst),
		zap.Duration("timeout", b.noResponse))
	b.timeoutLocked()
}

// cancelWaitFired: no final response within 64*T1 of our CANCEL; the transaction is considered cancelled (§9.1).
func (b *branch) cancelWaitFired() {
	pc := b.pc
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed || b.final != nil {
		return
	}
	pc.log.Info("no final response after CANCEL", zap.Int("branch", b.idx))
	b.timeoutLocked()
}

// timeoutLocked gives the branch a generated 408 (RFC 3261 §16.8) and fails over to its next hop when it has one
// (RFC 3263 §4.3; never after our CANCEL, see failoverLocked).
func (b *branch) timeoutLocked() {
	b.final, b.generated = b.pc.generated(sip.StatusRequestTimeout), true
	b.stopTimer()
	if b.tx != nil {
		b.tx.Terminate() // stops retransmissions; run() sees Done and finds the branch final
	}
	b.pc.failoverLocked(b, 0)
	b.pc.maybeFinishLocked()
}

// cancelPendingLocked cancels every branch but except that has no final response (§16.7 step 10, §16.10).
func (pc *proxyCtx) cancelPendingLocked(except *branch) {
	for _, b := range pc.branches {
		if b != except {
			b.cancelIfPendingLocked()
		}
	}
}

func (b *branch) cancelIfPendingLocked() {
	if b.final != nil || b.tx == nil || b.cancelSent || !b.pc.invite {
		return // only INVITE is cancelled (RFC 3261 §9.1)
	}
	if !b.provisional {
		b.cancelWanted = true // §9.1: no CANCEL before a provisional response
		return
	}
	b.sendCancelLocked()
}

// sendCancelLocked sends the CANCEL for this branch (RFC 3261 §9.1) on its own client transaction, over the
// connection the INVITE used, and waits at most Timer F for the INVITE's final response.
func (b *branch) sendCancelLocked() {
	if b.cancelSent || b.tx == nil || b.final != nil {
		return
	}
	p := b.pc.p
	b.cancelSent = true
	cancel := cancelRequest(b.req)
	key, err := sip.ClientTxKeyMake(cancel)
	if err != nil {
		return
	}
	b.out.conn.Ref(1)
	tx := sip.NewClientTx(key, cancel, b.out.conn, p.slog)
	if err := p.addClientTx(key, tx); err != nil {
		_, _ = b.out.conn.TryClose()
		return
	}
	if err := tx.Init(); err != nil {
		tx.Terminate()
		b.pc.log.Info("sending CANCEL failed", zap.Int("branch", b.idx), zap.Error(err))
	} else if !p.spawn(func() { drainFinal(tx) }) {
		tx.Terminate()
	}
	b.stopTimer()
	b.timer = time.AfterFunc(p.cfg.TimerF, b.cancelWaitFired)
}

// drainFinal reads a client transaction nobody waits on (our CANCELs) until its final response: sipgo blocks
// the transaction until each response is read.
func drainFinal(tx *sip.ClientTx) {
	for {
		select {
		case res := <-tx.Responses():
			if res.StatusCode >= 200 {
				return
			}
		case <-tx.Done():
			return
		}
	}
}

// cancelRequest builds the CANCEL for a forwarded INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, To, From,
// CSeq number and Route, the INVITE's top Via only (same branch), Max-Forwards 70, CSeq method CANCEL.
func cancelRequest(inv *sip.Request) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.SipVersion = inv.SipVersion
	c.AppendHeader(inv.Via().Clone())
	for _, r := range routeHeaders(inv) {
		c.AppendHeader(r.Clone())
	}
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	return c
}

// cancelFromUpstream handles a CANCEL matching this INVITE (RFC 3261 §16.10); its 200 has been sent already.
func (pc *proxyCtx) cancelFromUpstream() {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.finalCode != 0 || pc.canceled || pc.closed {
		return // already answered: the CANCEL has no effect (§9.2)
	}
	pc.canceled = true
	pc.noNewBranches = true
	pc.routeCancel()
	pc.log.Info("cancelled by upstream", zap.Int("branches", len(pc.branches)))
	pc.cancelPendingLocked(nil)
	pc.maybeFinishLocked()
}

// maybeFinishLocked sends the best final response once every branch has one (RFC 3261 §16.7 step 6), or, when
// the Decision asked for serial forwarding and the search may go on, hands it to Decision.OnFailure first.
func (pc *proxyCtx) maybeFinishLocked() {
	if pc.finalCode != 0 || !pc.startedAll || pc.closed || pc.consulting {
		return
	}
	for _, b := range pc.branches {
		if b.final == nil {
			return
		}
	}
	res, generated := pc.chooseBestLocked()
	if hook := pc.onFailure; hook != nil && !pc.canceled && !pc.noNewBranches &&
		res.StatusCode >= 300 && res.StatusCode < 600 {
		pc.onFailure = nil // a further Decision brings its own
		pc.consulting = true
		if pc.p.spawn(func() { pc.consultOnFailure(hook, res, generated) }) {
			return
		}
		pc.consulting = false
	}
	pc.sendBestLocked(res, generated)
}

// sendBestLocked sends the response chosen under §16.7 step 6 upstream.
func (pc *proxyCtx) sendBestLocked(res *sip.Response, generated bool) {
	if generated {
		pc.sendUpstreamLocked(res, true)
		return
	}
	pc.forwardLocked(res)
}

// consultOnFailure runs Decision.OnFailure for the best response of a round and carries out its verdict: send
// best upstream, answer locally, or start the next round of branches (RFC 3261 §16.6, serial search).
func (pc *proxyCtx) consultOnFailure(hook func(context.Context, *sip.Request, *sip.Response, bool) (*Decision, error),
	best *sip.Response, generated bool) {
	ctx, cancel := context.WithTimeout(pc.routeCtx, pc.p.cfg.RouteTimeout)
	next, err := pc.callOnFailure(ctx, hook, best, generated)
	cancel()
	pc.mu.Lock()
	pc.consulting = false
	switch {
	case pc.closed || pc.finalCode != 0:
		pc.mu.Unlock()
		return
	case err != nil:
		pc.mu.Unlock()
		pc.routeFailed(err)
		return
	case next == nil:
		pc.sendBestLocked(best, generated)
		pc.mu.Unlock()
		return
	case pc.canceled:
		pc.sendUpstreamLocked(pc.generated(sip.StatusRequestTerminated), true)
		pc.mu.Unlock()
		return
	}
	if next.Reply != nil {
		pc.mu.Unlock()
		pc.replyLocal(next.Reply)
		return
	}
	pc.round++
	pc.startedAll = false
	pc.mu.Unlock()
	pc.log.Debug("serial forwarding: next round", zap.Int("round", pc.round), zap.Int("after", best.StatusCode),
		zap.Int("targets", max(1, len(next.Targets))))
	pc.start(next, pc.hash)
}

func (pc *proxyCtx) callOnFailure(ctx context.Context, hook func(context.Context, *sip.Request, *sip.Response, bool) (*Decision, error),
	best *sip.Response, generated bool) (d *Decision, err error) {
	defer func() {
		if r := recover(); r != nil {
			pc.log.Error("OnFailure panicked", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			d, err = nil, fmt.Errorf("OnFailure panic: %v", r)
		}
	}()
	return hook(ctx, pc.req, best, generated)
}

// chooseBestLocked applies RFC 3261 §16.7 steps 6 and 7.
//
//   - No final response at all: 408.
//   - A 6xx wins. Otherwise the lowest class wins; within 4xx a response that lets the client resubmit (401,
//     407, 415, 420, 484) is preferred; a real response beats one this proxy generated; then the lowest code.
//   - A 503 is not forwarded: it would say this proxy is unavailable. If only 503s arrived (or were generated
//     for unreachable next hops, §16.9), the answer is 500.
//   - A chosen 401 or 407 carries the challenges of every other 401 and 407 (step 7).
//   - After a CANCEL from upstream, a generated timeout becomes 487 Request Terminated.
func (pc *proxyCtx) chooseBestLocked() (*sip.Response, bool) {
	var all []*branch
	for _, b := range pc.branches {
		// An earlier round's failures were already judged; a failed-over attempt is stood for by its successor.
		if b.final != nil && b.round == pc.round && !b.superseded {
			all = append(all, b)
		}
	}
	if len(all) == 0 {
		if pc.canceled {
			return pc.generated(sip.StatusRequestTerminated), true
		}
		return pc.generated(sip.StatusRequestTimeout), true
	}
	var cands []*branch
	for _, b := range all {
		if b.final.StatusCode >= 600 {
			cands = append(cands, b)
		}
	}
	if len(cands) == 0 {
		for _, b := range all {
			if b.final.StatusCode != sip.StatusServiceUnavailable {
				cands = append(cands, b)
			}
		}
		if len(cands) == 0 {
			if pc.canceled {
				return pc.generated(sip.StatusRequestTerminated), true
			}
			return pc.generated(sip.StatusInternalServerError), true
		}
		lowest := 7
		for _, b := range cands {
			lowest = min(lowest, b.final.StatusCode/100)
		}
		cands = filterBranches(cands, func(b *branch) bool { return b.final.StatusCode/100 == lowest })
	}
	best := cands[0]
	for _, b := range cands[1:] {
		if betterResponse(b, best) {
			best = b
		}
	}
	if pc.canceled && best.generated {
		return pc.generated(sip.StatusRequestTerminated), true
	}
	res := best.final
	if !best.generated && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) {
		for _, b := range all {
			if b == best || b.generated {
				continue
			}
			if c := b.final.StatusCode; c == sip.StatusUnauthorized || c == sip.StatusProxyAuthRequired {
				for _, name := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
					for _, h := range header.Fields(b.final, name) {
						res.AppendHeader(sip.HeaderClone(h))
					}
				}
			}
		}
	}
	return res, best.generated
}

func filterBranches(bs []*branch, keep func(*branch) bool) []*branch {
	var out []*branch
	for _, b := range bs {
		if keep(b) {
			out = append(out, b)
		}
	}
	return out
}

// betterResponse orders candidates of one class (see chooseBestLocked).
func betterResponse(a, b *branch) bool {
	if a.generated != b.generated {
		return !a.generated
	}
	pa, pb := resubmitHint(a.final.StatusCode), resubmitHint(b.final.StatusCode)
	if pa != pb {
		return pa
	}
	return a.final.StatusCode < b.final.StatusCode
}

// resubmitHint: responses that tell the client how to retry (RFC 3261 §16.7 step 6).
func resubmitHint(code int) bool {
	switch code {
	case sip.StatusUnauthorized, sip.StatusProxyAuthRequired, sip.StatusUnsupportedMediaType,
		sip.StatusBadExtension, sip.StatusAddressIncomplete:
		return true
	}
	return false
}

// generated builds a response of this proxy's own to the original request.
func (pc *proxyCtx) generated(code int) *sip.Response {
	return sip.NewResponseFromRequest(pc.req, code, reasonPhrase(code), nil)
}

// forwardLocked removes our Via (RFC 3261 §16.7 step 3) and sends a downstream response upstream.
func (pc *proxyCtx) forwardLocked(res *sip.Response) {
	res.RemoveHeader("Via")
	pc.sendUpstreamLocked(res, false)
}

// forwardRetransmission forwards a retransmitted 2xx to an INVITE (RFC 6026 §8.x: proxies forward them).
func (pc *proxyCtx) forwardRetransmission(res *sip.Response) {
	if !res.IsSuccess() {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.closed {
		return
	}
	pc.forwardLocked(res)
}

// sendUpstreamLocked sends res on the server transaction, enforcing that only a 2xx to an INVITE may follow a
// final response (§16.7 step 5).
func (pc *proxyCtx) sendUpstreamLocked(res *sip.Response, generated bool) {
	if pc.closed {
		return
	}
	final := res.StatusCode >= 200
	late2xx := false
	if pc.finalCode != 0 {
		if !final || !pc.invite || !res.IsSuccess() {
			return
		}
		late2xx = pc.finalCode >= 300
	}
	if pc.onResponse != nil {
		pc.onResponse(res, generated)
	}
	if final && pc.finalCode == 0 {
		pc.finalCode = res.StatusCode
		pc.markAnswered()
		pc.log.Debug("final response", zap.Int("code", res.StatusCode), zap.Bool("generated", generated))
	}
	var err error
	if late2xx {
		// The server transaction is Completed after a non-2xx and its state machine would drop this 2xx; RFC 3261
		// §16.7 step 5 still wants it forwarded, so it goes straight to the transport.
		err = pc.stx.Connection().WriteMsg(res)
	} else {
		err = pc.stx.Respond(res)
	}
	if err != nil {
		// RFC 3261 §16.9: a response that cannot be sent is dropped; branches are not cancelled for it.
		pc.log.Info("sending response upstream failed", zap.Int("code", res.StatusCode), zap.Error(err))
	}
}
