package ue

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

const bobContact = "<sip:bob@127.0.0.1:5999>"

// TestInvitePRACKUpdate: the caller's side of INVITE, 100, 183 (Require: 100rel, RSeq 1), PRACK
// (RAck "1 <cseq> INVITE", RFC 3262 §7.2), UPDATE with a new offer (RFC 3311), 200, ACK; a
// retransmitted 183 is not PRACKed twice (RFC 3262 §4). Then a re-INVITE (RFC 3261 §14.1) and its ACK.
func TestInvitePRACKUpdate(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p)
	p.registerPlain(t, u, "600")
	var call *Call
	wait := async(func() error {
		var err error
		call, err = u.InviteWith(ctx(t), "sip:bob@ims.test", InviteOptions{Precondition: true})
		return err
	})
	inv, g := p.request(sip.INVITE)
	if !hasTag(inv, "Supported", "100rel") || !hasTag(inv, "Supported", "precondition") {
		t.Errorf("INVITE Supported %v lacks 100rel or precondition", header.Values(inv, "Supported"))
	}
	p.respond(g, inv, 100, "Trying")
	session := func(r *sip.Response) {
		r.To().Params.Add("tag", "b1")
		r.AppendHeader(sip.NewHeader("Contact", bobContact))
		r.AppendHeader(sip.NewHeader("Record-Route", "<sip:127.0.0.1:5998;lr>"))
	}
	rel := []func(*sip.Response){session, withHeader("Require", "100rel"), withHeader("RSeq", "1")}
	p.respond(g, inv, 183, "Session Progress", rel...)
	p.respond(g, inv, 183, "Session Progress", rel...) // a retransmission
	prack, pg := p.request(sip.PRACK)
	if got := header.Values(prack, "RAck"); len(got) != 1 || got[0] != fmt.Sprintf("1 %d INVITE", inv.CSeq().SeqNo) {
		t.Errorf("RAck %v", got)
	}
	if to, _ := prack.To().Params.Get("tag"); to != "b1" || prack.Recipient.User != "bob" {
		t.Errorf("PRACK not in the early dialog: To tag %q, Request-URI %s", to, prack.Recipient.String())
	}
	if r := header.Values(prack, "Route"); len(r) != 1 || !strings.Contains(r[0], "5998") {
		t.Errorf("PRACK Route %v, want the Record-Route", r)
	}
	p.respond(pg, prack, 200, "OK")
	upd, ug := p.request(sip.UPDATE)
	if !strings.Contains(string(upd.Body()), "m=audio") {
		t.Errorf("UPDATE without an offer")
	}
	p.respond(ug, upd, 200, "OK", withHeader("Content-Type", "application/sdp"))
	p.respond(g, inv, 200, "OK", session)
	ack, _ := p.request(sip.ACK)
	if ack.CSeq().SeqNo != inv.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d, INVITE %d", ack.CSeq().SeqNo, inv.CSeq().SeqNo)
	}
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
	if got := call.PRACKed(); len(got) != 1 || got[0] != 1 {
		t.Errorf("PRACKed %v, want [1]", got)
	}
	if !call.Updated() {
		t.Error("no UPDATE recorded")
	}

	wait = async(func() error { return call.Reinvite(ctx(t)) })
	re, rg := p.request(sip.INVITE)
	if to, _ := re.To().Params.Get("tag"); to != "b1" || re.CallID().Value() != inv.CallID().Value() {
		t.Errorf("re-INVITE not in the dialog: To tag %q", to)
	}
	p.respond(rg, re, 200, "OK", withHeader("Contact", bobContact), withHeader("Content-Type", "application/sdp"))
	if ack, _ := p.request(sip.ACK); ack.CSeq().SeqNo != re.CSeq().SeqNo {
		t.Errorf("ACK of the re-INVITE CSeq %d, want %d", ack.CSeq().SeqNo, re.CSeq().SeqNo)
	}
	if err := wait(t); err != nil {
		t.Fatal(err)
	}
}

// TestCancelRinging: RFC 3261 §9.1: CANCEL of a ringing call has the INVITE's branch, CSeq
// number, From, To and Request-URI; the 487 is ACKed on the INVITE's branch (§17.1.1.3).
func TestCancelRinging(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p)
	p.registerPlain(t, u, "600")
	wait := async(func() error {
		_, err := u.InviteWith(ctx(t), "sip:bob@ims.test", InviteOptions{CancelOn: 180})
		return err
	})
	inv, g := p.request(sip.INVITE)
	p.respond(g, inv, 180, "Ringing", toTag("b1"), withHeader("Contact", bobContact))
	cancel, cg := p.request(sip.CANCEL)
	ib, _ := inv.Via().Params.Get("branch")
	cb, _ := cancel.Via().Params.Get("branch")
	if cb != ib || cancel.CSeq().SeqNo != inv.CSeq().SeqNo || cancel.Recipient.String() != inv.Recipient.String() {
		t.Errorf("CANCEL does not match the INVITE:\n%s\n%s", cancel, inv)
	}
	if _, ok := cancel.To().Params.Get("tag"); ok {
		t.Errorf("CANCEL To has a tag the INVITE had not")
	}
	p.respond(cg, cancel, 200, "OK")
	p.respond(g, inv, 487, "Request Terminated", toTag("b1"))
	ack, _ := p.request(sip.ACK)
	if ab, _ := ack.Via().Params.Get("branch"); ab != ib {
		t.Errorf("ACK of the 487 on branch %s, want %s", ab, ib)
	}
	var se *StatusError
	if err := wait(t); !errors.As(err, &se) || se.Code != 487 {
		t.Fatalf("InviteWith = %v, want 487", err)
	}
}

// calleeINVITE is an INVITE from the peer to the UE's contact.
func calleeINVITE(p *peer, to netip.AddrPort, supported string) *sip.Request {
	ruri := sip.Uri{Scheme: "sip", Host: to.Addr().String(), Port: int(to.Port())}
	req := sip.NewRequest(sip.INVITE, ruri)
	pa := p.addr()
	req.AppendHeader(sip.NewHeader("Via", fmt.Sprintf("SIP/2.0/UDP %s;branch=z9hG4bK%s", pa, randHex(6))))
	req.AppendHeader(sip.NewHeader("From", "<sip:bob@ims.test>;tag=bob1"))
	req.AppendHeader(sip.NewHeader("To", "<sip:001010000000001@ims.test>"))
	req.AppendHeader(sip.NewHeader("Call-ID", randHex(8)))
	req.AppendHeader(sip.NewHeader("CSeq", "1 INVITE"))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:bob@"+pa.String()+">"))
	if supported != "" {
		req.AppendHeader(sip.NewHeader("Supported", supported))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdpOffer(pa.Addr(), 1))
	return req
}

// inDialogFrom builds the peer's next request in the dialog the UE's response set up.
func inDialogFrom(p *peer, inv *sip.Request, res *sip.Response, method sip.RequestMethod, seq int) *sip.Request {
	req := sip.NewRequest(method, res.Contact().Address)
	req.AppendHeader(sip.NewHeader("Via", fmt.Sprintf("SIP/2.0/UDP %s;branch=z9hG4bK%s", p.addr(), randHex(6))))
	req.AppendHeader(sip.HeaderClone(inv.From()))
	req.AppendHeader(sip.HeaderClone(res.To()))
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(sip.NewHeader("CSeq", fmt.Sprintf("%d %s", seq, method)))
	req.AppendHeader(sip.NewHeader("Max-Forwards", "70"))
	req.SetBody(nil)
	return req
}

// response waits for the UE's next response of code.
func (p *peer) response(t *testing.T, code int) *sip.Response {
	t.Helper()
	for range 20 {
		if r, ok := p.next().msg.(*sip.Response); ok && r.StatusCode == code {
			return r
		}
	}
	t.Fatalf("no %d from the UE", code)
	return nil
}

// TestCallee: the UE answers an INVITE that supports 100rel and precondition with a reliable
// 183 (Require: 100rel, RSeq, SDP answer, RFC 3262 §3), waits for the PRACK and the UPDATE,
// rings, answers 200 and takes the ACK; a re-INVITE and an UPDATE in the dialog get 200 with an
// answer; a PRACK of no call gets 481.
func TestCallee(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p)
	p.registerPlain(t, u, "600")
	inv := calleeINVITE(p, u.Contact(), "100rel, precondition")
	p.send(p.unprot, u.Contact(), inv.String())
	r183 := p.response(t, 183)
	if !hasTag(r183, "Require", "100rel") || len(header.Values(r183, "RSeq")) != 1 || len(r183.Body()) == 0 {
		t.Fatalf("183 not reliable with an answer:\n%s", r183)
	}
	tag, _ := r183.To().Params.Get("tag")
	prack := inDialogFrom(p, inv, r183, sip.PRACK, 2)
	prack.AppendHeader(sip.NewHeader("RAck", "1 1 INVITE"))
	p.send(p.unprot, u.Contact(), prack.String())
	p.response(t, 200) // to the PRACK
	upd := inDialogFrom(p, inv, r183, sip.UPDATE, 3)
	upd.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	upd.SetBody(sdpOffer(p.addr().Addr(), 2))
	p.send(p.unprot, u.Contact(), upd.String())
	if r := p.response(t, 200); r.CSeq().MethodName != sip.UPDATE || len(r.Body()) == 0 {
		t.Fatalf("UPDATE not answered with SDP:\n%s", r)
	}
	r180 := p.response(t, 180)
	r200 := p.response(t, 200)
	if r200.CSeq().MethodName != sip.INVITE {
		t.Fatalf("200 to %s, want INVITE", r200.CSeq().MethodName)
	}
	for _, r := range []*sip.Response{r180, r200} {
		if got, _ := r.To().Params.Get("tag"); got != tag {
			t.Errorf("%d To tag %q, the 183's %q (RFC 3261 §8.2.6.2)", r.StatusCode, got, tag)
		}
	}
	ack := inDialogFrom(p, inv, r200, sip.ACK, 1)
	p.send(p.unprot, u.Contact(), ack.String())
	re := inDialogFrom(p, inv, r200, sip.INVITE, 4)
	re.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	re.SetBody(sdpOffer(p.addr().Addr(), 3))
	p.send(p.unprot, u.Contact(), re.String())
	if r := p.response(t, 200); r.CSeq().MethodName != sip.INVITE || len(r.Body()) == 0 {
		t.Fatalf("re-INVITE not answered with SDP:\n%s", r)
	}
	stray := inDialogFrom(p, inv, r200, sip.PRACK, 5)
	stray.CallID().Value()
	stray.ReplaceHeader(sip.NewHeader("Call-ID", "no-such-call"))
	stray.AppendHeader(sip.NewHeader("RAck", "1 1 INVITE"))
	p.send(p.unprot, u.Contact(), stray.String())
	p.response(t, 481)
}

// TestCalleeNoAnswerCancel: with NoAnswer the UE rings until the CANCEL, answers it 200 and the
// INVITE 487 (RFC 3261 §9.2), and retransmits the 487 until the ACK.
func TestCalleeNoAnswerCancel(t *testing.T) {
	p := newPeer(t)
	u := newTestUE(t, p, func(c *Config) { c.NoAnswer = true })
	p.registerPlain(t, u, "600")
	inv := calleeINVITE(p, u.Contact(), "")
	p.send(p.unprot, u.Contact(), inv.String())
	p.response(t, 180)
	cancel := sip.NewRequest(sip.CANCEL, inv.Recipient)
	cancel.AppendHeader(sip.HeaderClone(inv.Via()))
	cancel.AppendHeader(sip.HeaderClone(inv.From()))
	cancel.AppendHeader(sip.HeaderClone(inv.To()))
	cancel.AppendHeader(sip.HeaderClone(inv.CallID()))
	cancel.AppendHeader(sip.NewHeader("CSeq", "1 CANCEL"))
	cancel.SetBody(nil)
	p.send(p.unprot, u.Contact(), cancel.String())
	if r := p.response(t, 200); r.CSeq().MethodName != sip.CANCEL {
		t.Fatalf("200 to %s, want CANCEL", r.CSeq().MethodName)
	}
	p.response(t, 487)
}
