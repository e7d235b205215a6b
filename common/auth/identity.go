package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// serviceAccountPrefix starts the user name Keycloak gives the service
// account of a client ("service-account-<client id>"); Keycloak does not let
// people register user names with it.
const serviceAccountPrefix = "service-account-"

// Identity is an authenticated caller.
type Identity struct {
	// Subject is the token's "sub".
	Subject string
	// Username is the value of Config.UsernameClaim ("" when absent).
	Username string
	// ClientID is the authorized party ("azp"): the OAuth client the token
	// was issued to.
	ClientID string
	// Roles and Groups are the values of Config.RolesClaim and
	// Config.GroupsClaim.
	Roles  []string
	Groups []string
	// Admin is true when Roles contains Config.AdminRole.
	Admin bool
	// Token is the raw bearer token, kept to forward it to services that act
	// on behalf of the caller (ForwardToken). Never log it: String,
	// GoString, LogValue and JSON encoding leave it out.
	Token string `json:"-"`
}

// Principal names the caller for RBAC bindings and audit records:
//
//   - "user:<username>" when the token carries a user name that is not a
//     Keycloak service-account name;
//   - otherwise "client:<azp>" — a client-credentials token: it carries no
//     user name, or Keycloak's "service-account-<client>" user name;
//   - "client:<client>" from the service-account user name when azp is
//     missing;
//   - "sub:<subject>" when the token names neither a user nor a client.
//
// The prefixes keep the namespaces apart: a user named like a client cannot
// take its bindings. A token for a person must therefore carry the username
// claim (Keycloak's "profile" scope puts preferred_username in it);
// otherwise the person is seen as the client that obtained the token.
func (id Identity) Principal() string {
	switch {
	case id.Username != "" && !strings.HasPrefix(id.Username, serviceAccountPrefix):
		return "user:" + id.Username
	case id.ClientID != "":
		return "client:" + id.ClientID
	case id.Username != "":
		return "client:" + strings.TrimPrefix(id.Username, serviceAccountPrefix)
	default:
		return "sub:" + id.Subject
	}
}

// String returns the principal; the token is left out.
func (id Identity) String() string { return id.Principal() }

// GoString is like %#v without the token.
func (id Identity) GoString() string {
	return fmt.Sprintf("&auth.Identity{Subject:%q, Username:%q, ClientID:%q, Roles:%#v, Groups:%#v, Admin:%t, Token:<redacted>}",
		id.Subject, id.Username, id.ClientID, id.Roles, id.Groups, id.Admin)
}

// LogValue logs the identity without the token.
func (id Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("principal", id.Principal()),
		slog.String("subject", id.Subject),
		slog.Bool("admin", id.Admin),
	)
}

type identityKey struct{}

// WithIdentity returns a copy of ctx that carries id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity carried by ctx.
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(*Identity)
	return id, ok && id != nil
}
