// Package httpauth authenticates and authorises requests to imscore's HTTP listeners: the HSS provisioning
// API and every node's admin listener (metrics, runtime profiles). A request carries a bearer token
// (RFC 6750 §2.1, `Authorization: Bearer <token>`); the token names a Principal with Scopes, and each route
// requires one scope. Tokens are kept in a file as SHA-256 hashes, never in clear; a token is never logged.
//
// Authentication and authorisation are separate steps: an Authenticator turns a request into a Principal
// (Tokens does it from the bearer header; the web console will do it from a session), and Guard checks the
// Principal's scopes against the route's. So console accounts get roles that are these same scopes:
// read-only → read, operator → provision, admin → admin.
package httpauth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Scope is a permission a route requires and a token grants.
type Scope string

// The scopes. A scope grants the ones it implies (Implied): admin everything, provision read.
const (
	// ScopeRead reads subscribers, identities, registration state, profiles, iFC sets and S-CSCFs.
	ScopeRead Scope = "read"
	// ScopeProvision changes subscribers, their identities and keys (import included), and starts the
	// network-initiated de-registration (RTR) and profile push (PPR) of one subscriber.
	ScopeProvision Scope = "provision"
	// ScopeAdmin changes what many subscribers share — service profiles, shared iFC sets, S-CSCFs,
	// default charging addresses — and reads the runtime profiles (/debug/pprof/).
	ScopeAdmin Scope = "admin"
	// ScopeMetrics scrapes /metrics where it is protected (Prometheus' bearer token); nothing else.
	ScopeMetrics Scope = "metrics"
)

// Scopes lists every scope, weakest first.
func Scopes() []Scope { return []Scope{ScopeMetrics, ScopeRead, ScopeProvision, ScopeAdmin} }

// Implied returns s and the scopes it grants: admin grants provision, read and metrics; provision grants read.
func (s Scope) Implied() []Scope {
	switch s {
	case ScopeAdmin:
		return []Scope{ScopeAdmin, ScopeProvision, ScopeRead, ScopeMetrics}
	case ScopeProvision:
		return []Scope{ScopeProvision, ScopeRead}
	}
	return []Scope{s}
}

// ParseScope checks that s names a scope.
func ParseScope(s string) (Scope, error) {
	if slices.Contains(Scopes(), Scope(s)) {
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown scope %q: want one of %v", s, Scopes())
}

// Principal is who a request comes from: a token's name (or, later, a console account) and what it may do.
type Principal struct {
	Name   string
	Scopes []Scope // as granted, before implication
}

// Has reports whether p may act with scope s.
func (p Principal) Has(s Scope) bool {
	for _, g := range p.Scopes {
		if slices.Contains(g.Implied(), s) {
			return true
		}
	}
	return false
}

// Authenticator finds who sent a request. It returns ErrNoCredentials when the request carries none (the
// answer is then a 401 without an error code, RFC 6750 §3.1), ErrInvalidToken when they are wrong, and
// ErrMalformed when the Authorization header is not a bearer header.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Authentication errors.
var (
	ErrNoCredentials = errors.New("no credentials")
	ErrInvalidToken  = errors.New("invalid token")
	ErrMalformed     = errors.New("malformed Authorization header")
)

// TokenPrefix starts every token NewSecret makes, so that secret scanners and people recognise one.
const TokenPrefix = "imscore_"

// secretBytes is the randomness of a token: 256 bits, beyond any guessing.
const secretBytes = 32

// NewSecret returns a new random token: TokenPrefix and 32 random bytes in unpadded base64url (RFC 4648 §5).
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashSecret is what a tokens file holds for a token: the hex SHA-256 of its text. A token carries 256 random
// bits, so a plain hash cannot be reversed by guessing (no salt or slow hash is needed, unlike passwords).
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// TokenEntry is one token of a tokens file.
type TokenEntry struct {
	// Name identifies the token in the audit log ("imsctl", "prometheus", "provisioning-system").
	Name string `yaml:"name"`
	// SHA256 is HashSecret of the token, 64 hex digits.
	SHA256 string `yaml:"sha256"`
	// Scopes are what the token may do.
	Scopes []Scope `yaml:"scopes"`
}

// TokenFile is the YAML document of a tokens file.
type TokenFile struct {
	Tokens []TokenEntry `yaml:"tokens"`
	// Accounts are the web console's accounts (accounts.go); the API itself takes tokens only.
	Accounts []AccountEntry `yaml:"accounts,omitempty"`
}

// Tokens authenticates bearer tokens against the hashes of a tokens file. The zero value (and nil) knows no
// token: every request is refused.
type Tokens struct {
	entries  []tokenEntry
	accounts []account
}

type tokenEntry struct {
	name   string
	hash   [sha256.Size]byte
	scopes []Scope
}

// ParseTokens reads a tokens file's text. Every entry needs a unique name, a 64-hex-digit sha256 and at least
// one known scope.
func ParseTokens(data []byte) (*Tokens, error) {
	var f TokenFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	t := &Tokens{}
	names := map[string]bool{}
	for i, e := range f.Tokens {
		where := fmt.Sprintf("tokens[%d]", i)
		if err := uniqueName(where, e.Name, names); err != nil {
			return nil, err
		}
		raw, err := hex.DecodeString(e.SHA256)
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("%s.sha256 (%s): want 64 hex digits, the SHA-256 of the token (imsctl token create writes it)", where, e.Name)
		}
		if len(e.Scopes) == 0 {
			return nil, fmt.Errorf("%s.scopes (%s): empty: want some of %v", where, e.Name, Scopes())
		}
		for _, s := range e.Scopes {
			if _, err := ParseScope(string(s)); err != nil {
				return nil, fmt.Errorf("%s.scopes (%s): %w", where, e.Name, err)
			}
		}
		te := tokenEntry{name: e.Name, scopes: slices.Clone(e.Scopes)}
		copy(te.hash[:], raw)
		t.entries = append(t.entries, te)
	}
	var err error
	if t.accounts, err = parseAccounts(f.Accounts); err != nil {
		return nil, err
	}
	return t, nil
}

// uniqueName checks the name of a tokens file entry: not empty, on one line, not listed before (names).
func uniqueName(where, name string, names map[string]bool) error {
	if strings.TrimSpace(name) == "" || strings.ContainsAny(name, "\r\n\t") {
		return fmt.Errorf("%s.name %q: want a non-empty name on one line", where, name)
	}
	if names[name] {
		return fmt.Errorf("%s.name %q: listed twice", where, name)
	}
	names[name] = true
	return nil
}

// LoadTokens reads the tokens file at path.
func LoadTokens(path string) (*Tokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	t, err := ParseTokens(b)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return t, nil
}

// Len is the number of tokens known.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Authenticate implements Authenticator with the bearer header of RFC 6750 §2.1.
func (t *Tokens) Authenticate(r *http.Request) (Principal, error) {
	secret, err := BearerToken(r)
	if err != nil {
		return Principal{}, err
	}
	p, ok := t.Lookup(secret)
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	return p, nil
}

// Lookup returns the principal of secret. Its hash is compared with every entry in constant time, so neither
// the match nor its position shows in the timing.
func (t *Tokens) Lookup(secret string) (Principal, bool) {
	sum := sha256.Sum256([]byte(secret))
	found := -1
	if t != nil {
		for i := range t.entries {
			if subtle.ConstantTimeCompare(sum[:], t.entries[i].hash[:]) == 1 {
				found = i
			}
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	e := t.entries[found]
	return Principal{Name: e.name, Scopes: slices.Clone(e.scopes)}, true
}

// BearerToken returns the token of the request's `Authorization: Bearer` header (RFC 6750 §2.1: the scheme
// is case-insensitive, one space, then the b64token). A request without the header gets ErrNoCredentials; a
// header of another scheme, or a bearer header with no token or bad characters, ErrMalformed.
func BearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		return "", ErrMalformed // RFC 6750 §3.1 invalid_request: more than one method or header
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformed
	}
	if token == "" || !isB64Token(token) {
		return "", ErrMalformed
	}
	return token, nil
}

// isB64Token checks the b64token syntax of RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
// "/" ) *"=".
func isB64Token(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// AddToken creates a token named name with scopes, appends its hash to the tokens file at path (created with
// mode 0600, its directory 0700, when missing) and returns the token, which is shown once and stored nowhere
// else. A name already in the file is refused.
func AddToken(path, name string, scopes []Scope) (string, error) {
	var f TokenFile
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("tokens file: %w", err)
	default:
		if _, err := ParseTokens(b); err != nil {
			return "", fmt.Errorf("tokens file %s: %w", path, err)
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			return "", fmt.Errorf("tokens file %s: %w", path, err)
		}
	}
	for _, e := range f.Tokens {
		if e.Name == name {
			return "", fmt.Errorf("tokens file %s: a token named %q exists already", path, name)
		}
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	f.Tokens = append(f.Tokens, TokenEntry{Name: name, SHA256: HashSecret(secret), Scopes: scopes})
	out, err := yaml.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("tokens file: %w", err)
	}
	out = append([]byte(tokensFileHeader), out...)
	if _, err := ParseTokens(out); err != nil { // name and scopes checked as the server will
		return "", fmt.Errorf("token %q: %w", name, err)
	}
	if err := WriteSecretFile(path, out); err != nil {
		return "", fmt.Errorf("tokens file: %w", err)
	}
	return secret, nil
}

const tokensFileHeader = `# imscore API tokens: the SHA-256 of each token, never the token itself (imsctl token create adds one).
# Scopes: read, provision (implies read), admin (implies everything), metrics (/metrics only). docs/provisioning.md.
# accounts: the web console's logins (PBKDF2 hashes, roles read-only, operator, admin; imsconsole account add). docs/console.md.
`

// WriteSecretFile writes data to path with mode 0600 (its directory created 0700 when missing), through a
// temporary file renamed into place so that a reader never sees half of it.
func WriteSecretFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ReadSecretFile reads a token from a file (its first line, surrounding white space removed), refusing a
// file that other users may read or write: a token there is as good as given away.
func ReadSecretFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: mode %v lets other users read the token: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("%s: empty: want a token on the first line", path)
	}
	return line, nil
}

// Interface guard.
var _ Authenticator = (*Tokens)(nil)

// DefaultClientTokenFile is where clients (imsctl, imsue load --provision) look for their token when nothing
// else names one: the file `make run` (imsrun) writes on first start, relative to the working directory as the
// HSS's ./var/hss.db is.
const DefaultClientTokenFile = "./var/imsctl.token"

// EnvToken is the environment variable clients take a token from (IMSCTL_TOKEN).
const EnvToken = "IMSCTL_TOKEN"

// FindToken is how clients find their token: the file named by file (given explicitly: it must be readable),
// else env (the value of EnvToken), else DefaultClientTokenFile when it exists. "" (no token anywhere) lets
// the server answer 401. A token is never taken from a command-line flag: every user of the host sees those.
func FindToken(file, env string) (string, error) {
	if file != "" {
		return ReadSecretFile(file)
	}
	if t := strings.TrimSpace(env); t != "" {
		return t, nil
	}
	t, err := ReadSecretFile(DefaultClientTokenFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("token file %s: %w", DefaultClientTokenFile, err)
	}
	return t, nil
}
