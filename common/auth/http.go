package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"edgeway.dev/common/httpx"
	"edgeway.dev/common/reqid"
)

const (
	// challenge is the WWW-Authenticate value of a 401 without a token;
	// challengeInvalid the one when a bearer token was presented.
	challenge        = `Bearer realm="edgeway"`
	challengeInvalid = `Bearer realm="edgeway", error="invalid_token"`
	// failureDetail is all a refused client learns.
	failureDetail     = "authentication required"
	unavailableDetail = "authentication temporarily unavailable"
)

// Option configures Middleware.
type Option func(*options)

type options struct {
	onFailure func(r *http.Request, reason error)
}

// OnFailure registers fn to be called for every refused request (after the
// answer is decided, before it is written) with the reason, an error that
// matches ErrUnauthenticated or ErrUnavailable. An audit log records
// failures with it. The reason never contains the token.
func OnFailure(fn func(r *http.Request, reason error)) Option {
	return func(o *options) { o.onFailure = fn }
}

// Middleware authenticates every request with the bearer token of its
// Authorization header and puts the Identity in the request context. Tokens
// elsewhere (an access_token query parameter, a cookie) are ignored: such a
// request is anonymous.
//
// A request without a valid token gets 401, WWW-Authenticate
// `Bearer realm="edgeway"` (with `error="invalid_token"` when a bearer token
// was presented) and a problem+json body whose detail is always
// "authentication required"; the reason is logged at debug level. While the
// issuer cannot be discovered, a request with a token gets 503.
func Middleware(v *Verifier, log *slog.Logger, opts ...Option) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, presented, err := bearerToken(r)
			var id *Identity
			if err == nil {
				id, err = v.Verify(r.Context(), raw)
			}
			if err != nil {
				refuse(w, r, log, &o, presented, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

// bearerToken returns the token of the request's single
// "Authorization: Bearer" header; presented reports whether the request
// tried the Bearer scheme at all.
func bearerToken(r *http.Request) (raw string, presented bool, err error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		if r.URL.Query().Has("access_token") {
			return "", false, rejectf("no Authorization header (access_token query parameter ignored)")
		}
		return "", false, rejectf("no Authorization header")
	case len(vals) > 1:
		return "", true, rejectf("%d Authorization headers", len(vals))
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false, rejectf("authorization scheme %.16q is not Bearer", scheme)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", true, rejectf("empty bearer token")
	}
	return tok, true, nil
}

func refuse(w http.ResponseWriter, r *http.Request, log *slog.Logger, o *options, presented bool, err error) {
	ctx := r.Context()
	log.DebugContext(ctx, "authentication failed",
		"request_id", reqid.From(ctx), "method", r.Method, "path", r.URL.Path, "reason", err.Error())
	if o.onFailure != nil {
		o.onFailure(r, err)
	}
	if errors.Is(err, ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		httpx.WriteProblem(w, r, http.StatusServiceUnavailable, unavailableDetail)
		return
	}
	if presented {
		w.Header().Set("WWW-Authenticate", challengeInvalid)
	} else {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteProblem(w, r, http.StatusUnauthorized, failureDetail)
}
