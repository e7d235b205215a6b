package auth

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrNotLoggedIn is returned when there is no session for the endpoint.
var ErrNotLoggedIn = errors.New("not logged in")

// ProviderFunc returns the identity provider, discovering it on first use.
type ProviderFunc func() (*Provider, error)

// SessionSource returns the cached login of endpoint as a token source:
// a valid access token is used as is; an expired one is refreshed with the
// refresh token, under the cache's lock, and the new tokens are saved. The
// provider is only discovered when a refresh is needed.
func SessionSource(ctx context.Context, cache *Cache, endpoint string, provider ProviderFunc) oauth2.TokenSource {
	return oauth2.ReuseTokenSource(nil, &sessionSource{ctx: ctx, cache: cache, endpoint: endpoint, provider: provider})
}

type sessionSource struct {
	ctx      context.Context
	cache    *Cache
	endpoint string
	provider ProviderFunc
}

func (s *sessionSource) Token() (*oauth2.Token, error) {
	unlock, err := s.cache.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	sess, err := s.cache.Get(s.endpoint)
	if err != nil {
		return nil, err
	}
	if sess == nil {
		return nil, fmt.Errorf("%w to %s: run `edgewayctl login` (or set EDGEWAY_CLIENT_ID and EDGEWAY_CLIENT_SECRET)", ErrNotLoggedIn, s.endpoint)
	}
	tok := sess.Token()
	if tok.Valid() {
		return tok, nil
	}
	if tok.RefreshToken == "" {
		return nil, fmt.Errorf("the login to %s has expired: run `edgewayctl login`", s.endpoint)
	}
	p, err := s.provider()
	if err != nil {
		return nil, err
	}
	if p.Discovery.Issuer != sess.Issuer {
		return nil, fmt.Errorf("%s now uses the identity provider %s (you logged in at %s): run `edgewayctl login`", s.endpoint, p.Discovery.Issuer, sess.Issuer)
	}
	nt, err := p.PublicConfig("").TokenSource(p.Context(s.ctx), tok).Token()
	if err != nil {
		return nil, fmt.Errorf("the login to %s has expired and could not be refreshed (%v): run `edgewayctl login`", s.endpoint, describeOAuthError(err))
	}
	sess.setToken(nt)
	if err := s.cache.Put(s.endpoint, sess); err != nil {
		return nil, err
	}
	return nt, nil
}

// ClientCredentialsSource obtains tokens with a confidential client's id
// and secret, again whenever the last one expired.
func ClientCredentialsSource(ctx context.Context, p *Provider, id, secret string) oauth2.TokenSource {
	c := &clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.OIDC.Endpoint().TokenURL}
	return &describedSource{src: c.TokenSource(p.Context(ctx)), what: "client credentials of " + id}
}

type describedSource struct {
	src  oauth2.TokenSource
	what string
}

func (d *describedSource) Token() (*oauth2.Token, error) {
	t, err := d.src.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.what, describeOAuthError(err))
	}
	return t, nil
}
