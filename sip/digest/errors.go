package digest

import "errors"

// Sentinels for errors.Is. Parse errors are *header.ParseError values unwrapping to these or to
// the header package's ErrSyntax, ErrMissing and ErrDuplicate.
var (
	// ErrNotDigest: the header's scheme is not Digest.
	ErrNotDigest = errors.New("auth scheme is not Digest")
	// ErrUnsupportedAlgorithm: an algorithm other than MD5, MD5-sess, AKAv1-MD5(-sess) and
	// AKAv2-MD5(-sess).
	ErrUnsupportedAlgorithm = errors.New("unsupported digest algorithm")
	// ErrUnsupportedQOP: a qop other than auth and auth-int.
	ErrUnsupportedQOP = errors.New("unsupported qop")
	// ErrMissingDirective: a directive the computation needs (cnonce, nc) is absent or malformed.
	ErrMissingDirective = errors.New("missing or malformed directive")
	// ErrInvalidNonce: an AKA nonce that is not base64 of at least RAND and AUTN.
	ErrInvalidNonce = errors.New("invalid AKA nonce")
	// ErrInvalidAUTS: an auts that is not base64 of 14 bytes.
	ErrInvalidAUTS = errors.New("invalid AUTS")
	// ErrMissingKey: the challenge has no ik or ck.
	ErrMissingKey = errors.New("AKA key missing from challenge")
	// ErrInvalidKey: ik or ck is not 32 hex digits.
	ErrInvalidKey = errors.New("invalid AKA key")
)
