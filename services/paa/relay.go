package paa

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/eapapp"
	"github.com/imscore/imscore/diameter/peer"
)

// ErrRelay is a Diameter EAP exchange with the HSS that failed (no answer, an unexpected Result-Code).
var ErrRelay = errors.New("diameter eap relay")

// relay is the Diameter EAP client (RFC 4072) that hands the EAP conversation to the HSS (the use
// case 2): each PANA session is one Diameter session, DER/DEA per EAP round, STR when it ends.
type relay struct {
	cfg  DiameterConfig
	log  *zap.Logger
	dict *dict.Parser
	node *peer.Node
}

func startRelay(ctx context.Context, cfg DiameterConfig, log *zap.Logger) (*relay, error) {
	d, err := eapapp.NewDictionary()
	if err != nil {
		return nil, err
	}
	node, err := peer.New(peer.Config{
		OriginHost: cfg.OriginHost, OriginRealm: cfg.OriginRealm, ProductName: "imscore-paa",
		Applications:   []peer.Application{{ID: eapapp.AppID}},
		Dictionary:     d,
		RequestTimeout: cfg.RequestTimeout,
		// RFC 4072 has no request towards the NAS here (no re-auth, no ASR): whoever sends one gets 3001.
		Permissions: map[string][]peer.Command{cx.RoleHSS: nil},
		Log:         log,
	}, peer.HandlerFunc(func(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
		return nil, diameter.Errorf(diameter.CommandUnsupported, "the PAA serves no Diameter request")
	}))
	if err != nil {
		return nil, fmt.Errorf("diameter: %w", err)
	}
	r := &relay{cfg: cfg, log: log, dict: d, node: node}
	for _, a := range cfg.HSS {
		if err := node.Connect(ctx, peer.PeerConfig{Address: a, Roles: []string{cx.RoleHSS}}); err != nil {
			r.close(context.Background())
			return nil, fmt.Errorf("connect hss %s: %w", a, err)
		}
	}
	return r, nil
}

func (r *relay) ready() bool {
	for _, p := range r.node.Peers() {
		if p.State == peer.StateOpen {
			return true
		}
	}
	return false
}

func (r *relay) close(ctx context.Context) { _ = r.node.Close(ctx) }

func (r *relay) NewSession() EAPSession {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// RFC 6733 §8.8: <DiameterIdentity>;<high 32 bits>;<low 32 bits>[;<optional value>]
	id := fmt.Sprintf("%s;%d;%s", r.cfg.OriginHost, time.Now().Unix(), hex.EncodeToString(b[:]))
	return &relaySession{r: r, id: id}
}

type relaySession struct {
	r        *relay
	id       string
	state    []byte
	identity string
	done     bool
	success  bool
	impi     string
}

func (s *relaySession) exchange(ctx context.Context, payload []byte) (*eapapp.DEA, error) {
	der := &eapapp.DER{SessionID: s.id, OriginHost: s.r.cfg.OriginHost, OriginRealm: s.r.cfg.OriginRealm,
		DestinationRealm: s.r.cfg.DestinationRealm, UserName: s.identity, EAPPayload: payload, State: s.state}
	req, err := der.Marshal(s.r.dict)
	if err != nil {
		return nil, err
	}
	ans, err := s.r.node.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%w: DER: %w", ErrRelay, err)
	}
	var dea eapapp.DEA
	if err := dea.Unmarshal(ans); err != nil {
		return nil, fmt.Errorf("%w: DEA: %w", ErrRelay, err)
	}
	s.state = dea.State
	return &dea, nil
}

// Start sends a DER with an empty EAP-Payload: the HSS answers with its first request (RFC 4072 §2.1).
func (s *relaySession) Start(ctx context.Context) ([]byte, error) {
	dea, err := s.exchange(ctx, []byte{})
	if err != nil {
		return nil, err
	}
	if dea.ResultCode != eapapp.ResultMultiRoundAuth || len(dea.EAPPayload) == 0 {
		return nil, fmt.Errorf("%w: first DEA with result %d", ErrRelay, dea.ResultCode)
	}
	return dea.EAPPayload, nil
}

func (s *relaySession) Handle(ctx context.Context, resp []byte) ([]byte, *Outcome, error) {
	if s.identity == "" && len(resp) > 5 && resp[0] == 2 && resp[4] == 1 { // EAP-Response/Identity (RFC 3748 §5.1)
		s.identity = string(resp[5:])
	}
	dea, err := s.exchange(ctx, resp)
	if err != nil {
		return nil, nil, err
	}
	switch dea.ResultCode {
	case eapapp.ResultMultiRoundAuth:
		return dea.EAPPayload, nil, nil
	case eapapp.ResultSuccess:
		if len(dea.EAPMasterSessionKy) < 64 || dea.UserName == "" {
			return nil, nil, fmt.Errorf("%w: DEA success without the MSK or User-Name", ErrRelay)
		}
		s.done, s.success, s.impi = true, true, dea.UserName
		return dea.EAPPayload, &Outcome{IMPI: dea.UserName, MSK: dea.EAPMasterSessionKy, Lifetime: dea.SessionTimeout}, nil
	}
	s.done = true
	return dea.EAPPayload, nil, fmt.Errorf("%w: the HSS answered %d %s", ErrRelay, dea.ResultCode, dea.ErrorMessage)
}

// Terminate ends the Diameter session with an STR: the HSS drops the session's token (RFC 6733 §8.4.1).
func (s *relaySession) Terminate(ctx context.Context) error {
	if !s.success {
		return nil
	}
	str := &eapapp.STR{SessionID: s.id, OriginHost: s.r.cfg.OriginHost, OriginRealm: s.r.cfg.OriginRealm,
		DestinationRealm: s.r.cfg.DestinationRealm, TerminationCause: eapapp.TerminationLogout, UserName: s.impi}
	req, err := str.Marshal(s.r.dict)
	if err != nil {
		return err
	}
	ans, err := s.r.node.Request(ctx, req)
	if err != nil {
		return fmt.Errorf("%w: STR: %w", ErrRelay, err)
	}
	var sta eapapp.STA
	if err := sta.Unmarshal(ans); err != nil {
		return fmt.Errorf("%w: STA: %w", ErrRelay, err)
	}
	if sta.ResultCode != eapapp.ResultSuccess {
		return fmt.Errorf("%w: STA %d", ErrRelay, sta.ResultCode)
	}
	s.success = false
	return nil
}

// Close does nothing: the HSS forgets an unfinished session at its Multi-Round-Time-Out.
func (s *relaySession) Close() {}
