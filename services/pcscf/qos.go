package pcscf

// Policy control: the P-CSCF as Application Function towards a PCRF over Rx or a PCF over N5
// (services/pcscf/qos, docs/qos.md). This file is the whole hook: the configuration, the Diameter
// node towards the PCRF or the N5 client and callback listener,
// the calls route.go and register.go make, and the release of a call whose bearer is gone
// (TS 24.229 §5.2.8.1.2).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/rx"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/pcscf/qos"
	"github.com/imscore/imscore/services/pcscf/qos/n5"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/proxy"
)

// QoSConfig is the qos section of the configuration: the AF policy (qos.Config, inline), the
// Diameter peer towards the PCRF (rx) and the callback listener for the PCF (n5).
type QoSConfig struct {
	qos.Config `yaml:",inline"`
	// NotifyListen is where the P-CSCF serves the PCF's callbacks (n5), host:port, HTTP/1.1 and HTTP/2
	// without TLS (h2c); qos.notify_uri must reach it. Required with n5.
	NotifyListen string `yaml:"notify_listen"`
	// PCFCAFile, with an https qos.pcf, is the PEM CA bundle the PCF's certificate must chain to
	// (empty: the system roots).
	PCFCAFile string `yaml:"pcf_ca_file"`
	// DSCPSIP is the DiffServ code point of every SIP packet the P-CSCF sends, whatever the mode
	// (RFC 2474; TS 23.203 leaves the marking of IMS signalling to the operator, GSMA IR.92 names AF31 or
	// CS3). Default 26 (AF31); 0 leaves packets unmarked.
	DSCPSIP *int `yaml:"dscp_sip"`
	// PCRF is the PCRF's Diameter address, host:port (Open5GS's PCRF listens on 3868). Required with mode rx.
	PCRF string `yaml:"pcrf"`
	// OriginHost and OriginRealm are this P-CSCF's Diameter identity towards the PCRF (the PCRF's peer
	// entry must name them). Required with mode rx.
	OriginHost  string `yaml:"origin_host"`
	OriginRealm string `yaml:"origin_realm"`
	// Rules choose rx, n5 or off per UE, first match (qos_select.go); qos.mode is for the UEs no rule matches.
	// Every mode they name needs its settings (pcrf, origin_* for rx; pcf or bsf, notify_* for n5).
	Rules []QoSRule `yaml:"rules"`
}

// DefaultDSCPSIP is AF31 (RFC 2597), the default mark of SIP signalling.
const DefaultDSCPSIP = 26

// sipDSCP is the code point of SIP packets (QoSConfig.DSCPSIP with its default).
func (c QoSConfig) sipDSCP() uint8 {
	if c.DSCPSIP == nil {
		return DefaultDSCPSIP
	}
	return uint8(*c.DSCPSIP)
}

func (c QoSConfig) validate() error {
	if c.DSCPSIP != nil && (*c.DSCPSIP < 0 || *c.DSCPSIP > 63) {
		return fmt.Errorf("qos.dscp_sip %d: a DiffServ code point is 0 to 63", *c.DSCPSIP)
	}
	q := c.Config.WithDefaults()
	if err := q.Validate(); err != nil {
		return err
	}
	if _, err := compileRules(c.Rules); err != nil {
		return err
	}
	for _, m := range usedModes(q.Mode, c.Rules) {
		if err := c.validateMode(q, m); err != nil {
			return err
		}
	}
	return nil
}

// validateMode checks the settings mode m needs (qos.mode or a rule's).
func (c QoSConfig) validateMode(q qos.Config, m qos.Mode) error {
	q.Mode = m
	if err := q.Validate(); err != nil {
		return err
	}
	if m == qos.ModeN5 {
		if _, _, err := net.SplitHostPort(c.NotifyListen); err != nil {
			return fmt.Errorf("qos.notify_listen %q: want host:port: %w", c.NotifyListen, err)
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(c.PCRF); err != nil {
		return fmt.Errorf("qos.pcrf %q: want host:port: %w", c.PCRF, err)
	}
	if c.OriginHost == "" || c.OriginRealm == "" {
		return errors.New("qos.origin_host and qos.origin_realm: required with mode rx")
	}
	return nil
}

// qosHook is the running policy side of the node; nil when neither qos.mode nor a rule chooses rx or n5.
type qosHook struct {
	rx   *qos.AF    // the AF over Rx, nil when no UE uses it
	n5af *qos.AF    // the AF over N5, likewise
	node *peer.Node // rx
	n5   *n5.Client // n5
	bsf  *n5.BSF    // n5 with qos.bsf
	def  qos.Mode   // qos.mode
	// rules choose per UE (qos_select.go).
	rules []qosRule
	log   *zap.Logger

	mu     sync.Mutex
	calls  map[string]*qosCall    // by call leg: what a release needs
	legs   map[string]*qos.AF     // by call leg: the AF that holds it
	sig    map[bindingKey]*qos.AF // by binding: the AF that holds its signalling session
	access map[bindingKey]string  // by binding: the access type the UE last declared
}

// qosCall is what the P-CSCF learns of a call while proxying it, enough to end it on both sides
// (TS 24.229 §5.2.8.1.2): the parties and their tags, each side's contact, the route set towards the
// core and the highest CSeq each side has used.
type qosCall struct {
	callID      string
	binding     bindingKey
	ueCaller    bool
	caller      sip.Uri // From of the INVITE
	callerTag   string
	callee      sip.Uri // To of the INVITE
	calleeTag   string
	ueContact   sip.Uri
	peerContact sip.Uri
	haveUE      bool
	havePeer    bool
	coreRoute   []sip.Uri // the UE's route set beyond us, top first
	ueCSeq      uint32
	peerCSeq    uint32
}

// newQoS builds the hook: the AF over Rx (a Diameter node with the Rx application) and the AF over N5 (the
// Npcf client, with the BSF client when qos.bsf is set), each when qos.mode or a rule uses it.
func (n *Node) newQoS() error {
	c := n.cfg.QoS
	q := c.Config.WithDefaults()
	rules, err := compileRules(c.Rules)
	if err != nil {
		return err
	}
	modes := usedModes(q.Mode, c.Rules)
	if len(modes) == 0 {
		return nil
	}
	h := &qosHook{def: q.Mode, rules: rules, log: n.log.Named("qos"), calls: map[string]*qosCall{},
		legs: map[string]*qos.AF{}, sig: map[bindingKey]*qos.AF{}, access: map[bindingKey]string{}}
	for _, m := range modes {
		qm := q
		qm.Mode = m
		if m == qos.ModeN5 {
			err = n.newN5(h, qm)
		} else {
			err = n.newRx(h, qm)
		}
		if err != nil {
			return err
		}
	}
	n.qos = h
	return nil
}

// newRx builds the AF over Rx and its Diameter node.
func (n *Node) newRx(h *qosHook, q qos.Config) error {
	c := n.cfg.QoS
	d, err := rx.NewDictionary()
	if err != nil {
		return err
	}
	node, err := peer.New(peer.Config{OriginHost: c.OriginHost, OriginRealm: c.OriginRealm, ProductName: "imscore-pcscf",
		VendorID: rx.Vendor3GPP, Applications: []peer.Application{{ID: rx.AppID, VendorID: rx.Vendor3GPP}},
		Dictionary: d, RequestTimeout: q.Timeout, Log: n.log}, peer.HandlerFunc(h.serve))
	if err != nil {
		return fmt.Errorf("qos diameter: %w", err)
	}
	af, err := qos.New(q, qos.Deps{Requester: node, Dictionary: d, Events: n, OriginHost: c.OriginHost,
		OriginRealm: c.OriginRealm, Log: n.log})
	if err != nil {
		return err
	}
	h.rx, h.node = af, node
	return nil
}

func (h *qosHook) serve(ctx context.Context, req *diam.Message, from peer.PeerInfo) (*diam.Message, error) {
	return h.rx.ServeDiameter(ctx, req, from)
}

// newN5 builds the AF over N5: the Npcf_PolicyAuthorization client, located by the BSF when qos.bsf is set.
func (n *Node) newN5(h *qosHook, q qos.Config) error {
	var tlsCfg *tls.Config
	if n.cfg.QoS.PCFCAFile != "" {
		pem, err := os.ReadFile(n.cfg.QoS.PCFCAFile)
		if err != nil {
			return fmt.Errorf("qos.pcf_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("qos.pcf_ca_file %s: no certificate", n.cfg.QoS.PCFCAFile)
		}
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	root := q.PCF
	scheme := "http"
	if u, err := url.Parse(q.BSF); q.PCF == "" && err == nil && u.Scheme == "https" {
		scheme = "https" // no PCF configured: the located PCFs are reached as the BSF is
	} else if strings.HasPrefix(q.PCF, "https://") {
		scheme = "https"
	}
	if root == "" {
		root = scheme + "://"
	}
	client, err := n5.NewClient(root, tlsCfg)
	if err != nil {
		return err
	}
	if q.BSF != "" {
		bsf, err := n5.NewBSF(q.BSF, scheme, tlsCfg)
		if err != nil {
			return err
		}
		client.Locate(bsf)
		h.bsf = bsf
	}
	af, err := qos.New(q, qos.Deps{N5: client, Events: n, Log: n.log})
	if err != nil {
		return err
	}
	h.n5af, h.n5 = af, client
	return nil
}

// runN5 serves the PCF's callbacks (TS 29.514 §4.2.5) on qos.notify_listen until ctx ends.
func (n *Node) runN5(ctx context.Context) {
	mux := http.NewServeMux()
	mux.Handle(n.qos.n5af.CallbackPath(), n.qos.n5af)
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{Addr: n.cfg.QoS.NotifyListen, Handler: mux, Protocols: &protos,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10}
	ln, err := net.Listen("tcp", n.cfg.QoS.NotifyListen)
	if err != nil {
		n.qos.log.Error("N5 callback listener not started: the PCF's notifications will fail", zap.Error(err))
	}
	if ln != nil {
		n.wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.qos.log.Error("N5 callback server", zap.Error(err))
			}
		})
	}
	n.wg.Go(func() {
		<-ctx.Done()
		if ln != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.Shutdown(sctx)
			cancel()
		}
		n.qos.n5af.Close()
		n.qos.n5.Close()
		if n.qos.bsf != nil {
			n.qos.bsf.Close()
		}
	})
}

// runQoS keeps the PCRF connected until ctx ends, then ends the AF and the Diameter node (DPR);
// with N5 it serves the PCF's callbacks (both when rules use both).
func (n *Node) runQoS(ctx context.Context) {
	if n.qos == nil {
		return
	}
	if n.qos.n5af != nil {
		n.runN5(ctx)
	}
	if n.qos.rx == nil {
		return
	}
	if err := n.qos.node.Connect(ctx, peer.PeerConfig{Address: n.cfg.QoS.PCRF,
		Host: n.cfg.QoS.PCRFHost, Realm: n.cfg.QoS.PCRFRealm}); err != nil {
		n.qos.log.Error("PCRF peer not started", zap.Error(err))
	}
	n.wg.Go(func() {
		<-ctx.Done()
		n.qos.rx.Close()
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = n.qos.node.Close(cctx)
	})
}

// qosRegistered opens or updates the signalling AF session of binding bk (TS 29.214 §4.4.5a),
// off the REGISTER transaction; req is the REGISTER (its P-Access-Network-Info may choose Rx or N5).
func (n *Node) qosRegistered(bk bindingKey, req *sip.Request) {
	if n.qos == nil {
		return
	}
	reg, ok := n.regs.get(bk)
	if !ok {
		return
	}
	af := n.qos.afFor(bk, reg, accessType(req))
	if prev := n.qos.signalling(bk, af); prev != nil && prev != af {
		// Another access, another policy server: the old signalling session ends.
		n.wg.Go(func() { _ = prev.EndSignalling(n.base, qosKey(bk)) })
	}
	if af == nil {
		return
	}
	b := qos.Binding{Key: qosKey(bk), IMPU: reg.IMPU, UE: reg.Source.Addr()}
	tcp := reg.Transport == "TCP"
	if reg.SecAgree() {
		// TS 33.203 §7.1: the UE's client port to our server port, and our client port to its server port.
		p := reg.SAs[0].Pair
		b.UE = p.UE.Addr
		b.Flows = []qos.Flow{
			{UE: addrPort(p.UE.Addr, p.UE.PortC), PCSCF: addrPort(p.PCSCF.Addr, p.PCSCF.PortS), TCP: tcp},
			{UE: addrPort(p.UE.Addr, p.UE.PortS), PCSCF: addrPort(p.PCSCF.Addr, p.PCSCF.PortC), TCP: tcp},
		}
	} else {
		b.Flows = []qos.Flow{{UE: reg.Source, PCSCF: n.coreFor(reg.Source.Addr()), TCP: tcp}}
	}
	n.wg.Go(func() { _ = af.RegisterSignalling(n.base, b) }) // failures are logged by the AF
}

// qosDeregistered ends the signalling AF session of a binding (TS 29.214 §4.4.4).
func (n *Node) qosDeregistered(bk bindingKey) {
	if n.qos == nil {
		return
	}
	if af := n.qos.signalling(bk, nil); af != nil {
		n.wg.Go(func() { _ = af.EndSignalling(n.base, qosKey(bk)) })
	}
}

// qosKey names a binding to the AF; SignallingLost reads it back.
func qosKey(bk bindingKey) string { return bk.IMPU + "\n" + bk.Contact }

// qosRequest applies policy control to a request the P-CSCF forwards for reg's UE: fromUE says the
// UE sent it. An SDP offer (INVITE, re-INVITE, UPDATE) goes to the AF before the request leaves,
// so that a refusal can be the answer (a *proxy.StatusError); answers in responses, PRACK and ACK
// follow asynchronously; BYE and the failure of the initial INVITE end the Rx session.
func (n *Node) qosRequest(req *sip.Request, reg Registration, fromUE bool, d *proxy.Decision) error {
	if n.qos == nil {
		return nil
	}
	cid := callID(req)
	bk := keyOf(reg.IMPU, reg.Contact)
	key := cid + "\n" + qosKey(bk) // one leg per UE: both ends may be ours
	call := qos.Call{Key: key, CallID: cid, IMPU: reg.IMPU, UE: reg.Source.Addr(), ICID: icidOf(req, d)}
	if reg.SecAgree() {
		call.UE = reg.SAs[0].Pair.UE.Addr
	}
	n.qos.track(key, req, bk, fromUE, d)
	access := ""
	if fromUE {
		access = accessType(req)
	}
	af := n.qos.legAF(key, nil) // the AF of a leg under way, else the one the UE's mode chooses now
	if af == nil {
		af = n.qos.afFor(bk, reg, access)
	} else if access != "" {
		n.qos.noteAccess(bk, access)
	}
	if af == nil {
		n.qos.forget(key)
		return nil // qos off for this UE
	}
	body := sdpBody(req)
	switch req.Method {
	case sip.BYE:
		n.wg.Go(func() { _ = af.End(n.base, key) })
		n.qos.forget(key)
		return nil
	case sip.ACK, sip.PRACK:
		if body != nil {
			n.wg.Go(func() { _ = af.Answer(n.base, call, body, fromUE) })
		}
		return nil
	case sip.INVITE, sip.UPDATE:
	default:
		return nil
	}
	if body != nil {
		ctx, cancel := context.WithTimeout(n.base, n.cfg.QoS.WithDefaults().Timeout+time.Second)
		err := n.qos.legAF(key, af).Offer(ctx, call, body, fromUE)
		cancel()
		var rej *qos.RejectError
		if errors.As(err, &rej) {
			n.qos.forget(key)
			n.metrics.rejected.WithLabelValues(strconv.Itoa(rej.Code)).Inc()
			// RFC 3326: the Reason says why the network refused; TS 24.229 §5.2.7 leaves the code to the operator.
			return &proxy.StatusError{Code: rej.Code, Reason: sipReason(rej.Code), Err: err,
				Headers: []sip.Header{sip.NewHeader("Reason", `SIP;cause=`+strconv.Itoa(rej.Code)+`;text="`+rej.Reason+`"`)}}
		}
	}
	initial := req.Method == sip.INVITE && !hasToTag(req)
	prev := d.OnResponse
	d.OnResponse = func(res *sip.Response, generated bool) {
		if prev != nil {
			prev(res, generated)
		}
		n.qos.learn(key, res, fromUE)
		switch {
		case res.StatusCode >= 300 && initial:
			// TS 29.214 §4.4.4: the session that never came up ends its Rx session (CANCEL gives 487).
			n.wg.Go(func() { _ = af.End(n.base, key) })
			n.qos.forget(key)
		case res.StatusCode > 100 && res.StatusCode < 300:
			if b := sdpBody(res); b != nil {
				n.wg.Go(func() { _ = af.Answer(n.base, call, b, !fromUE) })
			}
		}
	}
	return nil
}

func sipReason(code int) string {
	if code == 488 {
		return "Not Acceptable Here"
	}
	return "Service Unavailable"
}

// sdpBody returns the body of m when it is an SDP (RFC 3264), else nil.
func sdpBody(m interface {
	GetHeader(name string) sip.Header
	Body() []byte
}) []byte {
	ct := m.GetHeader("Content-Type")
	if ct == nil || len(m.Body()) == 0 {
		return nil
	}
	if mt, _, _ := strings.Cut(ct.Value(), ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/sdp") {
		return nil
	}
	return append([]byte(nil), m.Body()...)
}

// icidOf is the icid-value of the request's P-Charging-Vector, or of the one the decision adds.
func icidOf(req *sip.Request, d *proxy.Decision) string {
	vals := header.Values(req, header.PChargingVector)
	for _, h := range d.AddHeaders {
		if strings.EqualFold(h.Name(), header.PChargingVector) {
			vals = append(vals, h.Value())
		}
	}
	for _, v := range vals {
		if cv, err := header.ParseChargingVector(v); err == nil && cv.ICIDValue != "" {
			return cv.ICIDValue
		}
	}
	return ""
}

// track records what a release of the call will need from a request.
func (h *qosHook) track(key string, req *sip.Request, bk bindingKey, fromUE bool, d *proxy.Decision) {
	cseq := uint32(0)
	if c := req.CSeq(); c != nil {
		cseq = c.SeqNo
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.calls[key]
	if !ok {
		if req.Method != sip.INVITE || hasToTag(req) || req.From() == nil || req.To() == nil {
			return
		}
		c = &qosCall{callID: callID(req), binding: bk, ueCaller: fromUE, caller: req.From().Address,
			callerTag: fromTag(req), callee: req.To().Address}
		if fromUE {
			// TS 24.229 §5.2.6.3.2: the route towards the core is the stored Service-Route.
			for _, hd := range d.AddHeaders {
				if r, ok := hd.(*sip.RouteHeader); ok {
					c.coreRoute = append(c.coreRoute, r.Address)
				}
			}
		} else {
			// The callee's route set: the Record-Route received, beyond us (RFC 3261 §12.1.1).
			rr, _ := routeSet(req, header.RecordRoute)
			c.coreRoute = rr
		}
		h.calls[key] = c
	}
	if ct := req.Contact(); ct != nil && req.Method == sip.INVITE {
		if fromUE {
			c.ueContact, c.haveUE = ct.Address, true
		} else {
			c.peerContact, c.havePeer = ct.Address, true
		}
	}
	if req.Method != sip.ACK && req.Method != sip.CANCEL {
		if fromUE {
			c.ueCSeq = max(c.ueCSeq, cseq)
		} else {
			c.peerCSeq = max(c.peerCSeq, cseq)
		}
	}
}

// learn records the callee's tag and contact from a response, and for a UE caller the route set
// its 2xx establishes (RFC 3261 §12.1.2: the Record-Route reversed, here without our own entries).
func (h *qosHook) learn(key string, res *sip.Response, reqFromUE bool) {
	if res.StatusCode <= 100 || res.StatusCode >= 300 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.calls[key]
	if !ok {
		return
	}
	if t := toTag(res); t != "" && c.calleeTag == "" {
		c.calleeTag = t
	}
	if ct := res.Contact(); ct != nil {
		if reqFromUE {
			c.peerContact, c.havePeer = ct.Address, true
		} else {
			c.ueContact, c.haveUE = ct.Address, true
		}
	}
}

func (h *qosHook) forget(key string) {
	h.mu.Lock()
	delete(h.calls, key)
	delete(h.legs, key)
	h.mu.Unlock()
}

func (h *qosHook) take(key string) (*qosCall, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.calls[key]
	delete(h.calls, key)
	delete(h.legs, key)
	return c, ok
}

// ReleaseCall ends the call leg key on both sides (qos.Events): TS 24.229 §5.2.8.1.2, on the PCRF's
// indication that the media bearer is lost, the P-CSCF sends a BYE to the UE and one towards the
// core, each as if from the other end, with a Reason header (RFC 3326) saying why.
func (n *Node) ReleaseCall(key, reason string) {
	callID, _, _ := strings.Cut(key, "\n")
	log := n.log.With(logging.CallID(callID))
	c, ok := n.qos.take(key)
	if !ok || !c.haveUE || !c.havePeer || c.calleeTag == "" {
		log.Info("bearer lost for a call not (or not yet) established: nothing to release")
		return
	}
	reg, ok := n.regs.get(c.binding)
	if !ok {
		log.Info("bearer lost for a call of a binding gone meanwhile")
		return
	}
	ueURI, ueTag, peerURI, peerTag := c.callee, c.calleeTag, c.caller, c.callerTag
	if c.ueCaller {
		ueURI, ueTag, peerURI, peerTag = c.caller, c.callerTag, c.callee, c.calleeTag
	}
	why := `SIP;cause=503;text="` + strings.ReplaceAll(reason, `"`, "'") + `"`
	// To the UE, as from the remote end.
	toUE := byeRequest(c.ueContact, callID, peerURI, peerTag, ueURI, ueTag, c.peerCSeq+1, why, nil)
	hop := n.ueTarget(reg).NextHop
	// Towards the core, as from the UE, along the dialog's route set.
	route := c.coreRoute
	if rec, ok := n.dialogs.get(dialogKey{callID, ueTag, peerTag}); ok {
		route = rec.route // the dialog's route set beyond us (edge.go), as the UE's own requests carry it
	}
	toCore := byeRequest(c.peerContact, callID, ueURI, ueTag, peerURI, peerTag, c.ueCSeq+1, why, route)
	for _, s := range []struct {
		side string
		req  *sip.Request
		opts []proxy.SendOption
	}{{"ue", toUE, []proxy.SendOption{proxy.WithNextHop(*hop)}}, {"core", toCore, nil}} {
		n.wg.Go(func() {
			ctx, cancel := context.WithTimeout(n.base, 32*time.Second)
			defer cancel()
			res, err := n.proxy.Send(ctx, s.req, s.opts...)
			if err != nil {
				log.Warn("BYE after bearer loss failed", zap.String("side", s.side), zap.Error(err))
				return
			}
			log.Info("call released after bearer loss", zap.String("side", s.side), zap.Int("code", res.StatusCode))
		})
	}
	n.dialogs.remove(dialogKey{callID, ueTag, peerTag})
}

// byeRequest builds a BYE in a dialog (RFC 3261 §15.1.1) from the given party to the other.
func byeRequest(target sip.Uri, callID string, from sip.Uri, fromTag string, to sip.Uri, toTag string, cseq uint32, reason string, route []sip.Uri) *sip.Request {
	req := sip.NewRequest(sip.BYE, target)
	req.AppendHeader(sip.NewHeader("From", "<"+from.String()+">;tag="+fromTag))
	req.AppendHeader(sip.NewHeader("To", "<"+to.String()+">;tag="+toTag))
	req.AppendHeader(sip.NewHeader("Call-ID", callID))
	req.AppendHeader(sip.NewHeader("CSeq", strconv.FormatUint(uint64(cseq), 10)+" BYE"))
	for i := range route {
		req.AppendHeader(&sip.RouteHeader{Address: route[i]})
	}
	req.AppendHeader(sip.NewHeader("Reason", reason))
	return req
}

var _ qos.Events = (*Node)(nil)
