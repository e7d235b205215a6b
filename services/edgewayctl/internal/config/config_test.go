package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("x"), 0o600))
	require.NoError(t, os.WriteFile(path, []byte("endpoint: https://file.example:9443/\ncaFile: ca.crt\nauth:\n  method: login\n  tokenCache: cache/t.json\n"), 0o600))

	tests := []struct {
		name      string
		o         Overrides
		env       map[string]string
		endpoint  string
		caFile    string
		clientCCs bool
	}{
		{"file", Overrides{Path: path}, nil, "https://file.example:9443", filepath.Join(dir, "ca.crt"), false},
		{"env over file", Overrides{Path: path}, map[string]string{EnvEndpoint: "https://env.example", EnvCAFile: "/env/ca"}, "https://env.example", "/env/ca", false},
		{"flags over env", Overrides{Path: path, Endpoint: "https://flag.example", CAFile: "/flag/ca"},
			map[string]string{EnvEndpoint: "https://env.example", EnvCAFile: "/env/ca"}, "https://flag.example", "/flag/ca", false},
		{"config path from env", Overrides{}, map[string]string{EnvConfig: path}, "https://file.example:9443", filepath.Join(dir, "ca.crt"), false},
		{"client credentials in env win over login", Overrides{Path: path},
			map[string]string{EnvClientID: "ci", EnvClientSecret: "s"}, "https://file.example:9443", filepath.Join(dir, "ca.crt"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.o, env(tc.env))
			require.NoError(t, err)
			require.True(t, c.Loaded)
			require.Equal(t, tc.endpoint, c.Endpoint)
			require.Equal(t, tc.caFile, c.CAFile)
			require.Equal(t, tc.clientCCs, c.UsesClientCredentials())
			require.Equal(t, filepath.Join(dir, "cache", "t.json"), c.TokenCachePath())
		})
	}
}

func TestLoadDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	require.Equal(t, filepath.Join(home, "edgeway", "config.yaml"), DefaultPath())
	c, err := Load(Overrides{}, env(map[string]string{}))
	require.NoError(t, err)
	require.False(t, c.Loaded, "a missing default file is fine")
	require.Equal(t, DefaultEndpoint, c.Endpoint)
	require.False(t, c.UsesClientCredentials())
	require.Equal(t, filepath.Join(home, "edgeway", "tokens.json"), c.TokenCachePath())

	_, err = Load(Overrides{Path: filepath.Join(home, "missing.yaml")}, env(map[string]string{}))
	require.Error(t, err, "a missing named file is not")
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := &Config{Endpoint: "ftp://x", CAFile: "/no/such/ca", Auth: Auth{Method: MethodClientCredentials}}
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{`endpoint "ftp://x"`, "CA file", "needs a client id", "needs a secret"} {
		require.ErrorContains(t, err, want)
	}
	require.ErrorContains(t, (&Config{Endpoint: DefaultEndpoint, Auth: Auth{Method: "magic"}}).Validate(), `auth method "magic"`)
	require.ErrorContains(t, (&Config{Endpoint: DefaultEndpoint, Auth: Auth{ClientID: "ci"}}).Validate(), `client id "ci" has no secret`)
	require.NoError(t, (&Config{Endpoint: DefaultEndpoint}).Validate())
}

func TestSaveEndpointKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config.yaml")
	c := &Config{Path: path}
	require.NoError(t, c.SaveEndpoint("https://a.example", ""))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	require.NoError(t, os.WriteFile(path, []byte("endpoint: https://a.example\nauth: {clientID: ci, clientSecretFile: s}\n"), 0o600))
	require.NoError(t, c.SaveEndpoint("https://b.example", filepath.Join(dir, "ca.crt")))
	got, err := Load(Overrides{Path: path}, env(nil))
	require.NoError(t, err)
	require.Equal(t, "https://b.example", got.Endpoint)
	require.Equal(t, filepath.Join(dir, "ca.crt"), got.CAFile)
	require.Equal(t, "ci", got.Auth.ClientID)
	require.Equal(t, filepath.Join(dir, "sub", "s"), got.Auth.ClientSecretFile)
}
