// Package svc is the contract between Edgeway services and the launcher:
// each service implements Service, and Serve runs it on its own internal
// mTLS listener, where gRPC calls (from other services) and REST calls
// (from the gateway only) share one port.
package svc
