// Package gateway is the single HTTPS entry of an all-in-one or dev
// install: TLS termination, the HTTP→HTTPS redirect, request size limits,
// request ids, access logs and metrics, and routing of /v2 paths to the
// service that owns them over mTLS. In Kubernetes the Istio ingress gateway
// takes over TLS; the services still enforce everything themselves.
package gateway
