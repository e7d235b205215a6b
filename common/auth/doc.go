// Package auth authenticates the callers of Edgeway's /v2 API with OIDC
// bearer tokens (SECURITY.md, S4), verified in-process with
// github.com/coreos/go-oidc/v3.
//
// A Verifier checks a raw JWT: the compact JWS form, an algorithm from the
// asymmetric allow-list (never none or HS*), the signature against the
// issuer's JWKS, the exact issuer, an audience that contains the client id,
// and exp / nbf / iat with a small leeway. Discovery of the issuer is lazy
// (the dev identity provider may start after the Verifier): the first
// Verify or Ready performs it, concurrent callers share one attempt, and a
// failure is retried by the next call. Until discovery succeeds Verify
// returns ErrUnavailable (HTTP 503, gRPC Unavailable), never a 401.
//
// # Key refresh
//
// go-oidc's RemoteKeySet refetches the JWKS on every verification whose key
// is not in its cache, and also whenever a signature does not verify with a
// cached key (a tampered token with a known kid triggers a fetch too). It
// only coalesces concurrent fetches; it does not rate-limit. This package
// therefore gives go-oidc its own KeySet: a token whose kid (and alg)
// match a cached key is judged against the cached keys only; an unknown kid
// (or a token without kid that no cached key verifies) triggers at most one
// JWKS refetch per Config.RefetchInterval, shared by concurrent callers,
// after which the token is verified or rejected. Tokens sprayed with random
// key ids cannot make Edgeway hammer the identity provider. Discovery loads
// the JWKS once; discovery document and JWKS are limited to 1 MiB and 10s.
//
// # Failures
//
// Every rejected token yields an error that matches ErrUnauthenticated and
// wraps the reason. The reason is for logs (at debug level, with the request
// id) and for audit hooks; callers see only "authentication required". The
// raw token is never logged: Identity redacts it in String, GoString,
// LogValue and JSON.
//
// # Transports
//
// Middleware authenticates HTTP requests from the Authorization: Bearer
// header only (tokens in query strings are ignored) and answers 401 with a
// WWW-Authenticate challenge and a problem+json body.
// UnaryServerInterceptor and StreamServerInterceptor do the same for gRPC
// services that act on behalf of users (metadata "authorization").
// ForwardToken and the client interceptors copy the caller's raw token into
// outgoing gRPC metadata; use them only on TLS connections (grpcx.Dial).
//
// The Identity of an authenticated caller is in the request context
// (FromContext). Its Principal is the stable name RBAC and audit use.
package auth
