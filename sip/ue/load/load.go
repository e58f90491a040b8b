// Package load is the UE simulator's load generator: a pool of simulated UEs (sip/ue, one per
// IMSI, each with its own sockets), driven open-loop at a target rate of registrations,
// re-registrations, de-registrations, MESSAGEs or calls through a P-CSCF, reporting achieved
// rate, failures by cause and latency percentiles, optionally stepping the rate up until the
// failure ratio reaches a limit. cmd/imsue's "load" command is its front end (`imsue load
// --help`); Report's JSON field names are a contract with `make bench`.
//
// Ownership: Engine.Run starts one goroutine per operation in flight and waits for all of them
// before it returns; Engine.Close de-registers what is registered (bounded in time) and closes
// every UE.
package load

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/ue"
)

// Config of a load run.
type Config struct {
	// UE is the template of every simulated UE: PCSCF, Transport, Keys, SecAgree, Offer, SAs,
	// InNamespace, Local, Expires and Timeout. IMPI and IMPU are set per UE from the IMSI.
	UE ue.Config
	// UEs is the pool size. Default 100.
	UEs int
	// FirstIMSI is the IMSI of UE 0; UE i has FirstIMSI+i, 15 digits zero padded. Its IMPI is
	// <imsi>@<Domain> and its IMPU sip:<imsi>@<Domain>.
	FirstIMSI string
	// Domain is the home domain. Default ims.mnc001.mcc001.3gppnetwork.org.
	Domain string
	// Scenario is the operation. Default register.
	Scenario Scenario
	// Mix weighs the operations of ScenarioMix. Default DefaultMix.
	Mix Mix
	// Rate is the target in operations per second (of the first step). Default 10.
	Rate float64
	// Duration of a run, or of each step. Default 30 s.
	Duration time.Duration
	// StepUp raises the rate by StepFactor after each step whose failure ratio is under
	// MaxFailureRatio and stops at the first that is not (or after MaxSteps steps).
	StepUp     bool
	StepFactor float64 // default 1.5
	// MaxFailureRatio is the failure limit. Default 0.001 (0.1 %).
	MaxFailureRatio float64
	// MaxSteps bounds the steps of a step-up run; 0 means no bound.
	MaxSteps int
	// Hold is how long a call stays up between its 200 and its BYE. Default 0.
	Hold time.Duration
	// SetupConcurrency bounds the registrations in flight while the pool is prepared (and the
	// de-registrations at Close). Default 32.
	SetupConcurrency int
	// TeardownTimeout bounds Close's de-registrations. Default 15 s.
	TeardownTimeout time.Duration
	// Version goes into the report.
	Version string
}

// Defaults used by Config.defaults and the CLI.
const (
	DefaultUEs              = 100
	DefaultFirstIMSI        = "001010000100000"
	DefaultDomain           = "ims.mnc001.mcc001.3gppnetwork.org"
	DefaultRate             = 10.0
	DefaultDuration         = 30 * time.Second
	DefaultStepFactor       = 1.5
	DefaultMaxFailureRatio  = 0.001
	DefaultSetupConcurrency = 32
	DefaultTeardownTimeout  = 15 * time.Second
)

func (c *Config) defaults() error {
	if c.UEs == 0 {
		c.UEs = DefaultUEs
	}
	if c.FirstIMSI == "" {
		c.FirstIMSI = DefaultFirstIMSI
	}
	if c.Domain == "" {
		c.Domain = DefaultDomain
	}
	if c.Scenario == "" {
		c.Scenario = ScenarioRegister
	}
	if c.Scenario == ScenarioMix && c.Mix == nil {
		c.Mix = DefaultMix()
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.StepFactor == 0 {
		c.StepFactor = DefaultStepFactor
	}
	if c.MaxFailureRatio == 0 {
		c.MaxFailureRatio = DefaultMaxFailureRatio
	}
	if c.SetupConcurrency == 0 {
		c.SetupConcurrency = DefaultSetupConcurrency
	}
	if c.TeardownTimeout == 0 {
		c.TeardownTimeout = DefaultTeardownTimeout
	}
	return c.Validate()
}

// Validate reports the first unusable field.
func (c *Config) Validate() error {
	switch {
	case c.UEs < 1:
		return fmt.Errorf("%w: ues %d: want at least 1", ErrConfig, c.UEs)
	case (c.Scenario == ScenarioMessage || c.Scenario == ScenarioCall || c.Scenario == ScenarioMix) && c.UEs < 2:
		return fmt.Errorf("%w: %s needs at least 2 UEs (a caller and a callee)", ErrConfig, c.Scenario)
	case c.Rate <= 0:
		return fmt.Errorf("%w: rate %g: want > 0", ErrConfig, c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("%w: duration %v: want > 0", ErrConfig, c.Duration)
	case c.Rate*c.Duration.Seconds() < 1:
		return fmt.Errorf("%w: rate %g for %v offers no operation", ErrConfig, c.Rate, c.Duration)
	case c.StepFactor <= 1:
		return fmt.Errorf("%w: step factor %g: want > 1", ErrConfig, c.StepFactor)
	case c.MaxFailureRatio <= 0 || c.MaxFailureRatio > 1:
		return fmt.Errorf("%w: max failure ratio %g: want in (0, 1]", ErrConfig, c.MaxFailureRatio)
	case c.MaxSteps < 0:
		return fmt.Errorf("%w: max steps %d: want ≥ 0", ErrConfig, c.MaxSteps)
	case c.Hold < 0:
		return fmt.Errorf("%w: hold %v: want ≥ 0", ErrConfig, c.Hold)
	case c.SetupConcurrency < 1:
		return fmt.Errorf("%w: setup concurrency %d: want ≥ 1", ErrConfig, c.SetupConcurrency)
	}
	if _, err := ParseScenario(string(c.Scenario)); err != nil {
		return err
	}
	if c.Scenario == ScenarioMix && c.Mix.total() == 0 {
		return fmt.Errorf("%w: mix has no operation", ErrConfig)
	}
	if _, err := IMSI(c.FirstIMSI, c.UEs-1); err != nil {
		return err
	}
	return nil
}

// IMSI is first+i as 15 digits.
func IMSI(first string, i int) (string, error) {
	if len(first) != 15 {
		return "", fmt.Errorf("%w: first IMSI %q: want 15 digits", ErrConfig, first)
	}
	n, err := strconv.ParseUint(first, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: first IMSI %q: want 15 digits", ErrConfig, first)
	}
	v := n + uint64(i)
	if v > 999_999_999_999_999 {
		return "", fmt.Errorf("%w: IMSI %s + %d has more than 15 digits", ErrConfig, first, i)
	}
	return fmt.Sprintf("%015d", v), nil
}

// Identities are the IMPI and IMPU of an IMSI in domain (TS 23.003 §13.3, §13.4B).
func Identities(imsi, domain string) (impi, impu string) {
	return imsi + "@" + domain, "sip:" + imsi + "@" + domain
}

// member is one UE of the pool.
type member struct {
	u          *ue.UE
	impu       string
	registered atomic.Bool  // as of its last finished operation
	etag       atomic.Value // string: the SIP-ETag of its last PUBLISH (ScenarioPresence)
}

// Engine is a pool of UEs and the runs over it. Run may be called more than once (the UEs keep
// their registrations between runs); Close once at the end.
type Engine struct {
	cfg     Config
	log     *zap.Logger
	members []*member
	idle    chan int // indices of members no operation is using

	rngMu sync.Mutex
	rng   *rand.Rand

	setupOnce sync.Once
	setup     *Setup
	setupErr  error
	closeOnce sync.Once
	meter     meter // Progress
}

// New creates the pool: cfg.UEs UEs with their sockets bound, none registered yet.
func New(cfg Config, log *zap.Logger) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	e := &Engine{cfg: cfg, log: log, idle: make(chan int, cfg.UEs),
		rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
	for i := range cfg.UEs {
		imsi, err := IMSI(cfg.FirstIMSI, i)
		if err != nil {
			e.closeUEs()
			return nil, err
		}
		uc := cfg.UE
		uc.IMPI, uc.IMPU = Identities(imsi, cfg.Domain)
		uc.Domain = cfg.Domain
		u, err := ue.New(uc, log.Named("ue"))
		if err != nil {
			e.closeUEs()
			return nil, fmt.Errorf("load: ue %d (%s): %w", i, imsi, err)
		}
		e.members = append(e.members, &member{u: u, impu: uc.IMPU})
		e.idle <- i
	}
	return e, nil
}

// IMPUs lists the pool's public identities, UE 0 first.
func (e *Engine) IMPUs() []string {
	out := make([]string, len(e.members))
	for i, m := range e.members {
		out[i] = m.impu
	}
	return out
}

// Contact is UE i's registered contact address (its protected server port with sec-agree).
func (e *Engine) Contact(i int) netip.AddrPort { return e.members[i].u.Contact() }

// Registration is UE i's current registration, nil when it is not registered.
func (e *Engine) Registration(i int) *ue.Registration { return e.members[i].u.Registration() }

func (e *Engine) intn(n int) int {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return e.rng.IntN(n)
}

// prepare registers every UE once before the first run of a scenario that starts from
// registered UEs; UEs whose registration fails stay out of the pool's operations. It fails
// only when no UE could register.
func (e *Engine) prepare(ctx context.Context) (*Setup, error) {
	e.setupOnce.Do(func() {
		if e.cfg.Scenario == ScenarioRegister {
			return
		}
		s := &Setup{FailuresByCause: map[string]int{}}
		var mu sync.Mutex
		e.meter.begin(PhaseSetup, 0, len(e.members), 0)
		e.eachMember(ctx, func(ctx context.Context, i int, m *member) {
			_, err := m.u.Register(ctx)
			e.meter.tick(err)
			m.registered.Store(m.u.Registration() != nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				s.Failed++
				s.FailuresByCause[Cause(err)]++
				e.log.Debug("setup registration failed", logging.IMPU(m.impu), zap.Error(err))
				return
			}
			s.Registered++
		})
		// Only UEs that registered take part.
		for len(e.idle) > 0 {
			<-e.idle
		}
		for i, m := range e.members {
			if m.registered.Load() {
				e.idle <- i
			}
		}
		e.setup = s
		if s.Registered == 0 {
			e.setupErr = fmt.Errorf("%w: %d failures, by cause %v", ErrNoUsableUE, s.Failed, s.FailuresByCause)
		}
	})
	return e.setup, e.setupErr
}

// eachMember runs fn for every member with at most SetupConcurrency at a time, and waits.
func (e *Engine) eachMember(ctx context.Context, fn func(ctx context.Context, i int, m *member)) {
	sem := make(chan struct{}, e.cfg.SetupConcurrency)
	var wg sync.WaitGroup
	for i, m := range e.members {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(ctx, i, m)
		})
	}
	wg.Wait()
}

// Close de-registers every registered UE (at most TeardownTimeout in all, best effort) and
// closes the UEs. It returns how many UEs were left registered. Run must have returned.
func (e *Engine) Close() (left int) {
	e.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.TeardownTimeout)
		defer cancel()
		e.eachMember(ctx, func(ctx context.Context, _ int, m *member) {
			if m.u.Registration() == nil {
				return
			}
			if err := m.u.Deregister(ctx); err != nil {
				e.log.Debug("de-registration at close failed", logging.IMPU(m.impu), zap.Error(err))
			}
		})
		for _, m := range e.members {
			if m.u.Registration() != nil {
				left++
			}
		}
		e.closeUEs()
	})
	return left
}

func (e *Engine) closeUEs() {
	var wg sync.WaitGroup
	for _, m := range e.members {
		wg.Go(m.u.Close)
	}
	wg.Wait()
}
