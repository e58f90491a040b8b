// Package presence is the presence server, an IMS application server on the ISC interface (TS 24.141,
// RFC 3856): it takes PUBLISH (RFC 3903) from presentities and SUBSCRIBE (RFC 6665) from watchers,
// composes the publications of each presentity (RFC 4479) and notifies the watchers the presentity's
// pres-rules (RFC 5025) allow, in PIDF (RFC 3863). Third-party REGISTERs from the S-CSCF
// (TS 24.229 §5.4.1.7) give it the registration state: a presentity that de-registers shows offline.
//
// Every request must come from the S-CSCF over ISC, that is from inside the configured trust domain
// (sip/trust): only there is P-Asserted-Identity believed (RFC 3325, TS 24.229 §4.4); anything else is
// answered 403. The served user is P-Served-User (TS 24.229 §5.7.1.x, RFC 5502) when present, else the
// Request-URI (the presentity the request is addressed to).
package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/imscore/imscore/services/presence/store"
	"github.com/imscore/imscore/sip/header"
	"github.com/imscore/imscore/sip/identity"
	"github.com/imscore/imscore/sip/proxy"
	"github.com/imscore/imscore/sip/trust"
	"github.com/imscore/imscore/sip/trust/boundary"
)

// Event packages served.
const (
	EventPresence = "presence" // RFC 3856 §6.1
)

// Server is the presence server's SIP side.
type Server struct {
	cfg     Config
	store   store.Store
	log     *zap.Logger
	edge    *boundary.Boundary
	proxy   *proxy.Proxy
	contact string
	locks   [64]sync.Mutex // per presentity (by hash): one change and its NOTIFYs' CSeqs at a time
	// listLocks serialise the NOTIFYs of list subscriptions (by hash of their ID); taken after a
	// presentity's lock, never before one.
	listLocks [64]sync.Mutex
	wg        sync.WaitGroup // NOTIFY senders
	runCtx    context.Context
}

// New binds the SIP listener. st is the state (store.Memory, or storage's Presence()).
func New(cfg Config, st store.Store, log *zap.Logger) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("presence config: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	domain, err := trust.ParseDomain(cfg.TrustedNetworks)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	s := &Server{cfg: cfg, store: st, log: log, runCtx: context.Background()}
	s.edge = boundary.New(domain, log.Named("trust"), nil)
	p, err := proxy.New(proxy.Config{Listen: []proxy.Listen{{Addr: cfg.SIP.Listen, Advertise: cfg.SIP.Advertise}},
		Router: s.edge.Wrap(s), TLS: cfg.SIP.TLS.WithAdvertise(cfg.SIP.Advertise)}, log.Named("sip"))
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	s.proxy = p
	l := p.Listeners()[0]
	host := l.Advertise
	if host == "" {
		host = l.Addr.Addr().String()
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && a.Is6() {
		host = "[" + a.String() + "]"
	}
	s.contact = fmt.Sprintf("sip:%s:%d", host, l.Addr.Port())
	return s, nil
}

// SIPAddr is the bound SIP address.
func (s *Server) SIPAddr() netip.AddrPort { return s.proxy.Listeners()[0].Addr }

// Run serves until ctx ends, expiring publications and subscriptions every ExpiryInterval.
func (s *Server) Run(ctx context.Context) error {
	s.runCtx = ctx
	errc := make(chan error, 1)
	go func() { errc <- s.proxy.Run(ctx) }()
	t := time.NewTicker(s.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			err := <-errc
			s.wg.Wait()
			return err
		case err := <-errc:
			s.wg.Wait()
			return err
		case now := <-t.C:
			s.expire(ctx, now)
		}
	}
}

// Route implements proxy.Router: the presence server answers every request itself.
func (s *Server) Route(ctx context.Context, req *sip.Request, src proxy.Source) (proxy.Decision, error) {
	if !s.edge.Trusts(src.Remote) {
		// TS 24.229 §4.4, RFC 3325 §5: only the S-CSCF, over ISC, may hand a request to this AS.
		return s.edge.Refuse(req, src.Remote, "isc", "TS 24.229 §4.4: requests only from the S-CSCF over ISC")
	}
	switch req.Method {
	case sip.PUBLISH:
		return s.afterReply(ctx, func(ctx context.Context) (proxy.Decision, error) { return s.handlePublish(ctx, req) })
	case sip.SUBSCRIBE:
		return s.afterReply(ctx, func(ctx context.Context) (proxy.Decision, error) { return s.handleSubscribe(ctx, req) })
	case sip.REGISTER:
		return s.afterReply(ctx, func(ctx context.Context) (proxy.Decision, error) { return s.handleRegister(ctx, req) })
	case sip.OPTIONS:
		return proxy.Respond(200, "OK", sip.NewHeader("Allow", allow)), nil
	case sip.ACK:
		return proxy.Decision{}, nil
	}
	return proxy.Respond(405, "Method Not Allowed", sip.NewHeader("Allow", allow)), nil
}

const allow = "PUBLISH, SUBSCRIBE, REGISTER, OPTIONS"

// OptionTags implements proxy.OptionTagger: this node is the UAS of everything it is sent.
func (s *Server) OptionTags(*sip.Request) ([]string, bool) { return nil, true }

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// lock serialises the changes of one presentity.
func (s *Server) lock(presentity string) func() {
	m := &s.locks[fnv32(presentity)%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// assertedIdentity is the first P-Asserted-Identity as an identity key; "" when absent or malformed.
func assertedIdentity(req *sip.Request) string {
	ids, err := header.NameAddrs(req, header.PAssertedIdentity)
	if err != nil || len(ids) == 0 {
		return ""
	}
	return identity.Key(ids[0].URI)
}

// servedUser is the user this request is served for (TS 24.229 §5.7.1.3: P-Served-User when the S-CSCF
// gives it), else the Request-URI: the presentity a PUBLISH or SUBSCRIBE is addressed to.
func servedUser(req *sip.Request) string {
	if v := header.Values(req, "P-Served-User"); len(v) > 0 {
		if ids, err := header.ParseNameAddrs(header.PAssertedIdentity, v[0]); err == nil && len(ids) > 0 {
			return identity.Key(ids[0].URI)
		}
	}
	return identity.URIKey(&req.Recipient)
}

// eventPackage is the package name of the Event header (RFC 6665 §8.2.1, compact form o).
func eventPackage(req *sip.Request) string {
	v := header.Values(req, header.Event)
	if len(v) == 0 {
		return ""
	}
	name, _, _ := strings.Cut(v[0], ";")
	return strings.ToLower(strings.TrimSpace(name))
}

func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// expires reads an Expires header: def when absent, ok false when malformed.
func expires(req *sip.Request, def time.Duration) (time.Duration, bool) {
	v := header.Values(req, header.Expires)
	if len(v) == 0 {
		return def, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v[0]), 10, 32) // RFC 3261 §20.19: delta-seconds
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

var (
	_ proxy.Router       = (*Server)(nil)
	_ proxy.OptionTagger = (*Server)(nil)
)
