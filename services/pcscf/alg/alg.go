// Package alg is the P-CSCF's IMS-ALG for MSRP end-to-access-edge security (TS 23.334 §6.2.10.3.1, TS 33.328
// e2ae): the Iq client that reserves, configures and releases the IMS-AGW's terminations for one MSRP stream,
// and the SDP rewriting of the offer and answer on each side. TCP/TLS/MSRP with the AGW's fingerprint and
// a=3ge2ae:applied towards the UE; TCP/MSRP without any fingerprint towards the core.
//
// It is not wired into the P-CSCF's dialogs yet: the caller (the P-CSCF's INVITE, 18x/2xx, UPDATE, BYE and
// CANCEL handling) hands it the SDP bodies and keeps the Stream with the dialog.
package alg

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/imscore/imscore/services/imsagw"
	"github.com/imscore/imscore/services/imsagw/h248"
)

// Establish selects the variant of TS 23.334 §6.2.10.3.1.1 for the AGW's connection towards the core.
type Establish int

const (
	// Interlinked: the UE's connection at T1 triggers the AGW's at T2 (§6.2.10.3.1.1.1).
	Interlinked Establish = 1
	// OnAnswer: the ALG asks the AGW to connect at T2 once the answer's a=setup is known (§6.2.10.3.1.1.2).
	OnAnswer Establish = 2
)

// Values of a=3ge2ae (TS 24.229 §7.5.x): what the UE asks for and what the P-CSCF answers.
const (
	e2aeRequested = "requested"
	e2aeApplied   = "applied"
)

// ErrNotE2AE means the offer asks for no e2ae MSRP stream: the SDP passes unchanged and no AGW resource is taken.
var ErrNotE2AE = errors.New("alg: no e2ae MSRP stream")

// Client speaks Iq to one AGW through an H.248 endpoint whose handler is NotifyHandler.
type Client struct {
	ep  *h248.Endpoint
	agw netip.AddrPort
}

// New returns a client of the AGW at agw.
func New(ep *h248.Endpoint, agw netip.AddrPort) *Client { return &Client{ep: ep, agw: agw} }

// Stream is one MSRP stream anchored at the AGW; the dialog keeps it from offer to release.
type Stream struct {
	Context string
	// T1 is the termination towards the UE, T2 towards the core.
	T1, T2      string
	Fingerprint string // the AGW's certificate, as given to the UE
	t1, t2      endpoint
	establish   Establish
	// ueSetup and coreSetup are the a=setup values the ALG wrote towards each side; offerSetup is the core's
	// a=setup of a terminating offer.
	ueSetup, coreSetup, offerSetup string
}

type endpoint struct{ addr, port string }

// ueLocal and coreLocal are the Local descriptors the ALG asks for: the AGW chooses address, port (and on T1 its
// fingerprint).
func ueLocal(setup string) string {
	return "v=0\r\nc=IN IP4 $\r\nm=message $ TCP/TLS/MSRP *\r\na=setup:" + setup + "\r\na=fingerprint:$\r\n"
}

func coreLocal(setup string) string {
	return "v=0\r\nc=IN IP4 $\r\nm=message $ TCP/MSRP *\r\na=setup:" + setup + "\r\n"
}

func props(realm string, more ...*h248.Node) []*h248.Node {
	return append([]*h248.Node{h248.Prop(imsagw.PropRealm, `"`+realm+`"`)}, more...)
}

func add(local, remote string, p []*h248.Node, eventsID string) *h248.Node {
	return h248.Command("Add", h248.Choose, []h248.Stream{{ID: 1, Mode: h248.ModeSendReceive, Properties: p,
		Local: local, Remote: remote}}, h248.Assign("Events", eventsID, h248.Token(imsagw.EventCause)))
}

func modify(termination, local, remote string, p ...*h248.Node) *h248.Node {
	return h248.Command("Modify", termination, []h248.Stream{{ID: 1, Properties: p, Local: local, Remote: remote}})
}

// opposite is the setup role that answers role (RFC 4145 §4.1). Towards the UE the AGW takes passive when it
// may choose (the UE connects, TS 23.334 §6.2.10.3.1).
func opposite(role string) string {
	if role == "passive" {
		return "active"
	}
	return "passive"
}

// coreRole is the AGW's role at T2 answering the core's role: active when it may choose, so that it connects
// to the core only once the UE's TLS connection is up (interlinkage) rather than taking a connection from the
// core before anything reached T1.
func coreRole(role string) string {
	if role == "active" {
		return "passive"
	}
	return "active"
}

// OriginatingOffer handles the UE's offer (TS 23.334 §6.2.10.3.1.1 steps 1-5): for a TCP/TLS/MSRP stream with
// a=3ge2ae:requested it reserves T1 (the UE's address, setup and fingerprint as Remote, source filtering on)
// and T2 (actpass towards the core), and returns the offer for the core: TCP/MSRP at T2, no fingerprint, no
// a=3ge2ae.
func (c *Client) OriginatingOffer(ctx context.Context, offer []byte, est Establish) (*Stream, []byte, error) {
	s, i, ue, err := e2aeStream(offer, true)
	if err != nil {
		return nil, offer, err
	}
	t2props := []*h248.Node{}
	if est == Interlinked {
		t2props = append(t2props, h248.Prop(imsagw.PropEstab, "interlinked"))
	}
	tr, err := c.ep.Request(ctx, c.agw, h248.Choose,
		add(ueLocal(opposite(ue.setup)), s.descriptor(i), props("access", h248.Prop(imsagw.PropSAF, "on")), "1"),
		add(coreLocal("actpass"), "", props("core", t2props...), "2"))
	if err != nil {
		return nil, offer, fmt.Errorf("alg: reserve: %w", err)
	}
	st, err := streamOf(tr)
	if err != nil {
		return nil, offer, err
	}
	st.establish, st.coreSetup = est, "actpass"
	s.rewrite(i, st.t2.addr, st.t2.port, "TCP/MSRP", "actpass", "", "")
	return st, s.bytes(), nil
}

// OriginatingAnswer handles the core's answer (steps 6-9): T2 gets the answer's address and a=setup (with
// OnAnswer the AGW connects now), and the UE gets TCP/TLS/MSRP at T1 with the AGW's fingerprint and
// a=3ge2ae:applied.
func (c *Client) OriginatingAnswer(ctx context.Context, st *Stream, answer []byte) ([]byte, error) {
	s, i, b, err := answerStream(answer)
	if err != nil {
		return answer, err
	}
	estab := "interlinked"
	if st.establish == OnAnswer {
		estab = "now"
	}
	if _, err := c.ep.Request(ctx, c.agw, st.Context, modify(st.T2, coreLocal(coreRole(b.setup)), s.descriptor(i),
		h248.Prop(imsagw.PropEstab, estab))); err != nil {
		return answer, fmt.Errorf("alg: configure %s: %w", st.T2, err)
	}
	st.ueSetup = "passive"
	s.rewrite(i, st.t1.addr, st.t1.port, "TCP/TLS/MSRP", "passive", st.Fingerprint, e2aeApplied)
	return s.bytes(), nil
}

// TerminatingOffer handles an offer from the core towards a UE that registered e2ae support (TS 23.334
// §6.2.10.3.1.2): T2 takes the core's address (passive when the core is active, else active once the UE is
// up, interlinked; with OnAnswer active once the UE's answer came), T1 is reserved with TLS, and the UE gets
// TCP/TLS/MSRP at T1, actpass, the AGW's fingerprint and a=3ge2ae:applied.
func (c *Client) TerminatingOffer(ctx context.Context, offer []byte, est Establish) (*Stream, []byte, error) {
	s, i, a, err := e2aeStream(offer, false)
	if err != nil {
		return nil, offer, err
	}
	tr, err := c.ep.Request(ctx, c.agw, h248.Choose,
		add(ueLocal("actpass"), "", props("access", h248.Prop(imsagw.PropSAF, "on")), "1"),
		add(coreLocal(coreRole(a.setup)), s.descriptor(i), props("core", h248.Prop(imsagw.PropEstab, "interlinked")), "2"))
	if err != nil {
		return nil, offer, fmt.Errorf("alg: reserve: %w", err)
	}
	st, err := streamOf(tr)
	if err != nil {
		return nil, offer, err
	}
	st.establish, st.ueSetup, st.offerSetup = est, "actpass", a.setup
	s.rewrite(i, st.t1.addr, st.t1.port, "TCP/TLS/MSRP", "actpass", st.Fingerprint, e2aeApplied)
	return st, s.bytes(), nil
}

// TerminatingAnswer handles the UE's answer: T1 gets the UE's address, a=setup and fingerprint (with OnAnswer
// T2 is asked to connect now, §6.2.10.3.1.1.2), and the core gets TCP/MSRP at T2 with T2's role.
func (c *Client) TerminatingAnswer(ctx context.Context, st *Stream, answer []byte) ([]byte, error) {
	s, i, u, err := answerStream(answer)
	if err != nil {
		return answer, err
	}
	if u.fingerprint == "" {
		return answer, fmt.Errorf("%w: the UE's answer has no a=fingerprint", ErrSDP)
	}
	cmds := []*h248.Node{modify(st.T1, ueLocal(opposite(u.setup)), s.descriptor(i))}
	if st.establish == OnAnswer {
		cmds = append(cmds, modify(st.T2, "", "", h248.Prop(imsagw.PropEstab, "now")))
	}
	if _, err := c.ep.Request(ctx, c.agw, st.Context, cmds...); err != nil {
		return answer, fmt.Errorf("alg: configure %s: %w", st.T1, err)
	}
	st.coreSetup = coreRole(st.offerSetup)
	s.rewrite(i, st.t2.addr, st.t2.port, "TCP/MSRP", st.coreSetup, "", "")
	return s.bytes(), nil
}

// Rewrite points the MSRP stream of a later SDP body of the session (a re-INVITE, an UPDATE, a repeated
// answer) at the AGW's termination facing the receiver, with the roles already agreed; the terminations keep
// their configuration and the TCP connections stay (RFC 4975 §5.4: the same path, the same session).
func (c *Client) Rewrite(st *Stream, body []byte, towardsUE bool) ([]byte, error) {
	s, err := parseSession(body)
	if err != nil {
		return body, err
	}
	i := s.msrpIndex()
	if i < 0 {
		return body, nil
	}
	if towardsUE {
		s.rewrite(i, st.t1.addr, st.t1.port, "TCP/TLS/MSRP", st.ueSetup, st.Fingerprint, e2aeApplied)
	} else {
		s.rewrite(i, st.t2.addr, st.t2.port, "TCP/MSRP", st.coreSetup, "", "")
	}
	return s.bytes(), nil
}

// Release is Release AGW Termination for both terminations (BYE, CANCEL, a failed answer).
func (c *Client) Release(ctx context.Context, st *Stream) error {
	return c.ReleaseContext(ctx, st.Context)
}

// Contexts audits the AGW (AuditValue on Context=*): the contexts it holds and their terminations, for a
// restarted P-CSCF to match against its dialogs and release the rest.
func (c *Client) Contexts(ctx context.Context) (map[string][]string, error) {
	tr, err := c.ep.Request(ctx, c.agw, h248.All, h248.Assign("AuditValue", h248.All))
	if err != nil {
		return nil, fmt.Errorf("alg: audit: %w", err)
	}
	out := map[string][]string{}
	for _, a := range tr.Actions {
		if a.Context == h248.NullContext {
			continue
		}
		for _, cmd := range a.Commands {
			out[a.Context] = append(out[a.Context], cmd.Value)
		}
	}
	return out, nil
}

// NotifyHandler is the ALG endpoint's handler: it answers the AGW's Notify and reports each observed g/cause
// (bearer released: NR; establishment failed: FT) to fn.
func NotifyHandler(fn func(context, termination, cause string)) h248.Handler {
	return func(_ context.Context, _ netip.AddrPort, t h248.Transaction) ([]*h248.Node, error) {
		var out []*h248.Node
		for _, a := range t.Actions {
			var replies []*h248.Node
			for _, cmd := range a.Commands {
				if !strings.EqualFold(cmd.Name, "Notify") && !strings.EqualFold(cmd.Name, "N") {
					return nil, &h248.Error{Code: 443, Text: "Unsupported or Unknown Command"}
				}
				cause := ""
				if oe := cmd.Child("ObservedEvents", "OE"); oe != nil {
					if ev := oe.Child(imsagw.EventCause); ev != nil {
						cause, _ = ev.Property("Generalcause")
					}
				}
				fn(a.Context, cmd.Value, cause)
				replies = append(replies, h248.Assign("Notify", cmd.Value))
			}
			out = append(out, h248.Assign("Context", a.Context, replies...))
		}
		return out, nil
	}
}

// e2aeStream finds the stream to anchor: from the UE (ue true), TCP/TLS/MSRP with a=3ge2ae:requested and a
// fingerprint; from the core, TCP/MSRP.
func e2aeStream(offer []byte, ue bool) (*session, int, stream, error) {
	s, err := parseSession(offer)
	if err != nil {
		return nil, 0, stream{}, err
	}
	i := s.msrpIndex()
	if i < 0 {
		return nil, 0, stream{}, ErrNotE2AE
	}
	st, err := s.read(i)
	if err != nil {
		return nil, 0, stream{}, err
	}
	if ue && (st.proto != "TCP/TLS/MSRP" || st.e2ae != e2aeRequested || st.fingerprint == "") {
		return nil, 0, stream{}, ErrNotE2AE
	}
	return s, i, st, nil
}

// answerStream finds the MSRP stream of an answer.
func answerStream(answer []byte) (*session, int, stream, error) {
	s, err := parseSession(answer)
	if err != nil {
		return nil, 0, stream{}, err
	}
	i := s.msrpIndex()
	if i < 0 {
		return nil, 0, stream{}, fmt.Errorf("%w: the answer has no MSRP stream", ErrSDP)
	}
	st, err := s.read(i)
	return s, i, st, err
}

// added is one Add reply of a reservation: the termination and its Local descriptor as the AGW filled it in.
type added struct {
	id    string
	local stream
}

// addReplies reads the Add replies of a reservation: the context and each termination's Local.
func addReplies(tr h248.Transaction) (string, []added, error) {
	var ctxID string
	var out []added
	for _, a := range tr.Actions {
		ctxID = a.Context
		for _, cmd := range a.Commands {
			if !strings.EqualFold(cmd.Name, "Add") {
				continue
			}
			ss := h248.Streams(cmd)
			if len(ss) != 1 {
				return "", nil, fmt.Errorf("alg: Add reply for %s without its stream", cmd.Value)
			}
			l, err := parseSession([]byte(ss[0].Local))
			if err != nil || len(l.media) != 1 {
				return "", nil, fmt.Errorf("alg: Add reply for %s: Local %q", cmd.Value, ss[0].Local)
			}
			v, err := l.read(0)
			if err != nil {
				return "", nil, err
			}
			out = append(out, added{id: cmd.Value, local: v})
		}
	}
	return ctxID, out, nil
}

// streamOf reads the two Add replies of a reservation.
func streamOf(tr h248.Transaction) (*Stream, error) {
	ctxID, adds, err := addReplies(tr)
	if err != nil {
		return nil, err
	}
	st := &Stream{Context: ctxID}
	for _, a := range adds {
		ep := endpoint{addr: a.local.addr, port: a.local.port}
		if strings.Contains(a.local.proto, "TLS") {
			st.T1, st.t1, st.Fingerprint = a.id, ep, a.local.fingerprint
		} else {
			st.T2, st.t2 = a.id, ep
		}
	}
	if st.T1 == "" || st.T2 == "" || st.Fingerprint == "" {
		return nil, fmt.Errorf("alg: the AGW's reply lacks a termination or its fingerprint")
	}
	return st, nil
}
