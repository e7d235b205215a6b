package devidp

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// GetClientByClientID returns the public client or a confidential client
// from idp.json.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	if clientID == PublicClientID {
		return s.public, nil
	}
	st, err := s.users.get()
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if _, ok := st.Clients[clientID]; !ok {
		return nil, fmt.Errorf("client %q: %w", clientID, errNotFound)
	}
	return &confidentialClient{id: clientID, tokenLifetime: s.lifetime}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	_, err := s.checkClient(clientID, secret)
	return err
}

func (s *storage) checkClient(clientID, secret string) (*clientRecord, error) {
	st, err := s.users.get()
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	c := st.Clients[clientID]
	var hash string
	if c != nil {
		hash = c.SecretHash
	}
	if !checkSecret(hash, secret) || c == nil {
		s.log.Info("client authentication failed", "client_id", clientID)
		return nil, errors.New("invalid client credentials")
	}
	return c, nil
}

// ClientCredentials authenticates a confidential client for the client
// credentials grant.
func (s *storage) ClientCredentials(_ context.Context, clientID, secret string) (op.Client, error) {
	if _, err := s.checkClient(clientID, secret); err != nil {
		return nil, err
	}
	return &confidentialClient{id: clientID, tokenLifetime: s.lifetime}, nil
}

// clientCredentialsRequest is the token request of the client credentials
// grant; its subject is the client's service account.
type clientCredentialsRequest struct {
	clientID string
	subject  string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.subject }
func (r *clientCredentialsRequest) GetAudience() []string { return []string{PublicClientID} }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }
func (r *clientCredentialsRequest) GetClientID() string   { return r.clientID }

// ClientCredentialsTokenRequest builds the token request of an
// authenticated confidential client.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	st, err := s.users.get()
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	c, ok := st.Clients[clientID]
	if !ok {
		return nil, oidc.ErrInvalidClient()
	}
	s.log.Info("client credentials grant", "client_id", clientID)
	return &clientCredentialsRequest{clientID: clientID, subject: c.ServiceAccountID, scopes: standardScopes(scopes)}, nil
}

// standardScopes keeps the scopes the provider knows.
func standardScopes(scopes []string) []string {
	out := []string{}
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail:
			if !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
	}
	return out
}

// withOfflineAccess adds offline_access: like Keycloak, the provider gives
// the public client a refresh token whether or not it asked for one.
func withOfflineAccess(scopes []string) []string {
	if slices.Contains(scopes, oidc.ScopeOfflineAccess) {
		return slices.Clone(scopes)
	}
	return append(slices.Clone(scopes), oidc.ScopeOfflineAccess)
}
