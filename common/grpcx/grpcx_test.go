package grpcx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/reqid"
	"edgeway.dev/common/store"
	"edgeway.dev/common/tlsx"
)

var services = []string{"secrets", "orchestrator", "placement"}

var testPolicy = grpcx.Policy{
	methodEcho:   {"orchestrator"},
	methodPanic:  {"orchestrator"},
	methodFail:   {"orchestrator"},
	methodStream: {"orchestrator"},
	// methodUnlisted: nobody
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is a "secrets" server on loopback and what its clients need.
type fixture struct {
	dir  string
	addr string
	logs *syncBuffer
}

func pki(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, tlsx.EnsureDevPKI(dir, services))
	return dir
}

func reloader(t *testing.T, dir, name string) *tlsx.Reloader {
	t.Helper()
	r, err := tlsx.NewReloader(tlsx.ServiceFiles(dir, name), nil)
	require.NoError(t, err)
	return r
}

func newLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// startServer serves the echo and health services as "secrets" over mTLS,
// with grpc terminating TLS (viaHTTP false) or an http.Server (viaHTTP true).
func startServer(t *testing.T, viaHTTP bool) fixture {
	t.Helper()
	dir := pki(t)
	log, logs := newLogger()
	srvTLS := reloader(t, dir, "secrets").ServerConfig()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if viaHTTP {
		srv, _ := grpcx.NewServer(nil, testPolicy, log)
		srv.RegisterService(&echoDesc, echoServer{})
		hs := &http.Server{Handler: srv, TLSConfig: srvTLS, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.ServeTLS(ln, "", "") }()
		t.Cleanup(func() { _ = hs.Close() })
	} else {
		srv, _ := grpcx.NewServer(srvTLS, testPolicy, log)
		srv.RegisterService(&echoDesc, echoServer{})
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(srv.Stop)
	}
	return fixture{dir: dir, addr: ln.Addr().String(), logs: logs}
}

// dial connects to the fixture as service `as`.
func (f fixture) dial(t *testing.T, as string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcx.Dial(f.addr, reloader(t, f.dir, as).ClientConfig("secrets"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func echo(ctx context.Context, conn *grpc.ClientConn, method, value string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(ctx, method, wrapperspb.String(value), out, opts...)
	return out.GetValue(), err
}

func streamAll(ctx context.Context, conn *grpc.ClientConn, value string) ([]string, error) {
	cs, err := conn.NewStream(ctx, streamDesc, methodStream)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(wrapperspb.String(value)); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	var out []string
	for {
		m := new(wrapperspb.StringValue)
		if err := cs.RecvMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, m.GetValue())
	}
}

func TestAuthorization(t *testing.T) {
	for _, viaHTTP := range []bool{false, true} {
		name := "grpc TLS"
		if viaHTTP {
			name = "http.Server TLS"
		}
		t.Run(name, func(t *testing.T) {
			f := startServer(t, viaHTTP)
			conns := map[string]*grpc.ClientConn{}
			for _, s := range []string{"orchestrator", "placement"} {
				conns[s] = f.dial(t, s)
			}
			tests := []struct {
				caller, method string
				want           codes.Code
			}{
				{"orchestrator", methodEcho, codes.OK},
				{"orchestrator", methodUnlisted, codes.PermissionDenied},
				{"placement", methodEcho, codes.PermissionDenied},
				{"placement", methodPanic, codes.PermissionDenied},
			}
			for _, tt := range tests {
				got, err := echo(ctxT(t), conns[tt.caller], tt.method, "x")
				require.Equal(t, tt.want, status.Code(err), "%s → %s: %v", tt.caller, tt.method, err)
				if tt.want == codes.OK {
					require.True(t, strings.HasPrefix(got, tt.caller+"|"), got)
				}
			}
			// Health is open to every verified peer.
			for caller, conn := range conns {
				resp, err := healthgrpc.NewHealthClient(conn).Check(ctxT(t), &healthgrpc.HealthCheckRequest{})
				require.NoError(t, err, caller)
				require.Equal(t, healthgrpc.HealthCheckResponse_SERVING, resp.GetStatus())
			}
			// Streams are authorized too.
			got, err := streamAll(ctxT(t), conns["orchestrator"], "a,b")
			require.NoError(t, err)
			require.Len(t, got, 2)
			_, err = streamAll(ctxT(t), conns["placement"], "a")
			require.Equal(t, codes.PermissionDenied, status.Code(err))

			logs := f.logs.String()
			require.Contains(t, logs, `level=WARN msg="grpc call denied" method=`+methodEcho+` caller=placement code=PermissionDenied`)
			require.Contains(t, logs, `level=DEBUG msg="grpc call" method=`+methodEcho+` caller=orchestrator code=OK`)
		})
	}
}

func TestWrongServerIdentityRefused(t *testing.T) {
	f := startServer(t, false)
	conn, err := grpcx.Dial(f.addr, reloader(t, f.dir, "orchestrator").ClientConfig("placement"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = echo(ctxT(t), conn, methodEcho, "x")
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
}

func TestUnauthenticatedWithoutTLS(t *testing.T) {
	log, _ := newLogger()
	srv, _ := grpcx.NewServer(nil, testPolicy, log)
	srv.RegisterService(&echoDesc, echoServer{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	_, err = echo(ctxT(t), conn, methodEcho, "x")
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = healthgrpc.NewHealthClient(conn).Check(ctxT(t), &healthgrpc.HealthCheckRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	_, err = grpcx.Dial(ln.Addr().String(), nil)
	require.Error(t, err)
}

func TestRequestID(t *testing.T) {
	f := startServer(t, false)
	conn := f.dial(t, "orchestrator")

	t.Run("propagated from the client context", func(t *testing.T) {
		var header metadata.MD
		got, err := echo(reqid.With(ctxT(t), "req-123.abc_X"), conn, methodEcho, "x", grpc.Header(&header))
		require.NoError(t, err)
		require.Equal(t, "orchestrator|req-123.abc_X", got)
		require.Equal(t, []string{"req-123.abc_X"}, header.Get(reqid.MetadataKey))
	})
	t.Run("propagated on streams", func(t *testing.T) {
		got, err := streamAll(reqid.With(ctxT(t), "stream-1"), conn, "a")
		require.NoError(t, err)
		require.Equal(t, []string{"orchestrator|stream-1"}, got)
	})
	t.Run("set, not appended, over existing metadata", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(ctxT(t), reqid.MetadataKey, "old")
		got, err := echo(reqid.With(ctx, "new"), conn, methodEcho, "x")
		require.NoError(t, err)
		require.Equal(t, "orchestrator|new", got)
	})
	for _, tt := range []struct{ name, md string }{
		{"missing", ""},
		{"invalid", "bad id; level=ERROR"},
		{"too long", strings.Repeat("a", 65)},
	} {
		t.Run("generated when "+tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			if tt.md != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, reqid.MetadataKey, tt.md)
			}
			got, err := echo(ctx, conn, methodEcho, "x")
			require.NoError(t, err)
			id := strings.TrimPrefix(got, "orchestrator|")
			require.True(t, reqid.Valid(id), id)
			require.NotEqual(t, tt.md, id)
		})
	}
	require.Contains(t, f.logs.String(), "request_id=req-123.abc_X")
	require.NotContains(t, f.logs.String(), "bad id")
}

func TestPanicAndErrorsTranslated(t *testing.T) {
	f := startServer(t, false)
	conn := f.dial(t, "orchestrator")
	ctx := reqid.With(ctxT(t), "req-fail")

	_, err := echo(ctx, conn, methodPanic, "x")
	require.Equal(t, codes.Internal, status.Code(err))
	require.Equal(t, "internal error", status.Convert(err).Message())
	require.Contains(t, f.logs.String(), `msg="grpc handler panicked"`)
	require.Contains(t, f.logs.String(), "panic=boom")

	// The server still serves after a panic.
	_, err = echo(ctx, conn, methodEcho, "x")
	require.NoError(t, err)

	_, err = echo(ctx, conn, methodFail, "notfound")
	require.Equal(t, codes.NotFound, status.Code(err))
	err = grpcx.FromStatus(err)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Equal(t, "get widget w1: not found", err.Error())

	_, err = echo(ctx, conn, methodFail, "haschildren")
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.ErrorIs(t, grpcx.FromStatus(err), store.ErrHasChildren)

	_, err = echo(ctx, conn, methodFail, "raw")
	require.Equal(t, codes.Internal, status.Code(err))
	require.NotContains(t, err.Error(), "hunter2")
	require.Contains(t, f.logs.String(), `msg="grpc handler failed"`)
	require.Contains(t, f.logs.String(), "request_id=req-fail")
}

func TestErrorMappingRoundTrip(t *testing.T) {
	tests := []struct {
		sentinel error
		code     codes.Code
	}{
		{store.ErrNotFound, codes.NotFound},
		{store.ErrExists, codes.AlreadyExists},
		{store.ErrConflict, codes.Aborted},
		{store.ErrHasChildren, codes.FailedPrecondition},
		{store.ErrReferenced, codes.FailedPrecondition},
		{store.ErrUnavailable, codes.Unavailable},
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.sentinel.Error(), func(t *testing.T) {
			orig := errors.Join(errors.New("op on k1"), tt.sentinel) // any wrapping
			st := grpcx.ToStatus(orig)
			require.Equal(t, tt.code, status.Code(st))
			require.Equal(t, orig.Error(), status.Convert(st).Message())

			back := grpcx.FromStatus(st)
			require.ErrorIs(t, back, tt.sentinel)
			require.Equal(t, orig.Error(), back.Error())
			require.Equal(t, tt.code, status.Code(back))
			for _, other := range tests {
				if other.sentinel != tt.sentinel {
					require.NotErrorIs(t, back, other.sentinel)
				}
			}

			// And through ToStatus once more (a service forwarding the error).
			again := grpcx.ToStatus(back)
			require.Equal(t, tt.code, status.Code(again))
			require.ErrorIs(t, grpcx.FromStatus(again), tt.sentinel)
		})
	}

	t.Run("nil", func(t *testing.T) {
		require.NoError(t, grpcx.ToStatus(nil))
		require.NoError(t, grpcx.FromStatus(nil))
	})
	t.Run("unknown error is a generic Internal", func(t *testing.T) {
		st := grpcx.ToStatus(errors.New("password=hunter2"))
		require.Equal(t, codes.Internal, status.Code(st))
		require.NotContains(t, st.Error(), "hunter2")
	})
	t.Run("status passes through", func(t *testing.T) {
		orig := status.Error(codes.ResourceExhausted, "slow down")
		st := grpcx.ToStatus(errors.Join(errors.New("wrapper"), orig))
		require.Equal(t, codes.ResourceExhausted, status.Code(st))
		require.Equal(t, "slow down", status.Convert(st).Message())
		require.Equal(t, orig, grpcx.FromStatus(orig))
	})
	t.Run("FailedPrecondition without detail stays a status", func(t *testing.T) {
		orig := status.Error(codes.FailedPrecondition, "x")
		require.Equal(t, orig, grpcx.FromStatus(orig))
	})
	t.Run("Unavailable from the transport", func(t *testing.T) {
		require.ErrorIs(t, grpcx.FromStatus(status.Error(codes.Unavailable, "connection refused")), store.ErrUnavailable)
	})
	t.Run("non-status error unchanged", func(t *testing.T) {
		e := errors.New("plain")
		require.Equal(t, e, grpcx.FromStatus(e))
	})
}

func TestHealthPrefixMatchesService(t *testing.T) {
	require.Equal(t, "grpc.health.v1.Health", healthgrpc.Health_ServiceDesc.ServiceName)
}
