package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"edgeway.dev/common/reqid"
)

// MetadataKey is the gRPC metadata key that carries the caller's bearer
// token ("authorization: Bearer <token>").
const MetadataKey = "authorization"

// UnaryServerInterceptor authenticates every call with the bearer token in
// the "authorization" metadata and puts the Identity in the handler's
// context. A call without a valid token fails with codes.Unauthenticated
// ("authentication required"); the reason is logged at debug level with the
// Verifier's logger. While the issuer cannot be discovered: codes.Unavailable.
//
// Use it for services that act on behalf of users; it does not replace the
// service-to-service mTLS authorization of grpcx.
func UnaryServerInterceptor(v *Verifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := v.authenticateCall(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls.
func StreamServerInterceptor(v *Verifier) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := v.authenticateCall(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &identityStream{ServerStream: ss, ctx: ctx})
	}
}

type identityStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identityStream) Context() context.Context { return s.ctx }

func (v *Verifier) authenticateCall(ctx context.Context, method string) (context.Context, error) {
	raw, err := tokenFromMetadata(ctx)
	var id *Identity
	if err == nil {
		id, err = v.Verify(ctx, raw)
	}
	if err != nil {
		v.log.DebugContext(ctx, "authentication failed",
			"request_id", reqid.From(ctx), "method", method, "reason", err.Error())
		if errors.Is(err, ErrUnavailable) {
			return nil, status.Error(codes.Unavailable, unavailableDetail)
		}
		return nil, status.Error(codes.Unauthenticated, failureDetail)
	}
	return WithIdentity(ctx, id), nil
}

func tokenFromMetadata(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(MetadataKey)
	switch {
	case len(vals) == 0:
		return "", rejectf("no authorization metadata")
	case len(vals) > 1:
		return "", rejectf("%d authorization metadata values", len(vals))
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", rejectf("authorization scheme %.16q is not Bearer", scheme)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", rejectf("empty bearer token")
	}
	return tok, nil
}

// ForwardToken returns ctx with the raw token of its Identity set as the
// outgoing "authorization" metadata (replacing any), so that the callee
// acts on behalf of the same caller. Without an Identity ctx is returned
// unchanged. Forward tokens only over TLS.
func ForwardToken(ctx context.Context) context.Context {
	id, ok := FromContext(ctx)
	if !ok || id.Token == "" {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(MetadataKey, "Bearer "+id.Token)
	return metadata.NewOutgoingContext(ctx, md)
}

// UnaryClientInterceptor applies ForwardToken to every unary call.
func UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(ForwardToken(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor applies ForwardToken to every streaming call.
func StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(ForwardToken(ctx), desc, cc, method, opts...)
	}
}
