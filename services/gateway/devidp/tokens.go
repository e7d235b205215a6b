package devidp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// CreateAccessToken returns the id and expiry of a new JWT access token;
// op signs it. Access tokens are not stored.
func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return newID(), time.Now().Add(s.lifetime), nil
}

// refreshEntry is a live refresh token, keyed by the SHA-256 of its value.
type refreshEntry struct {
	id       string
	clientID string
	subject  string
	scopes   []string
	amr      []string
	authTime time.Time
	expires  time.Time
}

func refreshKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// refreshRequest is a refresh token presented at the token endpoint.
type refreshRequest struct{ e refreshEntry }

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string             { return r.e.amr }
func (r *refreshRequest) GetAudience() []string        { return []string{PublicClientID} }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.e.authTime }
func (r *refreshRequest) GetClientID() string          { return r.e.clientID }
func (r *refreshRequest) GetScopes() []string          { return r.e.scopes }
func (r *refreshRequest) GetSubject() string           { return r.e.subject }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.e.scopes = sc }

// CreateAccessAndRefreshTokens issues an access token id and a refresh
// token; with currentRefreshToken set it rotates that token (the old one
// stops working).
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	now := time.Now()
	e := refreshEntry{
		clientID: clientIDOf(req),
		subject:  req.GetSubject(),
		scopes:   slices.Clone(req.GetScopes()),
		authTime: now,
	}
	if r, ok := req.(interface {
		GetAMR() []string
		GetAuthTime() time.Time
	}); ok {
		e.amr, e.authTime = r.GetAMR(), r.GetAuthTime()
	}
	if e.subject == "" || e.clientID == "" {
		return "", "", time.Time{}, oidc.ErrServerError().WithDescription("token request without subject or client")
	}
	e.expires = now.Add(refreshIdle)
	if limit := e.authTime.Add(refreshMax); limit.Before(e.expires) {
		e.expires = limit
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	e.id = refreshKey(token)

	s.mu.Lock()
	defer s.mu.Unlock()
	if currentRefreshToken != "" {
		old, ok := s.refresh[refreshKey(currentRefreshToken)]
		if !ok || old.clientID != e.clientID || now.After(old.expires) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
		}
		delete(s.refresh, old.id)
	}
	s.sweepLocked(now)
	if len(s.refresh) >= maxRefreshTokens {
		return "", "", time.Time{}, oidc.ErrServerError().WithParent(errTooMany)
	}
	s.refresh[e.id] = &e
	return newID(), token, now.Add(s.lifetime), nil
}

// TokenRequestByRefreshToken looks up a live refresh token whose user
// still exists.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	e, ok := s.refresh[refreshKey(token)]
	var c refreshEntry
	if ok {
		c = *e
		c.scopes = slices.Clone(e.scopes)
	}
	s.mu.Unlock()
	if !ok || time.Now().After(c.expires) {
		return nil, fmt.Errorf("refresh token: %w", errNotFound)
	}
	if _, err := s.principalBySubject(c.subject); err != nil {
		return nil, err
	}
	return &refreshRequest{e: c}, nil
}

// TerminateSession drops the refresh tokens of a user at a client.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.refresh {
		if e.subject == userID && e.clientID == clientID {
			delete(s.refresh, k)
		}
	}
	return nil
}

// GetRefreshTokenInfo identifies a refresh token for revocation.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.refresh[refreshKey(token)]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return e.subject, e.id, nil
}

// RevokeToken revokes a refresh token (by value or id). JWT access tokens
// are not stored and expire on their own.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.refresh[refreshKey(tokenOrID)]
	if !ok {
		e, ok = s.refresh[tokenOrID]
	}
	if !ok {
		return nil
	}
	if e.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was not issued for this client")
	}
	delete(s.refresh, e.id)
	return nil
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// GetKeyByIDAndClientID: the JWT profile grant and private_key_jwt client
// authentication are not offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private key JWT authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the JWT profile grant is not supported")
}

// Health reports whether idp.json is readable.
func (s *storage) Health(context.Context) error {
	_, err := s.users.get()
	return err
}
