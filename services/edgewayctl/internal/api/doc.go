// Package api is edgewayctl's HTTP client for the Edgeway gateway: TLS with
// the system roots plus an optional CA file, server discovery
// (/.well-known/edgeway), bearer tokens from an oauth2.TokenSource, and
// errors that carry the server's problem detail (RFC 9457) instead of a raw
// body.
package api
