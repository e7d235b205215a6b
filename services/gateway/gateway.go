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
	"strings"
	"time"

	"edgeway.dev/common/httpx"
)

// Name is the gateway's identity towards the services.
const Name = "gateway"

// Route sends paths to a service.
type Route struct {
	// Prefix is a path prefix under /v2, matched on whole segments.
	Prefix string
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
}

// Deps are the gateway's collaborators.
type Deps struct {
	Log     *slog.Logger
	Metrics *httpx.Metrics
	// ClientTLS returns the gateway's mTLS client configuration for a
	// service.
	ClientTLS func(service string) *tls.Config
}

// Gateway routes the public API to the services.
type Gateway struct {
	cfg     Config
	deps    Deps
	proxies []proxy
}

type proxy struct {
	prefix string
	rp     *httputil.ReverseProxy
}

// New builds the gateway.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if deps.Log == nil || deps.ClientTLS == nil {
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
			ErrorLog:  slog.NewLogLogger(deps.Log.Handler(), slog.LevelWarn),
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
		g.proxies = append(g.proxies, proxy{prefix: rt.Prefix, rp: rp})
	}
	return g, nil
}

// Handler returns the API handler served on HTTPS.
func (g *Gateway) Handler() http.Handler {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
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
	})
	return httpx.Observe(h, g.deps.Log, g.deps.Metrics)
}

// match returns the proxy of the longest route prefix that matches path on
// segment boundaries.
func (g *Gateway) match(path string) *proxy {
	var best *proxy
	for i := range g.proxies {
		p := &g.proxies[i]
		if path == p.prefix || strings.HasPrefix(path, p.prefix+"/") {
			if best == nil || len(p.prefix) > len(best.prefix) {
				best = p
			}
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
