package grpcx

import (
	"context"
	"crypto/tls"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"edgeway.dev/common/reqid"
	"edgeway.dev/common/tlsx"
)

// healthPrefix: methods of the standard health service, open to every
// verified peer.
const healthPrefix = "/grpc.health.v1.Health/"

// Policy maps a full method name ("/edgeway.secrets.v1.Secrets/Unseal") to
// the service names allowed to call it. A method that is not listed cannot
// be called by anyone (health checks excepted).
type Policy map[string][]string

// NewServer returns a gRPC server with Edgeway's interceptors (see the
// package documentation) and the standard health service registered; the
// health server is returned to set serving statuses.
//
// With creds != nil the server terminates TLS itself (grpc.Creds). With nil
// creds the server is meant to be mounted as an http.Handler (ServeHTTP) on
// an http.Server that terminates TLS with tlsx's ServerConfig; the caller's
// identity then comes from the HTTP request's TLS state. Served without any
// TLS, every call is refused with Unauthenticated.
//
// opts are appended; interceptors given there run after (inside) these.
// log may be nil.
func NewServer(creds *tls.Config, policy Policy, log *slog.Logger, opts ...grpc.ServerOption) (*grpc.Server, *health.Server) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ic := &serverInterceptor{policy: make(map[string]map[string]bool, len(policy)), log: log}
	for method, callers := range policy {
		set := make(map[string]bool, len(callers))
		for _, c := range callers {
			set[c] = true
		}
		ic.policy[method] = set
	}
	all := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(ic.unary),
		grpc.ChainStreamInterceptor(ic.stream),
	}
	if creds != nil {
		all = append(all, grpc.Creds(credentials.NewTLS(creds)))
	}
	srv := grpc.NewServer(append(all, opts...)...)
	hs := health.NewServer()
	healthgrpc.RegisterHealthServer(srv, hs)
	return srv, hs
}

// Caller returns the service name of the verified peer of the call whose
// server-side context is ctx.
func Caller(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.AuthInfo == nil {
		return "", false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return "", false
	}
	return tlsx.PeerService(&info.State)
}

type serverInterceptor struct {
	policy map[string]map[string]bool
	log    *slog.Logger
}

func (s *serverInterceptor) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	var resp any
	err := s.intercept(ctx, info.FullMethod,
		func(md metadata.MD) error { return grpc.SetHeader(ctx, md) },
		func(ctx context.Context) error {
			var err error
			resp, err = handler(ctx, req)
			return err
		})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *serverInterceptor) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return s.intercept(ss.Context(), info.FullMethod, ss.SetHeader,
		func(ctx context.Context) error {
			return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
		})
}

// intercept runs the steps of the package documentation around next.
func (s *serverInterceptor) intercept(ctx context.Context, method string, setHeader func(metadata.MD) error, next func(context.Context) error) (err error) {
	start := time.Now()
	id := incomingRequestID(ctx)
	ctx = reqid.With(ctx, id)
	_ = setHeader(metadata.Pairs(reqid.MetadataKey, id))
	caller, authenticated := Caller(ctx)

	defer func() {
		s.log.LogAttrs(ctx, slog.LevelDebug, "grpc call",
			slog.String("method", method), slog.String("caller", caller),
			slog.String("code", status.Code(err).String()), slog.Duration("duration", time.Since(start)),
			slog.String("request_id", id))
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.LogAttrs(ctx, slog.LevelError, "grpc handler panicked",
				slog.String("method", method), slog.String("caller", caller), slog.String("request_id", id),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			err = status.Error(codes.Internal, internalMessage)
		}
	}()

	if err := s.authorize(method, caller, authenticated); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "grpc call denied",
			slog.String("method", method), slog.String("caller", caller),
			slog.String("code", status.Code(err).String()), slog.String("request_id", id))
		return err
	}
	if err := next(ctx); err != nil {
		translated := ToStatus(err)
		if status.Code(translated) == codes.Internal {
			if _, isStatus := asStatus(err); !isStatus {
				s.log.LogAttrs(ctx, slog.LevelError, "grpc handler failed",
					slog.String("method", method), slog.String("caller", caller),
					slog.String("request_id", id), slog.String("err", err.Error()))
			}
		}
		return translated
	}
	return nil
}

func (s *serverInterceptor) authorize(method, caller string, authenticated bool) error {
	if !authenticated {
		return status.Error(codes.Unauthenticated, "no verified service identity")
	}
	if strings.HasPrefix(method, healthPrefix) || s.policy[method][caller] {
		return nil
	}
	return status.Error(codes.PermissionDenied, "permission denied")
}

// incomingRequestID returns the caller's request id if it is valid, else a
// new one.
func incomingRequestID(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get(reqid.MetadataKey); len(v) > 0 && reqid.Valid(v[0]) {
			return v[0]
		}
	}
	return reqid.New()
}

// contextStream replaces a server stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *contextStream) Context() context.Context { return c.ctx }
