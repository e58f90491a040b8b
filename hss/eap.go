package hss

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/eapapp"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/services/paa/eaptls"
)

// The HSS as the EAP-TLS server of the access-bound fast registration (issue 18, "use case 2",
// docs/fastreg.md): a PAA relays its UEs' EAP over the Diameter EAP application (RFC 4072, DER/DEA); on
// success the HSS keeps the token exported from the TLS session for the IMPI the UE's certificate names,
// and drops it when the PAA ends the session (STR, RFC 6733 §8.4).

// RolePAA (fastreg.go) may also send DER (RFC 4072 §3.1) and STR (RFC 6733 §8.4.1) on the Diameter EAP
// application when the EAP server is on.

// Defaults of the HSS's EAP server.
const (
	DefaultEAPLifetime         = time.Hour
	DefaultEAPMultiRoundTimout = 30 * time.Second
	DefaultEAPMaxSessions      = 10000
)

// AccessTokenSink keeps the access tokens the HSS's EAP server grants: one per IMPI, with an expiry. The
// HSS's token store implements it (docs/fastreg.md); Drop removes the IMPI's token only if it is token.
type AccessTokenSink interface {
	StoreAccessToken(ctx context.Context, impi string, token []byte, expires time.Time) error
	DropAccessToken(ctx context.Context, impi string, token []byte) error
}

// EAPOptions turn on the Diameter EAP application of the HSS.
type EAPOptions struct {
	// TLS is the EAP-TLS server's certificate and ClientCAs (the operator CA of the UE certificates).
	TLS *tls.Config
	// Fragment is the TLS data per EAP-TLS packet (default eaptls.DefaultFragment).
	Fragment int
	// Lifetime is the token's validity, sent as Session-Timeout (default DefaultEAPLifetime).
	Lifetime time.Duration
	// MultiRoundTimeout bounds the wait for the next DER of a session (default DefaultEAPMultiRoundTimout).
	MultiRoundTimeout time.Duration
	// MaxSessions bounds the EAP sessions kept (default DefaultEAPMaxSessions).
	MaxSessions int
	// Tokens keeps the tokens; nil: the HSS authenticates but keeps no token (the UE falls back to AKA).
	Tokens AccessTokenSink
}

func (o EAPOptions) withDefaults() EAPOptions {
	if o.Lifetime <= 0 {
		o.Lifetime = DefaultEAPLifetime
	}
	if o.MultiRoundTimeout <= 0 {
		o.MultiRoundTimeout = DefaultEAPMultiRoundTimout
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultEAPMaxSessions
	}
	return o
}

// eapSession is one DER/DEA session: the EAP-TLS server while it runs, the grant once it succeeded.
type eapSession struct {
	mu      sync.Mutex
	peer    string // the Origin-Host of its first DER: no other peer may continue or end it
	srv     *eaptls.Server
	started bool // the first DER came
	expires time.Time
	impi    string
	token   []byte
}

// eapServer serves the Diameter EAP application.
type eapServer struct {
	opts        EAPOptions
	originHost  string
	originRealm string
	dict        *dict.Parser
	log         *zap.Logger

	mu        sync.Mutex
	sessions  map[string]*eapSession
	lastSweep time.Time
}

func newEAPServer(opts EAPOptions, originHost, originRealm string, d *dict.Parser, log *zap.Logger) (*eapServer, error) {
	if opts.TLS == nil || len(opts.TLS.Certificates) == 0 || opts.TLS.ClientCAs == nil {
		return nil, fmt.Errorf("%w: eap: a certificate and the UE CA are required", ErrInvalidConfig)
	}
	if err := eapapp.Load(d); err != nil {
		return nil, err
	}
	if opts.Tokens == nil {
		log.Warn("eap: no access token store: UEs authenticate, no token is kept")
	}
	return &eapServer{opts: opts.withDefaults(), originHost: originHost, originRealm: originRealm, dict: d, log: log,
		sessions: map[string]*eapSession{}}, nil
}

// eapPermissions are the requests of RolePAA.
func eapPermissions() []peer.Command {
	return []peer.Command{{App: eapapp.AppID, Code: eapapp.CmdDiameterEAP}, {App: eapapp.AppID, Code: eapapp.CmdSessionTermination}}
}

func (e *eapServer) serve(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	switch req.Header.CommandCode {
	case eapapp.CmdDiameterEAP:
		var der eapapp.DER
		if err := der.Unmarshal(req); err != nil {
			return nil, err
		}
		return e.der(ctx, &der, from).Marshal(e.dict)
	case eapapp.CmdSessionTermination:
		var str eapapp.STR
		if err := str.Unmarshal(req); err != nil {
			return nil, err
		}
		return e.str(ctx, &str, from).Marshal(e.dict)
	}
	return nil, diameter.Errorf(diameter.CommandUnsupported, "eap: command %d", req.Header.CommandCode)
}

// session returns the session of der, making it for the first DER; nil when full or owned by another peer.
func (e *eapServer) session(der *eapapp.DER, from string) (*eapSession, bool) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Sub(e.lastSweep) > time.Second {
		e.lastSweep = now
		for id, s := range e.sessions {
			if s.mu.TryLock() {
				if now.After(s.expires) {
					if s.srv != nil {
						s.srv.Close()
					}
					delete(e.sessions, id)
				}
				s.mu.Unlock()
			}
		}
	}
	s, ok := e.sessions[der.SessionID]
	if ok {
		return s, s.peer == from
	}
	if len(e.sessions) >= e.opts.MaxSessions {
		return nil, false
	}
	s = &eapSession{peer: from, srv: eaptls.NewServer(eaptls.ServerConfig{TLS: e.opts.TLS, Fragment: e.opts.Fragment}),
		expires: now.Add(e.opts.MultiRoundTimeout)}
	e.sessions[der.SessionID] = s
	return s, true
}

func (e *eapServer) forget(id string, s *eapSession) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sessions[id] == s {
		delete(e.sessions, id)
	}
}

// der runs one EAP round (RFC 4072 §2.1): the response to the server, its next packet in the DEA.
func (e *eapServer) der(ctx context.Context, der *eapapp.DER, from peer.PeerInfo) *eapapp.DEA {
	dea := eapapp.NewDEA(der, e.originHost, e.originRealm)
	log := e.log.With(zap.String("session_id", der.SessionID), zap.String("peer", from.OriginHost))
	s, ok := e.session(der, from.OriginHost)
	if s == nil {
		dea.ResultCode = uint32(diameter.TooBusy)
		return dea
	}
	if !ok {
		dea.ResultCode, dea.ErrorMessage = uint32(diameter.UnknownSessionID), "session of another peer"
		return dea
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil { // finished: a DER after success or failure
		dea.ResultCode = uint32(diameter.UnknownSessionID)
		return dea
	}
	if len(der.EAPPayload) == 0 && !s.started {
		// RFC 4072 §2.1: a DER with an empty EAP-Payload starts the conversation; the server's first request
		// is EAP-Request/Identity.
		s.started = true
		s.expires = time.Now().Add(e.opts.MultiRoundTimeout)
		dea.ResultCode, dea.EAPPayload, dea.MultiRoundTimeOut = uint32(diameter.MultiRoundAuth), s.srv.Start(), uint32(e.opts.MultiRoundTimeout/time.Second)
		return dea
	}
	out, res, err := s.srv.Handle(der.EAPPayload)
	switch {
	case err != nil:
		log.Info("eap-tls refused", zap.String("identity", s.srv.Identity()), zap.Error(err))
		s.srv.Close()
		s.srv = nil
		e.forget(der.SessionID, s)
		dea.ResultCode, dea.EAPPayload = uint32(diameter.AuthenticationRejected), out
	case res != nil:
		s.srv.Close()
		s.srv = nil
		s.impi, s.token = res.IMPI, res.Token
		s.expires = time.Now().Add(e.opts.Lifetime)
		dea.ResultCode, dea.EAPPayload, dea.UserName = uint32(diameter.Success), out, res.IMPI
		dea.EAPMasterSessionKy, dea.SessionTimeout = res.MSK, e.opts.Lifetime
		if e.opts.Tokens != nil {
			if err := e.opts.Tokens.StoreAccessToken(ctx, res.IMPI, res.Token, s.expires); err != nil {
				log.Error("access token not stored: the UE will fall back to AKA", zap.String("impi", res.IMPI), zap.Error(err))
			}
		}
		log.Info("eap-tls success", zap.String("impi", res.IMPI), zap.Duration("lifetime", e.opts.Lifetime))
	default:
		s.expires = time.Now().Add(e.opts.MultiRoundTimeout)
		dea.ResultCode, dea.EAPPayload, dea.MultiRoundTimeOut = uint32(diameter.MultiRoundAuth), out, uint32(e.opts.MultiRoundTimeout/time.Second)
	}
	return dea
}

// str ends a session: its token is dropped (RFC 6733 §8.4.1).
func (e *eapServer) str(ctx context.Context, str *eapapp.STR, from peer.PeerInfo) *eapapp.STA {
	sta := &eapapp.STA{SessionID: str.SessionID, OriginHost: e.originHost, OriginRealm: e.originRealm, ResultCode: uint32(diameter.Success)}
	e.mu.Lock()
	s, ok := e.sessions[str.SessionID]
	if ok && s.peer == from.OriginHost {
		delete(e.sessions, str.SessionID)
	}
	e.mu.Unlock()
	if !ok || s.peer != from.OriginHost {
		sta.ResultCode = uint32(diameter.UnknownSessionID)
		return sta
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
	if s.token != nil && e.opts.Tokens != nil {
		if err := e.opts.Tokens.DropAccessToken(ctx, s.impi, s.token); err != nil {
			e.log.Error("access token not dropped", zap.String("impi", s.impi), zap.Error(err))
		}
	}
	e.log.Info("eap session terminated", zap.String("session_id", str.SessionID), zap.String("impi", s.impi))
	return sta
}

// close releases the TLS goroutines of running sessions.
func (e *eapServer) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, s := range e.sessions {
		s.mu.Lock()
		if s.srv != nil {
			s.srv.Close()
			s.srv = nil
		}
		s.mu.Unlock()
		delete(e.sessions, id)
	}
}

// EAPConfig is the configuration file's eap section: the HSS's EAP-TLS server for PAAs (docs/fastreg.md).
// It is off unless cert_file is set.
type EAPConfig struct {
	// CertFile and KeyFile are the EAP-TLS server's certificate and key (PEM).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// CAFile is the operator CA of the UE certificates (PEM).
	CAFile string `yaml:"ca_file"`
	// MinTLSVersion is "1.3" (default, RFC 9190) or "1.2" (RFC 5216 with the extended master secret).
	MinTLSVersion string `yaml:"min_tls_version"`
	// Lifetime is the token's validity, the DEA's Session-Timeout (default 1h).
	Lifetime time.Duration `yaml:"lifetime"`
}

// Options loads the files into EAPOptions with tokens as the token store; nil when the section is off.
func (c EAPConfig) Options(tokens AccessTokenSink) (*EAPOptions, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: eap certificate: %v", ErrInvalidConfig, err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%w: eap.ca_file: %v", ErrInvalidConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: eap.ca_file %s: no certificate", ErrInvalidConfig, c.CAFile)
	}
	minVersion := uint16(tls.VersionTLS13)
	switch c.MinTLSVersion {
	case "", "1.3":
	case "1.2":
		minVersion = tls.VersionTLS12
	default:
		return nil, fmt.Errorf("%w: eap.min_tls_version %q: 1.2 or 1.3", ErrInvalidConfig, c.MinTLSVersion)
	}
	return &EAPOptions{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, MinVersion: minVersion},
		Lifetime: c.Lifetime, Tokens: tokens}, nil
}
