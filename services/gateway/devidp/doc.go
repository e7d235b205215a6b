// Package devidp is the development OpenID provider that `edgeway serve
// --dev` mounts under the gateway's HTTPS listener at /dev-idp. It stands in
// for Keycloak on a developer's machine and in CI, so the rest of Edgeway
// verifies real OIDC tokens (S4) without a separate identity server.
//
// The protocol work — authorization code with PKCE, device authorization,
// client credentials, refresh, discovery, JWKS and token signing — is done
// by github.com/zitadel/oidc/v3/pkg/op; this package supplies its storage,
// a minimal login page and device verification page, and Keycloak-shaped
// access-token claims (azp, preferred_username, realm_access.roles, groups).
//
// State lives under <data-dir>/dev/:
//
//	idp.json              users and confidential clients, passwords and secrets bcrypt-hashed (0600)
//	idp-signing-key.pem   the RS256 signing key, generated on first start (0600)
//	credentials.json      the bootstrap admin password and CI client secret (0600)
//	idp.lock              flock(2) serialising writers of idp.json
//
// There are no default passwords: the first start creates the platform
// admin "admin" and the confidential CI client "edgeway-ci" with random
// credentials and writes them to credentials.json only. AddUser and
// AddClient change idp.json while the provider runs; the provider re-reads
// the file when it changes.
//
// Sessions in flight (login requests, authorization codes, device codes,
// refresh tokens) are kept in memory and do not survive a restart; users,
// clients and the signing key do, so tokens issued before a restart still
// verify.
package devidp
