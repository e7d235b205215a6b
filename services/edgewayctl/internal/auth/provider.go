package auth

import (
	"context"
	"fmt"
	"net/http"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"edgeway.dev/services/edgewayctl/internal/api"
)

// Scopes a login asks for: an ID token, the username, and a refresh token.
var Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}

// Provider is the server's identity provider, found by discovery.
type Provider struct {
	Discovery *api.Discovery
	OIDC      *oidc.Provider
	HTTP      *http.Client
	// RevocationURL is the provider's revocation endpoint, if it has one.
	RevocationURL string
}

// NewProvider reads the OIDC discovery document of the server's issuer.
func NewProvider(ctx context.Context, hc *http.Client, d *api.Discovery) (*Provider, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), d.Issuer)
	if err != nil {
		return nil, fmt.Errorf("identity provider %s: %w", d.Issuer, err)
	}
	var extra struct {
		Revocation string `json:"revocation_endpoint"`
	}
	_ = p.Claims(&extra)
	return &Provider{Discovery: d, OIDC: p, HTTP: hc, RevocationURL: extra.Revocation}, nil
}

// Context returns ctx carrying the provider's HTTP client for oauth2 and
// go-oidc calls.
func (p *Provider) Context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.HTTP)
}

// PublicConfig is the OAuth 2.0 configuration of the public client the
// server names; redirect is the loopback redirect URI, if any. The public
// client has no secret: its id goes in the form (RFC 6749 section 2.3.1).
func (p *Provider) PublicConfig(redirect string) *oauth2.Config {
	ep := p.OIDC.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &oauth2.Config{ClientID: p.Discovery.ClientID, Endpoint: ep, RedirectURL: redirect, Scopes: Scopes}
}

// Verify checks an ID token (issuer, audience, expiry, signature) and
// returns its preferred_username (or subject).
func (p *Provider) Verify(ctx context.Context, rawIDToken string) (string, error) {
	v := p.OIDC.Verifier(&oidc.Config{ClientID: p.Discovery.ClientID})
	tok, err := v.Verify(p.Context(ctx), rawIDToken)
	if err != nil {
		return "", fmt.Errorf("ID token: %w", err)
	}
	var c struct {
		PreferredUsername string `json:"preferred_username"`
	}
	_ = tok.Claims(&c)
	if c.PreferredUsername != "" {
		return c.PreferredUsername, nil
	}
	return tok.Subject, nil
}
