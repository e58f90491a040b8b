package presence

// PUBLISH, RFC 3903 §6: the event state compositor of the presence package.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/services/presence/pidf"
	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
)

// SIP-ETag and SIP-If-Match (RFC 3903 §11.3).
const (
	hdrSIPETag    = "SIP-ETag"
	hdrSIPIfMatch = "SIP-If-Match"
)

func (s *Server) handlePublish(ctx context.Context, req *sip.Request) (proxy.Decision, error) {
	// RFC 3903 §6 step 2: the event package must be one this ESC serves, else 489.
	if ev := eventPackage(req); ev != EventPresence {
		return proxy.Respond(489, "Bad Event", sip.NewHeader(header.AllowEvents, EventPresence)), nil
	}
	presentity := servedUser(req)
	publisher := assertedIdentity(req)
	log := s.log.With(logging.IMPU(presentity), logging.CallID(req.CallID().Value()))
	// RFC 3903 §6 step 3, TS 24.141 §5.4.1.2: only the presentity publishes its own state; its identity
	// is the one the S-CSCF asserted.
	if publisher == "" || publisher != presentity {
		log.Info("PUBLISH refused: the asserted identity is not the presentity", zap.String("publisher", publisher))
		return proxy.Respond(403, "Forbidden"), nil
	}
	exp, ok := expires(req, s.cfg.PublishExpires)
	if !ok {
		return proxy.Respond(400, "Bad Expires"), nil
	}
	// RFC 3903 §6 step 5: too short an interval (other than 0, a removal) is 423.
	if exp != 0 && exp < s.cfg.PublishMinExpires {
		return proxy.Respond(423, "Interval Too Brief",
			sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.PublishMinExpires/time.Second)))), nil
	}
	exp = min(exp, s.cfg.PublishMaxExpires)
	body := req.Body()
	var doc *pidf.Document
	if len(body) > 0 {
		// RFC 3903 §6 step 6: a body of a type the package does not know is 415.
		ct := header.Values(req, "Content-Type")
		if len(ct) == 0 || !strings.EqualFold(strings.TrimSpace(strings.Split(ct[0], ";")[0]), pidf.ContentType) {
			return proxy.Respond(415, "Unsupported Media Type", sip.NewHeader("Accept", pidf.ContentType)), nil
		}
		var err error
		if doc, err = pidf.Parse(body); err != nil {
			log.Info("PUBLISH with a bad PIDF body", zap.Error(err))
			return proxy.Respond(400, "Bad Request: "+reasonOf(err)), nil
		}
		// RFC 3863 §4.1.1, TS 24.141 §5.4.1.2: the document describes the presentity it is published for.
		if !samePresentity(doc.Entity, presentity) {
			return proxy.Respond(400, "Bad Request: PIDF entity is not the presentity"), nil
		}
	}
	unlock := s.lock(presentity)
	defer unlock()
	now := time.Now()
	var prev *store.Publication
	if v := header.Values(req, hdrSIPIfMatch); len(v) > 0 {
		// RFC 3903 §6 step 4: a refresh, modification or removal of an existing publication.
		p, err := s.store.Publication(ctx, presentity, strings.TrimSpace(v[0]))
		if errors.Is(err, store.ErrNotFound) || err == nil && !p.Expires.After(now) {
			return proxy.Respond(412, "Conditional Request Failed"), nil
		}
		if err != nil {
			return proxy.Decision{}, fmt.Errorf("publish: %w", err)
		}
		prev = p
	} else if doc == nil {
		// RFC 3903 §6 step 4: an initial PUBLISH must have a body.
		return proxy.Respond(400, "Bad Request: initial PUBLISH without a body"), nil
	}
	if exp == 0 {
		if prev == nil {
			return proxy.Respond(400, "Bad Request: Expires 0 without SIP-If-Match"), nil
		}
		// RFC 3903 §4.5: removal.
		if err := s.store.DeletePublication(ctx, presentity, prev.ETag); err != nil && !errors.Is(err, store.ErrNotFound) {
			return proxy.Decision{}, fmt.Errorf("publish: remove: %w", err)
		}
		log.Debug("publication removed", zap.String("etag", prev.ETag))
		s.notifyAllLocked(ctx, presentity)
		return proxy.Respond(200, "OK", sip.NewHeader(header.Expires, "0")), nil
	}
	p := &store.Publication{Presentity: presentity, ETag: newTag(), Expires: now.Add(exp), Updated: now, Body: body}
	replaces := ""
	if prev != nil {
		replaces = prev.ETag
		if doc == nil { // RFC 3903 §4.3: a refresh keeps the state
			p.Body, p.Updated = prev.Body, prev.Updated
		}
	}
	if err := s.store.SavePublication(ctx, p, replaces); err != nil {
		return proxy.Decision{}, fmt.Errorf("publish: %w", err)
	}
	log.Debug("published", zap.String("etag", p.ETag), zap.Duration("expires", exp), zap.Bool("refresh", doc == nil))
	if doc != nil {
		s.notifyAllLocked(ctx, presentity)
	}
	// RFC 3903 §6 step 8: 200 with the new entity-tag and the granted expiry.
	return proxy.Respond(200, "OK", sip.NewHeader(hdrSIPETag, p.ETag),
		sip.NewHeader(header.Expires, strconv.Itoa(int(exp/time.Second)))), nil
}

// samePresentity compares a PIDF entity (sip:, sips:, tel: or pres: URI) with a presentity key.
func samePresentity(entity, presentity string) bool {
	if rest, ok := strings.CutPrefix(entity, "pres:"); ok {
		entity = "sip:" + rest // RFC 3859 §3: pres:user@host names the same user as sip:user@host
	}
	return identity.Key(entity) == presentity
}

// reasonOf shortens an error to a reason phrase: one line, printable, bounded.
func reasonOf(err error) string {
	r := strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, err.Error())
	if len(r) > 120 {
		r = r[:120]
	}
	return r
}
