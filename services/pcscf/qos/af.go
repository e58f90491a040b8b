package qos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/services/pcscf/qos/n5"
	"github.com/imscore/imscore/sip/sdp"
)

// Requester sends one Diameter request in wire form and returns the answer frame
// (diameter/peer.Node.RequestBinary).
type Requester interface {
	RequestBinary(ctx context.Context, req []byte) ([]byte, error)
}

// Events is what the P-CSCF does when the packet core reports that bearers are gone. The AF calls
// them on a goroutine of its own, after it has answered the PCRF.
type Events interface {
	// ReleaseCall ends the SIP session of Call.Key: BYE to both ends with a Reason (TS 24.229 §5.2.8.1.2).
	ReleaseCall(key string, reason string)
	// SignallingLost ends the registration (Binding.Key) whose signalling path is gone (TS 29.214 §4.4.6.7): the
	// P-CSCF releases the UE's calls and de-registers it at the S-CSCF (TS 23.228 §5.10.3.1).
	SignallingLost(key string)
}

// Deps are what an AF uses and does not own.
type Deps struct {
	// N5, with ModeN5, is the Npcf_PolicyAuthorization client; Requester and Dictionary are for Rx.
	N5          *n5.Client
	Requester   Requester
	Dictionary  *dict.Parser // holds Rx (rx.NewDictionary): the answers to RAR and ASR are built with it
	Events      Events
	OriginHost  string // this P-CSCF's Diameter identity
	OriginRealm string
	Log         *zap.Logger
}

// Binding is a registration's signalling: the key and IMPU it is known by, the UE's address,
// and the SIP flows between the UE and the P-CSCF (the protected port pairs with IPsec, else the
// one address pair the UE uses), TS 29.214 §4.4.5a.
type Binding struct {
	Key   string // how the P-CSCF names the binding (EndSignalling, Events.SignallingLost)
	IMPU  string // the registered public identity (Subscription-Id)
	UE    netip.Addr
	Flows []Flow
}

// Flow is one SIP transport association between a UE and the P-CSCF.
type Flow struct {
	UE, PCSCF netip.AddrPort
	TCP       bool
}

// Call is one SIP session as the AF knows it: one UE's leg of it. When both ends are UEs of this
// P-CSCF, each leg has its own Rx session (each UE has its own IP-CAN session), hence Key.
type Call struct {
	Key    string // the leg: the Call-ID and the UE's binding, as the P-CSCF names them
	CallID string
	IMPU   string     // the served user (Subscription-Id)
	UE     netip.Addr // the UE's address (Framed-IP-Address / Framed-IPv6-Prefix)
	ICID   string     // the IMS charging identifier (AF-Charging-Identifier), from P-Charging-Vector
}

// kind tells a registration's signalling session from a call's media session.
type kind uint8

const (
	kindSignalling kind = 1
	kindMedia      kind = 2
)

// session is one Rx session (TS 29.214 §4.4.1: one per SIP session or per registration).
type session struct {
	id      string
	kind    kind
	callID  string // kindMedia
	callKey string // kindMedia: Call.Key
	impu    string
	key     string // kindSignalling: Binding.Key
	ue      netip.Addr
	icid    string
	offer   *sdp.Session // the last offer and answer seen
	answer  *sdp.Session
	ueOffer bool   // the UE made the last offer
	sent    bool   // an AAR was answered with success: updates are UPDATE_REQUEST
	n5URI   string // N5: the application session resource the PCF created
}

// AF is the P-CSCF's Application Function over Rx. Safe for concurrent use.
type AF struct {
	cfg  Config
	deps Deps
	log  *zap.Logger

	ctx    context.Context // ends with Close: the event goroutines stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutines reporting events to Events
	seq    atomic.Uint32
	boot   uint32

	mu        sync.Mutex
	closed    bool
	sessions  map[string]*session // by Session-Id
	byCall    map[string]string   // Call.Key → Session-Id
	byBinding map[string]string   // Binding.Key → Session-Id
}

// New returns an AF; cfg has had WithDefaults and Validate.
func New(cfg Config, deps Deps) (*AF, error) {
	switch {
	case deps.Events == nil:
		return nil, errors.New("qos: Events is required")
	case cfg.Mode == ModeN5 && deps.N5 == nil:
		return nil, errors.New("qos: N5 is required with mode n5")
	case cfg.Mode != ModeN5 && (deps.Requester == nil || deps.Dictionary == nil || deps.OriginHost == "" || deps.OriginRealm == ""):
		return nil, errors.New("qos: Requester, Dictionary, OriginHost and OriginRealm are required with mode rx")
	}
	log := deps.Log
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &AF{cfg: cfg, deps: deps, log: log.Named("qos"), ctx: ctx, cancel: cancel, boot: uint32(time.Now().Unix()),
		sessions: map[string]*session{}, byCall: map[string]string{}, byBinding: map[string]string{}}, nil
}

// Close stops the event goroutines and waits for them. Rx sessions are not ended: the PCRF
// releases them with the UE's IP-CAN session, or after the P-CSCF restarts (TS 29.214 §4.4.4).
func (a *AF) Close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
}

// newSessionID makes a Session-Id as RFC 6733 §8.8 recommends: "<DiameterIdentity>;<high 32
// bits>;<low 32 bits>;<optional value>", the optional value 64 random bits. The id is also the last
// segment of an N5 notifUri, where the PCF's callbacks name the session: the random part keeps
// anyone who can reach the callback listener from guessing it and releasing a call.
func (a *AF) newSessionID() string {
	host := a.deps.OriginHost
	if host == "" {
		host = "pcscf" // N5 has no Diameter identity; the id only has to be unique here
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	return host + ";" + strconv.FormatUint(uint64(a.boot), 10) + ";" + strconv.FormatUint(uint64(a.seq.Add(1)), 10) +
		";" + hex.EncodeToString(r[:])
}

// ---------------------------------------------------------------------------------------------
// Registration: the signalling session.

// RegisterSignalling sends the AAR for the signalling flows of b (TS 29.214 §4.4.5a): Media-
// Component-Number 0, one Media-Sub-Component per flow with Flow-Usage AF_SIGNALLING and
// AF-Signalling-Protocol SIP, and the subscription to loss and release of bearer (§4.4.6.7). A
// re-registration updates the session (Rx-Request-Type UPDATE_REQUEST) with the flows it has then.
func (a *AF) RegisterSignalling(ctx context.Context, b Binding) error {
	if a.cfg.Mode == ModeOff || !*a.cfg.Signalling {
		return nil
	}
	log := a.log.With(zap.String("impu", b.IMPU))
	key := b.Key
	a.mu.Lock()
	s, existed := a.sessions[a.byBinding[key]]
	if !existed {
		s = &session{id: a.newSessionID(), kind: kindSignalling, impu: b.IMPU, key: b.Key, ue: b.UE}
		a.sessions[s.id] = s
		a.byBinding[key] = s.id
	}
	update := s.sent
	a.mu.Unlock()
	mcd := rx.MediaComponentDescription{Number: 0} // TS 29.214 §4.4.5a: number 0 for the signalling
	for i, f := range b.Flows {
		usage, proto := rx.FlowUsageAFSignalling, rx.SignallingSIP
		ip := uint8(17)
		if f.TCP {
			ip = 6
		}
		ue, pc := end{f.UE.Addr(), f.UE.Port()}, end{f.PCSCF.Addr(), f.PCSCF.Port()}
		mcd.SubComponents = append(mcd.SubComponents, rx.MediaSubComponent{FlowNumber: uint32(i + 1),
			FlowDescriptions: filters(ip, ue, pc), FlowUsage: &usage, AFSignallingProtocol: &proto})
	}
	status := rx.FlowEnabled
	mcd.FlowStatus = &status
	if err := a.request(ctx, s, authRequest{mcds: []rx.MediaComponentDescription{mcd}, update: update, signalling: true}); err != nil {
		log.Warn("signalling policy request failed: the UE's signalling runs without PCC", zap.String("session_id", s.id), zap.Error(err))
		return fmt.Errorf("signalling aar %s: %w", b.IMPU, err)
	}
	a.mu.Lock()
	s.sent = true
	a.mu.Unlock()
	log.Debug("signalling AF session up", zap.String("session_id", s.id), zap.Int("flows", len(b.Flows)))
	return nil
}

// EndSignalling ends the signalling session of binding key with an STR (TS 29.214 §4.4.4).
func (a *AF) EndSignalling(ctx context.Context, key string) error {
	a.mu.Lock()
	id, ok := a.byBinding[key]
	a.mu.Unlock()
	if !ok {
		return nil
	}
	return a.terminate(ctx, id)
}

// ---------------------------------------------------------------------------------------------
// Sessions: media.

// Offer handles an SDP offer of call c (INVITE, re-INVITE, UPDATE): fromUE says who made it. The
// first offer of a call opens the Rx session with preliminary service information (TS 29.214
// §4.4.1, Service-Info-Status PRELIMINARY_SERVICE_INFORMATION) so that a refusal can still be the
// INVITE's answer; a *RejectError says the operator policy wants the request rejected.
func (a *AF) Offer(ctx context.Context, c Call, body []byte, fromUE bool) error {
	if a.cfg.Mode == ModeOff {
		return nil
	}
	desc, err := sdp.Parse(body)
	if err != nil {
		// Not ours to refuse: the UA at the other end answers 488 or 400 to SDP it cannot read.
		a.log.Debug("offer without usable SDP: no policy request", zap.String("call_id", c.CallID), zap.Error(err))
		return nil
	}
	s := a.mediaSession(c)
	a.mu.Lock()
	s.offer, s.answer, s.ueOffer = desc, nil, fromUE
	ue, remote := a.sides(s)
	update := s.sent
	a.mu.Unlock()
	return a.authorize(ctx, s, authRequest{mcds: Components(ue, remote, c.UE, fromUE), update: update,
		status: rx.PreliminaryServiceInformation})
}

// Answer handles the SDP answer to the last offer of call c (18x, 2xx, or the answer in PRACK,
// UPDATE, ACK): the Rx session gets the final service information (UPDATE_REQUEST). With
// OnFailure reject, a refusal releases the call (Events.ReleaseCall): the answer is already on its way.
func (a *AF) Answer(ctx context.Context, c Call, body []byte, fromUE bool) error {
	if a.cfg.Mode == ModeOff {
		return nil
	}
	desc, err := sdp.Parse(body)
	if err != nil {
		a.log.Debug("answer without usable SDP: no policy request", zap.String("call_id", c.CallID), zap.Error(err))
		return nil
	}
	s := a.mediaSession(c)
	a.mu.Lock()
	if s.offer == nil { // an offer we did not see (e.g. in a 200 to an INVITE without SDP): this is one
		s.offer, s.ueOffer = desc, fromUE
	} else {
		s.answer = desc
	}
	ue, remote := a.sides(s)
	update, ueOffer := s.sent, s.ueOffer
	a.mu.Unlock()
	err = a.authorize(ctx, s, authRequest{mcds: Components(ue, remote, c.UE, ueOffer), update: update,
		status: rx.FinalServiceInformation})
	var rej *RejectError
	if errors.As(err, &rej) {
		key := s.callKey
		a.report(func() { a.deps.Events.ReleaseCall(key, rej.Reason) })
	}
	return err
}

// End ends the Rx session of the call leg key (Call.Key) with an STR (TS 29.214 §4.4.4): BYE,
// CANCEL, a final failure to the INVITE. Unknown legs are ignored.
func (a *AF) End(ctx context.Context, key string) error {
	a.mu.Lock()
	id, ok := a.byCall[key]
	a.mu.Unlock()
	if !ok {
		return nil
	}
	return a.terminate(ctx, id)
}

// Active reports whether the call leg key has an Rx session.
func (a *AF) Active(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.byCall[key]
	return ok
}

func (a *AF) mediaSession(c Call) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.Key == "" {
		c.Key = c.CallID
	}
	if s, ok := a.sessions[a.byCall[c.Key]]; ok {
		return s
	}
	s := &session{id: a.newSessionID(), kind: kindMedia, callID: c.CallID, callKey: c.Key, impu: c.IMPU, ue: c.UE, icid: c.ICID}
	a.sessions[s.id] = s
	a.byCall[c.Key] = s.id
	return s
}

// sides returns the UE's and the remote end's descriptions of s; a.mu is held.
func (a *AF) sides(s *session) (ue, remote *sdp.Session) {
	if s.ueOffer {
		return s.offer, s.answer
	}
	return s.answer, s.offer
}

// authRequest is one policy request of a session, whichever the reference point.
type authRequest struct {
	mcds       []rx.MediaComponentDescription
	update     bool // the session exists at the PCRF/PCF
	signalling bool
	status     rx.ServiceInfoStatus // media sessions: preliminary (offer) or final (answer)
}

// request sends req over the configured reference point.
func (a *AF) request(ctx context.Context, s *session, req authRequest) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	if a.cfg.Mode == ModeN5 {
		return a.requestN5(ctx, s, req)
	}
	return a.send(ctx, a.aar(s, req))
}

// aar builds the AAR of s: TS 29.214 §5.6.1 with the subscriptions of §4.4.6 (loss and release of
// bearer), the served user as Subscription-Id (END_USER_SIP_URI) and the UE's address.
func (a *AF) aar(s *session, req authRequest) *rx.AAR {
	mcds, update, signalling := req.mcds, req.update, req.signalling
	reqType := rx.InitialRequest
	if update {
		reqType = rx.UpdateRequest
	}
	m := &rx.AAR{SessionID: s.id, OriginHost: a.deps.OriginHost, OriginRealm: a.deps.OriginRealm,
		DestinationRealm: a.cfg.PCRFRealm, DestinationHost: a.cfg.PCRFHost,
		AFApplicationIdentifier: []byte(a.cfg.AFApplicationIdentifier), MediaComponents: mcds,
		SpecificActions: []rx.SpecificAction{rx.IndicationOfLossOfBearer, rx.IndicationOfReleaseOfBearer},
		RxRequestType:   &reqType}
	if !signalling {
		// TS 29.214 §4.4.1: the AF may also ask for the recovery of a lost bearer.
		m.SpecificActions = append(m.SpecificActions, rx.IndicationOfRecoveryOfBearer)
		if s.icid != "" {
			m.AFChargingIdentifier = []byte(s.icid)
		}
		status := req.status
		m.ServiceInfoStatus = &status
	}
	if s.impu != "" {
		m.SubscriptionIDs = []rx.SubscriptionID{{Type: rx.EndUserSIPURI, Data: s.impu}}
	}
	switch ue := s.ue.Unmap(); {
	case ue.Is4():
		m.FramedIPAddress = ue
	case ue.Is6():
		m.FramedIPv6Prefix = netip.PrefixFrom(ue, 128)
	}
	return m
}

// authorize sends req and applies the operator policy to a failure.
func (a *AF) authorize(ctx context.Context, s *session, req authRequest) error {
	log := a.log.With(zap.String("call_id", s.callID), zap.String("session_id", s.id))
	err := a.request(ctx, s, req)
	if err == nil {
		a.mu.Lock()
		s.sent = true
		a.mu.Unlock()
		log.Debug("media authorized", zap.Int("components", len(req.mcds)), zap.Bool("update", req.update),
			zap.Stringer("service_info_status", req.status))
		return nil
	}
	if !s.sent {
		a.forget(s.id) // the PCRF holds no session: nothing to end later
	}
	if a.cfg.OnFailure == FailContinue {
		log.Warn("policy request failed: the call continues on the default bearer", zap.Error(err))
		return nil
	}
	log.Warn("policy request failed: the call is rejected", zap.Int("code", a.cfg.RejectCode), zap.Error(err))
	reason := "QoS resources not authorized"
	var unreachable *unreachableError
	if errors.As(err, &unreachable) {
		reason = "policy server unreachable"
	}
	return &RejectError{Code: a.cfg.RejectCode, Reason: reason, Err: err}
}

// unreachableError: no answer from the PCRF (no peer, timeout), as against a refusal.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// send sends one AAR and checks its AAA.
func (a *AF) send(ctx context.Context, aar *rx.AAR) error {
	req, err := aar.AppendBinary(nil)
	if err != nil {
		return fmt.Errorf("aar: %w", err)
	}
	raw, err := a.deps.Requester.RequestBinary(ctx, req)
	if err != nil {
		return &unreachableError{fmt.Errorf("aar: %w", err)}
	}
	var aaa rx.AAA
	if err := aaa.UnmarshalBinary(raw); err != nil {
		return fmt.Errorf("aaa: %w", err)
	}
	if !aaa.Success() {
		code, vendor := aaa.Result()
		return &diameter.Error{Code: code, VendorID: vendor, Err: fmt.Errorf("aaa: refused %s", aaa.ErrorMessage)}
	}
	return nil
}

// terminate ends session id at the PCRF or PCF and forgets it.
func (a *AF) terminate(ctx context.Context, id string) error {
	s := a.forget(id)
	if s == nil || !s.sent {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	if a.cfg.Mode == ModeN5 {
		return a.terminateN5(ctx, s)
	}
	return a.terminateRx(ctx, s)
}

// terminateRx sends the STR of s (TS 29.214 §4.4.4, Termination-Cause DIAMETER_LOGOUT).
func (a *AF) terminateRx(ctx context.Context, s *session) error {
	id := s.id
	str := &rx.STR{SessionID: id, OriginHost: a.deps.OriginHost, OriginRealm: a.deps.OriginRealm,
		DestinationRealm: a.cfg.PCRFRealm, DestinationHost: a.cfg.PCRFHost, TerminationCause: rx.DiameterLogout}
	req, err := str.AppendBinary(nil)
	if err != nil {
		return fmt.Errorf("str %s: %w", id, err)
	}
	raw, err := a.deps.Requester.RequestBinary(ctx, req)
	if err != nil {
		a.log.Warn("STR failed", zap.String("session_id", id), zap.String("call_id", s.callID), zap.Error(err))
		return fmt.Errorf("str %s: %w", id, err)
	}
	var sta rx.STA
	if err := sta.UnmarshalBinary(raw); err != nil {
		return fmt.Errorf("sta %s: %w", id, err)
	}
	if code, _ := sta.Result(); !code.IsSuccess() && code != diameter.UnknownSessionID {
		return fmt.Errorf("sta %s: result %d", id, code)
	}
	a.log.Debug("AF session ended", zap.String("session_id", id), zap.String("call_id", s.callID))
	return nil
}

// forget removes session id and returns it (nil if unknown).
func (a *AF) forget(id string) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return nil
	}
	delete(a.sessions, id)
	if s.kind == kindMedia && a.byCall[s.callKey] == id {
		delete(a.byCall, s.callKey)
	}
	if s.kind == kindSignalling && a.byBinding[s.key] == id {
		delete(a.byBinding, s.key)
	}
	return s
}

// report runs f on a goroutine of the AF (the Events calls), unless the AF is closing.
func (a *AF) report(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}
