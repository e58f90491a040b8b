package imsagw

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/imsagw/h248"
)

// H.248.8 error codes this AGW answers with.
const (
	errUnknownContext      = 411 // The transaction refers to an unknown ContextId
	errNoContextIDs        = 412 // No ContextIDs available
	errIllegalAction       = 421 // Unknown action or illegal combination of actions
	errUnknownTermination  = 430 // Unknown TerminationID
	errTooManyTerminations = 434 // Max number of Terminations in a Context exceeded
	errUnknownCommand      = 443 // Unsupported or Unknown Command
	errBadValue            = 449 // Unsupported or Unknown Parameter or Property Value
	errResources           = 510 // Insufficient resources
)

func iqError(code int, format string, args ...any) *h248.Error {
	return &h248.Error{Code: code, Text: fmt.Sprintf(format, args...)}
}

// serveIq is the Iq request handler (TS 29.334 §5; procedures of TS 23.334 §8): every action of the
// transaction in turn. A failure on a context this transaction created removes it and fails the whole
// transaction; on an existing context the commands before it stay done and the Error descriptor ends the
// action's reply (H.248.1 §8.2.2, Annex B "actionReply").
func (n *Node) serveIq(_ context.Context, from netip.AddrPort, t h248.Transaction) ([]*h248.Node, error) {
	var out []*h248.Node
	for _, a := range t.Actions {
		replies, err := n.action(from, a)
		if err != nil {
			return nil, err
		}
		out = append(out, replies...)
	}
	if len(out) == 0 {
		return nil, iqError(errIllegalAction, "no action")
	}
	return out, nil
}

func (n *Node) action(from netip.AddrPort, a h248.Action) ([]*h248.Node, error) {
	switch a.Context {
	case h248.All: // Context=* serves AuditValue only: how a restarted ALG finds its calls again
		return n.auditAll(from, a.Commands)
	case h248.NullContext:
		return nil, iqError(errIllegalAction, "the null context holds no terminations here")
	}
	var cx *agwContext
	created := false
	if a.Context == h248.Choose {
		var err error
		if cx, err = n.newContext(from); err != nil {
			return nil, err
		}
		created = true
	} else {
		id, err := strconv.ParseUint(a.Context, 10, 32)
		if err == nil {
			cx = n.context(uint32(id))
		}
		if cx == nil {
			return nil, iqError(errUnknownContext, "The transaction refers to an unknown ContextId")
		}
	}
	cx.mu.Lock()
	cx.ctrl = from
	cx.lastCmd = time.Now()
	var replies []*h248.Node
	var failed error
	for _, cmd := range a.Commands {
		r, err := n.command(cx, cmd)
		verb := commandName(cmd.Name)
		if err != nil {
			var he *h248.Error
			if !errors.As(err, &he) {
				he = iqError(h248.ErrCodeInternalError, "Internal software failure")
				cx.log.Error("command failed", zap.String("command", verb), zap.Error(err))
			}
			n.metrics.commands.WithLabelValues(verb, strconv.Itoa(he.Code)).Inc()
			cx.log.Info("command refused", zap.String("command", verb), zap.Int("code", he.Code), zap.String("text", he.Text))
			failed = he
			break
		}
		n.metrics.commands.WithLabelValues(verb, "ok").Inc()
		replies = append(replies, r...)
	}
	empty := len(cx.terms) == 0
	cx.mu.Unlock()
	if failed != nil && created && len(replies) == 0 {
		n.removeContext(cx)
		return nil, failed
	}
	if failed != nil {
		var he *h248.Error
		errors.As(failed, &he)
		replies = append(replies, h248.ErrorDescriptor(he.Code, he.Text))
	}
	ctxID := strconv.FormatUint(uint64(cx.id), 10)
	if empty {
		n.removeContext(cx) // the last termination was subtracted: the context goes (H.248.1 §7.2.4)
	}
	reply := h248.Assign("Context", ctxID, replies...)
	reply.HasBody = true
	return []*h248.Node{reply}, nil
}

// commandName is a command's long name for logs and metrics.
func commandName(token string) string {
	switch strings.ToLower(token) {
	case "add", "a":
		return "Add"
	case "modify", "mf":
		return "Modify"
	case "subtract", "s":
		return "Subtract"
	case "auditvalue", "av":
		return "AuditValue"
	}
	return "other"
}

// command runs one command on cx (under cx.mu).
func (n *Node) command(cx *agwContext, cmd *h248.Node) ([]*h248.Node, error) {
	switch commandName(cmd.Name) {
	case "Add":
		return n.add(cx, cmd)
	case "Modify":
		return n.modify(cx, cmd)
	case "Subtract":
		return n.subtract(cx, cmd)
	case "AuditValue":
		return n.audit(cx, cmd.Value)
	}
	return nil, iqError(errUnknownCommand, "Unsupported command %s", cmd.Name)
}

// add is Reserve AGW Connection Point (TS 23.334 §8, only Local) and Reserve and Configure AGW Connection
// Point (§8.2; Local and Remote): a new termination with its listener, answered with the Local descriptor
// filled in (address, port, a=setup, and for TLS the AGW's a=fingerprint, "Local certificate fingerprint").
func (n *Node) add(cx *agwContext, cmd *h248.Node) ([]*h248.Node, error) {
	if cmd.Value != h248.Choose {
		return nil, iqError(errUnknownTermination, "Unknown TerminationID %s: the AGW chooses ($)", cmd.Value)
	}
	if len(cx.terms) >= 2 {
		return nil, iqError(errTooManyTerminations, "Max number of Terminations in a Context exceeded")
	}
	ss := h248.Streams(cmd)
	if len(ss) != 1 || ss[0].Local == "" {
		return nil, iqError(errBadValue, "one stream with a Local descriptor is required")
	}
	s := ss[0]
	var props properties
	props.estab = estabNow
	realm, bad := readProperties(&props, s.Properties)
	if bad != "" {
		return nil, iqError(errBadValue, "Unsupported value of %s", bad)
	}
	var addr string
	switch realm {
	case n.cfg.AccessRealm:
		addr = n.cfg.AccessAddress
	case n.cfg.CoreRealm, "":
		realm, addr = n.cfg.CoreRealm, n.cfg.CoreAddress
	default:
		return nil, iqError(errBadValue, "Unknown IP realm %s", realm)
	}
	local, err := parseSDP(s.Local)
	if err != nil {
		return nil, iqError(errBadValue, "Local: %v", err)
	}
	id := fmt.Sprintf("ip/%d/%s/%d", cx.id, realm, n.seq.Add(1))
	t := &termination{id: id, realm: realm, access: realm == n.cfg.AccessRealm, cx: cx, props: props,
		log: cx.log.With(zap.String("termination", id)), local: local}
	if local.rtp() {
		if err := t.bindRTP(addr, n.cfg.MediaDSCP); err != nil {
			return nil, iqError(errResources, "Insufficient resources: %v", err)
		}
	} else {
		ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
		if err != nil {
			return nil, iqError(errResources, "Insufficient resources: %v", err)
		}
		t.ln = ln
		t.local.Addr = addr
		t.local.Port = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		if t.local.Setup == h248.Choose {
			t.local.Setup = SetupPassive
		}
		if t.local.tls() {
			t.local.Fingerprint = n.fingerprint // TS 23.334 §6.2.10.3.1: the ALG puts it in the SDP towards the UE
		} else {
			t.local.Fingerprint = ""
		}
	}
	local = t.local
	t.eventsID, t.notify, _ = readEvents(cmd)
	if s.Remote != "" {
		if err := t.setRemote(s.Remote); err != nil {
			t.close()
			return nil, err
		}
	}
	cx.terms = append(cx.terms, t)
	n.metrics.terms.Inc()
	if t.udp != nil {
		n.wg.Go(func() { t.rtpLoop(t.udp, false) })
		n.wg.Go(func() { t.rtpLoop(t.rtcp, true) })
	} else {
		n.wg.Go(t.acceptLoop)
		cx.tryDial(t, false)
	}
	t.log.Info("termination added", zap.String("realm", realm), zap.String("local", net.JoinHostPort(local.Addr, local.Port)),
		zap.String("proto", local.Proto), zap.String("setup", local.Setup), zap.Bool("remote", t.remote != nil))
	return []*h248.Node{h248.Assign("Add", id, h248.Token("Media",
		h248.Assign("Stream", strconv.Itoa(int(s.ID)), h248.Octets("Local", local.render()))))}, nil
}

// setRemote takes a Remote descriptor (TS 23.334 "Remote Connection Address", "Remote IP Resources", and the
// UE's a=fingerprint, "Remote certificate fingerprint"); a TLS termination needs the fingerprint.
func (t *termination) setRemote(sdp string) error {
	r, err := parseSDP(sdp)
	if err != nil {
		return iqError(errBadValue, "Remote: %v", err)
	}
	if _, err := netip.ParseAddr(r.Addr); err != nil {
		return iqError(errBadValue, "Remote: c= address %q", r.Addr)
	}
	if t.local.tls() {
		if _, err := parseFingerprint(r.Fingerprint); err != nil {
			return iqError(errBadValue, "Remote: %v", err)
		}
	}
	t.remote = &r
	return nil
}

// modify is Configure AGW Connection Point (TS 23.334 §8): new Remote (the answer's address, port, a=setup
// and fingerprint), new LocalControl properties, a new Local a=setup, a new Events descriptor.
func (n *Node) modify(cx *agwContext, cmd *h248.Node) ([]*h248.Node, error) {
	t := cx.find(cmd.Value)
	if t == nil {
		return nil, iqError(errUnknownTermination, "Unknown TerminationID %s", cmd.Value)
	}
	for _, s := range h248.Streams(cmd) {
		props := t.props
		if _, bad := readProperties(&props, s.Properties); bad != "" {
			return nil, iqError(errBadValue, "Unsupported value of %s", bad)
		}
		if s.Local != "" {
			l, err := parseSDP(s.Local)
			if err != nil {
				return nil, iqError(errBadValue, "Local: %v", err)
			}
			if l.Setup != "" && l.Setup != h248.Choose {
				t.local.Setup = l.Setup
			}
		}
		if s.Remote != "" {
			if err := t.setRemote(s.Remote); err != nil {
				return nil, err
			}
		}
		t.props = props
	}
	if id, cause, ok := readEvents(cmd); ok {
		t.eventsID, t.notify = id, cause
	}
	if t.remote != nil {
		cx.releaseHeld(t)
	}
	o := t.other()
	cx.tryDial(t, o != nil && o.conn != nil)
	t.log.Info("termination modified", zap.Bool("remote", t.remote != nil), zap.String("setup", t.local.Setup),
		zap.Bool("agw_active", t.agwActive()), zap.String("estab", t.props.estab))
	return []*h248.Node{h248.Assign("Modify", t.id)}, nil
}

// subtract is Release AGW Termination (TS 23.334 §8): the termination's sockets are closed; "*" releases
// every termination of the context.
func (n *Node) subtract(cx *agwContext, cmd *h248.Node) ([]*h248.Node, error) {
	var gone []*termination
	if cmd.Value == h248.All {
		gone = append(gone, cx.terms...)
	} else if t := cx.find(cmd.Value); t != nil {
		gone = append(gone, t)
	} else {
		return nil, iqError(errUnknownTermination, "Unknown TerminationID %s", cmd.Value)
	}
	var out []*h248.Node
	for _, t := range gone {
		t.subtracted = true
		t.close()
		for i, x := range cx.terms {
			if x == t {
				cx.terms = append(cx.terms[:i], cx.terms[i+1:]...)
				break
			}
		}
		n.metrics.terms.Dec()
		t.log.Info("termination subtracted")
		out = append(out, h248.Assign("Subtract", t.id))
	}
	return out, nil
}

// audit is AuditValue of one termination or all ("*", "ROOT") of cx (H.248.1 §7.2.5): each with its
// LocalControl, Local and Remote, so that a restarted ALG can take the context over.
func (n *Node) audit(cx *agwContext, which string) ([]*h248.Node, error) {
	var out []*h248.Node
	for _, t := range cx.terms {
		if which != h248.All && !strings.EqualFold(which, "ROOT") && which != t.id {
			continue
		}
		stream := h248.Assign("Stream", "1", h248.Token("LocalControl", t.writeProperties()...),
			h248.Octets("Local", t.local.render()))
		if t.remote != nil {
			stream.Children = append(stream.Children, h248.Octets("Remote", t.remote.render()))
		}
		out = append(out, h248.Assign("AuditValue", t.id, h248.Token("Media", stream)))
	}
	if len(out) == 0 {
		return nil, iqError(errUnknownTermination, "Unknown TerminationID %s", which)
	}
	return out, nil
}

// auditAll answers AuditValue on Context=*: one action reply per context. The sender becomes the controller
// each context notifies.
func (n *Node) auditAll(from netip.AddrPort, cmds []*h248.Node) ([]*h248.Node, error) {
	if len(cmds) != 1 || commandName(cmds[0].Name) != "AuditValue" {
		return nil, iqError(errIllegalAction, "Context=* takes one AuditValue")
	}
	var out []*h248.Node
	for _, cx := range n.contextList() {
		cx.mu.Lock()
		cx.ctrl = from
		r, err := n.audit(cx, h248.All)
		cx.mu.Unlock()
		if err != nil {
			continue // a context without terminations has nothing to show
		}
		c := h248.Assign("Context", strconv.FormatUint(uint64(cx.id), 10), r...)
		out = append(out, c)
	}
	n.metrics.commands.WithLabelValues("AuditValue", "ok").Inc()
	if len(out) == 0 {
		// Annex B: an action reply needs a body; the null context with an empty AuditValue says "none".
		c := h248.Assign("Context", h248.NullContext, h248.Assign("AuditValue", "ROOT"))
		out = append(out, c)
	}
	return out, nil
}
