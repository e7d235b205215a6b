package devidp

import (
	"net/url"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const (
	// PublicClientID is the public client of the web UI and the CLI, and the
	// audience of every token the provider issues.
	PublicClientID = "edgeway"
	// CIClientID is the confidential client created on first start.
	CIClientID = "edgeway-ci"
	// AdminUser is the platform admin created on first start.
	AdminUser = "admin"
	// AdminRole is the realm role of platform admins.
	AdminRole = "edgeway-admin"
)

// DefaultRedirectPaths are the loopback redirect paths registered for the
// public client. Per RFC 8252 section 7.3 a loopback redirect URI
// (http or https on 127.0.0.0/8, [::1] or localhost) matches on any port,
// so the CLI's http://127.0.0.1:PORT/callback and the dev web UI's
// https://127.0.0.1:9443/ui/callback are both accepted.
var DefaultRedirectPaths = []string{"/callback", "/ui/callback"}

// publicClient is the "edgeway" client: a native public client, PKCE
// required, authorization code, refresh token and device code grants.
type publicClient struct {
	redirectURIs  []string
	loginURL      func(id string) string
	tokenLifetime time.Duration
}

var _ op.Client = (*publicClient)(nil)

func newPublicClient(extraRedirectURIs []string, loginURL func(string) string, lifetime time.Duration) *publicClient {
	uris := make([]string, 0, len(DefaultRedirectPaths)+len(extraRedirectURIs))
	for _, p := range DefaultRedirectPaths {
		uris = append(uris, (&url.URL{Scheme: "http", Host: "127.0.0.1", Path: p}).String())
	}
	uris = append(uris, extraRedirectURIs...)
	return &publicClient{redirectURIs: uris, loginURL: loginURL, tokenLifetime: lifetime}
}

func (c *publicClient) GetID() string                    { return PublicClientID }
func (c *publicClient) RedirectURIs() []string           { return slices.Clone(c.redirectURIs) }
func (c *publicClient) PostLogoutRedirectURIs() []string { return slices.Clone(c.redirectURIs) }
func (c *publicClient) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeNative
}
func (c *publicClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodNone }
func (c *publicClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *publicClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeDeviceCode}
}
func (c *publicClient) LoginURL(id string) string           { return c.loginURL(id) }
func (c *publicClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *publicClient) IDTokenLifetime() time.Duration      { return c.tokenLifetime }
func (c *publicClient) DevMode() bool                       { return false }
func (c *publicClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return keepScopes
}
func (c *publicClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return keepScopes
}
func (c *publicClient) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts preferred_username into the ID token
// as Keycloak does, so the web UI can show who is logged in.
func (c *publicClient) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *publicClient) ClockSkew() time.Duration             { return 0 }

// confidentialClient is a CI client from idp.json: client credentials only,
// authenticated with its secret (HTTP Basic or form post).
type confidentialClient struct {
	id            string
	tokenLifetime time.Duration
}

var _ op.Client = (*confidentialClient)(nil)

func (c *confidentialClient) GetID() string                    { return c.id }
func (c *confidentialClient) RedirectURIs() []string           { return nil }
func (c *confidentialClient) PostLogoutRedirectURIs() []string { return nil }
func (c *confidentialClient) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c *confidentialClient) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c *confidentialClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *confidentialClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}
func (c *confidentialClient) LoginURL(string) string              { return "" }
func (c *confidentialClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *confidentialClient) IDTokenLifetime() time.Duration      { return c.tokenLifetime }
func (c *confidentialClient) DevMode() bool                       { return false }
func (c *confidentialClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return keepScopes
}
func (c *confidentialClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return keepScopes
}
func (c *confidentialClient) IsScopeAllowed(string) bool           { return false }
func (c *confidentialClient) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *confidentialClient) ClockSkew() time.Duration             { return 0 }

func keepScopes(scopes []string) []string { return scopes }
