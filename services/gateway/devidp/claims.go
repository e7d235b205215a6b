package devidp

import (
	"context"
	"fmt"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// principal is whoever a token is about: a user or a client's service account.
type principal struct {
	subject  string
	username string // preferred_username
	roles    []string
	groups   []string
}

func userPrincipal(name string, u *userRecord) principal {
	return principal{subject: u.ID, username: name, roles: roles(u.Admin), groups: nonNil(u.Groups)}
}

func clientPrincipal(name string, c *clientRecord) principal {
	return principal{subject: c.ServiceAccountID, username: serviceAccountPrefix + name, roles: roles(c.Admin), groups: nonNil(c.Groups)}
}

func roles(admin bool) []string {
	if admin {
		return []string{AdminRole}
	}
	return []string{}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// principalBySubject resolves a token subject to a user or service account.
func (s *storage) principalBySubject(sub string) (principal, error) {
	st, err := s.users.get()
	if err != nil {
		return principal{}, err
	}
	if name, u, ok := st.userByID(sub); ok {
		return userPrincipal(name, u), nil
	}
	if name, c, ok := st.clientBySubject(sub); ok {
		return clientPrincipal(name, c), nil
	}
	return principal{}, fmt.Errorf("subject %s: %w", sub, errNotFound)
}

// principalFor resolves the principal of a token request: a client
// credentials request is the client's service account, every other
// request is a user.
func (s *storage) principalFor(req op.TokenRequest) (principal, error) {
	st, err := s.users.get()
	if err != nil {
		return principal{}, err
	}
	if cc, ok := req.(*clientCredentialsRequest); ok {
		c, ok := st.Clients[cc.clientID]
		if !ok || c.ServiceAccountID != cc.subject {
			return principal{}, fmt.Errorf("client %s: %w", cc.clientID, errNotFound)
		}
		return clientPrincipal(cc.clientID, c), nil
	}
	name, u, ok := st.userByID(req.GetSubject())
	if !ok {
		return principal{}, fmt.Errorf("user %s: %w", req.GetSubject(), errNotFound)
	}
	return userPrincipal(name, u), nil
}

// clientIDOf returns the client a token request was made by.
func clientIDOf(req op.TokenRequest) string {
	if c, ok := req.(interface{ GetClientID() string }); ok {
		return c.GetClientID()
	}
	return ""
}

// GetPrivateClaimsFromRequest adds the Keycloak-shaped claims to JWT access
// tokens: azp, preferred_username, realm_access.roles, groups, scope, typ.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	p, err := s.principalFor(req)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{
		"typ":                "Bearer",
		"azp":                clientIDOf(req),
		"preferred_username": p.username,
		"realm_access":       map[string]any{"roles": p.roles},
		"groups":             p.groups,
	}
	if sc := req.GetScopes(); len(sc) > 0 {
		claims["scope"] = oidc.SpaceDelimitedArray(sc).String()
	}
	return claims, nil
}

// GetPrivateClaimsFromScopes is superseded by GetPrivateClaimsFromRequest.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func setUserinfo(info *oidc.UserInfo, p principal, scopes []string) {
	info.Subject = p.subject
	if scopes == nil || slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = p.username
		info.Name = p.username
	}
	info.AppendClaims("realm_access", map[string]any{"roles": p.roles})
	info.AppendClaims("groups", p.groups)
}

// SetUserinfoFromRequest fills the ID token's user claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	p, err := s.principalBySubject(req.GetSubject())
	if err != nil {
		return err
	}
	setUserinfo(info, p, scopes)
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest is used.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for a verified token.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	p, err := s.principalBySubject(subject)
	if err != nil {
		return err
	}
	setUserinfo(info, p, nil)
	return nil
}

// SetIntrospectionFromToken answers the introspection endpoint for a
// verified token: active while its subject exists.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, _, subject, _ string) error {
	p, err := s.principalBySubject(subject)
	if err != nil {
		return err
	}
	info := new(oidc.UserInfo)
	setUserinfo(info, p, nil)
	resp.SetUserInfo(info)
	return nil
}
