package svc

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/ratelimit"
	"edgeway.dev/common/tlsx"
)

// GatewayName is the service identity allowed to call REST handlers.
const GatewayName = "gateway"

// Service is implemented by every Edgeway service.
type Service interface {
	// Name is the service's identity (its SPIFFE name).
	Name() string
	// RegisterGRPC registers the service's gRPC servers.
	RegisterGRPC(s *grpc.Server)
	// Policy says which services may call each gRPC method.
	Policy() grpcx.Policy
	// REST returns the handler of the service's /v2 routes, or nil.
	REST() http.Handler
	// Ready reports whether the service can serve (its stores answer).
	Ready(ctx context.Context) error
}

// Options configure Serve.
type Options struct {
	Log     *slog.Logger
	Metrics *httpx.Metrics
	// TLS is the service's mTLS server configuration (client certificates
	// required).
	TLS *tls.Config
	// CallerLimit bounds gRPC calls per calling service (nil: no limit).
	CallerLimit *ratelimit.Limiter
}

// Serve runs s on ln until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, s Service, ln net.Listener, o Options) error {
	gs, _ := grpcx.NewServer(nil, s.Policy(), o.Log, grpc.ChainUnaryInterceptor(limitCallers(o.CallerLimit)))
	s.RegisterGRPC(gs)
	rest := s.REST()
	if rest != nil {
		rest = httpx.Observe(rest, o.Log, o.Metrics)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			gs.ServeHTTP(w, r)
			return
		}
		caller, ok := tlsx.PeerService(r.TLS)
		if !ok || caller != GatewayName || rest == nil {
			httpx.WriteProblem(w, r, http.StatusForbidden, "only the gateway may call this listener over HTTP")
			return
		}
		rest.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         o.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		gs.Stop()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	gs.Stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// limitCallers answers RESOURCE_EXHAUSTED when a calling service exceeds
// its token bucket.
func limitCallers(l *ratelimit.Limiter) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		caller, _ := grpcx.Caller(ctx)
		if ok, wait := l.Allow(caller); !ok {
			return nil, status.Errorf(codes.ResourceExhausted, "rate limit exceeded for %s; retry in %s", caller, wait.Round(time.Millisecond))
		}
		return handler(ctx, req)
	}
}
