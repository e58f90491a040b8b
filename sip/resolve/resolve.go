package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/miekg/dns"
	"go.uber.org/zap"
)

// Transport is a SIP transport as RFC 3263 selects it.
type Transport string

// The transports a target can name. TLS is TLS over TCP (RFC 3261 §26.2, "SIPS+D2T").
const (
	UDP Transport = "UDP"
	TCP Transport = "TCP"
	TLS Transport = "TLS"
)

// ParseTransport reads a transport name, any case.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(strings.ToUpper(s)); t {
	case UDP, TCP, TLS:
		return t, nil
	}
	return "", fmt.Errorf("transport %q: want udp, tcp or tls", s)
}

// defaultPort is the port RFC 3261 §19.1.2 gives a transport.
func (t Transport) defaultPort() uint16 {
	if t == TLS {
		return 5061
	}
	return 5060
}

// srvName is the SRV owner prefix of the transport (RFC 3263 §4.1: _sips._tcp, _sip._tcp, _sip._udp).
func (t Transport) srvName() string {
	switch t {
	case TLS:
		return "_sips._tcp."
	case TCP:
		return "_sip._tcp."
	}
	return "_sip._udp."
}

// naptrService is the NAPTR service field that names the transport (RFC 3263 §4.1).
func (t Transport) naptrService() string {
	switch t {
	case TLS:
		return "SIPS+D2T"
	case TCP:
		return "SIP+D2T"
	}
	return "SIP+D2U"
}

// Errors Resolve wraps. A caller answers ErrNotFound with 404 or 604 and ErrTimeout with 504
// (RFC 3261 §16.6 step 7 leaves the choice; §21.5.5 for the timeout).
var (
	// ErrNotFound means the name has no usable address: NXDOMAIN, no records, or only transports we lack.
	ErrNotFound = errors.New("resolve: no SIP server found")
	// ErrTimeout means no DNS server answered (or each answered SERVFAIL) within the configured attempts.
	ErrTimeout = errors.New("resolve: DNS did not answer")
)

// Query is what Resolve needs of a URI (RFC 3263 §4: the TARGET is the maddr or the host).
type Query struct {
	// Host is a domain name or a numeric IPv4/IPv6 address (brackets allowed).
	Host string
	// Port is the URI's port, 0 when it has none.
	Port uint16
	// Transport is the URI's transport parameter, "" when it has none.
	Transport Transport
	// Secure is true for a sips URI: only TLS may be used (RFC 3263 §4.1).
	Secure bool
}

// QueryFromURI builds the query for a sip or sips URI, using maddr when present (RFC 3263 §4).
func QueryFromURI(u sip.Uri) (Query, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "sip" && scheme != "sips" {
		return Query{}, fmt.Errorf("uri %s: not a sip or sips URI: %w", u.String(), ErrNotFound)
	}
	q := Query{Host: u.Host, Secure: scheme == "sips"}
	if u.Port > 0 && u.Port <= 65535 {
		q.Port = uint16(u.Port)
	}
	if u.UriParams != nil {
		if v, ok := u.UriParams.Get("maddr"); ok && v != "" {
			q.Host = v
		}
		if v, ok := u.UriParams.Get("transport"); ok && v != "" {
			t, err := ParseTransport(v)
			if err != nil {
				return Query{}, fmt.Errorf("uri %s: %w", u.String(), err)
			}
			q.Transport = t
		}
	}
	if q.Host == "" {
		return Query{}, fmt.Errorf("uri %s: empty host: %w", u.String(), ErrNotFound)
	}
	return q, nil
}

// Target is one place to send a request.
type Target struct {
	Transport Transport
	Addr      netip.AddrPort
	// Name is the host name the address belongs to (the SRV target, or the query's host). RFC 5922 §4
	// checks a TLS server's certificate against the query's domain, which the caller has; Name is for logs.
	Name string
}

func (t Target) String() string {
	return strings.ToLower(string(t.Transport)) + ":" + t.Addr.String()
}

// Config configures a Resolver. The zero value works: the system's DNS servers, UDP then TCP, both address
// families with IPv4 first.
type Config struct {
	// Servers are the DNS servers asked, "host:port" or "host" (port 53), in order; empty: the nameservers of
	// /etc/resolv.conf.
	Servers []string `yaml:"servers"`
	// Timeout bounds one query to one server (default 2 s); Attempts is how many rounds over Servers are
	// made before a lookup fails with ErrTimeout (default 2).
	Timeout  time.Duration `yaml:"timeout"`
	Attempts int           `yaml:"attempts"`
	// Transports are the transports this node can send on, in order of preference (default udp, tcp).
	Transports []Transport `yaml:"transports"`
	// IPv6 and IPv4 pick the address families used; both false means both. PreferIPv6 orders AAAA
	// addresses before A ones (default IPv4 first).
	IPv4       bool `yaml:"ipv4"`
	IPv6       bool `yaml:"ipv6"`
	PreferIPv6 bool `yaml:"prefer_ipv6"`
	// MaxTTL caps how long a record is cached (default 1 h); NegativeTTL how long a name that does not exist
	// or has no records of a type is (default 30 s, RFC 2308 §5; the SOA minimum when smaller).
	MaxTTL      time.Duration `yaml:"max_ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
	// CacheSize bounds the cache (default 10000 names × types); the entry nearest to expiry makes room.
	CacheSize int `yaml:"cache_size"`
	// BlacklistFor is how long a target MarkFailed reported stays behind the others (default 30 s).
	BlacklistFor time.Duration `yaml:"blacklist_for"`
	// Static answers for a domain without DNS: domain → targets "transport:address:port"
	// ("udp:192.0.2.1:5060", "tcp:[2001:db8::1]:5060"), in the order they are tried.
	Static map[string][]string `yaml:"static"`
}

// Defaults of Config's zero fields.
const (
	DefaultTimeout      = 2 * time.Second
	DefaultAttempts     = 2
	DefaultMaxTTL       = time.Hour
	DefaultNegativeTTL  = 30 * time.Second
	DefaultCacheSize    = 10000
	DefaultBlacklistFor = 30 * time.Second
	// maxCNAME bounds the CNAME chain followed within one answer.
	maxCNAME = 8
)

// Resolver resolves SIP URIs to targets. It is safe for concurrent use.
type Resolver struct {
	cfg     Config
	servers []string
	static  map[string][]Target
	client  *dns.Client
	tcp     *dns.Client
	log     *zap.Logger
	now     func() time.Time
	rnd     func(n int) int

	cache *cache

	mu        sync.Mutex
	blacklist map[Target]time.Time
}

// Validate reports every bad field: servers that are no addresses, unknown transports, unreadable static
// entries.
func (c Config) Validate() error {
	var errs []error
	for _, s := range c.Servers {
		if _, err := serverAddr(s); err != nil {
			errs = append(errs, fmt.Errorf("resolve: servers: %w", err))
		}
	}
	for _, t := range c.Transports {
		if _, err := ParseTransport(string(t)); err != nil {
			errs = append(errs, fmt.Errorf("resolve: transports: %w", err))
		}
	}
	for domain, list := range c.Static {
		for _, s := range list {
			if _, err := parseStatic(s); err != nil {
				errs = append(errs, fmt.Errorf("resolve: static %s: %w", domain, err))
			}
		}
	}
	return errors.Join(errs...)
}

// New checks cfg and returns a Resolver.
func New(cfg Config, log *zap.Logger) (*Resolver, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Transports) == 0 {
		cfg.Transports = []Transport{UDP, TCP}
	}
	ts := make([]Transport, len(cfg.Transports))
	for i, t := range cfg.Transports {
		ts[i], _ = ParseTransport(string(t)) // "udp" from a config file is UDP
	}
	cfg.Transports = ts
	if !cfg.IPv4 && !cfg.IPv6 {
		cfg.IPv4, cfg.IPv6 = true, true
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.BlacklistFor <= 0 {
		cfg.BlacklistFor = DefaultBlacklistFor
	}
	r := &Resolver{
		cfg:       cfg,
		static:    map[string][]Target{},
		client:    &dns.Client{Net: "udp", Timeout: cfg.Timeout, UDPSize: 1232},
		tcp:       &dns.Client{Net: "tcp", Timeout: cfg.Timeout},
		log:       log,
		now:       time.Now,
		rnd:       rand.IntN,
		cache:     newCache(cfg.CacheSize),
		blacklist: map[Target]time.Time{},
	}
	for _, s := range cfg.Servers {
		hp, err := serverAddr(s)
		if err != nil {
			return nil, fmt.Errorf("resolve: servers: %w", err)
		}
		r.servers = append(r.servers, hp)
	}
	if len(r.servers) == 0 {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("resolve: no servers configured and /etc/resolv.conf unreadable: %w", err)
		}
		for _, s := range cc.Servers {
			r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
		}
		if len(r.servers) == 0 {
			return nil, fmt.Errorf("resolve: no servers configured and none in /etc/resolv.conf")
		}
	}
	for domain, list := range cfg.Static {
		for _, s := range list {
			t, err := parseStatic(s)
			if err != nil {
				return nil, fmt.Errorf("resolve: static %s: %w", domain, err)
			}
			r.static[canonical(domain)] = append(r.static[canonical(domain)], t)
		}
	}
	return r, nil
}

func serverAddr(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", fmt.Errorf("server %q: want an IP address with an optional port", s)
}

func parseStatic(s string) (Target, error) {
	tr, addr, ok := strings.Cut(s, ":")
	if !ok {
		return Target{}, fmt.Errorf("%q: want transport:address:port", s)
	}
	t, err := ParseTransport(tr)
	if err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	return Target{Transport: t, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Name: ap.Addr().String()}, nil
}

// canonical is the cache and static key of a domain: lower case, fully qualified.
func canonical(name string) string {
	return dns.Fqdn(strings.ToLower(name))
}

// Resolve returns the targets for q in the order they are to be tried (RFC 3263 §4), targets MarkFailed
// reported within BlacklistFor last. It fails with ErrNotFound or ErrTimeout, wrapped.
func (r *Resolver) Resolve(ctx context.Context, q Query) ([]Target, error) {
	out, err := r.resolve(ctx, q)
	if err != nil {
		return nil, err
	}
	return r.order(out), nil
}

func (r *Resolver) resolve(ctx context.Context, q Query) ([]Target, error) {
	host := strings.Trim(q.Host, "[]")
	if q.Secure && q.Transport != "" && q.Transport != TLS {
		return nil, fmt.Errorf("sips:%s with transport %s: %w", host, q.Transport, ErrNotFound)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		// §4.1: a numeric address: UDP for sip, TLS for sips unless the URI says; §4.2: its port or the
		// transport's default.
		t := q.Transport
		if t == "" {
			t = UDP
			if q.Secure {
				t = TLS
			}
		}
		port := q.Port
		if port == 0 {
			port = t.defaultPort()
		}
		return []Target{{Transport: t, Addr: netip.AddrPortFrom(ip.Unmap(), port), Name: host}}, nil
	}
	if _, ok := dns.IsDomainName(host); !ok || host == "" {
		return nil, fmt.Errorf("%q is no domain name: %w", host, ErrNotFound)
	}
	if st, ok := r.static[canonical(host)]; ok {
		return slices.Clone(st), nil
	}
	switch {
	case q.Transport != "" && !r.supports(q.Transport):
		return nil, fmt.Errorf("%s: transport %s not supported here: %w", host, q.Transport, ErrNotFound)
	case q.Transport != "" && q.Port != 0:
		return r.hostTargets(ctx, host, q.Transport, q.Port)
	case q.Transport != "":
		// §4.2: a transport given and no port: SRV for that transport, else A/AAAA and the default port.
		out, err := r.srvTargets(ctx, q.Transport.srvName()+host, q.Transport)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return out, err
		}
		return r.hostTargets(ctx, host, q.Transport, q.Transport.defaultPort())
	case q.Port != 0:
		// §4.1: a port and no transport: UDP for sip, TLS for sips.
		t := UDP
		if q.Secure {
			t = TLS
		}
		if !r.supports(t) {
			return nil, fmt.Errorf("%s: transport %s not supported here: %w", host, t, ErrNotFound)
		}
		return r.hostTargets(ctx, host, t, q.Port)
	}
	out, err := r.naptrTargets(ctx, host, q.Secure)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return out, err
	}
	// §4.1: no usable NAPTR records: SRV for each transport we support, in our order of preference.
	for _, t := range r.cfg.Transports {
		if q.Secure && t != TLS {
			continue
		}
		out, err := r.srvTargets(ctx, t.srvName()+host, t)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return out, err
		}
	}
	// §4.1, §4.2: neither: A/AAAA with UDP (TLS for sips) and its default port.
	t := UDP
	if q.Secure {
		t = TLS
	}
	if !r.supports(t) {
		return nil, fmt.Errorf("%s: no NAPTR or SRV records and %s not supported here: %w", host, t, ErrNotFound)
	}
	return r.hostTargets(ctx, host, t, t.defaultPort())
}

func (r *Resolver) supports(t Transport) bool { return slices.Contains(r.cfg.Transports, t) }

// naptrTargets follows the domain's NAPTR records (§4.1). The first usable record (lowest order, then
// preference, a service we support, flag "s") gives the transport and its SRV name; when that SRV name yields
// no address the next usable record is tried, since discovery of that server failed.
func (r *Resolver) naptrTargets(ctx context.Context, host string, secure bool) ([]Target, error) {
	rrs, err := r.lookup(ctx, host, dns.TypeNAPTR)
	if err != nil {
		return nil, err
	}
	recs := make([]*dns.NAPTR, 0, len(rrs))
	for _, rr := range rrs {
		if n, ok := rr.(*dns.NAPTR); ok {
			recs = append(recs, n)
		}
	}
	slices.SortStableFunc(recs, func(a, b *dns.NAPTR) int {
		if a.Order != b.Order {
			return int(a.Order) - int(b.Order)
		}
		return int(a.Preference) - int(b.Preference)
	})
	var lastErr error = fmt.Errorf("%s: no NAPTR record with a service we support: %w", host, ErrNotFound)
	for _, n := range recs {
		if !strings.EqualFold(n.Flags, "s") || n.Replacement == "" || n.Replacement == "." {
			continue
		}
		t, ok := r.naptrTransport(n.Service, secure)
		if !ok {
			continue
		}
		out, err := r.srvTargets(ctx, n.Replacement, t)
		if err == nil {
			return out, nil
		}
		lastErr = err
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	return nil, lastErr
}

func (r *Resolver) naptrTransport(service string, secure bool) (Transport, bool) {
	for _, t := range r.cfg.Transports {
		if secure && t != TLS {
			continue
		}
		if strings.EqualFold(service, t.naptrService()) {
			return t, true
		}
	}
	return "", false
}

// srvTargets resolves an SRV name into addresses: RFC 2782 order, then each target's A/AAAA records, using
// the answer's additional section when it carries them.
func (r *Resolver) srvTargets(ctx context.Context, name string, t Transport) ([]Target, error) {
	rrs, err := r.lookup(ctx, name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	srvs := make([]*dns.SRV, 0, len(rrs))
	for _, rr := range rrs {
		// RFC 2782: a target of "." means the service is decidedly not available at this domain.
		if s, ok := rr.(*dns.SRV); ok && s.Target != "." {
			srvs = append(srvs, s)
		}
	}
	if len(srvs) == 0 {
		return nil, fmt.Errorf("%s: no SRV target: %w", name, ErrNotFound)
	}
	var out []Target
	var firstErr error
	for _, s := range orderSRV(srvs, r.rnd) {
		ts, err := r.hostTargets(ctx, strings.TrimSuffix(s.Target, "."), t, s.Port)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out = append(out, ts...)
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// hostTargets is the host's addresses with one transport and port, in the configured family order.
func (r *Resolver) hostTargets(ctx context.Context, host string, t Transport, port uint16) ([]Target, error) {
	types := []uint16{dns.TypeA, dns.TypeAAAA}
	if r.cfg.PreferIPv6 {
		types = []uint16{dns.TypeAAAA, dns.TypeA}
	}
	var out []Target
	var firstErr error
	for _, qt := range types {
		if (qt == dns.TypeA && !r.cfg.IPv4) || (qt == dns.TypeAAAA && !r.cfg.IPv6) {
			continue
		}
		rrs, err := r.lookup(ctx, host, qt)
		if err != nil {
			if firstErr == nil || errors.Is(firstErr, ErrNotFound) {
				firstErr = err
			}
			continue
		}
		for _, rr := range rrs {
			var ip netip.Addr
			switch a := rr.(type) {
			case *dns.A:
				ip, _ = netip.AddrFromSlice(a.A.To4())
			case *dns.AAAA:
				ip, _ = netip.AddrFromSlice(a.AAAA.To16())
			}
			if ip.IsValid() {
				out = append(out, Target{Transport: t, Addr: netip.AddrPortFrom(ip.Unmap(), port), Name: host})
			}
		}
	}
	if len(out) == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("%s: no address: %w", host, ErrNotFound)
		}
		return nil, firstErr
	}
	return out, nil
}

// orderSRV sorts SRV records as RFC 2782 says: by priority, and within one priority by weighted random
// selection (records of weight 0 first, then a running sum, a random number picking the first record whose
// running sum reaches it).
func orderSRV(srvs []*dns.SRV, rnd func(int) int) []*dns.SRV {
	slices.SortStableFunc(srvs, func(a, b *dns.SRV) int { return int(a.Priority) - int(b.Priority) })
	out := make([]*dns.SRV, 0, len(srvs))
	for i := 0; i < len(srvs); {
		j := i
		for j < len(srvs) && srvs[j].Priority == srvs[i].Priority {
			j++
		}
		group := slices.Clone(srvs[i:j])
		// Weight 0 first (RFC 2782); otherwise by target and port, so that the selection depends on the
		// random numbers alone and not on the order a server returns the RRset in (bind9 rotates it).
		slices.SortStableFunc(group, func(a, b *dns.SRV) int {
			if (a.Weight == 0) != (b.Weight == 0) {
				if a.Weight == 0 {
					return -1
				}
				return 1
			}
			if c := strings.Compare(strings.ToLower(a.Target), strings.ToLower(b.Target)); c != 0 {
				return c
			}
			return int(a.Port) - int(b.Port)
		})
		for len(group) > 0 {
			sum := 0
			for _, s := range group {
				sum += int(s.Weight)
			}
			pick := 0
			if sum > 0 {
				n := rnd(sum + 1)
				run := 0
				for k, s := range group {
					run += int(s.Weight)
					if run >= n {
						pick = k
						break
					}
				}
			}
			out = append(out, group[pick])
			group = slices.Delete(group, pick, pick+1)
		}
		i = j
	}
	return out
}

// MarkFailed reports that t did not answer, failed at the transport or answered 503 (RFC 3263 §4.3): later
// answers list it after the others until BlacklistFor has passed.
func (r *Resolver) MarkFailed(t Target) { r.MarkFailedFor(t, 0) }

// MarkFailedFor is MarkFailed for a given time: a 503's Retry-After (RFC 3261 §21.5.4, RFC 3263 §4.3: the
// server is unavailable for that long). d <= 0 means BlacklistFor.
func (r *Resolver) MarkFailedFor(t Target, d time.Duration) {
	if d <= 0 {
		d = r.cfg.BlacklistFor
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.blacklist) >= r.cfg.CacheSize {
		for k, until := range r.blacklist {
			if !until.After(now) {
				delete(r.blacklist, k)
			}
		}
		if len(r.blacklist) >= r.cfg.CacheSize {
			return // every entry is live: keep the older reports rather than grow without bound
		}
	}
	r.blacklist[t] = now.Add(d)
	r.log.Info("SIP target marked failed", zap.Stringer("target", t), zap.String("name", t.Name),
		zap.Duration("for", d))
}

// order moves blacklisted targets behind the others, keeping the relative order of each part.
func (r *Resolver) order(ts []Target) []Target {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.blacklist) == 0 {
		return ts
	}
	good := make([]Target, 0, len(ts))
	var bad []Target
	for _, t := range ts {
		if until, ok := r.blacklist[t]; ok {
			if until.After(now) {
				bad = append(bad, t)
				continue
			}
			delete(r.blacklist, t)
		}
		good = append(good, t)
	}
	return append(good, bad...)
}

// lookup returns the records of type qt owned by name (following a CNAME chain within the answer), from the
// cache or the servers.
func (r *Resolver) lookup(ctx context.Context, name string, qt uint16) ([]dns.RR, error) {
	key := cacheKey{name: canonical(name), qtype: qt}
	if e, ok := r.cache.get(key, r.now()); ok {
		return e.rrs, e.err
	}
	return r.cache.do(key, r.now, func() (entry, error) {
		rrs, ttl, err := r.query(ctx, key.name, qt)
		e := entry{rrs: rrs, err: err, expires: r.now().Add(ttl)}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return e, err // a timeout is not cached
		}
		return e, nil
	})
}

// query asks the servers in order, Attempts rounds, and returns the records with their TTL.
func (r *Resolver) query(ctx context.Context, name string, qt uint16) ([]dns.RR, time.Duration, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qt)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	var lastErr error
	for attempt := 0; attempt < r.cfg.Attempts; attempt++ {
		for _, srv := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, 0, fmt.Errorf("%s %s: %w: %w", dns.TypeToString[qt], name, ErrTimeout, err)
			}
			in, _, err := r.client.ExchangeContext(ctx, m, srv)
			if err == nil && in.Truncated {
				in, _, err = r.tcp.ExchangeContext(ctx, m, srv)
			}
			if err != nil {
				lastErr = err
				continue
			}
			rrs, ttl, err := r.answer(in, name, qt)
			if err != nil && !errors.Is(err, ErrNotFound) {
				lastErr = err
				continue // SERVFAIL, REFUSED: the next server may know
			}
			return rrs, ttl, err
		}
	}
	r.log.Warn("DNS lookup failed", zap.String("name", name), zap.String("type", dns.TypeToString[qt]),
		zap.Strings("servers", r.servers), zap.Error(lastErr))
	return nil, 0, fmt.Errorf("%s %s: %w: %w", dns.TypeToString[qt], name, ErrTimeout, lastErr)
}

// answer reads a response: the records of type qt for name (after CNAMEs), and how long to keep them.
func (r *Resolver) answer(in *dns.Msg, name string, qt uint16) ([]dns.RR, time.Duration, error) {
	if len(in.Question) != 1 || in.Question[0].Qtype != qt || !strings.EqualFold(in.Question[0].Name, name) {
		return nil, 0, fmt.Errorf("%s %s: answer for another question", dns.TypeToString[qt], name)
	}
	switch in.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, r.negativeTTL(in), fmt.Errorf("%s %s: NXDOMAIN: %w", dns.TypeToString[qt], name, ErrNotFound)
	default:
		return nil, 0, fmt.Errorf("%s %s: %s", dns.TypeToString[qt], name, dns.RcodeToString[in.Rcode])
	}
	owner := name
	for range maxCNAME {
		next := ""
		for _, rr := range in.Answer {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) && qt != dns.TypeCNAME {
				next = c.Target
			}
		}
		if next == "" {
			break
		}
		owner = next
	}
	var out []dns.RR
	ttl := r.cfg.MaxTTL
	for _, rr := range in.Answer {
		h := rr.Header()
		if h.Rrtype != qt || !strings.EqualFold(h.Name, owner) {
			continue
		}
		out = append(out, rr)
		if d := time.Duration(h.Ttl) * time.Second; d < ttl {
			ttl = d
		}
	}
	if len(out) == 0 {
		return nil, r.negativeTTL(in), fmt.Errorf("%s %s: no records: %w", dns.TypeToString[qt], name, ErrNotFound)
	}
	// Addresses of SRV targets from the additional section (RFC 2782 "Usage rules") save a query each.
	if qt == dns.TypeSRV {
		r.cacheAdditional(in)
	}
	return out, ttl, nil
}

// cacheAdditional stores the A/AAAA records of an SRV answer's additional section.
func (r *Resolver) cacheAdditional(in *dns.Msg) {
	targets := map[string]bool{}
	for _, rr := range in.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			targets[canonical(s.Target)] = true
		}
	}
	groups := map[cacheKey]*entry{}
	now := r.now()
	for _, rr := range in.Extra {
		h := rr.Header()
		if (h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA) || !targets[canonical(h.Name)] {
			continue
		}
		k := cacheKey{name: canonical(h.Name), qtype: h.Rrtype}
		e := groups[k]
		if e == nil {
			e = &entry{expires: now.Add(r.cfg.MaxTTL)}
			groups[k] = e
		}
		e.rrs = append(e.rrs, rr)
		if exp := now.Add(time.Duration(h.Ttl) * time.Second); exp.Before(e.expires) {
			e.expires = exp
		}
	}
	for k, e := range groups {
		r.cache.put(k, *e)
	}
}

// negativeTTL is how long a negative answer is kept: the SOA's minimum and TTL when the authority section
// carries one (RFC 2308 §5), capped by NegativeTTL.
func (r *Resolver) negativeTTL(in *dns.Msg) time.Duration {
	ttl := r.cfg.NegativeTTL
	for _, rr := range in.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			d := time.Duration(min(soa.Minttl, soa.Hdr.Ttl)) * time.Second
			if d < ttl {
				ttl = d
			}
		}
	}
	return ttl
}
