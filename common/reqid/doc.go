// Package reqid carries request ids through a context.Context.
//
// A request id is generated at the edge (the gateway, or the first gRPC
// server that sees a call without one), travels between services in the
// HTTP header Header or the gRPC metadata key MetadataKey, and ends up in
// every log line and audit record that belongs to the request. Ids supplied
// by clients are accepted only when Valid, so they cannot inject into logs.
package reqid
