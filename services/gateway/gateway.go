package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"edgeway.dev/common/auth"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/ratelimit"
	"edgeway.dev/common/reqid"
)

// Name is the gateway's identity towards the services.
const Name = "gateway"

// Route sends paths to a service.
type Route struct {
	// Prefix is a path prefix under /v2, matched on whole segments.
	Prefix string
	// Pattern, instead of Prefix, is a path prefix in which a segment "*"
	// matches any one non-empty segment: "/v2/projects/*/secrets" sends
	// /v2/projects/p1/secrets and everything under it.
	Pattern string
	// Service names the upstream (its SPIFFE identity).
	Service string
	// Addr is the service's internal mTLS address.
	Addr string
}

// Config configures the gateway.
type Config struct {
	// HTTPSAddr is where the API is served; the redirect points there.
	HTTPSAddr    string
	MaxBodyBytes int64
	Routes       []Route
	// Discovery is served unauthenticated at /.well-known/edgeway so that
	// clients learn the OIDC issuer and client id from the server.
	Discovery Discovery
}

// Discovery is the body of /.well-known/edgeway.
type Discovery struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	API      string `json:"api"`
}

// Deps are the gateway's collaborators.
type Deps struct {
	Log     *slog.Logger
	Metrics *httpx.Metrics
	// ClientTLS returns the gateway's mTLS client configuration for a
	// service.
	ClientTLS func(service string) *tls.Config
	// Auth verifies bearer tokens before anything reaches a service.
	Auth *auth.Verifier
	// PerIdentity limits requests per authenticated identity; PerAddress
	// limits every request per client address (before authentication).
	PerIdentity, PerAddress *ratelimit.Limiter
	// DevIdP, when set, is mounted at /dev-idp (--dev only).
	DevIdP http.Handler
	// Denied records authentication failures and refusals (audit), may be nil.
	Denied func(r *http.Request, status int, subject string)
}

// Gateway routes the public API to the services.
type Gateway struct {
	cfg     Config
	deps    Deps
	proxies []proxy
}

type proxy struct {
	prefix string   // the route's Prefix or Pattern, for metrics
	glob   []string // the Pattern's segments; nil for a Prefix
	rp     *httputil.ReverseProxy
}

// matches reports whether the proxy's route matches path and how specific
// it is (the number of segments it fixes).
func (p *proxy) matches(path string) (int, bool) {
	if p.glob == nil {
		if path == p.prefix || strings.HasPrefix(path, p.prefix+"/") {
			return strings.Count(p.prefix, "/"), true
		}
		return 0, false
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(seg) < len(p.glob) {
		return 0, false
	}
	for i, g := range p.glob {
		if seg[i] == "" || (g != "*" && g != seg[i]) {
			return 0, false
		}
	}
	return len(p.glob), true
}

// New builds the gateway.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if deps.Log == nil || deps.ClientTLS == nil || deps.Auth == nil {
		return nil, errors.New("gateway: missing dependency")
	}
	g := &Gateway{cfg: cfg, deps: deps}
	for _, rt := range cfg.Routes {
		target := &url.URL{Scheme: "https", Host: rt.Addr}
		tr := &http.Transport{
			TLSClientConfig:       deps.ClientTLS(rt.Service),
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		}
		service := rt.Service
		rp := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
				pr.Out.Host = target.Host
			},
			Transport: tr,
			// The gateway already answers with the request id it sent.
			ModifyResponse: func(resp *http.Response) error {
				resp.Header.Del(reqid.Header)
				return nil
			},
			ErrorLog: slog.NewLogLogger(deps.Log.Handler(), slog.LevelWarn),
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					httpx.WriteProblem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", cfg.MaxBodyBytes))
					return
				}
				httpx.WriteError(w, r, deps.Log, &httpx.Error{Status: http.StatusServiceUnavailable,
					Msg: "service " + service + " is unavailable", Err: err})
			},
		}
		px := proxy{prefix: rt.Prefix, rp: rp}
		if rt.Pattern != "" {
			px.prefix, px.glob = rt.Pattern, strings.Split(strings.TrimPrefix(rt.Pattern, "/"), "/")
		}
		g.proxies = append(g.proxies, px)
	}
	return g, nil
}

// Handler returns the API handler served on HTTPS: the dev identity
// provider and discovery unauthenticated, everything else only with a
// verified bearer token and within the rate limits.
func (g *Gateway) Handler() http.Handler {
	api := auth.Middleware(g.deps.Auth, g.deps.Log, auth.OnFailure(func(r *http.Request, _ error) {
		if g.deps.Denied != nil {
			g.deps.Denied(r, http.StatusUnauthorized, "")
		}
	}))(g.limitIdentity(http.HandlerFunc(g.proxy)))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		if !g.allowAddress(w, r) {
			return
		}
		switch {
		case r.URL.Path == "/.well-known/edgeway":
			httpx.SetRoute(r, "/.well-known/edgeway")
			httpx.WriteJSON(w, http.StatusOK, g.cfg.Discovery)
		case g.deps.DevIdP != nil && (r.URL.Path == "/dev-idp" || strings.HasPrefix(r.URL.Path, "/dev-idp/")):
			httpx.SetRoute(r, "/dev-idp")
			g.deps.DevIdP.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
	return httpx.Observe(h, g.deps.Log, g.deps.Metrics)
}

// allowAddress applies the per-address limit to every request.
func (g *Gateway) allowAddress(w http.ResponseWriter, r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ok, wait := g.deps.PerAddress.Allow(host); !ok {
		tooMany(w, r, wait)
		return false
	}
	return true
}

// limitIdentity applies the per-identity limit after authentication.
func (g *Gateway) limitIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.FromContext(r.Context())
		if ok, wait := g.deps.PerIdentity.Allow(id.Principal()); !ok {
			tooMany(w, r, wait)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfter(wait)))
	httpx.WriteProblem(w, r, http.StatusTooManyRequests, "rate limit exceeded; retry later")
}

// proxy sends an authenticated API request to the service owning its path.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request) {
	p := g.match(r.URL.Path)
	if p == nil {
		httpx.WriteProblem(w, r, http.StatusNotFound, "no such resource path")
		return
	}
	httpx.SetRoute(r, p.prefix)
	if r.ContentLength > g.cfg.MaxBodyBytes {
		httpx.WriteProblem(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", g.cfg.MaxBodyBytes))
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)
	}
	p.rp.ServeHTTP(w, r)
}

// match returns the proxy of the most specific route (the most segments)
// that matches path on segment boundaries.
func (g *Gateway) match(path string) *proxy {
	var best *proxy
	bestN := -1
	for i := range g.proxies {
		p := &g.proxies[i]
		if n, ok := p.matches(path); ok && n > bestN {
			best, bestN = p, n
		}
	}
	return best
}

// Redirect returns the handler of the plain-HTTP listener: every request is
// answered 301 to the same path on HTTPS, nothing else.
func (g *Gateway) Redirect() http.Handler {
	_, port, _ := net.SplitHostPort(g.cfg.HTTPSAddr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			host = "localhost"
		}
		u := url.URL{Scheme: "https", Host: net.JoinHostPort(host, port), Path: r.URL.Path, RawQuery: r.URL.RawQuery}
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
	})
}

// Serve runs the HTTPS API on httpsLn and the redirect on httpLn until ctx
// ends.
func (g *Gateway) Serve(ctx context.Context, httpsLn, httpLn net.Listener, public *tls.Config) error {
	errLog := slog.NewLogLogger(g.deps.Log.Handler(), slog.LevelWarn)
	api := &http.Server{Handler: g.Handler(), TLSConfig: public, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: errLog}
	redirect := &http.Server{Handler: g.Redirect(), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 30 * time.Second, ErrorLog: errLog}
	errc := make(chan error, 2)
	go func() { errc <- api.ServeTLS(httpsLn, "", "") }()
	go func() { errc <- redirect.Serve(httpLn) }()
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = api.Shutdown(sctx)
	_ = redirect.Shutdown(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
