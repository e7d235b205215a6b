package auth

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
)

func TestCache(t *testing.T) {
	c := &Cache{Path: filepath.Join(t.TempDir(), "edgeway", "tokens.json")}
	unlock, err := c.Lock()
	require.NoError(t, err)
	defer unlock()

	s, err := c.Get("https://a")
	require.NoError(t, err)
	require.Nil(t, s)

	sess := &Session{Issuer: "https://a/dev-idp", ClientID: "edgeway", Username: "alice"}
	sess.setToken((&oauth2.Token{AccessToken: "at", RefreshToken: "rt", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}).
		WithExtra(map[string]any{"id_token": "idt"}))
	require.NoError(t, c.Put("https://a", sess))
	require.NoError(t, c.Put("https://b", &Session{AccessToken: "b"}))
	st, err := os.Stat(c.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	dst, err := os.Stat(filepath.Dir(c.Path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), dst.Mode().Perm())

	got, err := c.Get("https://a")
	require.NoError(t, err)
	require.Equal(t, "idt", got.IDToken)
	require.True(t, got.Token().Valid())

	// A refresh without a new refresh token keeps the old one.
	got.setToken(&oauth2.Token{AccessToken: "at2", Expiry: time.Now().Add(time.Hour)})
	require.Equal(t, "rt", got.RefreshToken)

	old, err := c.Delete("https://a")
	require.NoError(t, err)
	require.Equal(t, "alice", old.Username)
	_, err = os.Stat(c.Path)
	require.NoError(t, err, "b is still there")
	_, err = c.Delete("https://b")
	require.NoError(t, err)
	_, err = os.Stat(c.Path)
	require.ErrorIs(t, err, os.ErrNotExist, "an empty cache is removed")
}
