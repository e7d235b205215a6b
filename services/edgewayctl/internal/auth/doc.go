// Package auth obtains the bearer tokens edgewayctl sends: the OIDC login
// of a person (device authorization, or authorization code with PKCE and a
// loopback redirect), whose tokens are cached with mode 0600 and refreshed
// with the refresh token when they expire, and the client-credentials grant
// of a CI client. The issuer and client id come from the server's discovery
// document; the provider's endpoints from OIDC discovery (go-oidc).
package auth
