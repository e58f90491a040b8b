package presence

// Watcher information (RFC 3857, document format RFC 3858): the presentity subscribes to
// presence.winfo of its own presence and learns who watches it and in which state, so that it can
// authorise them (with its pres-rules over XCAP).

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"

	"go.uber.org/zap"

	"github.com/imscore/imscore/services/presence/store"
)

// EventWinfo is the template package presence.winfo (RFC 3857 §4).
const EventWinfo = "presence.winfo"

// ContentTypeWinfo is the watcherinfo document type (RFC 3858 §3).
const ContentTypeWinfo = "application/watcherinfo+xml"

// nsWatcherinfo is the namespace of RFC 3858 §5.
const nsWatcherinfo = "urn:ietf:params:xml:ns:watcherinfo"

// watcherinfo is the full watcherinfo document of presentity for a winfo subscription at its version
// (RFC 3858 §4: version counts the documents sent in the subscription, from 0).
func (s *Server) watcherinfo(ctx context.Context, presentity string, version uint32) ([]byte, error) {
	subs, err := s.store.Subscriptions(ctx, presentity)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<watcherinfo xmlns="%s" version="%d" state="full">`+"\n", nsWatcherinfo, version)
	fmt.Fprintf(&b, `<watcher-list resource="%s" package="%s">`+"\n", escapeAttr(presentity), EventPresence)
	for _, w := range subs {
		if w.Event != EventPresence {
			continue
		}
		// RFC 3858 §5: status active or pending; event says what brought it there.
		status, event := "active", "approved"
		if w.State == statePending {
			status, event = "pending", "subscribe"
		}
		if Handling(w.Handling) == HandlingAllow && w.State == stateActive {
			event = "subscribe"
		}
		fmt.Fprintf(&b, `<watcher id="%s" event="%s" status="%s">`, escapeAttr(watcherID(w)), event, status)
		_ = xml.EscapeText(&b, []byte(w.Watcher))
		b.WriteString("</watcher>\n")
	}
	b.WriteString("</watcher-list>\n</watcherinfo>\n")
	return b.Bytes(), nil
}

// watcherID names one watcher subscription in the document: stable for its life (RFC 3858 §5.3).
func watcherID(w store.Subscription) string {
	return fmt.Sprintf("w%x", fnv32(w.ID))
}

func escapeAttr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// notifyWinfoLocked tells presentity's watcher-information subscribers its current watchers. The caller
// holds the presentity's lock.
func (s *Server) notifyWinfoLocked(ctx context.Context, presentity string) {
	subs, err := s.store.Subscriptions(ctx, presentity)
	if err != nil {
		s.log.Warn("watcher information not notified", zap.String("presentity", presentity), zap.Error(err))
		return
	}
	for i := range subs {
		if subs[i].Event == EventWinfo {
			s.notifyLocked(ctx, &subs[i], subs[i].State, "")
		}
	}
}
