package devidp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is a pending login of the authorization code flow.
type authRequest struct {
	id           string
	created      time.Time
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	userID       string
	done         bool
	authTime     time.Time
	failures     int
}

var _ op.LogAuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAudience() []string                 { return []string{PublicClientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

// LogValue keeps state, nonce and the PKCE challenge out of the log.
func (a *authRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", a.id),
		slog.String("client_id", a.clientID),
		slog.String("redirect_uri", a.redirectURI),
	)
}

func (a *authRequest) clone() *authRequest {
	c := *a
	c.scopes = slices.Clone(a.scopes)
	return &c
}

func (a *authRequest) expired(now time.Time) bool { return now.Sub(a.created) > authRequestTTL }

// CreateAuthRequest stores a validated authorization request. A public
// client must use PKCE with S256 (OAuth 2.1, RFC 8252 section 8.1).
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired() // no browser sessions: every login is interactive
	}
	client, err := s.GetClientByClientID(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	scopes := slices.Clone(req.Scopes)
	if client.AuthMethod() == oidc.AuthMethodNone {
		if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
			return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method S256 is required")
		}
	}
	if op.ValidateGrantType(client, oidc.GrantTypeRefreshToken) {
		scopes = withOfflineAccess(scopes)
	}
	var challenge *oidc.CodeChallenge
	if req.CodeChallenge != "" {
		challenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod}
	}
	a := &authRequest{
		id:           newID(),
		created:      time.Now(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       scopes,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		challenge:    challenge,
		userID:       userID,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(time.Now())
	if len(s.authRequests) >= maxPending {
		return nil, oidc.ErrServerError().WithParent(errTooMany).WithDescription("too many pending logins, try again later")
	}
	s.authRequests[a.id] = a
	return a.clone(), nil
}

// pendingLogin returns the client of a login request that awaits a password.
func (s *storage) pendingLogin(id string) (clientID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok || a.done || a.expired(time.Now()) {
		return "", errNotFound
	}
	return a.clientID, nil
}

// checkLogin checks a username and password for the login request id and
// marks it done. Too many wrong passwords end the request.
func (s *storage) checkLogin(id, username, password string) error {
	if _, err := s.pendingLogin(id); err != nil {
		return err
	}
	userID, err := s.checkUser(username, password) // bcrypt runs outside the lock
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok || a.done || a.expired(time.Now()) {
		return errNotFound
	}
	if errors.Is(err, errBadCredentials) {
		a.failures++
		if a.failures >= maxLoginFailures {
			delete(s.authRequests, id)
		}
	}
	if err != nil {
		return err
	}
	a.userID, a.done, a.authTime = userID, true, time.Now()
	return nil
}

// checkUser returns the subject of a user whose password matches.
func (s *storage) checkUser(username, password string) (string, error) {
	st, err := s.users.get()
	if err != nil {
		return "", fmt.Errorf("read users: %w", err)
	}
	u := st.Users[username]
	var hash string
	if u != nil {
		hash = u.PasswordHash
	}
	if !checkSecret(hash, password) || u == nil {
		s.log.Info("login failed", "username", username)
		return "", errBadCredentials
	}
	s.log.Info("login succeeded", "username", username)
	return u.ID, nil
}

// AuthRequestByID returns a copy of a pending login request.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok || a.expired(time.Now()) {
		return nil, fmt.Errorf("auth request: %w", errNotFound)
	}
	return a.clone(), nil
}

// AuthRequestByCode redeems an authorization code. The code is consumed
// here, so a failed redemption (e.g. a wrong PKCE verifier) burns it too.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	delete(s.codes, code)
	a, ok := s.authRequests[id]
	if !ok || !a.done || a.expired(time.Now()) {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	return a.clone(), nil
}

// SaveAuthCode binds an issued code to its login request.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authRequests[id]; !ok {
		return fmt.Errorf("auth request: %w", errNotFound)
	}
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets a login request and its code.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteAuthRequestLocked(id)
	return nil
}

func (s *storage) deleteAuthRequestLocked(id string) {
	delete(s.authRequests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
}
