package ue

import (
	"net/netip"

	"github.com/emiago/sipgo/sip"
)

// Media makes the SDP of a UE's INVITE dialogs (RFC 3264 offer/answer): an MSRP session (sip/ue/msrp) or
// anything else a test needs. Its methods run on the UE's goroutines and must not block.
type Media interface {
	// Offer is the offer of a call the UE places.
	Offer(callID string, local netip.Addr) []byte
	// Answer is the UE's answer to an incoming INVITE's offer.
	Answer(callID string, local netip.Addr, offer []byte) []byte
	// Answered hands over the answer to the UE's offer (the first response with SDP).
	Answered(callID string, answer []byte)
}

// mediasecClient is the Security-Client of a UE that supports e2ae for MSRP without IPsec sec-agree
// (TS 24.229 §7.2A.7: the mediasec header field parameter; TS 33.328 e2ae).
const mediasecClient = "msrp-tls;mediasec"

func (u *UE) offerBody(callID string) []byte {
	if u.cfg.Media != nil {
		return u.cfg.Media.Offer(callID, u.cfg.Local)
	}
	return sdpOffer(u.cfg.Local, 1)
}

func (u *UE) answerBody(inv *sip.Request) []byte {
	if u.cfg.Media != nil {
		return u.cfg.Media.Answer(inv.CallID().Value(), u.cfg.Local, inv.Body())
	}
	return sdpOffer(u.cfg.Local, 1)
}

// answered passes the first SDP of the responses to the UE's INVITE to Media.
func (u *UE) answered(callID string, res *sip.Response) {
	if u.cfg.Media == nil || res.StatusCode < 101 || res.StatusCode >= 300 || len(res.Body()) == 0 {
		return
	}
	u.cfg.Media.Answered(callID, res.Body())
}
