package hss

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/fastreg"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/logging"
)

// The access-bound fast registration at the HSS (issue 18, docs/fastreg.md "Core side"): the token
// application the access agent (PAA) pushes and drops tokens with (diameter/fastreg), and the token returned
// beside the vector in the MAA. Off unless fastreg.enabled is set and the store keeps tokens (TokenStore);
// then still off for every subscriber not switched on (TokenStore.SetFastReg, the provisioning API).

// RolePAA may send Token-Push and Token-Drop (diameter.peers[].roles): the access agents.
const RolePAA = "paa"

// Defaults of FastRegConfig.
const (
	// DefaultFastRegMaxLifetime caps the lifetime a PAA asks for: a token outliving any plausible access
	// session would keep opening one-pass registrations after the access authentication is stale.
	DefaultFastRegMaxLifetime = 24 * time.Hour
	// DefaultFastRegSweepInterval is how often expired tokens are cleared from the store (a read never
	// returns an expired one whatever the sweep).
	DefaultFastRegSweepInterval = time.Minute
)

// FastRegConfig is the HSS's part of the fast registration (configuration key fastreg).
type FastRegConfig struct {
	// Enabled is the global switch (default false): the token application is advertised in CER and served,
	// and MAAs carry the token. Each subscriber must be switched on as well.
	Enabled bool `yaml:"enabled"`
	// MaxLifetime caps the Token-Lifetime a PAA pushes (default 24h).
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// SweepInterval is how often expired tokens are cleared (default 1m).
	SweepInterval time.Duration `yaml:"sweep_interval"`
}

// DefaultFastRegConfig is the scheme off, with the default bounds.
func DefaultFastRegConfig() FastRegConfig {
	return FastRegConfig{MaxLifetime: DefaultFastRegMaxLifetime, SweepInterval: DefaultFastRegSweepInterval}
}

func (c FastRegConfig) validate() error {
	if c.MaxLifetime < time.Second {
		return fmt.Errorf("%w: fastreg.max_lifetime %s: want at least 1s", ErrInvalidConfig, c.MaxLifetime)
	}
	if c.SweepInterval < time.Second {
		return fmt.Errorf("%w: fastreg.sweep_interval %s: want at least 1s", ErrInvalidConfig, c.SweepInterval)
	}
	return nil
}

// tokenApp serves the token application. A nil *tokenApp is the scheme off: every method does nothing.
type tokenApp struct {
	cfg    FastRegConfig
	tokens TokenStore
	dict   *dict.Parser
	log    *zap.Logger
	host   string
	realm  string
	now    func() time.Time
}

// newTokenApp returns the token application when cfg turns it on (nil otherwise), its dictionary loaded
// into d. A store that keeps no tokens with the scheme on is a configuration error.
func newTokenApp(cfg Config, store CxStore, d *dict.Parser, log *zap.Logger) (*tokenApp, error) {
	fc := cfg.FastReg
	if !fc.Enabled {
		return nil, nil
	}
	if fc == (FastRegConfig{Enabled: true}) {
		fc = DefaultFastRegConfig() // a Config built by hand before fastreg existed
		fc.Enabled = true
	}
	if err := fc.validate(); err != nil {
		return nil, err
	}
	ts, ok := store.(TokenStore)
	if !ok {
		return nil, fmt.Errorf("%w: fastreg.enabled: the store (%T) keeps no tokens", ErrInvalidConfig, store)
	}
	if err := fastreg.Load(d); err != nil {
		return nil, err
	}
	return &tokenApp{cfg: fc, tokens: ts, dict: d, log: log.Named("fastreg"), host: cfg.Diameter.OriginHost,
		realm: cfg.Diameter.Realm, now: time.Now}, nil
}

// applications is what the HSS advertises in CER/CEA for the scheme (RFC 6733 §5.3): the token application
// in a Vendor-Specific-Application-Id.
func (a *tokenApp) applications() []peer.Application {
	if a == nil {
		return nil
	}
	return []peer.Application{{ID: fastreg.AppID, VendorID: fastreg.VendorID}}
}

// fastregCommands are the requests RolePAA may send.
func fastregCommands() []peer.Command {
	return []peer.Command{{App: fastreg.AppID, Code: uint32(fastreg.CmdTokenPush)}, {App: fastreg.AppID, Code: uint32(fastreg.CmdTokenDrop)}}
}

// serves reports whether req is for the token application (and the application is on).
func (a *tokenApp) serves(req *diam.Message) bool {
	return a != nil && req.Header.ApplicationID == fastreg.AppID
}

// serve answers a Token-Push or Token-Drop. A request that does not decode gets the decoder's result
// (DIAMETER_MISSING_AVP, DIAMETER_INVALID_AVP_VALUE with Failed-AVP). A push for a subscriber with the scheme
// off, or for an IMPI the HSS does not know, gets DIAMETER_AUTHORIZATION_REJECTED (RFC 6733 §7.1.5): the Cx
// DIAMETER_ERROR_USER_UNKNOWN belongs to the Cx application, and the PAA need not learn which case it was.
func (a *tokenApp) serve(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	start := a.now()
	cmd := fastreg.Command(req.Header.CommandCode)
	var (
		sessionID, impi string
		err             error
	)
	switch cmd {
	case fastreg.CmdTokenPush:
		var r fastreg.TPR
		if err = r.Unmarshal(req); err == nil {
			sessionID, impi = r.SessionID, r.UserName
			lifetime := min(time.Duration(r.Lifetime)*time.Second, a.cfg.MaxLifetime)
			err = a.tokens.PutToken(ctx, impi, r.Token, start.Add(lifetime))
		}
	case fastreg.CmdTokenDrop:
		var r fastreg.TDR
		if err = r.Unmarshal(req); err == nil {
			sessionID, impi = r.SessionID, r.UserName
			_, err = a.tokens.DropToken(ctx, impi)
		}
	default:
		return nil, diameter.Errorf(diameter.CommandUnsupported, "command %d of the token application", cmd)
	}
	if sessionID == "" {
		sessionID = sessionIDOf(req)
	}
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrFastRegOff):
		err = &diameter.Error{Code: diameter.AuthorizationRejected, Err: err}
	}
	log := a.log.With(zap.Stringer("command", cmd), logging.SessionID(sessionID), logging.IMPI(impi),
		zap.String("peer", from.OriginHost), zap.Duration("took", a.now().Sub(start)))
	var de *diameter.Error
	switch {
	case err == nil:
		log.Debug("token application request served")
	case errors.As(err, &de):
		log.Info("token application request refused", zap.Uint32("result", uint32(de.Code)), zap.Error(err))
	default:
		log.Warn("token application request failed", zap.Error(err))
	}
	if errors.As(err, &de) && de.Code.IsProtocolError() {
		return nil, err
	}
	ans := fastreg.NewAnswer(cmd, sessionID, impi)
	ans.SetOrigin(a.host, a.realm)
	ans.SetError(err)
	m, merr := ans.Marshal(a.dict)
	if merr != nil {
		return nil, fmt.Errorf("token application answer: %w", merr)
	}
	if de != nil && len(de.FailedAVPs) > 0 {
		m.NewAVP(279, 0x40, 0, &diam.GroupedAVP{AVP: de.FailedAVPs}) // Failed-AVP (RFC 6733 §7.5)
	}
	return m, nil
}

// sessionIDOf is the Session-Id of a request that did not decode, for the answer (RFC 6733 §6.2).
func sessionIDOf(req *diam.Message) string {
	for _, a := range req.AVP {
		if a.Code == 263 && a.VendorID == 0 && a.Data != nil {
			return string(a.Data.Serialize())
		}
	}
	return ""
}

// attach puts impi's unexpired token beside the vector in a successful MAA, as a Token AVP (vendor 32473,
// code 100) at the MAA's top level: TS 29.229 §6.1.8 ends the MAA with *[ AVP ], and a Cx peer that does not
// know the AVP ignores it ('M' clear). A store failure costs the one-pass registration, not the MAA: the
// S-CSCF then challenges as usual.
func (a *tokenApp) attach(ctx context.Context, t *txn, impi string, ans *cx.MAA) {
	if a == nil {
		return
	}
	token, _, err := a.tokens.Token(ctx, impi, a.now())
	if err != nil {
		a.log.Warn("token read failed; MAA without token", logging.IMPI(impi), zap.Error(err))
		return
	}
	if token == nil {
		return
	}
	ans.Unknown = append(ans.Unknown, fastreg.TokenAVP(token))
	t.add(zap.Bool("fastreg_token", true))
}

// sweep clears expired tokens every SweepInterval until ctx ends.
func (a *tokenApp) sweep(ctx context.Context) {
	tick := time.NewTicker(a.cfg.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if n, err := a.tokens.ExpireTokens(ctx, a.now()); err != nil && ctx.Err() == nil {
				a.log.Warn("expiring tokens failed", zap.Error(err))
			} else if n > 0 {
				a.log.Debug("expired tokens cleared", zap.Int("tokens", n))
			}
		}
	}
}
