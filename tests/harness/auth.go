package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Identities of the dev identity provider for tests. Every --dev server's
// gateway serves the provider at <URL>/dev-idp; the launcher's `dev-idp
// add-client` / `add-user` create identities while it runs.

var adminTokens sync.Map // *Server → string

// AddClient creates a confidential client of the dev identity provider
// (platform admin when admin is set) and returns its id and secret.
func (s *Server) AddClient(t testing.TB, name string, admin bool) (id, secret string) {
	t.Helper()
	id, secret, err := s.addClient(name, admin)
	require.NoError(t, err)
	return id, secret
}

func (s *Server) addClient(name string, admin bool) (id, secret string, err error) {
	args := []string{"dev-idp", "add-client", "--data-dir", s.DataDir, name}
	if admin {
		args = append(args, "--admin")
	}
	out, err := exec.Command(s.bin, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", "", fmt.Errorf("edgeway %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", "", err
	}
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &c); err != nil {
		return "", "", fmt.Errorf("dev-idp add-client output %q: %w", out, err)
	}
	return c.ClientID, c.ClientSecret, nil
}

// Token obtains an access token for a client by the client-credentials
// grant from the dev identity provider.
func (s *Server) Token(t testing.TB, id, secret string) string {
	t.Helper()
	tok, err := s.token(id, secret)
	require.NoError(t, err)
	return tok
}

func (s *Server) token(id, secret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequest(http.MethodPost, s.URL+"/dev-idp/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := s.Client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answer %q: %v", body, err)
	}
	return tr.AccessToken, nil
}

// AdminToken returns a platform-admin token (one admin client per server,
// created on first use).
func (s *Server) AdminToken(t testing.TB) string {
	t.Helper()
	tok, err := s.adminToken()
	require.NoError(t, err)
	return tok
}

func (s *Server) adminToken() (string, error) {
	if v, ok := adminTokens.Load(s); ok {
		return v.(string), nil
	}
	id, secret, err := s.addClient("e2e-admin", true)
	if err != nil {
		return "", err
	}
	tok, err := s.token(id, secret)
	if err != nil {
		return "", err
	}
	adminTokens.Store(s, tok)
	return tok, nil
}

// WithToken returns a copy of the API that sends the given bearer token.
func (a *API) WithToken(tok string) *API {
	c := *a
	c.Header = http.Header{}
	for k, v := range a.Header {
		c.Header[k] = v
	}
	c.Header.Set("Authorization", "Bearer "+tok)
	return &c
}

// Anonymous returns a copy of the API without credentials.
func (a *API) Anonymous() *API {
	c := *a
	c.Header = http.Header{}
	for k, v := range a.Header {
		if k != "Authorization" {
			c.Header[k] = v
		}
	}
	return &c
}
