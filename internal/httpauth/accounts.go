package httpauth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Role is what a console account may do. Each role is one of the API's scopes, so a page or action needs the
// scope its API route needs (hss/provision routes): read-only → read, operator → provision, admin → admin.
type Role string

// The roles, weakest first.
const (
	RoleReadOnly Role = "read-only"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Roles lists every role, weakest first.
func Roles() []Role { return []Role{RoleReadOnly, RoleOperator, RoleAdmin} }

// Scope is the API scope the role grants.
func (r Role) Scope() Scope {
	switch r {
	case RoleAdmin:
		return ScopeAdmin
	case RoleOperator:
		return ScopeProvision
	}
	return ScopeRead
}

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, error) {
	if slices.Contains(Roles(), Role(s)) {
		return Role(s), nil
	}
	return "", fmt.Errorf("unknown role %q: want one of %v", s, Roles())
}

// AccountEntry is one console account of a tokens file (the `accounts:` list beside `tokens:`).
type AccountEntry struct {
	// Name is the login name, also the name in the audit log.
	Name string `yaml:"name"`
	// Password is HashPassword of the password: "pbkdf2-sha256$ITERATIONS$SALT$KEY", salt and key in
	// unpadded base64 (RFC 4648 §4). Never the password itself.
	Password string `yaml:"password"`
	// Role is read-only, operator or admin.
	Role Role `yaml:"role"`
}

// Password hashing: PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) with a random 16-byte salt, at the iteration count
// OWASP recommends for it (600 000), from the standard library.
const (
	passwordScheme     = "pbkdf2-sha256"
	passwordIterations = 600_000
	passwordSaltBytes  = 16
	passwordKeyBytes   = 32
	// MinPasswordLength is the shortest password AddAccount accepts.
	MinPasswordLength = 12
)

// HashPassword returns the stored form of password (AccountEntry.Password).
func HashPassword(password string) (string, error) {
	return hashPasswordIter(password, passwordIterations)
}

// HashPasswordIterations is HashPassword with another iteration count (at least 1000): fewer make tests
// fast and weaken the hash, more make it stronger and every login slower.
func HashPasswordIterations(password string, iter int) (string, error) {
	if iter < 1000 {
		return "", fmt.Errorf("password: %d iterations: want 1000 or more", iter)
	}
	return hashPasswordIter(password, iter)
}

func hashPasswordIter(password string, iter int) (string, error) {
	salt := make([]byte, passwordSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, iter, passwordKeyBytes)
	if err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	enc := base64.RawStdEncoding
	return passwordScheme + "$" + strconv.Itoa(iter) + "$" + enc.EncodeToString(salt) + "$" + enc.EncodeToString(key), nil
}

// passwordHash is a parsed AccountEntry.Password.
type passwordHash struct {
	iter      int
	salt, key []byte
}

func parsePasswordHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != passwordScheme {
		return passwordHash{}, errors.New("want pbkdf2-sha256$ITERATIONS$SALT$KEY (imsconsole account add writes it)")
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1000 || iter > 10_000_000 {
		return passwordHash{}, fmt.Errorf("iterations %q: want 1000 to 10000000", parts[1])
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	key, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) != passwordKeyBytes {
		return passwordHash{}, errors.New("salt or key: want unpadded base64, a salt of 8 bytes or more and a 32-byte key")
	}
	return passwordHash{iter: iter, salt: salt, key: key}, nil
}

// matches reports whether password hashes to h, comparing in constant time.
func (h passwordHash) matches(password string) bool {
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1
}

// account is a parsed AccountEntry.
type account struct {
	name string
	hash passwordHash
	role Role
}

// parseAccounts checks the accounts of a tokens file: unique names on one line, a well-formed hash, a known
// role. A name may be a token's name too (the audit log says which kind acted).
func parseAccounts(entries []AccountEntry) ([]account, error) {
	var out []account
	names := map[string]bool{}
	for i, e := range entries {
		where := fmt.Sprintf("accounts[%d]", i)
		if err := uniqueName(where, e.Name, names); err != nil {
			return nil, err
		}
		h, err := parsePasswordHash(e.Password)
		if err != nil {
			return nil, fmt.Errorf("%s.password (%s): %w", where, e.Name, err)
		}
		role, err := ParseRole(string(e.Role))
		if err != nil {
			return nil, fmt.Errorf("%s.role (%s): %w", where, e.Name, err)
		}
		out = append(out, account{name: e.Name, hash: h, role: role})
	}
	return out, nil
}

// dummyHash is compared against when no account has the name given, so that a login takes as long for an
// unknown name as for a wrong password (no account enumeration by timing).
var dummyHash = func() passwordHash {
	h, _ := parsePasswordHash(passwordScheme + "$" + strconv.Itoa(passwordIterations) + "$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	return h
}()

// Login checks a console account's name and password and returns its principal: the account's name and
// the scope of its role.
func (t *Tokens) Login(name, password string) (Principal, bool) {
	var found *account
	if t != nil {
		for i := range t.accounts {
			if t.accounts[i].name == name {
				found = &t.accounts[i]
			}
		}
	}
	if found == nil {
		d := dummyHash
		if t != nil && len(t.accounts) > 0 {
			d.iter = t.accounts[0].hash.iter // as long as a real account's check
		}
		d.matches(password)
		return Principal{}, false
	}
	if !found.hash.matches(password) {
		return Principal{}, false
	}
	return Principal{Name: found.name, Scopes: []Scope{found.role.Scope()}}, true
}

// Accounts is the number of console accounts known.
func (t *Tokens) Accounts() int {
	if t == nil {
		return 0
	}
	return len(t.accounts)
}

// Login checks an account against the file as it is now (FileTokens reads it again when it changed).
func (f *FileTokens) Login(name, password string) (Principal, bool) {
	return f.current().Login(name, password)
}

// Lookup finds the principal of a token in the file as it is now.
func (f *FileTokens) Lookup(secret string) (Principal, bool) { return f.current().Lookup(secret) }

// AddAccount adds a console account to the tokens file at path (created 0600 when missing), or replaces the
// password and role of the account named name when replace is set. The password is stored hashed.
func AddAccount(path, name string, role Role, password string, replace bool) error {
	if len(password) < MinPasswordLength {
		return fmt.Errorf("password: want %d characters or more", MinPasswordLength)
	}
	var f TokenFile
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("tokens file: %w", err)
	default:
		if _, err := ParseTokens(b); err != nil {
			return fmt.Errorf("tokens file %s: %w", path, err)
		}
		if err := yaml.Unmarshal(b, &f); err != nil {
			return fmt.Errorf("tokens file %s: %w", path, err)
		}
	}
	i := slices.IndexFunc(f.Accounts, func(a AccountEntry) bool { return a.Name == name })
	if i >= 0 && !replace {
		return fmt.Errorf("tokens file %s: an account named %q exists already", path, name)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	entry := AccountEntry{Name: name, Password: hash, Role: role}
	switch {
	case i >= 0:
		f.Accounts[i] = entry
	default:
		f.Accounts = append(f.Accounts, entry)
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	out = append([]byte(tokensFileHeader), out...)
	if _, err := ParseTokens(out); err != nil {
		return fmt.Errorf("account %q: %w", name, err)
	}
	if err := WriteSecretFile(path, out); err != nil {
		return fmt.Errorf("tokens file: %w", err)
	}
	return nil
}

// Accounts is the number of console accounts in the file as it is now.
func (f *FileTokens) Accounts() int { return f.current().Accounts() }
