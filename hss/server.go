package hss

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/avp"
	"github.com/fiorix/go-diameter/v4/diam/datatype"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/cx"
	"github.com/imscore/imscore/diameter/eapapp"
	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/identity"
)

// The Cx server: the HSS side of TS 29.228 §6 over TS 29.229. One file per procedure:
//
//	uar.go  User-Authorization   §6.1.1  I-CSCF → HSS   registration status, S-CSCF name or capabilities
//	sar.go  Server-Assignment    §6.1.2  S-CSCF → HSS   registration state, User-Data, charging
//	lir.go  Location-Info        §6.1.4  I-CSCF → HSS   serving S-CSCF of a terminating identity
//	mar.go  Multimedia-Auth      §6.3    S-CSCF → HSS   authentication vectors, resynchronisation
//	rtr.go  Registration-Term.   §6.1.3  HSS → S-CSCF   network-initiated de-registration (Deregister)
//	ppr.go  Push-Profile         §6.2.2  HSS → S-CSCF   profile update (PushProfile)
//
// A procedure function gets the decoded request and the answer started by cx.NewXA and returns nil (the
// answer's result is set) or an error: a *diameter.Error (cx.Errorf for the 3GPP Experimental-Result-Codes)
// is the outcome to answer with; any other error is a failure of ours (the store) and becomes
// DIAMETER_UNABLE_TO_COMPLY. ServeDiameter turns that into the answer in one place (finish) and logs the
// transaction once.

// ServerOptions are what NewServer needs.
type ServerOptions struct {
	// Config supplies the Diameter identity and timers (Config.Diameter) and the Cx policies (Config.Cx);
	// the listen addresses, API and store settings are not used by the Server.
	Config Config
	// Store is the subscriber data.
	Store CxStore
	// Log receives one line per Cx transaction at Debug, failures at Info or Warn. Nil: no logging.
	Log *zap.Logger
	// Metrics, if set, records the Cx traffic; it also observes the Diameter layer.
	Metrics *Metrics
	// EAP, if set, serves the Diameter EAP application to PAAs (eap.go).
	EAP *EAPOptions
}

// Server is the HSS's Cx application on its own Diameter node: it answers UAR, SAR, LIR and MAR from the
// CSCFs that connect to it (Serve) and sends RTR and PPR to S-CSCFs over the connections they opened
// (Deregister, PushProfile). All methods are safe for concurrent use.
type Server struct {
	cfg     Config
	store   CxStore
	log     *zap.Logger
	metrics *Metrics
	dict    *dict.Parser
	node    *peer.Node
	sqn     aka.SQNConfig
	eap     *eapServer // nil unless ServerOptions.EAP
	blocks  *sqnBlocks // SQNs reserved in the store and not yet issued, per IMPI
	fastreg *tokenApp  // the fast registration token application (fastreg.go); nil when off

	sessionHigh uint32        // Session-Id high part: boot time (RFC 6733 §8.8)
	sessionLow  atomic.Uint32 // Session-Id low part: a counter

	ops      *Operations        // the RTRs and PPRs started with StartDeregister and StartPushProfile
	bgCtx    context.Context    // ends at Close: background procedures (RTR to a replaced S-CSCF)
	bgCancel context.CancelFunc //
	bg       sync.WaitGroup     // every background goroutine
	mu       sync.Mutex         // guards closed and the bg.Add after it
	closed   bool
}

// NewServer validates the Cx part of the configuration and builds the server and its Diameter node. It
// starts nothing: call Serve.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("%w: Store is nil", ErrInvalidConfig)
	}
	cfg := opts.Config
	if err := validDiameterIdentity(cfg.Diameter.OriginHost); err != nil {
		return nil, fmt.Errorf("%w: diameter.origin_host: %v", ErrInvalidConfig, err)
	}
	if err := validDiameterIdentity(cfg.Diameter.Realm); err != nil {
		return nil, fmt.Errorf("%w: diameter.realm: %v", ErrInvalidConfig, err)
	}
	if cfg.Cx.MaxAuthItems < 1 || cfg.Cx.MaxAuthItems > aka.MaxSQNBatch {
		return nil, fmt.Errorf("%w: cx.max_auth_items %d: want 1..%d", ErrInvalidConfig, cfg.Cx.MaxAuthItems, aka.MaxSQNBatch)
	}
	sqn := cfg.Cx.SQN.AKA()
	if err := sqn.Validate(); err != nil {
		return nil, fmt.Errorf("%w: cx.sqn: %v", ErrInvalidConfig, err)
	}
	if cfg.Cx.SQN.Block == 0 {
		cfg.Cx.SQN.Block = DefaultSQNBlock // a Config built by hand before cx.sqn.block existed
	}
	if cfg.Cx.SQN.BlockCache == 0 {
		cfg.Cx.SQN.BlockCache = DefaultSQNBlockCache
	}
	if err := cfg.Cx.SQN.validateBlock(); err != nil {
		return nil, fmt.Errorf("%w: cx.sqn: %v", ErrInvalidConfig, err)
	}
	if cfg.Cx.MaxUserDataBytes <= 0 {
		return nil, fmt.Errorf("%w: cx.max_user_data_bytes %d", ErrInvalidConfig, cfg.Cx.MaxUserDataBytes)
	}
	if cfg.Cx.Operations == (OperationsConfig{}) {
		cfg.Cx.Operations = DefaultOperationsConfig() // a Config built by hand before cx.operations existed
	}
	log := opts.Log
	if log == nil {
		log = zap.NewNop()
	}
	d, err := cx.NewDictionary()
	if err != nil {
		return nil, err
	}
	if err := gaa.Load(d); err != nil { // Zh (zh.go)
		return nil, err
	}
	s := &Server{cfg: cfg, store: opts.Store, log: log.Named("cx"), metrics: opts.Metrics, dict: d, sqn: sqn,
		blocks:      newSQNBlocks(cfg.Cx.SQN.Block, cfg.Cx.SQN.BlockCache),
		sessionHigh: uint32(time.Now().Unix())}
	if s.fastreg, err = newTokenApp(cfg, opts.Store, d, log); err != nil {
		return nil, err
	}
	if s.ops, err = NewOperations(cfg.Cx.Operations, opts.Metrics, s.log); err != nil {
		return nil, err
	}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())
	apps := append([]peer.Application{{ID: cx.AppID, VendorID: cx.Vendor3GPP}, zhApplication()}, s.fastreg.applications()...)
	perms := Permissions()
	if opts.EAP != nil {
		if s.eap, err = newEAPServer(*opts.EAP, cfg.Diameter.OriginHost, cfg.Diameter.Realm, d, log.Named("eap")); err != nil {
			s.bgCancel()
			return nil, err
		}
		apps, perms[RolePAA] = append(apps, peer.Application{ID: eapapp.AppID}), append(perms[RolePAA], eapPermissions()...)
	}
	var obs peer.Observer
	if opts.Metrics != nil {
		obs = opts.Metrics
	}
	tlsCfg, err := cfg.Diameter.TLS.Load()
	if err != nil {
		s.bgCancel()
		return nil, fmt.Errorf("hss: diameter.tls: %w", err)
	}
	node, err := peer.New(peer.Config{
		OriginHost:            cfg.Diameter.OriginHost,
		OriginRealm:           cfg.Diameter.Realm,
		VendorID:              cx.Vendor3GPP,
		ProductName:           "imscore-hss",
		Applications:          apps,
		Dictionary:            d,
		WatchdogInterval:      cfg.Diameter.WatchdogInterval,
		RequestTimeout:        cfg.Diameter.RequestTimeout,
		MaxConcurrentRequests: cfg.Diameter.MaxConcurrentRequests,
		Peers:                 cfg.Diameter.Peers,
		Permissions:           perms,
		TLS:                   tlsCfg,
		Log:                   log,
		Observer:              obs,
	}, s)
	if err != nil {
		s.bgCancel()
		return nil, fmt.Errorf("hss: diameter node: %w", err)
	}
	s.node = node
	if s.fastreg != nil {
		s.background(s.fastreg.sweep)
	}
	return s, nil
}

// Permissions are the Cx requests each role may send to the HSS (TS 29.228 §6.1, §6.3). RTR and PPR go the
// other way and are listed for no role: DIAMETER_COMMAND_UNSUPPORTED.
func Permissions() map[string][]peer.Command {
	cmd := func(c cx.Command) peer.Command { return peer.Command{App: cx.AppID, Code: uint32(c)} }
	return map[string][]peer.Command{
		RoleICSCF: {cmd(cx.CmdUserAuthorization), cmd(cx.CmdLocationInfo)},
		RoleSCSCF: {cmd(cx.CmdMultimediaAuth), cmd(cx.CmdServerAssignment), cmd(cx.CmdLocationInfo)},
		RoleBSF:   zhPermissions(),   // zh.go
		RolePAA:   fastregCommands(), // fastreg.go; the Diameter EAP requests join them when the EAP server is on (eap.go)
	}
}

// Serve accepts Cx peers (I-CSCFs, S-CSCFs) on ln until ctx ends or Close is called; it closes ln. It returns
// nil after Close or when ctx ends, and the listener's error otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	err := s.node.Serve(ctx, ln)
	if errors.Is(err, peer.ErrClosed) || (ctx.Err() != nil && errors.Is(err, ctx.Err())) {
		return nil
	}
	return err
}

// Close stops the server: no new background procedure or operation starts, the running ones are cancelled
// (a pending operation ends failed, outcome cancelled), every peer gets a DPR (RFC 6733 §5.4) and every
// goroutine is waited for. When ctx ends first the rest is cut short and ctx's error is returned.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.bgCancel()
	opsErr := s.ops.Close(ctx) // before the DPRs: an RTR waiting for its answer ends now, not at the timeout
	err := s.node.Close(ctx)
	if s.eap != nil {
		s.eap.close()
	}
	if err == nil {
		err = opsErr
	}
	if werr := waitGroup(ctx, &s.bg); werr != nil && err == nil {
		err = fmt.Errorf("hss close: %w", werr)
	}
	return err
}

// Peers lists the Diameter peers and their state.
func (s *Server) Peers() []peer.PeerInfo { return s.node.Peers() }

// background runs fn in a goroutine owned by the server (Close cancels its context and waits for it).
func (s *Server) background(fn func(ctx context.Context)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		fn(s.bgCtx)
	}()
}

// newSessionID returns a Session-Id for a request this HSS originates: <DiameterIdentity>;<high>;<low>
// (RFC 6733 §8.8), high being the boot time and low a counter.
func (s *Server) newSessionID() string {
	return fmt.Sprintf("%s;%d;%d", s.cfg.Diameter.OriginHost, s.sessionHigh, s.sessionLow.Add(1))
}

// txn is one Cx transaction as it is logged.
type txn struct {
	cmd       cx.Command
	start     time.Time
	sessionID string
	peer      string
	impi      string
	impu      string
	fields    []zap.Field // procedure details worth a log field (server name, assignment type, …)
}

func (t *txn) add(f ...zap.Field) { t.fields = append(t.fields, f...) }

// ServeDiameter implements peer.Handler: it decodes the Cx request, runs its procedure and returns the
// answer. canonicalIdentity: a Public-Identity is looked up by its key (package identity, TS 23.003 §13.4,
// RFC 3966 §3), the form every public identity is provisioned in (PublicIdentity.Validate) and our CSCFs
// send, so that a peer's other spelling of it (tel:+1-555-0100 for tel:+15550100, an upper-case host) finds
// the same identity; the Wildcarded-Public-Identity, a pattern, is left as it is. Every answer carries Vendor-Specific-Application-Id (Cx, TS 29.229 §6.1) and Auth-Session-State
// NO_STATE_MAINTAINED (Cx is stateless, TS 29.229 §6.1).
func (s *Server) ServeDiameter(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	if req.Header.ApplicationID == eapapp.AppID && s.eap != nil {
		return s.eap.serve(ctx, req, from)
	}
	if s.fastreg.serves(req) {
		return s.fastreg.serve(ctx, req, from)
	}
	if req.Header.ApplicationID != cx.AppID {
		return nil, diameter.Errorf(diameter.ApplicationUnsupported, "application %d", req.Header.ApplicationID)
	}
	t, ans, err := s.serveCx(ctx, cx.Command(req.Header.CommandCode), from, func(m cx.Message) error { return m.Unmarshal(req) })
	if t == nil {
		return nil, err
	}
	return s.finish(t, ans, err)
}

// ServesBinary implements peer.BinaryHandler: the Cx requests the HSS serves go through ServeDiameterBinary.
func (s *Server) ServesBinary(app, command uint32) bool {
	if servesZh(app, command) { // zh.go
		return true
	}
	switch cx.Command(command) {
	case cx.CmdUserAuthorization, cx.CmdServerAssignment, cx.CmdLocationInfo, cx.CmdMultimediaAuth:
		return app == cx.AppID
	}
	return false
}

// ServeDiameterBinary implements peer.BinaryHandler: ServeDiameter from and to wire form, the typed Cx
// messages decoded from the request frame and the answer encoded straight to bytes (issue 12: no go-diameter
// message on the hot path; the wire vectors and tshark tests of diameter/cx prove the bytes are the same).
func (s *Server) ServeDiameterBinary(ctx context.Context, frame []byte, from peer.PeerInfo) ([]byte, error) {
	if len(frame) < diam.HeaderLength {
		return nil, diameter.Errorf(diameter.UnableToComply, "request frame of %d bytes", len(frame))
	}
	code := uint32(frame[5])<<16 | uint32(frame[6])<<8 | uint32(frame[7])
	if app := uint32(frame[8])<<24 | uint32(frame[9])<<16 | uint32(frame[10])<<8 | uint32(frame[11]); servesZh(app, code) {
		return s.serveZh(ctx, frame, from) // zh.go
	}
	t, ans, err := s.serveCx(ctx, cx.Command(code), from, func(m cx.Message) error { return m.UnmarshalBinary(frame) })
	if t == nil {
		return nil, err
	}
	return s.finishBinary(t, ans, err)
}

// serveCx decodes the Cx request of cmd with decode, runs its procedure and returns the answer and the
// outcome; t is nil (and err the answer) for a command the HSS does not serve. canonicalIdentity: a
// Public-Identity is looked up by its key (package identity, TS 23.003 §13.4, RFC 3966 §3), the form every
// public identity is provisioned in (PublicIdentity.Validate) and our CSCFs send, so that a peer's other
// spelling of it (tel:+1-555-0100 for tel:+15550100, an upper-case host) finds the same identity; the
// Wildcarded-Public-Identity, a pattern, is left as it is. Every answer carries
// Vendor-Specific-Application-Id (Cx, TS 29.229 §6.1) and Auth-Session-State NO_STATE_MAINTAINED (Cx is
// stateless, TS 29.229 §6.1).
func (s *Server) serveCx(ctx context.Context, cmd cx.Command, from peer.PeerInfo, decode func(cx.Message) error) (*txn, cx.Answer, error) {
	t := &txn{cmd: cmd, start: time.Now(), peer: from.OriginHost}
	switch cmd {
	case cx.CmdUserAuthorization:
		r := new(cx.UAR)
		err := decode(r)
		a := cx.NewUAA(r)
		s.head(&a.VendorSpecificApplicationID, &a.AuthSessionState, &a.OriginHost, &a.OriginRealm)
		t.sessionID, t.impi, t.impu = r.SessionID, r.UserName, r.PublicIdentity
		if err == nil {
			err = required("UAR", head(r.SessionID, r.OriginHost, r.OriginRealm),
				field{cx.AVPUserName, 0, "User-Name", r.UserName}, field{cx.AVPPublicIdentity, cx.Vendor3GPP, "Public-Identity", r.PublicIdentity})
		}
		if err == nil {
			r.PublicIdentity = identity.Key(r.PublicIdentity) // canonicalIdentity
			err = s.uar(ctx, t, r, a)
		}
		return t, a, err
	case cx.CmdServerAssignment:
		r := new(cx.SAR)
		err := decode(r)
		a := cx.NewSAA(r)
		s.head(&a.VendorSpecificApplicationID, &a.AuthSessionState, &a.OriginHost, &a.OriginRealm)
		t.sessionID, t.impi = r.SessionID, r.UserName
		if len(r.PublicIdentity) > 0 {
			t.impu = r.PublicIdentity[0]
		}
		if err == nil {
			err = required("SAR", head(r.SessionID, r.OriginHost, r.OriginRealm),
				field{cx.AVPServerName, cx.Vendor3GPP, "Server-Name", r.ServerName})
		}
		if err == nil {
			for i := range r.PublicIdentity {
				r.PublicIdentity[i] = identity.Key(r.PublicIdentity[i]) // canonicalIdentity
			}
			err = s.sar(ctx, t, r, a)
		}
		return t, a, err
	case cx.CmdLocationInfo:
		r := new(cx.LIR)
		err := decode(r)
		a := cx.NewLIA(r)
		s.head(&a.VendorSpecificApplicationID, &a.AuthSessionState, &a.OriginHost, &a.OriginRealm)
		t.sessionID, t.impu = r.SessionID, r.PublicIdentity
		if err == nil {
			err = required("LIR", head(r.SessionID, r.OriginHost, r.OriginRealm),
				field{cx.AVPPublicIdentity, cx.Vendor3GPP, "Public-Identity", r.PublicIdentity})
		}
		if err == nil {
			r.PublicIdentity = identity.Key(r.PublicIdentity) // canonicalIdentity
			err = s.lir(ctx, t, r, a)
		}
		return t, a, err
	case cx.CmdMultimediaAuth:
		r := new(cx.MAR)
		err := decode(r)
		a := cx.NewMAA(r)
		s.head(&a.VendorSpecificApplicationID, &a.AuthSessionState, &a.OriginHost, &a.OriginRealm)
		t.sessionID, t.impi, t.impu = r.SessionID, r.UserName, r.PublicIdentity
		if err == nil {
			err = required("MAR", head(r.SessionID, r.OriginHost, r.OriginRealm),
				field{cx.AVPUserName, 0, "User-Name", r.UserName}, field{cx.AVPPublicIdentity, cx.Vendor3GPP, "Public-Identity", r.PublicIdentity},
				field{cx.AVPServerName, cx.Vendor3GPP, "Server-Name", r.ServerName})
		}
		if err == nil {
			r.PublicIdentity = identity.Key(r.PublicIdentity) // canonicalIdentity
			err = s.mar(ctx, t, r, a)
		}
		return t, a, err
	}
	// RTR and PPR go from the HSS to the S-CSCF, never the other way (TS 29.228 §6.1.3, §6.2.2).
	return nil, nil, diameter.Errorf(diameter.CommandUnsupported, "command %d is not served by the HSS", cmd)
}

// field is a required string AVP of a Cx request as decoded.
type field struct {
	code   cx.AVPCode
	vendor uint32
	name   string
	value  string
}

// head is the Session-Id, Origin-Host and Origin-Realm every Cx request carries (TS 29.229 §6.1).
func head(sessionID, originHost, originRealm string) []field {
	return []field{{cx.AVPSessionID, 0, "Session-Id", sessionID}, {cx.AVPOriginHost, 0, "Origin-Host", originHost},
		{cx.AVPOriginRealm, 0, "Origin-Realm", originRealm}}
}

// required rejects a request whose required AVPs are present but empty, before its procedure runs (no SQN
// advanced, no vector issued, no registration changed): DIAMETER_INVALID_AVP_VALUE with the AVP in Failed-AVP
// (RFC 6733 §7.1.5, §7.5). The decoder has already answered the absent ones (DIAMETER_MISSING_AVP). An empty
// Session-Id cannot identify the transaction (RFC 6733 §8.8: "globally and eternally unique"), an empty
// Origin-Host could not be sent an RTR, and an empty identity or Server-Name names nobody.
func required(cmd string, head []field, more ...field) error {
	for _, f := range append(head, more...) {
		if strings.TrimSpace(f.value) != "" {
			continue
		}
		flags := uint8(avp.Mbit)
		if f.vendor != 0 {
			flags |= avp.Vbit
		}
		return &diameter.Error{Code: diameter.InvalidAVPValue,
			FailedAVPs: []*diam.AVP{diam.NewAVP(uint32(f.code), flags, f.vendor, datatype.UTF8String(f.value))},
			Err:        fmt.Errorf("%s: %s is empty", cmd, f.name)}
	}
	return nil
}

// head sets what every answer of this HSS carries whatever the request held.
func (s *Server) head(vsai **cx.VendorSpecificApplicationID, state **cx.AuthSessionState, host, realm *string) {
	*vsai = cx.CxApplicationID()
	st := cx.NoStateMaintained
	*state = &st
	*host, *realm = s.cfg.Diameter.OriginHost, s.cfg.Diameter.Realm
}

// finish makes the answer from the procedure's outcome, encodes it as a go-diameter message, and records the
// transaction (complete).
func (s *Server) finish(t *txn, ans cx.Answer, err error) (*diam.Message, error) {
	var msg *diam.Message
	if err := s.complete(t, ans, err, func() (e error) { msg, e = ans.Marshal(s.dict); return e }); err != nil {
		return nil, err
	}
	return msg, nil
}

// finishBinary is finish in wire form: the answer encoded straight to bytes (ServeDiameterBinary).
func (s *Server) finishBinary(t *txn, ans cx.Answer, err error) ([]byte, error) {
	var b []byte
	if err := s.complete(t, ans, err, func() (e error) { b, e = ans.AppendBinary(nil); return e }); err != nil {
		return nil, err
	}
	return b, nil
}

// complete puts the procedure's outcome (err) in the answer, encodes it with encode and records the
// transaction. The error returned is for the peer layer to answer: a 3xxx protocol error (with the 'E' bit,
// RFC 6733 §7.2), or the outcome itself when the answer could not be encoded.
func (s *Server) complete(t *txn, ans cx.Answer, err error, encode func() error) error {
	var de *diameter.Error
	isDiameter := errors.As(err, &de)
	if isDiameter && de.VendorID == 0 && de.Code.IsProtocolError() {
		s.record(t, de.Code, 0, err)
		return err
	}
	if err != nil {
		ans.SetError(err)
	} else if code, _ := ans.Result(); code == 0 {
		ans.SetResultCode(diameter.Success)
	}
	code, vendor := ans.Result()
	if merr := encode(); merr != nil {
		s.log.Error("cx answer cannot be encoded", zap.Stringer("command", t.cmd), logging.SessionID(t.sessionID),
			logging.IMPI(t.impi), logging.IMPU(t.impu), zap.Error(merr))
		if isDiameter {
			s.record(t, de.Code, de.VendorID, err)
			return err // the peer layer builds the error answer from the request
		}
		s.record(t, diameter.UnableToComply, 0, merr)
		return fmt.Errorf("encode %s answer: %w", t.cmd, merr)
	}
	s.record(t, code, vendor, err)
	return nil
}

// record logs the transaction once and counts it.
func (s *Server) record(t *txn, code diameter.ResultCode, vendor uint32, err error) {
	d := time.Since(t.start)
	s.metrics.observeServed(t.cmd, code, vendor, d)
	level := zapcore.DebugLevel
	var de *diameter.Error
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled):
		// The peer went away (or the node is stopping) while the request was served: nobody to answer.
	case errors.As(err, &de):
		level = zapcore.InfoLevel // the request's outcome, not our failure
	default:
		level = zapcore.WarnLevel // the store failed or the answer could not be built
	}
	ce := s.log.Check(level, "cx "+t.cmd.Request())
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 8+len(t.fields))
	fields = append(fields, logging.SessionID(t.sessionID), logging.IMPI(t.impi), logging.IMPU(t.impu),
		logging.Peer(t.peer), zap.Uint32("result", uint32(code)), zap.Duration("took", d))
	if vendor != 0 {
		fields = append(fields, zap.Uint32("vendor", vendor))
	}
	fields = append(fields, t.fields...)
	if err != nil {
		fields = append(fields, zap.Error(err))
	}
	ce.Write(fields...)
}

// storeError turns a store error into the Cx outcome: an unknown identity is DIAMETER_ERROR_USER_UNKNOWN
// (TS 29.229 §6.2.2.1), identities that are not associated DIAMETER_ERROR_IDENTITIES_DONT_MATCH (§6.2.2.2);
// anything else stays an internal error (DIAMETER_UNABLE_TO_COMPLY).
func storeError(op string, err error) error {
	var de *diameter.Error
	switch {
	case errors.As(err, &de):
		return err
	case errors.Is(err, ErrNotFound):
		return cx.NewError(cx.ErrorUserUnknown, fmt.Errorf("%s: %w", op, err))
	case errors.Is(err, ErrNotAssociated):
		return cx.NewError(cx.ErrorIdentitiesDontMatch, fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Interface guard.
var _ peer.Handler = (*Server)(nil)
var _ peer.BinaryHandler = (*Server)(nil)
