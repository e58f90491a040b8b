// Package pcrftest is a PCRF for tests: a Diameter node serving the Rx application (TS 29.214) that
// checks what an AF sends as a PCRF must (every mandatory AVP through diameter/rx's decoder, the
// Flow-Description syntax of §5.3.8, an IP-CAN session for the UE's address, Rx-Request-Type against
// the sessions it holds) and answers the way Open5GS's PCRF does (5065 IP-CAN_SESSION_NOT_AVAILABLE
// for an unknown UE address, 5002 for an unknown session, 5063 when told to refuse). It can send
// RAR and ASR to the AF. No real PCRF is packaged for this machine; this is the test counterpart.
package pcrftest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"github.com/fiorix/go-diameter/v4/diam/dict"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/diameter/rx"
)

// Defaults: the identities of an Open5GS EPC next to the test IMS.
const (
	Host  = "pcrf.epc.mnc001.mcc001.3gppnetwork.org"
	Realm = "epc.mnc001.mcc001.3gppnetwork.org"
)

// Options configure a PCRF.
type Options struct {
	// AFHost and AFRealm are the AF allowed to connect (from 127.0.0.1).
	AFHost, AFRealm string
	// UEs are the UE addresses with an IP-CAN session; an AAR for another address is refused with
	// IP-CAN_SESSION_NOT_AVAILABLE (TS 29.214 §5.5.3). Empty: every address has one.
	UEs []netip.Addr
	Log *zap.Logger
}

// PCRF is a running test PCRF.
type PCRF struct {
	Node *peer.Node
	Addr string // host:port it listens on
	dict *dict.Parser
	opts Options

	mu       sync.Mutex
	log      []rx.Message    // every request received, decoded, in order
	frames   [][]byte        // every Rx message on the wire, requests and answers, in order
	sessions map[string]bool // open Rx sessions
	refuse   diameter.ResultCode
	changed  chan struct{}
}

// Start runs a PCRF on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, opts Options) *PCRF {
	t.Helper()
	d, err := rx.NewDictionary()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	p := &PCRF{dict: d, opts: opts, sessions: map[string]bool{}, changed: make(chan struct{})}
	node, err := peer.New(peer.Config{OriginHost: Host, OriginRealm: Realm, ProductName: "imscore-pcrftest",
		VendorID: rx.Vendor3GPP, Applications: []peer.Application{{ID: rx.AppID, VendorID: rx.Vendor3GPP}},
		Dictionary: d, Log: opts.Log,
		Peers: []peer.AllowedPeer{{Host: opts.AFHost, Realm: opts.AFRealm, Sources: []string{"127.0.0.1", "::1"}}}}, p)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = node.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_ = node.Close(cctx)
		<-done
	})
	p.Node, p.Addr = node, ln.Addr().String()
	return p
}

// Refuse makes every following AAR be answered with Experimental-Result code (vendor 3GPP); 0 accepts again.
func (p *PCRF) Refuse(code diameter.ResultCode) {
	p.mu.Lock()
	p.refuse = code
	p.mu.Unlock()
}

// Requests returns the requests received so far.
func (p *PCRF) Requests() []rx.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rx.Message(nil), p.log...)
}

// Frames returns every Rx message exchanged, in wire form, for a tshark check.
func (p *PCRF) Frames() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.frames...)
}

// Open reports whether the Rx session id is open at the PCRF.
func (p *PCRF) Open(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[id]
}

// Wait waits until a received request satisfies match and returns it; it fails t after 10 s.
func (p *PCRF) Wait(t testing.TB, what string, match func(rx.Message) bool) rx.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		for _, m := range p.log {
			if match(m) {
				p.mu.Unlock()
				return m
			}
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("pcrftest: no %s within 10 s; received %d requests", what, len(p.Requests()))
			return nil
		}
	}
}

func (p *PCRF) record(m rx.Message, frame []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m != nil {
		p.log = append(p.log, m)
	}
	if frame != nil {
		p.frames = append(p.frames, frame)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// ServeDiameter answers AAR and STR (peer.Handler).
func (p *PCRF) ServeDiameter(_ context.Context, req *diam.Message, _ peer.PeerInfo) (*diam.Message, error) {
	raw, _ := req.Serialize()
	p.record(nil, raw)
	m, err := rx.Parse(req)
	if err != nil {
		return nil, err // the peer layer answers with the Result-Code and Failed-AVP
	}
	p.record(m, nil)
	var ans rx.Message
	switch r := m.(type) {
	case *rx.AAR:
		ans = p.aa(r)
	case *rx.STR:
		sta := rx.NewSTA(r, Host, Realm)
		sta.ResultCode = diameter.Success
		p.mu.Lock()
		if !p.sessions[r.SessionID] {
			sta.ResultCode = diameter.UnknownSessionID
		}
		delete(p.sessions, r.SessionID)
		p.mu.Unlock()
		ans = sta
	default:
		return nil, &diameter.Error{Code: diameter.CommandUnsupported, Err: fmt.Errorf("%s from an AF", m.Command())}
	}
	out, err := ans.Marshal(p.dict)
	if err == nil && len(raw) >= 20 {
		b, _ := out.Serialize()
		copy(b[12:20], raw[12:20]) // the identifiers the peer layer will copy from the request
		p.record(nil, b)
	}
	return out, err
}

// flowRule is the IPFilterRule subset TS 29.214 §5.3.8 allows: "permit out", a protocol, "from"
// and "to" with an address (or "any") and an optional port.
var flowRule = regexp.MustCompile(`^permit out (\d+|ip) from (any|[0-9a-fA-F.:]+(/\d+)?)( \d+(-\d+)?)? to (any|[0-9a-fA-F.:]+(/\d+)?)( \d+(-\d+)?)?$`)

func (p *PCRF) aa(r *rx.AAR) *rx.AAA {
	a := rx.NewAAA(r, Host, Realm)
	a.AuthSessionState = nil
	fail := func(code diameter.ResultCode, msg string) *rx.AAA {
		a.ExperimentalResult = &rx.ExperimentalResult{VendorID: rx.Vendor3GPP, Code: uint32(code)}
		a.ErrorMessage = msg
		return a
	}
	for _, mcd := range r.MediaComponents {
		for _, sub := range mcd.SubComponents {
			for _, fd := range sub.FlowDescriptions {
				if !flowRule.MatchString(fd) {
					return fail(rx.FilterRestrictions, "Flow-Description "+fd)
				}
			}
		}
	}
	ue := r.FramedIPAddress
	if !ue.IsValid() && r.FramedIPv6Prefix.IsValid() {
		ue = r.FramedIPv6Prefix.Addr()
	}
	if !ue.IsValid() {
		return fail(rx.IPCANSessionNotAvailable, "no Framed-IP-Address")
	}
	if len(p.opts.UEs) > 0 {
		known := false
		for _, u := range p.opts.UEs {
			known = known || u == ue || (r.FramedIPv6Prefix.IsValid() && r.FramedIPv6Prefix.Contains(u))
		}
		if !known {
			return fail(rx.IPCANSessionNotAvailable, "no IP-CAN session for "+ue.String())
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	update := r.RxRequestType != nil && *r.RxRequestType == rx.UpdateRequest
	if update && !p.sessions[r.SessionID] {
		a.ResultCode = diameter.UnknownSessionID
		return a
	}
	if p.refuse != 0 {
		return fail(p.refuse, "refused by test policy")
	}
	p.sessions[r.SessionID] = true
	a.ResultCode = diameter.Success
	ipcan := rx.IPCAN3GPPEPS
	a.IPCANType = &ipcan
	return a
}

// SendRAR sends an RAR for session id to the AF, reporting actions on flows (none: the whole session).
func (p *PCRF) SendRAR(ctx context.Context, id string, actions []rx.SpecificAction, flows []rx.Flows, cause *rx.AbortCause) (*rx.RAA, error) {
	r := &rx.RAR{SessionID: id, OriginHost: Host, OriginRealm: Realm, DestinationRealm: p.opts.AFRealm,
		DestinationHost: p.opts.AFHost, SpecificActions: actions, Flows: flows, AbortCause: cause}
	var ans rx.RAA
	return &ans, p.request(ctx, r, &ans)
}

// SendASR sends an ASR for session id to the AF.
func (p *PCRF) SendASR(ctx context.Context, id string, cause rx.AbortCause) (*rx.ASA, error) {
	r := &rx.ASR{SessionID: id, OriginHost: Host, OriginRealm: Realm, DestinationRealm: p.opts.AFRealm,
		DestinationHost: p.opts.AFHost, AbortCause: cause}
	var ans rx.ASA
	return &ans, p.request(ctx, r, &ans)
}

func (p *PCRF) request(ctx context.Context, r rx.Message, ans rx.Message) error {
	b, err := r.AppendBinary(nil)
	if err != nil {
		return err
	}
	raw, err := p.Node.RequestBinary(ctx, b)
	if err != nil {
		return fmt.Errorf("pcrftest %s: %w", r.Command().Request(), err)
	}
	if len(raw) >= 20 {
		copy(b[12:20], raw[12:20]) // the identifiers the peer layer gave the request
	}
	p.mu.Lock()
	p.frames = append(p.frames, b, raw)
	p.mu.Unlock()
	return ans.UnmarshalBinary(raw)
}
