package hss

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/logging"
)

// Operations: the network-initiated procedures (RTR, TS 29.228 §6.1.3; PPR, §6.2.2) run in the background
// and kept, for a bounded time and number, with their outcome. An S-CSCF may never answer (Kamailio 5.6 does
// not answer PPR): a caller that must not block for the whole Diameter timeout (the provisioning API) starts
// the procedure (Server.StartDeregister, Server.StartPushProfile) and reads its Operation back later.

// OperationState is where an operation is: pending until its procedure ends, then succeeded or failed.
type OperationState string

// Operation states.
const (
	OperationPending   OperationState = "pending"
	OperationSucceeded OperationState = "succeeded"
	OperationFailed    OperationState = "failed"
)

// Outcomes of a finished operation: the "outcome" label of hss_cx_procedures_total, and Operation.Outcome.
const (
	OutcomeSucceeded   = "succeeded"   // the S-CSCF answered DIAMETER_SUCCESS (or LIMITED_SUCCESS, RTR) or nothing was due
	OutcomeRefused     = "refused"     // the S-CSCF answered with an error (Operation.Answer has the code)
	OutcomeTimeout     = "timeout"     // no answer within diameter.request_timeout
	OutcomeUnreachable = "unreachable" // the serving S-CSCF has no open Diameter connection, or the connection was lost
	OutcomeCancelled   = "cancelled"   // the HSS stopped before the procedure ended
	OutcomeError       = "error"       // anything else: the subscriber vanished, a store failure
	OutcomeRejected    = "rejected"    // not started: cx.operations.max operations are pending (never an Operation's)
)

// Operation is one network-initiated procedure as it was when read: a copy, read it again for news.
type Operation struct {
	// ID names the operation (32 hex digits, random).
	ID string
	// Command is cx.CmdRegistrationTermination or cx.CmdPushProfile.
	Command cx.Command
	// IMPI is the private identity the procedure is for; IMPUs the public identities asked for (RTR; empty:
	// all), Reason the Deregistration-Reason (RTR only).
	IMPI   string
	IMPUs  []string
	Reason cx.ReasonCode
	State  OperationState
	// Created is when the operation was started, Finished when it ended (zero while pending).
	Created  time.Time
	Finished time.Time
	// Err is why a failed operation failed; errors.As finds the *AnswerError of a refusal.
	Err error
}

// Outcome classifies a finished operation (Outcome* constants); "" while pending.
func (o Operation) Outcome() string {
	if o.State == OperationPending {
		return ""
	}
	return outcomeOf(o.Err)
}

// Answer returns the S-CSCF's error answer of a refused operation, or nil.
func (o Operation) Answer() *AnswerError {
	var ae *AnswerError
	if errors.As(o.Err, &ae) {
		return ae
	}
	return nil
}

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeSucceeded
	case errors.Is(err, ErrRefused):
		return OutcomeRefused
	case errors.Is(err, peer.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return OutcomeTimeout
	case errors.Is(err, ErrServerClosed), errors.Is(err, context.Canceled), errors.Is(err, peer.ErrClosed):
		return OutcomeCancelled
	case errors.Is(err, ErrSCSCFUnreachable), errors.Is(err, peer.ErrConnectionLost), errors.Is(err, peer.ErrPeerDisconnected):
		return OutcomeUnreachable
	}
	return OutcomeError
}

// OperationsConfig bounds the operations an HSS keeps (cx.operations).
type OperationsConfig struct {
	// Max is how many operations are kept, pending and finished. When full, the oldest finished one is
	// dropped for a new one; when every kept operation is still pending, a new one is refused
	// (ErrTooManyOperations).
	Max int `yaml:"max"`
	// Retention is how long a finished operation can still be read.
	Retention time.Duration `yaml:"retention"`
	// Concurrency is how many procedures run at once; the others wait, pending, for their turn (a profile
	// change touching many registered users does not send all its PPRs at once).
	Concurrency int `yaml:"concurrency"`
}

// Defaults of OperationsConfig.
const (
	DefaultMaxOperations         = 10000
	DefaultOperationRetention    = time.Hour
	DefaultOperationsConcurrency = 16
)

// DefaultOperationsConfig returns the defaults.
func DefaultOperationsConfig() OperationsConfig {
	return OperationsConfig{Max: DefaultMaxOperations, Retention: DefaultOperationRetention, Concurrency: DefaultOperationsConcurrency}
}

// Validate reports the first bad field, named as in the configuration file under cx.operations.
func (c OperationsConfig) Validate() error {
	switch {
	case c.Max < 1:
		return fmt.Errorf("max: %d: want at least 1", c.Max)
	case c.Retention <= 0:
		return fmt.Errorf("retention: %v: want a positive duration", c.Retention)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency: %d: want at least 1", c.Concurrency)
	}
	return nil
}

// Operations runs network-initiated procedures in goroutines it owns and keeps their outcome: at most
// Max operations, finished ones for Retention. Close cancels the running ones and waits for them. All
// methods are safe for concurrent use.
type Operations struct {
	cfg     OperationsConfig
	metrics *Metrics
	log     *zap.Logger
	ctx     context.Context // ends at Close: the procedures' context
	cancel  context.CancelFunc
	slots   chan struct{} // Concurrency procedures at once
	wg      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	byID   map[string]*operation
	order  []*operation // creation order, oldest first
}

// operation is a kept Operation; its fields are guarded by Operations.mu, done is closed when it ends.
type operation struct {
	Operation
	done chan struct{}
}

// snapshot is a copy of k for a caller, sharing nothing it could change. Called with mu held.
func (k *operation) snapshot() Operation {
	op := k.Operation
	op.IMPUs = slices.Clone(op.IMPUs)
	return op
}

// NewOperations returns an empty set of operations; metrics and log may be nil.
func NewOperations(cfg OperationsConfig, metrics *Metrics, log *zap.Logger) (*Operations, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: cx.operations.%v", ErrInvalidConfig, err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	o := &Operations{cfg: cfg, metrics: metrics, log: log, slots: make(chan struct{}, cfg.Concurrency),
		byID: make(map[string]*operation)}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	return o, nil
}

// Start keeps a new pending operation described by op (Command, IMPI, IMPUs, Reason) and runs run in the
// background with a context that ends at Close; run's error is the operation's outcome. It fails with
// ErrServerClosed after Close, and ErrTooManyOperations when Max operations are kept and all are pending.
func (o *Operations) Start(op Operation, run func(ctx context.Context) error) (Operation, error) {
	id, err := newOperationID()
	if err != nil {
		return Operation{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return Operation{}, ErrServerClosed
	}
	now := time.Now()
	o.prune(now)
	if len(o.order) >= o.cfg.Max {
		o.metrics.observeProcedureRejected(op.Command)
		return Operation{}, fmt.Errorf("%s %s: %w (%d pending)", op.Command.Request(), op.IMPI, ErrTooManyOperations, len(o.order))
	}
	k := &operation{Operation: op, done: make(chan struct{})}
	k.ID, k.State, k.Created, k.Finished, k.Err = id, OperationPending, now, time.Time{}, nil
	k.IMPUs = slices.Clone(op.IMPUs)
	o.byID[id] = k
	o.order = append(o.order, k)
	o.metrics.observeProcedureStarted(k.Command)
	started := k.snapshot()
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.finish(k, o.run(run))
	}()
	return started, nil
}

// run waits for a slot and runs fn. A panic in fn is the operation's error (logged with its stack), never
// the end of the HSS.
func (o *Operations) run(fn func(ctx context.Context) error) (err error) {
	select {
	case o.slots <- struct{}{}:
	case <-o.ctx.Done():
		return ErrServerClosed
	}
	defer func() { <-o.slots }()
	defer func() {
		if p := recover(); p != nil {
			o.log.Error("network-initiated procedure panicked", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return fn(o.ctx)
}

// finish records the outcome of k.
func (o *Operations) finish(k *operation, err error) {
	o.mu.Lock()
	k.Finished, k.Err = time.Now(), err
	k.State = OperationSucceeded
	if err != nil {
		k.State = OperationFailed
	}
	op := k.snapshot()
	close(k.done)
	o.mu.Unlock()
	outcome := op.Outcome()
	o.metrics.observeProcedureFinished(op.Command, outcome)
	fields := []zap.Field{zap.String("operation", op.ID), zap.Stringer("command", op.Command), logging.IMPI(op.IMPI),
		zap.String("outcome", outcome), zap.Duration("took", op.Finished.Sub(op.Created))}
	if err != nil {
		o.log.Info("cx "+op.Command.Request()+" operation failed", append(fields, zap.Error(err))...)
		return
	}
	o.log.Debug("cx "+op.Command.Request()+" operation succeeded", fields...)
}

// prune drops the finished operations older than Retention from the front, and when Max are kept, every
// expired one and then the oldest finished one. Called with mu held.
func (o *Operations) prune(now time.Time) {
	for len(o.order) > 0 && o.expired(o.order[0], now) {
		delete(o.byID, o.order[0].ID)
		o.order[0] = nil
		o.order = o.order[1:]
	}
	if len(o.order) < o.cfg.Max {
		return
	}
	o.order = slices.DeleteFunc(o.order, func(k *operation) bool {
		if o.expired(k, now) {
			delete(o.byID, k.ID)
			return true
		}
		return false
	})
	if len(o.order) < o.cfg.Max {
		return
	}
	if i := slices.IndexFunc(o.order, func(k *operation) bool { return k.State != OperationPending }); i >= 0 {
		delete(o.byID, o.order[i].ID)
		o.order = slices.Delete(o.order, i, i+1)
	}
}

func (o *Operations) expired(k *operation, now time.Time) bool {
	return k.State != OperationPending && now.Sub(k.Finished) > o.cfg.Retention
}

// Get returns the operation id. An unknown or expired one is ErrOperationNotFound (which wraps
// ErrNotFound).
func (o *Operations) Get(id string) (Operation, error) {
	k, err := o.lookup(id)
	if err != nil {
		return Operation{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return k.snapshot(), nil
}

func (o *Operations) lookup(id string) (*operation, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	k, ok := o.byID[id]
	if !ok || o.expired(k, time.Now()) {
		return nil, fmt.Errorf("operation %q: %w", id, ErrOperationNotFound)
	}
	return k, nil
}

// Wait waits until the operation id has ended and returns it; when ctx ends first, it returns the operation
// as it is (pending) with ctx's error.
func (o *Operations) Wait(ctx context.Context, id string) (Operation, error) {
	k, err := o.lookup(id)
	if err != nil {
		return Operation{}, err
	}
	select {
	case <-k.done:
	case <-ctx.Done():
		o.mu.Lock()
		defer o.mu.Unlock()
		return k.snapshot(), fmt.Errorf("wait for operation %s: %w", id, ctx.Err())
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return k.snapshot(), nil
}

// List returns the kept operations, newest first: those of impi, or all when impi is empty.
func (o *Operations) List(impi string) []Operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	out := make([]Operation, 0, len(o.order))
	for i := len(o.order) - 1; i >= 0; i-- {
		k := o.order[i]
		if (impi == "" || k.IMPI == impi) && !o.expired(k, now) {
			out = append(out, k.snapshot())
		}
	}
	return out
}

// Close refuses new operations, cancels the running ones (they end failed, outcome cancelled) and waits
// for their goroutines until ctx ends.
func (o *Operations) Close(ctx context.Context) error {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cancel()
	if err := waitGroup(ctx, &o.wg); err != nil {
		return fmt.Errorf("operations close: %w", err)
	}
	return nil
}

// waitGroup waits for wg until ctx ends (then returns ctx's error; the waiting goroutine ends with wg).
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newOperationID returns 128 random bits in hex: not guessable, so that knowing one operation's id tells
// nothing of another's.
func newOperationID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("operation id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
