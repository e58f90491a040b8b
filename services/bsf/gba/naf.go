package gba

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiorix/go-diameter/v4/diam"
	"go.uber.org/zap"

	"github.com/imscore/imscore/diameter"
	"github.com/imscore/imscore/diameter/gaa"
	"github.com/imscore/imscore/diameter/peer"
	"github.com/imscore/imscore/internal/logging"
	"github.com/imscore/imscore/sip/digest"
)

// NAFConfig is a NAF's GBA side: its name on Ua and its Zn connection to the BSF.
type NAFConfig struct {
	// FQDN is the NAF's name: the realm "3GPP-bootstrapping@FQDN" and NAF_Id = FQDN ‖ Ua id (TS 33.220 §4.5.2).
	FQDN string `yaml:"naf_fqdn"`
	// OriginHost and OriginRealm are the NAF's Diameter identity on Zn (default FQDN and FQDN minus its first
	// label). The BSF gives keys for NAF_Ids it has authorised the Origin-Host for.
	OriginHost  string `yaml:"origin_host"`
	OriginRealm string `yaml:"origin_realm"`
	// BSF is the BSF's Zn address (host:port), BSFHost its Origin-Host, BSFRealm the Destination-Realm.
	BSF      string `yaml:"bsf"`
	BSFHost  string `yaml:"bsf_host"`
	BSFRealm string `yaml:"bsf_realm"`
	// TLS runs Zn over TLS (RFC 6733 §2.1). Default: TCP.
	TLS peer.TLSFiles `yaml:"tls"`
	// NonceLifetime is how long a challenge's nonce may be used (default 5 min).
	NonceLifetime time.Duration `yaml:"nonce_lifetime"`
	// MaxEntries bounds the cached keys and the live nonces (each, default 100000).
	MaxEntries int `yaml:"max_entries"`
	// RequestTimeout bounds one Zn request (default 5 s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// WithDefaults fills the zero fields.
func (c NAFConfig) WithDefaults() NAFConfig {
	if c.OriginHost == "" {
		c.OriginHost = c.FQDN
	}
	if c.OriginRealm == "" {
		if _, rest, ok := strings.Cut(c.FQDN, "."); ok {
			c.OriginRealm = rest
		}
	}
	if c.BSFRealm == "" {
		c.BSFRealm = c.OriginRealm
	}
	if c.NonceLifetime == 0 {
		c.NonceLifetime = 5 * time.Minute
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 100000
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	return c
}

// Validate reports every bad field.
func (c NAFConfig) Validate() error {
	var errs []error
	if c.FQDN == "" || c.OriginHost == "" || c.OriginRealm == "" {
		errs = append(errs, errors.New("naf_fqdn (and so origin_host, origin_realm) must be set"))
	}
	if c.BSF == "" || c.BSFRealm == "" {
		errs = append(errs, errors.New("bsf and bsf_realm must be set"))
	}
	if c.NonceLifetime <= 0 || c.MaxEntries < 1 || c.RequestTimeout <= 0 {
		errs = append(errs, errors.New("nonce_lifetime, max_entries and request_timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Identity is a user a NAF authenticated: its IMPI, the public identities of its GUSS (the identities it may
// act as, TS 33.222 §5.3) and the B-TID.
type Identity struct {
	IMPI  string
	IMPUs []string
	BTID  string
}

// nafKey is what the NAF keeps of a B-TID until the key's lifetime ends (TS 33.220 §4.5.3 step 4).
type nafKey struct {
	id      Identity
	key     []byte
	expires time.Time
}

// nonceState is a live nonce: when it ends and the highest nonce-count seen with it.
type nonceState struct {
	expires time.Time
	nc      uint64
}

// NAF authenticates HTTP requests with GBA (TS 33.222 §5.3, TS 24.109 §5.2): HTTP Digest with the realm
// "3GPP-bootstrapping@<FQDN>", username the B-TID and password base64(Ks_NAF), the key asked from the BSF over
// Zn once per B-TID and cached until its lifetime ends. Safe for concurrent use.
type NAF struct {
	cfg  NAFConfig
	log  *zap.Logger
	node *peer.Node
	now  func() time.Time
	sess atomic.Uint64

	mu     sync.Mutex
	keys   map[string]*nafKey
	nonces map[string]*nonceState
}

// NewNAF builds the NAF and its Zn node; Run connects it.
func NewNAF(cfg NAFConfig, log *zap.Logger) (*NAF, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gba naf: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	d, err := gaa.NewDictionary()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.TLS.Load()
	if err != nil {
		return nil, fmt.Errorf("gba naf: tls: %w", err)
	}
	n := &NAF{cfg: cfg, log: log, now: time.Now, keys: map[string]*nafKey{}, nonces: map[string]*nonceState{}}
	n.node, err = peer.New(peer.Config{OriginHost: cfg.OriginHost, OriginRealm: cfg.OriginRealm, VendorID: gaa.Vendor3GPP,
		ProductName: "imscore-naf", Applications: []peer.Application{{ID: gaa.AppZn, VendorID: gaa.Vendor3GPP}},
		Dictionary: d, RequestTimeout: cfg.RequestTimeout, TLS: tlsCfg, Log: log.Named("zn"),
		Permissions: map[string][]peer.Command{}}, peer.HandlerFunc(refuseAll))
	if err != nil {
		return nil, fmt.Errorf("gba naf: zn node: %w", err)
	}
	return n, nil
}

func refuseAll(context.Context, *diam.Message, peer.PeerInfo) (*diam.Message, error) {
	return nil, diameter.Errorf(diameter.CommandUnsupported, "a NAF serves no Zn request")
}

// Run connects to the BSF and keeps the connection until ctx ends; then it disconnects (DPR).
func (n *NAF) Run(ctx context.Context) error {
	if err := n.node.Connect(ctx, peer.PeerConfig{Address: n.cfg.BSF, Host: n.cfg.BSFHost, Realm: n.cfg.BSFRealm,
		Roles: []string{"bsf"}}); err != nil {
		return fmt.Errorf("gba naf: zn: %w", err)
	}
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.node.Close(cctx)
}

// Connected reports whether the Zn connection to the BSF is open.
func (n *NAF) Connected() bool {
	for _, p := range n.node.Peers() {
		if p.State == peer.StateOpen {
			return true
		}
	}
	return false
}

// Authenticate checks r's GBA credentials (body is r's body, for qop auth-int). It returns the user, or
// answers r itself (401 with a fresh challenge, 503 when the BSF cannot be asked) and returns nil.
func (n *NAF) Authenticate(w http.ResponseWriter, r *http.Request, body []byte) *Identity {
	realm := Realm(n.cfg.FQDN)
	h := r.Header.Get("Authorization")
	if h == "" {
		n.challenge(w, false)
		return nil
	}
	cred, err := digest.ParseCredentials(h)
	log := n.log.With(zap.String("remote", r.RemoteAddr), zap.String("btid", cred.Username))
	switch {
	case err != nil || cred.Realm != realm || cred.Username == "":
		log.Info("ua: credentials not for this NAF", zap.String("realm", cred.Realm), zap.Error(err))
		n.challenge(w, false)
		return nil
	case cred.URI != r.URL.RequestURI():
		// RFC 7616 §3.4.6: the digest-uri must be the request's.
		log.Info("ua: digest uri differs from the request's", zap.String("uri", cred.URI))
		n.challenge(w, false)
		return nil
	case !n.useNonce(cred.Nonce, cred.NC):
		n.challenge(w, true) // unknown, expired or replayed nonce-count: stale (RFC 7616 §3.3)
		return nil
	}
	k, err := n.key(r.Context(), cred.Username)
	var de *diameter.Error
	switch {
	case errors.As(err, &de) && de.VendorID == gaa.Vendor3GPP && uint32(de.Code) == gaa.ErrorImpiUnknown:
		// TS 24.109 §5.2.3: the B-TID is unknown to the BSF (expired, or the BSF restarted): a 401 makes the UE
		// bootstrap again.
		log.Info("ua: B-TID unknown to the BSF")
		n.challenge(w, false)
		return nil
	case err != nil:
		log.Warn("ua: Zn failed", zap.Error(err))
		w.Header().Set("Retry-After", "5")
		http.Error(w, "bootstrapping function unavailable", http.StatusServiceUnavailable)
		return nil
	}
	if !digest.Verify(cred, r.Method, Password(k.key), body) {
		log.Info("ua: wrong response", logging.IMPI(k.id.IMPI))
		n.challenge(w, false)
		return nil
	}
	id := k.id
	return &id
}

// challenge answers 401 with a new nonce (TS 24.109 §5.2.2): realm "3GPP-bootstrapping@FQDN", qop auth-int
// and auth, MD5.
func (n *NAF) challenge(w http.ResponseWriter, stale bool) {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	nonce := base64.RawURLEncoding.EncodeToString(b)
	now := n.now()
	n.mu.Lock()
	if len(n.nonces) >= n.cfg.MaxEntries {
		n.sweepLocked(now)
		for k := range n.nonces { // still full: one goes (the map's order is arbitrary, as good as any)
			if len(n.nonces) < n.cfg.MaxEntries {
				break
			}
			delete(n.nonces, k)
		}
	}
	n.nonces[nonce] = &nonceState{expires: now.Add(n.cfg.NonceLifetime)}
	n.mu.Unlock()
	ch := digest.Challenge{Realm: Realm(n.cfg.FQDN), Nonce: nonce, Algorithm: digest.AlgMD5, QOP: "auth-int,auth", Stale: stale}
	w.Header().Set("WWW-Authenticate", ch.String())
	http.Error(w, "GBA credentials required", http.StatusUnauthorized)
}

// useNonce accepts a live nonce of ours with a nonce-count above the last one seen (no replay).
func (n *NAF) useNonce(nonce, nc string) bool {
	count, err := strconv.ParseUint(nc, 16, 64)
	if err != nil || len(nc) != 8 {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.nonces[nonce]
	if s == nil || !n.now().Before(s.expires) || count <= s.nc {
		return false
	}
	s.nc = count
	return true
}

// key returns the cached key of btid or asks the BSF over Zn (TS 33.220 §4.5.3 step 3–4).
func (n *NAF) key(ctx context.Context, btid string) (*nafKey, error) {
	now := n.now()
	n.mu.Lock()
	k := n.keys[btid]
	if k != nil && !now.Before(k.expires) {
		delete(n.keys, btid)
		k = nil
	}
	n.mu.Unlock()
	if k != nil {
		return k, nil
	}
	req := &gaa.BIR{SessionID: fmt.Sprintf("%s;%d;%d", n.cfg.OriginHost, now.Unix(), n.sess.Add(1)),
		OriginHost: n.cfg.OriginHost, OriginRealm: n.cfg.OriginRealm, DestinationRealm: n.cfg.BSFRealm,
		DestinationHost: n.cfg.BSFHost, TransactionID: btid, NAFID: NAFID(n.cfg.FQDN, UaHTTPDigest)}
	frame, err := req.AppendBinary(nil)
	if err != nil {
		return nil, fmt.Errorf("zn bir: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	out, err := n.node.RequestBinary(ctx, frame)
	if err != nil {
		return nil, fmt.Errorf("zn bir: %w", err)
	}
	ans := new(gaa.BIA)
	if err := ans.UnmarshalBinary(out); err != nil {
		return nil, fmt.Errorf("zn bia: %w", err)
	}
	if err := ans.Result.Err(); err != nil {
		return nil, fmt.Errorf("zn bir %s: %w", btid, err)
	}
	if !now.Before(ans.Expiry) { // expired as the BSF answered: as unknown, the UE bootstraps again
		return nil, fmt.Errorf("zn bia %s: key expired at %v: %w", btid, ans.Expiry,
			&diameter.Error{Code: diameter.ResultCode(gaa.ErrorImpiUnknown), VendorID: gaa.Vendor3GPP, Err: errors.New("key expired")})
	}
	if len(ans.MEKey) != 32 || ans.UserName == "" {
		return nil, fmt.Errorf("zn bia %s: no usable key (key %d octets, IMPI %q, expiry %v)", btid, len(ans.MEKey), ans.UserName, ans.Expiry)
	}
	guss, err := ParseGUSS(ans.GUSS)
	if err != nil {
		return nil, fmt.Errorf("zn bia %s: %w", btid, err)
	}
	k = &nafKey{id: Identity{IMPI: ans.UserName, IMPUs: guss.UIDs, BTID: btid}, key: ans.MEKey, expires: ans.Expiry}
	n.mu.Lock()
	if len(n.keys) >= n.cfg.MaxEntries {
		n.sweepLocked(now)
		for b := range n.keys {
			if len(n.keys) < n.cfg.MaxEntries {
				break
			}
			delete(n.keys, b)
		}
	}
	n.keys[btid] = k
	n.mu.Unlock()
	return k, nil
}

func (n *NAF) sweepLocked(now time.Time) {
	for b, k := range n.keys {
		if !now.Before(k.expires) {
			delete(n.keys, b)
		}
	}
	for s, st := range n.nonces {
		if !now.Before(st.expires) {
			delete(n.nonces, s)
		}
	}
}
