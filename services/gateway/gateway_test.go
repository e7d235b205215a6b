package gateway

import (
	"crypto/tls"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/auth"
)

// TestMatch: the most specific route wins; a pattern's "*" matches one
// non-empty segment.
func TestMatch(t *testing.T) {
	g, err := New(Config{Routes: []Route{
		{Prefix: "/v2/projects", Service: "orchestrator", Addr: "127.0.0.1:1"},
		{Pattern: "/v2/projects/*/secrets", Service: "secrets", Addr: "127.0.0.1:2"},
		{Prefix: "/v2/cluster-providers", Service: "clusterregistry", Addr: "127.0.0.1:3"},
	}}, Deps{Log: slog.New(slog.DiscardHandler), ClientTLS: func(string) *tls.Config { return &tls.Config{} },
		Auth: auth.NewVerifier(auth.Config{}, nil)})
	require.NoError(t, err)
	for path, want := range map[string]string{
		"/v2/projects":                              "/v2/projects",
		"/v2/projects/p1":                           "/v2/projects",
		"/v2/projects/p1/composite-apps":            "/v2/projects",
		"/v2/projects/p1/secrets":                   "/v2/projects/*/secrets",
		"/v2/projects/p1/secrets/db":                "/v2/projects/*/secrets",
		"/v2/projects/secrets":                      "/v2/projects",
		"/v2/projects//secrets":                     "/v2/projects",
		"/v2/projects/p1/secretsx":                  "/v2/projects",
		"/v2/projects/p1/role-bindings/secrets":     "/v2/projects",
		"/v2/cluster-providers/a/clusters":          "/v2/cluster-providers",
		"/v2/projectsx":                             "",
		"/v2/audit":                                 "",
		"/v2/projects/p1/composite-apps/secrets/v1": "/v2/projects",
	} {
		p := g.match(path)
		got := ""
		if p != nil {
			got = p.prefix
		}
		require.Equal(t, want, got, path)
	}
}
