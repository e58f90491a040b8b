package ue

// Presence as a UE uses it (TS 24.141 §5.2): PUBLISH of its own state (RFC 3903) and SUBSCRIBE to
// another user's presence (RFC 3856); the NOTIFYs arrive on Incoming.

import (
	"context"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/imscore/imscore/sip/header"
)

// PIDF is a presence document (RFC 3863) for entity with one tuple of basic status open or closed and
// a note ("" for none).
func PIDF(entity, basic, note string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="`)
	_ = xml.EscapeText(&b, []byte(entity))
	b.WriteString(`"><tuple id="ue"><status><basic>`)
	_ = xml.EscapeText(&b, []byte(basic))
	b.WriteString(`</basic></status>`)
	if note != "" {
		b.WriteString(`<note>`)
		_ = xml.EscapeText(&b, []byte(note))
		b.WriteString(`</note>`)
	}
	b.WriteString("</tuple></presence>\n")
	return []byte(b.String())
}

// Publish sends a PUBLISH of the presence event for the UE's IMPU (RFC 3903 §4): etag "" and a body for
// the initial one; the entity-tag of the last 2xx with a body (modify), without one (refresh), or with
// expires 0 (remove). It returns the new entity-tag (SIP-ETag) and the response; a failure response is
// a *StatusError.
func (u *UE) Publish(ctx context.Context, body []byte, etag string, expires time.Duration) (string, *sip.Response, error) {
	var ruri sip.Uri
	if err := sip.ParseUri(u.cfg.IMPU, &ruri); err != nil {
		return "", nil, fmt.Errorf("ue: IMPU %q: %w", u.cfg.IMPU, err)
	}
	callID := randHex(12)
	_, res, err := u.send(ctx, func(o origin) *sip.Request {
		req := u.baseRequest(sip.PUBLISH, ruri, u.cfg.IMPU, callID, "")
		u.addRoutes(req, o)
		req.AppendHeader(sip.NewHeader(header.Event, "presence"))
		req.AppendHeader(sip.NewHeader(header.Expires, strconv.Itoa(int(expires/time.Second))))
		req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
		if etag != "" {
			req.AppendHeader(sip.NewHeader("SIP-If-Match", etag))
		}
		if len(body) > 0 {
			req.AppendHeader(sip.NewHeader("Content-Type", "application/pidf+xml"))
			req.SetBody(body)
		}
		return req
	}, nil)
	res, err = u.finalOK(res, err)
	if err != nil {
		return "", res, err
	}
	if h := res.GetHeader("SIP-ETag"); h != nil {
		return h.Value(), res, nil
	}
	return "", res, nil
}

// SubscribePresence subscribes to target's presence (RFC 3856 §6) for expires, accepting PIDF; the
// NOTIFYs arrive on Incoming. A failure response is a *StatusError.
func (u *UE) SubscribePresence(ctx context.Context, target string, expires time.Duration) (*sip.Response, error) {
	return u.Subscribe(ctx, target, "presence", "application/pidf+xml", expires)
}

// Subscribe subscribes to the event package event of target (RFC 6665 §4.1), accepting accept: e.g.
// presence.winfo of the UE's own IMPU with application/watcherinfo+xml (RFC 3857). The NOTIFYs arrive on
// Incoming. A failure response is a *StatusError.
func (u *UE) Subscribe(ctx context.Context, target, event, accept string, expires time.Duration) (*sip.Response, error) {
	return u.subscribe(ctx, target, event, accept, "", expires)
}

// SubscribeList subscribes to the presence of the members of a resource list (RFC 4662 §4.1: Supported
// eventlist, Accept of RLMI in multipart/related and of PIDF): list is the service URI of an
// rls-services document. The NOTIFYs (multipart/related, rlmi.Parse) arrive on Incoming.
func (u *UE) SubscribeList(ctx context.Context, list string, expires time.Duration) (*sip.Response, error) {
	return u.subscribe(ctx, list, "presence", "application/pidf+xml, application/rlmi+xml, multipart/related", "eventlist", expires)
}

func (u *UE) subscribe(ctx context.Context, target, event, accept, supported string, expires time.Duration) (*sip.Response, error) {
	var ruri sip.Uri
	if err := sip.ParseUri(target, &ruri); err != nil {
		return nil, fmt.Errorf("ue: target %q: %w", target, err)
	}
	callID := randHex(12)
	_, res, err := u.send(ctx, func(o origin) *sip.Request {
		req := u.baseRequest(sip.SUBSCRIBE, ruri, target, callID, "")
		u.addRoutes(req, o)
		req.AppendHeader(sip.NewHeader("Contact", u.contactValue()))
		req.AppendHeader(sip.NewHeader(header.Event, event))
		req.AppendHeader(sip.NewHeader(header.Expires, strconv.Itoa(int(expires/time.Second))))
		req.AppendHeader(sip.NewHeader("Accept", accept))
		if supported != "" {
			req.AppendHeader(sip.NewHeader("Supported", supported))
		}
		req.AppendHeader(sip.NewHeader(header.PPreferredIdentity, "<"+u.cfg.IMPU+">"))
		return req
	}, nil)
	return u.finalOK(res, err)
}
