// Package grpcx is the gRPC plumbing shared by Edgeway services
// (SECURITY.md, S2).
//
// NewServer builds a *grpc.Server whose interceptors, for every unary and
// streaming call, in this order:
//
//  1. take the request id from the incoming metadata (reqid.MetadataKey),
//     or make a new one when it is missing or not reqid.Valid, put it in the
//     context and echo it in the response header;
//  2. log one debug line per call (method, caller, code, duration, request id);
//  3. recover a panicking handler into codes.Internal, logging the stack;
//  4. authorize the caller, identified by the spiffe://edgeway/<name> URI SAN
//     of its verified client certificate (tlsx.PeerService), against a
//     Policy: no verified identity → Unauthenticated; a method not in the
//     policy, or a caller not listed for it → PermissionDenied. The standard
//     health service is open to every verified peer;
//  5. translate the handler's error once, with ToStatus, so store sentinels
//     become their gRPC codes and unexpected errors become a generic
//     Internal (the raw error is logged with the request id, never sent).
//
// Dial opens a client connection over TLS whose interceptors forward the
// context's request id. ToStatus and FromStatus translate between the
// sentinel errors of edgeway.dev/common/store and gRPC status codes using
// one table, in both directions.
package grpcx
