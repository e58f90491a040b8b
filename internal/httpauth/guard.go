package httpauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"go.uber.org/zap"
)

// Error codes of Guard's answers, the "code" member of their JSON body (the provisioning API's error
// format: `{"error": "...", "code": "..."}`).
const (
	CodeUnauthorized   = "unauthorized"       // 401: no token, or one no entry matches
	CodeForbidden      = "insufficient_scope" // 403: the token lacks the route's scope
	CodeInvalidRequest = "invalid_request"    // 400: an Authorization header that is not one bearer token
	CodeCrossOrigin    = "cross_origin"       // 403: a state-changing request from another origin
)

// Realm is the realm parameter of WWW-Authenticate (RFC 6750 §3).
const Realm = "imscore"

// Guard puts routes behind an Authenticator: a state-changing request from another origin is refused (CSRF),
// then the request must authenticate, then its principal must hold the route's scope.
type Guard struct {
	auth  Authenticator
	cross *http.CrossOriginProtection
	log   *zap.Logger
}

// NewGuard returns a Guard over auth; nil auth refuses every request (401). log gets a Debug line per refusal
// (never the token); nil logs nothing.
func NewGuard(auth Authenticator, log *zap.Logger) *Guard {
	if log == nil {
		log = zap.NewNop()
	}
	return &Guard{auth: auth, cross: http.NewCrossOriginProtection(), log: log}
}

// Require returns next behind the guard for scope; next finds the principal with PrincipalFrom.
func (g *Guard) Require(scope Scope, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := g.Check(w, r, scope)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Check authorises r for scope. On refusal it has written the answer and returns false, with the principal
// when the request did authenticate but lacks the scope (for an audit line), else the zero Principal:
//   - 403 cross_origin for a non-safe request that a browser marks as coming from another origin
//     (Sec-Fetch-Site, or Origin against Host: net/http's CrossOriginProtection). A bearer token is never
//     attached by a browser on its own, so a forged request would fail authentication anyway; this check
//     keeps it so should cookie sessions (the console) share these routes.
//   - 400 invalid_request for an Authorization header that is not one bearer token (RFC 6750 §3.1);
//   - 401 with `WWW-Authenticate: Bearer realm="imscore"` without a token, and with error="invalid_token"
//     for a token no entry matches (RFC 6750 §3, §3.1);
//   - 403 with error="insufficient_scope" and the scope needed, when the token lacks it (RFC 6750 §3.1).
func (g *Guard) Check(w http.ResponseWriter, r *http.Request, scope Scope) (Principal, bool) {
	if err := g.cross.Check(r); err != nil {
		g.refuse(w, r, http.StatusForbidden, CodeCrossOrigin, "", "cross-origin request refused: "+err.Error(), "")
		return Principal{}, false
	}
	var (
		p   Principal
		err = ErrInvalidToken
	)
	if g.auth != nil {
		p, err = g.auth.Authenticate(r)
	} else if _, berr := BearerToken(r); berr != nil {
		err = berr
	}
	switch {
	case errors.Is(err, ErrNoCredentials):
		g.refuse(w, r, http.StatusUnauthorized, CodeUnauthorized, "", "authentication required: send Authorization: Bearer TOKEN", "")
		return Principal{}, false
	case errors.Is(err, ErrMalformed):
		g.refuse(w, r, http.StatusBadRequest, CodeInvalidRequest, "invalid_request", "Authorization: want one header `Bearer TOKEN`", "")
		return Principal{}, false
	case err != nil:
		g.refuse(w, r, http.StatusUnauthorized, CodeUnauthorized, "invalid_token", "invalid token", "")
		return Principal{}, false
	}
	if !p.Has(scope) {
		g.log.Debug("insufficient scope", zap.String("token", p.Name), zap.String("method", r.Method),
			zap.String("path", r.URL.Path), zap.String("scope", string(scope)))
		g.refuse(w, r, http.StatusForbidden, CodeForbidden, "insufficient_scope",
			"token "+p.Name+" lacks the "+string(scope)+" scope", scope)
		return p, false
	}
	return p, true
}

// refuse writes a refusal: WWW-Authenticate on 401 and on the bearer errors (RFC 6750 §3), and the JSON body.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, status int, code, bearerErr, msg string, scope Scope) {
	if status == http.StatusUnauthorized || bearerErr != "" {
		challenge := `Bearer realm="` + Realm + `"`
		if bearerErr != "" {
			challenge += `, error="` + bearerErr + `"`
		}
		if scope != "" {
			challenge += `, scope="` + string(scope) + `"`
		}
		w.Header().Set("WWW-Authenticate", challenge)
	}
	if code != CodeForbidden {
		g.log.Debug("request refused", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.Int("status", status), zap.String("code", code), zap.String("remote", r.RemoteAddr))
	}
	w.Header().Set("Cache-Control", "no-store")
	WriteError(w, status, code, msg)
}

// WriteError writes the JSON error body `{"error": msg, "code": code}`.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Del("X-Content-Type-Options")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, code})
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal Require put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// MediaType returns the media type of r's Content-Type, lower case, without parameters ("" when absent).
func MediaType(r *http.Request) string {
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.ToLower(strings.TrimSpace(mt))
}
