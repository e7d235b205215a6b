// Package tlsx holds the TLS plumbing shared by every Edgeway service
// (SECURITY.md, S2): a development PKI, certificates reloaded from disk on
// rotation, and the three tls.Config shapes the services use.
//
//   - ServerConfig: internal listeners (gRPC between services). TLS 1.3 only,
//     client certificates required and verified against the Edgeway CA.
//   - ClientConfig: outgoing calls to another service. TLS 1.3 only, the
//     server must present a certificate from the Edgeway CA whose identity is
//     spiffe://edgeway/<service>.
//   - PublicServerConfig: the public HTTPS API. TLS ≥ 1.2, modern AEAD
//     cipher suites only, no client certificate.
//
// A service's identity is the URI SAN spiffe://edgeway/<name> of its
// certificate; PeerService extracts it from a verified connection and is
// what per-method authorization (package grpcx) is based on.
//
// EnsureDevPKI creates a throw-away CA and one certificate per service for
// development and tests. Production deployments mount certificates issued
// by their own CA (e.g. cert-manager) in the same file layout (ServiceFiles).
package tlsx
