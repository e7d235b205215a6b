package grpcx

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"edgeway.dev/common/reqid"
)

// Dial returns a client connection to target over TLS with creds
// (normally tlsx's ClientConfig for the target service) whose interceptors
// send reqid.From(ctx) as the x-request-id metadata of every call. Like
// grpc.NewClient it does not connect until the first call. opts are
// appended. There is no plaintext variant: nil creds is an error.
func Dial(target string, creds *tls.Config, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if creds == nil {
		return nil, errors.New("grpcx: Dial needs a TLS configuration")
	}
	all := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(creds)),
		grpc.WithChainUnaryInterceptor(unaryClientRequestID, unaryDefaultTimeout),
		grpc.WithChainStreamInterceptor(streamClientRequestID),
		// A peer that starts later, or restarts, is reconnected quickly.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	return grpc.NewClient(target, append(all, opts...)...)
}

// WaitForPeer makes calls wait for the connection (bounded by their
// deadline, or DefaultCallTimeout) instead of failing at once while the peer
// is not reachable yet: for services of one deployment that start in any
// order.
func WaitForPeer() grpc.DialOption { return grpc.WithDefaultCallOptions(grpc.WaitForReady(true)) }

// DefaultCallTimeout bounds a call whose context has no deadline, so that
// waiting for an unreachable peer ends.
const DefaultCallTimeout = 10 * time.Second

func unaryDefaultTimeout(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func unaryClientRequestID(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(outgoingRequestID(ctx), method, req, reply, cc, opts...)
}

func streamClientRequestID(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(outgoingRequestID(ctx), desc, cc, method, opts...)
}

// outgoingRequestID sets (not appends) the request id in the outgoing
// metadata, so a forwarded context never carries two.
func outgoingRequestID(ctx context.Context) context.Context {
	id := reqid.From(ctx)
	if id == "" {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(reqid.MetadataKey, id)
	return metadata.NewOutgoingContext(ctx, md)
}
