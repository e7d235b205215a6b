package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings, all reported at once
	}{
		{name: "minimal https", cfg: Config{Issuer: "https://idp.example/realms/edgeway", ClientID: "edgeway"}},
		{name: "http loopback", cfg: Config{Issuer: "http://127.0.0.1:8081/realms/edgeway", ClientID: "edgeway"}},
		{name: "everything missing", cfg: Config{}, wantErr: []string{"oidc-issuer: required", "oidc-client-id: required"}},
		{name: "http elsewhere", cfg: Config{Issuer: "http://idp.example", ClientID: "e"}, wantErr: []string{"must use https"}},
		{name: "query in issuer", cfg: Config{Issuer: "https://idp.example/?x=1", ClientID: "e"}, wantErr: []string{"without user info, query or fragment"}},
		{
			name: "symmetric and none refused, all problems reported",
			cfg: Config{Issuer: "ftp://idp", ClientID: " ", RolesClaim: "realm_access..roles",
				Algorithms: []string{"RS256", "HS256", "none", "XX1"}, Leeway: time.Hour, RefetchInterval: -time.Second},
			wantErr: []string{"oidc-issuer", "oidc-client-id", "oidc-roles-claim", `"HS256" refused`, `"none" refused`,
				`"XX1" is not a supported`, "leeway", "refetch interval"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.wantErr {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestConfigDefaultsAndFlags(t *testing.T) {
	d := Config{}.withDefaults()
	require.Equal(t, "preferred_username", d.UsernameClaim)
	require.Equal(t, "realm_access.roles", d.RolesClaim)
	require.Equal(t, "groups", d.GroupsClaim)
	require.Equal(t, "edgeway-admin", d.AdminRole)
	require.Equal(t, []string{"RS256", "RS384", "RS512", "ES256", "ES384", "PS256"}, d.Algorithms)
	require.Equal(t, 30*time.Second, d.Leeway)
	require.Equal(t, 10*time.Second, d.RefetchInterval)

	var c Config
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	c.RegisterFlags(fs)
	require.Equal(t, "realm_access.roles", c.RolesClaim, "flag defaults are applied")
	require.NoError(t, fs.Parse([]string{
		"--oidc-issuer=https://idp.example/realms/edgeway", "--oidc-client-id=edgeway",
		"--oidc-username-claim=email", "--oidc-roles-claim=resource_access.edgeway.roles",
		"--oidc-groups-claim=teams", "--oidc-admin-role=root",
	}))
	require.Equal(t, Config{Issuer: "https://idp.example/realms/edgeway", ClientID: "edgeway", UsernameClaim: "email",
		RolesClaim: "resource_access.edgeway.roles", GroupsClaim: "teams", AdminRole: "root"}, c)
	require.NoError(t, c.Validate())
}

func TestPrincipal(t *testing.T) {
	cases := []struct {
		id   Identity
		want string
	}{
		{Identity{Subject: "s", Username: "alice", ClientID: "edgeway-ui"}, "user:alice"},
		{Identity{Subject: "s", Username: "service-account-edgeway-ci", ClientID: "edgeway-ci"}, "client:edgeway-ci"},
		{Identity{Subject: "s", ClientID: "edgeway-ci"}, "client:edgeway-ci"},
		{Identity{Subject: "s", Username: "service-account-ci"}, "client:ci"},
		{Identity{Subject: "s"}, "sub:s"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			require.Equal(t, tc.want, tc.id.Principal())
		})
	}
}

// TestIdentityRedactsToken: printing, logging or encoding an identity never
// shows its token.
func TestIdentityRedactsToken(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln"
	id := &Identity{Subject: "s", Username: "alice", Roles: []string{"r"}, Token: secret}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out = append(out, fmt.Sprintf(f, id), fmt.Sprintf(f, *id))
	}
	b, err := json.Marshal(id)
	require.NoError(t, err)
	out = append(out, string(b))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "identity", id, "value", *id)
	out = append(out, buf.String())
	for _, s := range out {
		require.NotContains(t, s, secret)
	}
	require.Contains(t, buf.String(), `"principal":"user:alice"`)
}
