package auth

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

func TestUnaryServerInterceptor(t *testing.T) {
	p := newIdP(t)
	v, _ := newTestVerifier(t, p.config())
	good := p.token(t, nil)
	info := &grpc.UnaryServerInfo{FullMethod: "/edgeway.test.v1.Test/Do"}

	cases := []struct {
		name     string
		md       metadata.MD
		wantCode codes.Code
		wantUser string
	}{
		{name: "no metadata", wantCode: codes.Unauthenticated},
		{name: "no authorization", md: metadata.Pairs("x-request-id", "r1"), wantCode: codes.Unauthenticated},
		{name: "bad token", md: metadata.Pairs("authorization", "Bearer "+tamper(t, good)), wantCode: codes.Unauthenticated},
		{name: "not bearer", md: metadata.Pairs("authorization", "Basic "+good), wantCode: codes.Unauthenticated},
		{name: "two tokens", md: metadata.Pairs("authorization", "Bearer "+good, "authorization", "Bearer "+good), wantCode: codes.Unauthenticated},
		{name: "good token", md: metadata.Pairs("authorization", "Bearer "+good), wantCode: codes.OK, wantUser: "user:alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tc.md)
			}
			var gotUser string
			_, err := UnaryServerInterceptor(v)(ctx, nil, info, func(ctx context.Context, req any) (any, error) {
				id, ok := FromContext(ctx)
				require.True(t, ok)
				gotUser = id.Principal()
				return nil, nil
			})
			require.Equal(t, tc.wantCode, status.Code(err))
			require.Equal(t, tc.wantUser, gotUser)
			if err != nil {
				require.Equal(t, "authentication required", status.Convert(err).Message())
			}
		})
	}
}

// TestGRPCForwarding: a client that holds a caller's Identity forwards its
// token with UnaryClientInterceptor; the server's interceptor verifies it
// and hands the same identity to the handler.
func TestGRPCForwarding(t *testing.T) {
	p := newIdP(t)
	v, _ := newTestVerifier(t, p.config())
	good := p.token(t, nil)

	var seen *Identity
	capture := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		seen, _ = FromContext(ctx)
		return handler(ctx, req)
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(UnaryServerInterceptor(v), capture),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(v)))
	healthgrpc.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(StreamClientInterceptor()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := healthgrpc.NewHealthClient(conn)

	_, err = client.Check(t.Context(), &healthgrpc.HealthCheckRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "no identity, nothing forwarded")
	require.Nil(t, seen)

	caller := &Identity{Subject: "s", Username: "alice", Token: good}
	ctx := WithIdentity(t.Context(), caller)
	// A stale authorization value in the outgoing metadata is replaced.
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer stale")
	_, err = client.Check(ctx, &healthgrpc.HealthCheckRequest{})
	require.NoError(t, err)
	require.NotNil(t, seen)
	require.Equal(t, "user:alice", seen.Principal())
	require.True(t, seen.Admin)
	require.Equal(t, good, seen.Token)

	// Streaming: the stream interceptor authenticates too.
	stream, err := client.Watch(ctx, &healthgrpc.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.NoError(t, err)
	stream, err = client.Watch(t.Context(), &healthgrpc.HealthCheckRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	// ForwardToken leaves a context without identity alone.
	bare := t.Context()
	require.Equal(t, bare, ForwardToken(bare))
}
