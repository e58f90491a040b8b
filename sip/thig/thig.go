// Package thig hides a network's topology at its border (TS 24.229 §5.10.4, the IBCF's THIG
// function; RFC 3261 §16.7 leaves the form to the proxy): the header field entries that name the home network's
// nodes (Via, Record-Route, Path, Service-Route) are sealed into an opaque token on the way out and restored
// from it on the way back, so the other network sees one name, the border's, and nothing it could read,
// forge or replay in another header field.
//
// A token is base64url (RFC 4648 §5, no padding: characters a SIP URI user part and a header parameter carry
// unescaped, RFC 3261 §25.1 "unreserved") of
//
//	key id (1 byte) | nonce (12 bytes) | AES-256-GCM(entries) with the tag (16 bytes)
//
// The additional data binds the token to the kind of header field and the border's domain: a Path token
// does not open as a Record-Route one, nor at another network's border. Keys rotate: Open accepts every
// configured key by id, Seal uses the current one.
package thig

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind is the header field a token stands for; it is part of the additional data.
type Kind string

// The header fields the border hides (TS 24.229 §5.10.4.1).
const (
	Via          Kind = "via"
	RecordRoute  Kind = "record-route"
	Path         Kind = "path"
	ServiceRoute Kind = "service-route"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// Limits on what a token may hold, so that opening one from the network costs a bounded amount.
const (
	// MaxEntries bounds the header field entries in one token.
	MaxEntries = 64
	// MaxTokenLen bounds a token's length (base64url characters).
	MaxTokenLen = 8192
)

const (
	nonceSize = 12
	tagSize   = 16
)

// ErrToken means a token is not one this border sealed: malformed, tampered with, sealed with an unknown key,
// or for another kind or domain. The caller answers 400 (a request) or drops it (a response) and logs it.
var ErrToken = errors.New("thig: invalid token")

// Codec seals and opens tokens for one border domain. It is safe for concurrent use.
type Codec struct {
	domain  string
	current byte
	aeads   map[byte]cipher.AEAD
}

// New returns a codec for domain whose current key is keys[current]. keys maps a key id to a 32-byte key;
// keep a retired key configured as long as tokens sealed with it may come back (a dialog's lifetime).
func New(domain string, current byte, keys map[byte][]byte) (*Codec, error) {
	if domain == "" {
		return nil, fmt.Errorf("thig: empty domain")
	}
	c := &Codec{domain: domain, current: current, aeads: map[byte]cipher.AEAD{}}
	for id, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("thig: key %d: %d bytes, want %d", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("thig: key %d: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("thig: key %d: %w", id, err)
		}
		c.aeads[id] = aead
	}
	if _, ok := c.aeads[current]; !ok {
		return nil, fmt.Errorf("thig: current key %d is not configured", current)
	}
	return c, nil
}

// Domain is the border's domain, the name the other network sees.
func (c *Codec) Domain() string { return c.domain }

func (c *Codec) aad(kind Kind) []byte {
	return []byte(string(kind) + "\x00" + c.domain)
}

// Seal returns the token holding entries (header field values, topmost first).
func (c *Codec) Seal(kind Kind, entries []string) (string, error) {
	if len(entries) == 0 || len(entries) > MaxEntries {
		return "", fmt.Errorf("thig: seal %s: %d entries, want 1 to %d", kind, len(entries), MaxEntries)
	}
	n := 0
	for _, e := range entries {
		n += binary.MaxVarintLen32 + len(e)
	}
	plain := make([]byte, 0, n)
	for _, e := range entries {
		plain = binary.AppendUvarint(plain, uint64(len(e)))
		plain = append(plain, e...)
	}
	aead := c.aeads[c.current]
	buf := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+tagSize)
	buf[0] = c.current
	if _, err := rand.Read(buf[1 : 1+nonceSize]); err != nil {
		return "", fmt.Errorf("thig: seal %s: nonce: %w", kind, err)
	}
	buf = aead.Seal(buf, buf[1:1+nonceSize], plain, c.aad(kind))
	tok := base64.RawURLEncoding.EncodeToString(buf)
	if len(tok) > MaxTokenLen {
		return "", fmt.Errorf("thig: seal %s: token of %d characters exceeds %d", kind, len(tok), MaxTokenLen)
	}
	return tok, nil
}

// Open returns the entries a token of kind holds, or ErrToken.
func (c *Codec) Open(kind Kind, token string) ([]string, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: %d characters", ErrToken, len(token))
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrToken, err)
	}
	if len(raw) < 1+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrToken, len(raw))
	}
	aead, ok := c.aeads[raw[0]]
	if !ok {
		return nil, fmt.Errorf("%w: unknown key %d", ErrToken, raw[0])
	}
	plain, err := aead.Open(nil, raw[1:1+nonceSize], raw[1+nonceSize:], c.aad(kind))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrToken, kind, err)
	}
	var out []string
	for len(plain) > 0 {
		l, n := binary.Uvarint(plain)
		if n <= 0 || l > uint64(len(plain)-n) || len(out) == MaxEntries {
			return nil, fmt.Errorf("%w: malformed content", ErrToken) // only a holder of our key gets here
		}
		out = append(out, string(plain[n:n+int(l)]))
		plain = plain[n+int(l):]
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no entries", ErrToken)
	}
	return out, nil
}
