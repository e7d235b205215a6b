package grpcx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/reqid"
	"edgeway.dev/common/store"
)

// A tiny hand-written service: edgeway.test.v1.Echo, with
// google.protobuf.StringValue messages.
const (
	echoService    = "edgeway.test.v1.Echo"
	methodEcho     = "/" + echoService + "/Echo"
	methodPanic    = "/" + echoService + "/Panic"
	methodFail     = "/" + echoService + "/Fail"
	methodUnlisted = "/" + echoService + "/Unlisted"
	methodStream   = "/" + echoService + "/Stream"
)

type echoServer struct{}

// whoami is what Echo and Stream answer: "<caller>|<request id>".
func whoami(ctx context.Context) string {
	caller, _ := grpcx.Caller(ctx)
	return caller + "|" + reqid.From(ctx)
}

func (echoServer) call(ctx context.Context, method string, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	switch method {
	case methodPanic:
		panic("boom")
	case methodFail:
		switch in.GetValue() {
		case "notfound":
			return nil, fmt.Errorf("get widget w1: %w", store.ErrNotFound)
		case "haschildren":
			return nil, fmt.Errorf("delete widget w1: %w", store.ErrHasChildren)
		default:
			return nil, errors.New("dial mongodb://admin:hunter2@db: refused")
		}
	}
	return wrapperspb.String(whoami(ctx)), nil
}

func unaryMethod(name string) grpc.MethodDesc {
	full := "/" + echoService + "/" + name
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(echoServer).call(ctx, full, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
		},
	}
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: echoService,
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{unaryMethod("Echo"), unaryMethod("Panic"), unaryMethod("Fail"), unaryMethod("Unlisted")},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			for range strings.Count(in.GetValue(), ",") + 1 {
				if err := stream.SendMsg(wrapperspb.String(whoami(stream.Context()))); err != nil {
					return err
				}
			}
			return nil
		},
	}},
}

var streamDesc = &grpc.StreamDesc{StreamName: "Stream", ServerStreams: true}
