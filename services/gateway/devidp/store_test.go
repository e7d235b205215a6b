package devidp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAddUserAndClient(t *testing.T) {
	dir := t.TempDir()

	t.Run("concurrent writers all land", func(t *testing.T) {
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, 2*n)
		for i := range n {
			wg.Go(func() { _, errs[i] = AddUser(dir, fmt.Sprintf("user%d", i), i%2 == 0) })
			wg.Go(func() { _, errs[n+i] = AddClient(dir, fmt.Sprintf("bot%d", i), false) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		st, err := readState(filepath.Join(dir, "dev", stateFile))
		require.NoError(t, err)
		require.Len(t, st.Users, n)
		require.Len(t, st.Clients, n)
		require.True(t, st.Users["user0"].Admin)
		require.False(t, st.Users["user1"].Admin)
	})

	t.Run("duplicates", func(t *testing.T) {
		_, err := AddUser(dir, "user0", false)
		require.ErrorIs(t, err, ErrAlreadyExists)
		_, err = AddClient(dir, "bot0", false)
		require.ErrorIs(t, err, ErrAlreadyExists)
	})

	t.Run("invalid names", func(t *testing.T) {
		for _, name := range []string{"", "Admin", "-x", "a b", "../x", "service-account-edgeway-ci", string(make([]byte, 70))} {
			_, err := AddUser(dir, name, false)
			require.ErrorIs(t, err, ErrInvalidName, "%q", name)
		}
		for _, name := range []string{"", PublicClientID, "x/y"} {
			_, err := AddClient(dir, name, false)
			require.ErrorIs(t, err, ErrInvalidName, "%q", name)
		}
	})

	t.Run("generated credentials", func(t *testing.T) {
		pw, err := AddUser(dir, "carol", false)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(pw), 20)
		secret, err := AddClient(dir, "carol-bot", false)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(secret), 20)
		st, err := readState(filepath.Join(dir, "dev", stateFile))
		require.NoError(t, err)
		require.True(t, checkSecret(st.Users["carol"].PasswordHash, pw))
		require.False(t, checkSecret(st.Users["carol"].PasswordHash, pw+"x"))
		require.True(t, checkSecret(st.Clients["carol-bot"].SecretHash, secret))
	})
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Issuer: "https://127.0.0.1:9443/dev-idp"}

	// a user added before the first start does not stop the bootstrap
	_, err := AddUser(dir, "early", false)
	require.NoError(t, err)

	p1, err := New(ctx, cfg)
	require.NoError(t, err)
	c1 := p1.Credentials()
	require.Equal(t, "https://127.0.0.1:9443/dev-idp", c1.Issuer)
	require.Equal(t, "https://127.0.0.1:9443/dev-idp/oauth/token", c1.TokenURL)
	require.NotEqual(t, c1.Admin.Password, c1.CI.ClientSecret)

	// another data dir gets other credentials: nothing is a default
	p2, err := New(ctx, Config{DataDir: t.TempDir(), Issuer: cfg.Issuer})
	require.NoError(t, err)
	require.NotEqual(t, c1.Admin.Password, p2.Credentials().Admin.Password)
	require.NotEqual(t, c1.CI.ClientSecret, p2.Credentials().CI.ClientSecret)

	t.Run("a new issuer is written to credentials.json", func(t *testing.T) {
		p, err := New(ctx, Config{DataDir: dir, Issuer: "https://127.0.0.1:10443/dev-idp/"})
		require.NoError(t, err)
		c := p.Credentials()
		require.Equal(t, "https://127.0.0.1:10443/dev-idp", c.Issuer)
		require.Equal(t, c1.Admin, c.Admin)
		require.Equal(t, c1.CI, c.CI)
		var onDisk Credentials
		b, err := os.ReadFile(CredentialsPath(dir))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &onDisk))
		require.Equal(t, c, onDisk)
	})

	t.Run("a lost credentials file resets the bootstrap credentials", func(t *testing.T) {
		require.NoError(t, os.Remove(CredentialsPath(dir)))
		p, err := New(ctx, cfg)
		require.NoError(t, err)
		c := p.Credentials()
		require.NotEqual(t, c1.Admin.Password, c.Admin.Password)
		require.NotEqual(t, c1.CI.ClientSecret, c.CI.ClientSecret)
		st, err := readState(filepath.Join(dir, "dev", stateFile))
		require.NoError(t, err)
		require.True(t, checkSecret(st.Users[AdminUser].PasswordHash, c.Admin.Password))
		require.False(t, checkSecret(st.Users[AdminUser].PasswordHash, c1.Admin.Password))
		require.True(t, checkSecret(st.Clients[CIClientID].SecretHash, c.CI.ClientSecret))
		require.Contains(t, st.Users, "early")
		require.True(t, st.Users[AdminUser].Admin)
		require.False(t, st.Clients[CIClientID].Admin)
	})
}

func TestStateCacheSeesChanges(t *testing.T) {
	dir := t.TempDir()
	_, err := AddUser(dir, "dave", false)
	require.NoError(t, err)
	c := newStateCache(dir)
	st, err := c.get()
	require.NoError(t, err)
	require.Contains(t, st.Users, "dave")
	st2, err := c.get()
	require.NoError(t, err)
	require.Same(t, st, st2, "unchanged file is not re-read")

	_, err = AddUser(dir, "erin", false)
	require.NoError(t, err)
	st, err = c.get()
	require.NoError(t, err)
	require.Contains(t, st.Users, "erin")

	// a hand edit in place (same inode) is seen too
	path := filepath.Join(dir, "dev", stateFile)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	delete(raw["users"].(map[string]any), "dave")
	b, err = json.Marshal(raw)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	future := time.Now().Add(2 * time.Second)
	require.NoError(t, os.Chtimes(path, future, future))
	st, err = c.get()
	require.NoError(t, err)
	require.NotContains(t, st.Users, "dave")

	// a broken file fails closed
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	_, err = c.get()
	require.Error(t, err)
}

func TestConfigValidate(t *testing.T) {
	err := Config{Issuer: "http://127.0.0.1:9080/dev-idp", TokenLifetime: -time.Second, RedirectURIs: []string{"http://x/cb"}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"data dir", "issuer", "token lifetime", "redirect URI"} {
		require.ErrorContains(t, err, want)
	}
	require.NoError(t, Config{DataDir: "/tmp/x", Issuer: "https://127.0.0.1:9443/dev-idp"}.Validate())
	_, err = New(context.Background(), Config{DataDir: t.TempDir(), Issuer: "https://127.0.0.1:9443/dev-idp?x=1"})
	require.Error(t, err)
}

func TestNormalizeUserCode(t *testing.T) {
	require.Equal(t, "BCDF-GHJK", normalizeUserCode("bcdfghjk"))
	require.Equal(t, "BCDF-GHJK", normalizeUserCode(" BCDF-ghjk "))
	require.Equal(t, "BCD", normalizeUserCode("bcd"))
}
