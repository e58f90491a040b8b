package paa

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/imscore/imscore/services/paa/eaptls"
)

// Outcome is a successful EAP authentication as the PAA sees it.
type Outcome struct {
	IMPI  string
	MSK   []byte
	Token []byte // nil when the EAP server keeps the token itself (the HSS, relay.go)
	// Lifetime, when not zero, bounds the session lifetime (the DEA's Session-Timeout).
	Lifetime time.Duration
}

// EAPSession is the EAP server side of one PANA session, local or relayed.
type EAPSession interface {
	// Start returns the first EAP request.
	Start(ctx context.Context) ([]byte, error)
	// Handle takes the peer's EAP response and returns the next packet: a request; or EAP-Success and the
	// outcome; or EAP-Failure (when the server sent one) and an error saying why.
	Handle(ctx context.Context, resp []byte) (out []byte, res *Outcome, err error)
	Close()
}

// EAPServer makes the EAP session of each PANA session.
type EAPServer interface {
	NewSession() EAPSession
}

// localEAP is the EAP-TLS server inside the PAA (the use case 1).
type localEAP struct {
	cfg eaptls.ServerConfig
}

func newLocalEAP(tlsCfg *tls.Config, fragment int) *localEAP {
	return &localEAP{cfg: eaptls.ServerConfig{TLS: tlsCfg, Fragment: fragment}}
}

func (l *localEAP) NewSession() EAPSession { return &localSession{s: eaptls.NewServer(l.cfg)} }

type localSession struct{ s *eaptls.Server }

func (l *localSession) Start(context.Context) ([]byte, error) { return l.s.Start(), nil }

func (l *localSession) Handle(_ context.Context, resp []byte) ([]byte, *Outcome, error) {
	out, res, err := l.s.Handle(resp)
	if res == nil {
		return out, nil, err
	}
	return out, &Outcome{IMPI: res.IMPI, MSK: res.MSK, Token: res.Token}, nil
}

func (l *localSession) Close()           { l.s.Close() }
func (l *localSession) Identity() string { return l.s.Identity() }
