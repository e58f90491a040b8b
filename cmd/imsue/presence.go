package main

// imsue presence publish|watch|rules: the presence service as a handset and its XDMS client use it
// (TS 24.141 §5.2, RFC 3903, RFC 3856, RFC 4825).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/imscore/imscore/hss/aka"
	"github.com/imscore/imscore/services/bsf/gba"
	"github.com/imscore/imscore/sip/ue"
)

type presenceOptions struct {
	basic    string
	xcap     string
	handling string
	bsf      string
}

func presenceFlags(fs *flag.FlagSet) *presenceOptions {
	var o presenceOptions
	fs.StringVar(&o.basic, "basic", "open", "presence publish: basic status, open or closed (the note is --text)")
	fs.StringVar(&o.xcap, "xcap", "http://127.0.0.1:8090/xcap-root", "presence rules: the XCAP root of the XDMS")
	fs.StringVar(&o.handling, "handling", "allow", "presence rules: sub-handling for --to: allow, polite-block, confirm or block")
	fs.StringVar(&o.bsf, "bsf", "", "presence rules: the BSF's Ub URL (e.g. http://127.0.0.1:8095/): bootstrap GBA with --k/--opc and authenticate to the XDMS with the derived key instead of asserting the identity")
	return &o
}

// publish publishes the UE's presence, keeps it for hold (refreshing it), then removes it (RFC 3903 §4.5).
func publish(ctx context.Context, u *ue.UE, log *zap.Logger, impu, basic, note string, hold time.Duration) error {
	const expires = 10 * time.Minute
	etag, _, err := u.Publish(ctx, ue.PIDF(impu, basic, note), "", expires)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	log.Info("published", zap.String("etag", etag), zap.String("basic", basic), zap.String("note", note))
	t := time.NewTimer(hold)
	defer t.Stop()
	refresh := time.NewTicker(ue.RefreshAfter(expires))
	defer refresh.Stop()
	for done := false; !done; {
		select {
		case <-t.C:
			done = true
		case <-ctx.Done():
			done = true
		case <-refresh.C:
			if etag, _, err = u.Publish(ctx, nil, etag, expires); err != nil { // RFC 3903 §4.3
				return fmt.Errorf("refresh: %w", err)
			}
		}
	}
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := u.Publish(rctx, nil, etag, 0); err != nil {
		return fmt.Errorf("remove publication: %w", err)
	}
	log.Info("publication removed")
	return nil
}

// watch subscribes to target's presence and prints each NOTIFY until hold passes or ctx ends.
func watch(ctx context.Context, u *ue.UE, log *zap.Logger, target string, hold time.Duration) error {
	if _, err := u.SubscribePresence(ctx, target, hold+time.Minute); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	log.Info("watching", zap.String("presentity", target), zap.Duration("for", hold))
	t := time.NewTimer(hold)
	defer t.Stop()
	for {
		select {
		case req := <-u.Incoming():
			if req.Method != "NOTIFY" {
				continue
			}
			state := ""
			if h := req.GetHeader("Subscription-State"); h != nil {
				state = h.Value()
			}
			fmt.Fprintf(os.Stdout, "NOTIFY %s\n%s\n", state, req.Body())
		case <-t.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// xcapClient sends an XCAP request: http.DefaultClient, or a *gba.Client that answers the XDMS's GBA
// challenge (TS 24.109 §5.2, TS 24.623 §5.2.3).
type xcapClient interface {
	Do(*http.Request) (*http.Response, error)
}

// gbaClient is the UE's GBA client: a USIM from keys, bootstrapping at bsf as impi.
func gbaClient(bsf, impi string, keys aka.Keys) (*gba.Client, error) {
	usim, err := aka.NewUSIM(keys, aka.DefaultUSIMConfig())
	if err != nil {
		return nil, err
	}
	return &gba.Client{BSF: bsf, IMPI: impi, USIM: usim, UserAgent: "imscore-imsue"}, nil
}

// putRules writes the user's OMA pres-rules document with one rule for watcher. Without --bsf the XDMS
// believes the identity an authentication proxy asserts; this client sends the header itself, so it works
// only from a network the XDMS trusts as such a proxy. With --bsf the client bootstraps GBA and answers the
// XDMS's Digest challenge with the B-TID and Ks_NAF; the XDMS takes the identity from the BSF
// (docs/presence.md).
func putRules(ctx context.Context, client xcapClient, user, watcher string, o *presenceOptions) error {
	if watcher == "" {
		return errors.New("--to (the watcher) is required")
	}
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<cr:ruleset xmlns="urn:ietf:params:xml:ns:pres-rules" xmlns:cr="urn:ietf:params:xml:ns:common-policy">
 <cr:rule id="imsue"><cr:conditions><cr:identity><cr:one id="` + xmlAttr(watcher) + `"/></cr:identity></cr:conditions>
  <cr:actions><sub-handling>` + xmlAttr(o.handling) + `</sub-handling></cr:actions></cr:rule>
</cr:ruleset>
`
	u := strings.TrimSuffix(o.xcap, "/") + "/org.openmobilealliance.pres-rules/users/" + url.PathEscape(user) + "/pres-rules"
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, strings.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/auth-policy+xml")
	if o.bsf == "" {
		req.Header.Set("X-3GPP-Asserted-Identity", `"`+user+`"`)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s: %w", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != 200 && res.StatusCode != 201 {
		return fmt.Errorf("PUT %s: %s\n%s", u, res.Status, body)
	}
	fmt.Fprintf(os.Stdout, "pres-rules: %s may watch %s (%s), ETag %s\n", watcher, user, o.handling, res.Header.Get("ETag"))
	return nil
}

func xmlAttr(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
