package devidp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// syncBuffer collects the provider's log output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testIDP is the provider behind an httptest TLS server at /dev-idp, the
// way the gateway mounts it.
type testIDP struct {
	dir     string
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]
	p       *Provider
	issuer  string
	logs    *syncBuffer
	cb      *httptest.Server // a loopback redirect target: http://127.0.0.1:PORT/callback
	life    time.Duration
}

func startIDP(t *testing.T, dir string) *testIDP { return startIDPWith(t, dir, 0) }

func startIDPWith(t *testing.T, dir string, lifetime time.Duration) *testIDP {
	t.Helper()
	ti := &testIDP{dir: dir, logs: &syncBuffer{}, life: lifetime}
	ti.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*ti.handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(ti.srv.Close)
	ti.cb = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "callback received")
	}))
	t.Cleanup(ti.cb.Close)
	ti.issuer = ti.srv.URL + "/dev-idp"
	ti.restart(t)
	return ti
}

// restart runs New again on the same data dir and swaps the handler, so
// the issuer URL stays the same.
func (ti *testIDP) restart(t *testing.T) {
	t.Helper()
	p, err := New(context.Background(), Config{
		DataDir:       ti.dir,
		Issuer:        ti.issuer,
		TokenLifetime: ti.life,
		Log:           slog.New(slog.NewTextHandler(ti.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	h := http.Handler(http.NewServeMux())
	mux := h.(*http.ServeMux)
	mux.Handle("/dev-idp/", p.Handler())
	ti.p = p
	ti.handler.Store(&h)
}

// ctx carries the HTTP client that trusts the test server to oauth2 and go-oidc.
func (ti *testIDP) ctx() context.Context {
	ctx := oidc.ClientContext(context.Background(), ti.srv.Client())
	return context.WithValue(ctx, oauth2.HTTPClient, ti.srv.Client())
}

// browser is an HTTP client with a cookie jar that follows redirects, like
// a person's browser.
func (ti *testIDP) browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, Transport: ti.srv.Client().Transport, Timeout: 30 * time.Second}
}

// oauthConfig is the public client's configuration, built from discovery.
func (ti *testIDP) oauthConfig(t *testing.T) *oauth2.Config {
	t.Helper()
	prov, err := oidc.NewProvider(ti.ctx(), ti.issuer)
	require.NoError(t, err)
	return &oauth2.Config{
		ClientID:    PublicClientID,
		Endpoint:    prov.Endpoint(),
		RedirectURL: ti.cb.URL + "/callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile"},
	}
}

// accessClaims are the claims Edgeway reads from an access token.
type accessClaims struct {
	Issuer            string   `json:"iss"`
	Subject           string   `json:"sub"`
	Audience          audience `json:"aud"`
	AZP               string   `json:"azp"`
	Expiry            int64    `json:"exp"`
	IssuedAt          int64    `json:"iat"`
	NotBefore         int64    `json:"nbf"`
	PreferredUsername string   `json:"preferred_username"`
	RealmAccess       struct {
		Roles []string `json:"roles"`
	} `json:"realm_access"`
	Groups *[]string `json:"groups"`
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// verify checks a token like an Edgeway service does (go-oidc against
// discovery and JWKS, audience "edgeway") and returns its claims.
func (ti *testIDP) verify(t *testing.T, raw string) accessClaims {
	t.Helper()
	prov, err := oidc.NewProvider(ti.ctx(), ti.issuer)
	require.NoError(t, err)
	tok, err := prov.Verifier(&oidc.Config{ClientID: PublicClientID}).Verify(ti.ctx(), raw)
	require.NoError(t, err)
	var c accessClaims
	require.NoError(t, tok.Claims(&c))
	require.Equal(t, ti.issuer, c.Issuer)
	require.Contains(t, []string(c.Audience), PublicClientID)
	return c
}

// verifyAccess verifies an access token and checks the claims every access
// token carries.
func (ti *testIDP) verifyAccess(t *testing.T, raw string) accessClaims {
	t.Helper()
	c := ti.verify(t, raw)
	require.NotZero(t, c.NotBefore)
	require.NotZero(t, c.IssuedAt)
	require.NotEmpty(t, c.Subject)
	require.NotEmpty(t, c.AZP)
	require.NotEmpty(t, c.PreferredUsername)
	require.NotNil(t, c.RealmAccess.Roles, "realm_access.roles claim")
	require.NotNil(t, c.Groups, "groups claim")
	return c
}

var hiddenID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// startLogin opens the authorization URL in the browser and returns the
// login page's request id.
func startLogin(t *testing.T, b *http.Client, authURL string) string {
	t.Helper()
	resp, err := b.Get(authURL)
	require.NoError(t, err)
	body := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "/dev-idp/login", resp.Request.URL.Path)
	m := hiddenID.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	return m[1]
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// codeLogin runs the browser part of the authorization code flow with PKCE
// and returns the code delivered to the loopback redirect URI.
func (ti *testIDP) codeLogin(t *testing.T, cfg *oauth2.Config, username, password, verifier string) string {
	t.Helper()
	b := ti.browser(t)
	id := startLogin(t, b, cfg.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier)))
	resp, err := b.PostForm(ti.issuer+"/login", url.Values{"id": {id}, "username": {username}, "password": {password}})
	require.NoError(t, err)
	body := readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	final := resp.Request.URL
	require.Equal(t, ti.cb.URL+"/callback", final.Scheme+"://"+final.Host+final.Path, "redirected to the loopback redirect URI")
	require.Equal(t, "st-123", final.Query().Get("state"))
	code := final.Query().Get("code")
	require.NotEmpty(t, code, final.String())
	return code
}

func TestProviderFlows(t *testing.T) {
	ti := startIDP(t, t.TempDir())
	creds := ti.p.Credentials()
	cfg := ti.oauthConfig(t)

	t.Run("discovery under the prefix", func(t *testing.T) {
		resp, err := ti.srv.Client().Get(ti.issuer + "/.well-known/openid-configuration")
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(readBody(t, resp)), &doc))
		require.Equal(t, ti.issuer, doc["issuer"])
		for _, k := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "device_authorization_endpoint", "revocation_endpoint", "introspection_endpoint"} {
			require.True(t, strings.HasPrefix(doc[k].(string), ti.issuer+"/"), "%s = %v", k, doc[k])
		}
		require.Contains(t, doc["grant_types_supported"], "client_credentials")
		require.Contains(t, doc["grant_types_supported"], "urn:ietf:params:oauth:grant-type:device_code")
		require.Contains(t, doc["code_challenge_methods_supported"], "S256")
		require.Equal(t, creds.TokenURL, doc["token_endpoint"])
		require.Equal(t, ti.issuer, creds.Issuer)

		resp, err = ti.srv.Client().Get(ti.srv.URL + "/elsewhere/.well-known/openid-configuration")
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("client credentials for edgeway-ci", func(t *testing.T) {
		cc := clientcredentials.Config{ClientID: creds.CI.ClientID, ClientSecret: creds.CI.ClientSecret, TokenURL: creds.TokenURL}
		tok, err := cc.Token(ti.ctx())
		require.NoError(t, err)
		c := ti.verifyAccess(t, tok.AccessToken)
		require.Equal(t, CIClientID, c.AZP)
		require.Equal(t, "service-account-edgeway-ci", c.PreferredUsername)
		require.NotContains(t, c.RealmAccess.Roles, AdminRole)
		require.NotEmpty(t, c.Subject)
		require.Equal(t, int64(15*60), c.Expiry-c.IssuedAt)
		require.Empty(t, tok.RefreshToken)
	})

	t.Run("client credentials refused", func(t *testing.T) {
		for name, cc := range map[string]clientcredentials.Config{
			"wrong secret":   {ClientID: CIClientID, ClientSecret: creds.CI.ClientSecret + "x", TokenURL: creds.TokenURL},
			"unknown client": {ClientID: "nobody", ClientSecret: creds.CI.ClientSecret, TokenURL: creds.TokenURL},
			"public client":  {ClientID: PublicClientID, ClientSecret: "anything", TokenURL: creds.TokenURL},
			"empty secret":   {ClientID: CIClientID, TokenURL: creds.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := cc.Token(ti.ctx())
				require.Error(t, err)
			})
		}
	})

	var adminTok *oauth2.Token
	t.Run("auth code with PKCE as admin, then refresh", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := ti.codeLogin(t, cfg, creds.Admin.Username, creds.Admin.Password, verifier)
		tok, err := cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		c := ti.verifyAccess(t, tok.AccessToken)
		require.Equal(t, AdminUser, c.PreferredUsername)
		require.Equal(t, PublicClientID, c.AZP)
		require.Contains(t, c.RealmAccess.Roles, AdminRole)
		require.Equal(t, int64(15*60), c.Expiry-c.IssuedAt)

		rawID, ok := tok.Extra("id_token").(string)
		require.True(t, ok, "id_token returned")
		idc := ti.verify(t, rawID)
		require.Equal(t, c.Subject, idc.Subject)
		require.Equal(t, AdminUser, idc.PreferredUsername)

		require.NotEmpty(t, tok.RefreshToken)
		refreshed, err := cfg.TokenSource(ti.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.NoError(t, err)
		require.NotEqual(t, tok.AccessToken, refreshed.AccessToken)
		require.NotEqual(t, tok.RefreshToken, refreshed.RefreshToken, "refresh tokens rotate")
		rc := ti.verifyAccess(t, refreshed.AccessToken)
		require.Equal(t, c.Subject, rc.Subject)
		require.Contains(t, rc.RealmAccess.Roles, AdminRole)

		_, err = cfg.TokenSource(ti.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.Error(t, err, "a rotated refresh token is dead")
		adminTok = refreshed
	})

	t.Run("userinfo", func(t *testing.T) {
		prov, err := oidc.NewProvider(ti.ctx(), ti.issuer)
		require.NoError(t, err)
		ui, err := prov.UserInfo(ti.ctx(), oauth2.StaticTokenSource(adminTok))
		require.NoError(t, err)
		var c accessClaims
		require.NoError(t, ui.Claims(&c))
		require.Equal(t, AdminUser, c.PreferredUsername)
		require.Contains(t, c.RealmAccess.Roles, AdminRole)
	})

	t.Run("end session drops the refresh tokens", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := ti.codeLogin(t, cfg, creds.Admin.Username, creds.Admin.Password, verifier)
		tok, err := cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		rawID, _ := tok.Extra("id_token").(string)
		resp, err := ti.browser(t).Get(ti.issuer + "/end_session?" + url.Values{"id_token_hint": {rawID}, "client_id": {PublicClientID}}.Encode())
		require.NoError(t, err)
		body := readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Equal(t, "/dev-idp/logged-out", resp.Request.URL.Path)
		_, err = cfg.TokenSource(ti.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		require.Error(t, err)
	})

	t.Run("code is single use", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := ti.codeLogin(t, cfg, creds.Admin.Username, creds.Admin.Password, verifier)
		_, err := cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		_, err = cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.Error(t, err)
	})

	t.Run("PKCE verifier mismatch refused and burns the code", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := ti.codeLogin(t, cfg, creds.Admin.Username, creds.Admin.Password, verifier)
		_, err := cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		require.Error(t, err)
		_, err = cfg.Exchange(ti.ctx(), code)
		require.Error(t, err, "no verifier")
		_, err = cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.Error(t, err, "the right verifier after a failed attempt")
	})

	t.Run("public client must use PKCE S256", func(t *testing.T) {
		for name, opts := range map[string][]oauth2.AuthCodeOption{
			"no PKCE": nil,
			"plain":   {oauth2.SetAuthURLParam("code_challenge", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
		} {
			t.Run(name, func(t *testing.T) {
				resp, err := ti.browser(t).Get(cfg.AuthCodeURL("st", opts...))
				require.NoError(t, err)
				readBody(t, resp)
				q := resp.Request.URL.Query()
				require.Equal(t, "/callback", resp.Request.URL.Path, "error is returned to the client")
				require.Equal(t, "invalid_request", q.Get("error"))
				require.Empty(t, q.Get("code"))
			})
		}
	})

	t.Run("unregistered redirect URI refused", func(t *testing.T) {
		noFollow := &http.Client{Transport: ti.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, redirect := range []string{
			"https://evil.example/callback",
			ti.cb.URL + "/other",
			"http://192.0.2.1:8080/callback",
		} {
			c := *cfg
			c.RedirectURL = redirect
			v := oauth2.GenerateVerifier()
			resp, err := noFollow.Get(c.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
			require.NoError(t, err)
			readBody(t, resp)
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, redirect)
			require.Empty(t, resp.Header.Get("Location"), redirect)
		}
		// a loopback redirect URI on another port is fine (RFC 8252)
		c := *cfg
		c.RedirectURL = "http://127.0.0.1:1/callback"
		resp, err := noFollow.Get(c.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/dev-idp/login?authRequestID="), resp.Header.Get("Location"))
	})

	t.Run("wrong password refused", func(t *testing.T) {
		b := ti.browser(t)
		id := startLogin(t, b, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		for _, form := range []url.Values{
			{"id": {id}, "username": {AdminUser}, "password": {creds.Admin.Password + "x"}},
			{"id": {id}, "username": {"nobody"}, "password": {creds.Admin.Password}},
			{"id": {id}, "username": {AdminUser}, "password": {""}},
		} {
			resp, err := b.PostForm(ti.issuer+"/login", form)
			require.NoError(t, err)
			body := readBody(t, resp)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			require.Equal(t, "/dev-idp/login", resp.Request.URL.Path)
			require.Contains(t, body, "Invalid username or password")
		}
		// a login form with a forged or unknown request id gets nowhere
		resp, err := b.PostForm(ti.issuer+"/login", url.Values{"id": {"forged"}, "username": {AdminUser}, "password": {creds.Admin.Password}})
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		// the login page is not reachable by GET with credentials
		resp, err = b.Get(ti.issuer + "/login?" + url.Values{"id": {id}, "username": {AdminUser}, "password": {creds.Admin.Password}}.Encode())
		require.NoError(t, err)
		readBody(t, resp)
		require.NotEqual(t, ti.cb.URL, "http://"+resp.Request.URL.Host)
	})

	t.Run("too many wrong passwords end the login", func(t *testing.T) {
		b := ti.browser(t)
		id := startLogin(t, b, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		for range maxLoginFailures {
			resp, err := b.PostForm(ti.issuer+"/login", url.Values{"id": {id}, "username": {AdminUser}, "password": {"guess"}})
			require.NoError(t, err)
			readBody(t, resp)
		}
		resp, err := b.PostForm(ti.issuer+"/login", url.Values{"id": {id}, "username": {AdminUser}, "password": {creds.Admin.Password}})
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("cross-site login POST refused", func(t *testing.T) {
		b := ti.browser(t)
		id := startLogin(t, b, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		req, err := http.NewRequest(http.MethodPost, ti.issuer+"/login", strings.NewReader(url.Values{"id": {id}, "username": {AdminUser}, "password": {creds.Admin.Password}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := b.Do(req)
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("login page escapes its input", func(t *testing.T) {
		b := ti.browser(t)
		id := startLogin(t, b, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		resp, err := b.PostForm(ti.issuer+"/login", url.Values{"id": {id}, "username": {`"><script>alert(1)</script>`}, "password": {"x"}})
		require.NoError(t, err)
		body := readBody(t, resp)
		require.NotContains(t, body, "<script>")
		require.Contains(t, body, "&lt;script&gt;")
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	})

	t.Run("device flow", func(t *testing.T) {
		da, err := cfg.DeviceAuth(ti.ctx())
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(da.VerificationURI, ti.issuer+"/device"), da.VerificationURI)

		b := ti.browser(t)
		resp, err := b.Get(da.VerificationURIComplete)
		require.NoError(t, err)
		body := readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, da.UserCode)
		require.Contains(t, body, PublicClientID)

		// a wrong password does not approve
		resp, err = b.PostForm(ti.issuer+"/device", url.Values{"user_code": {da.UserCode}, "username": {AdminUser}, "password": {"wrong"}, "action": {"approve"}})
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

		// the user types the code in lower case without the dash
		typed := strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))
		resp, err = b.PostForm(ti.issuer+"/device", url.Values{"user_code": {typed}, "username": {AdminUser}, "password": {creds.Admin.Password}, "action": {"approve"}})
		require.NoError(t, err)
		body = readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		require.Contains(t, body, "Device approved")

		da.Interval = 1
		tok, err := cfg.DeviceAccessToken(ti.ctx(), da)
		require.NoError(t, err)
		c := ti.verifyAccess(t, tok.AccessToken)
		require.Equal(t, AdminUser, c.PreferredUsername)
		require.Contains(t, c.RealmAccess.Roles, AdminRole)
		require.Equal(t, PublicClientID, c.AZP)
		require.NotEmpty(t, tok.RefreshToken)

		_, err = cfg.DeviceAccessToken(ti.ctx(), da)
		require.Error(t, err, "a device code yields one token")
	})

	t.Run("device flow denied", func(t *testing.T) {
		da, err := cfg.DeviceAuth(ti.ctx())
		require.NoError(t, err)
		resp, err := ti.browser(t).PostForm(ti.issuer+"/device", url.Values{"user_code": {da.UserCode}, "username": {AdminUser}, "password": {creds.Admin.Password}, "action": {"deny"}})
		require.NoError(t, err)
		readBody(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		da.Interval = 1
		_, err = cfg.DeviceAccessToken(ti.ctx(), da)
		var re *oauth2.RetrieveError
		require.ErrorAs(t, err, &re)
		require.Equal(t, "access_denied", re.ErrorCode)
	})

	var alicePassword string
	t.Run("AddUser and AddClient while running", func(t *testing.T) {
		var err error
		alicePassword, err = AddUser(ti.dir, "alice", false)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(alicePassword), 20)

		verifier := oauth2.GenerateVerifier()
		code := ti.codeLogin(t, cfg, "alice", alicePassword, verifier)
		tok, err := cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)
		c := ti.verifyAccess(t, tok.AccessToken)
		require.Equal(t, "alice", c.PreferredUsername)
		require.NotContains(t, c.RealmAccess.Roles, AdminRole)

		secret, err := AddClient(ti.dir, "release-bot", true)
		require.NoError(t, err)
		cc := clientcredentials.Config{ClientID: "release-bot", ClientSecret: secret, TokenURL: creds.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
		ctok, err := cc.Token(ti.ctx())
		require.NoError(t, err)
		cl := ti.verifyAccess(t, ctok.AccessToken)
		require.Equal(t, "release-bot", cl.AZP)
		require.Contains(t, cl.RealmAccess.Roles, AdminRole)
	})

	t.Run("restart keeps users, clients and the signing key", func(t *testing.T) {
		require.NotNil(t, adminTok)
		ti.restart(t)
		require.Equal(t, creds, ti.p.Credentials(), "bootstrap credentials unchanged")

		c := ti.verifyAccess(t, adminTok.AccessToken)
		require.Equal(t, AdminUser, c.PreferredUsername)

		verifier := oauth2.GenerateVerifier()
		code := ti.codeLogin(t, cfg, "alice", alicePassword, verifier)
		_, err := cfg.Exchange(ti.ctx(), code, oauth2.VerifierOption(verifier))
		require.NoError(t, err)

		cc := clientcredentials.Config{ClientID: CIClientID, ClientSecret: creds.CI.ClientSecret, TokenURL: creds.TokenURL}
		_, err = cc.Token(ti.ctx())
		require.NoError(t, err)
	})

	t.Run("files", func(t *testing.T) {
		dev := filepath.Join(ti.dir, "dev")
		fi, err := os.Stat(dev)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		for _, f := range []string{credentialsFile, stateFile, keyFile} {
			fi, err := os.Stat(filepath.Join(dev, f))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
		}
		b, err := os.ReadFile(CredentialsPath(ti.dir))
		require.NoError(t, err)
		var onDisk Credentials
		require.NoError(t, json.Unmarshal(b, &onDisk))
		require.Equal(t, creds, onDisk)
		require.Equal(t, AdminUser, onDisk.Admin.Username)
		require.GreaterOrEqual(t, len(onDisk.Admin.Password), 20)
		require.Equal(t, CIClientID, onDisk.CI.ClientID)
		require.GreaterOrEqual(t, len(onDisk.CI.ClientSecret), 20)

		st, err := os.ReadFile(filepath.Join(dev, stateFile))
		require.NoError(t, err)
		for _, secret := range []string{creds.Admin.Password, creds.CI.ClientSecret, alicePassword} {
			require.NotContains(t, string(st), secret, "stored hashed")
		}
		require.Contains(t, string(st), `"password_hash": "$2a$`)
	})

	t.Run("no secrets in the log", func(t *testing.T) {
		logs := ti.logs.String()
		require.Contains(t, logs, CredentialsPath(ti.dir))
		for _, secret := range []string{creds.Admin.Password, creds.CI.ClientSecret, alicePassword} {
			require.NotContains(t, logs, secret)
		}
	})
}

func TestTokenLifetimeConfigurable(t *testing.T) {
	ti := startIDPWith(t, t.TempDir(), 2*time.Minute)
	creds := ti.p.Credentials()
	cc := clientcredentials.Config{ClientID: creds.CI.ClientID, ClientSecret: creds.CI.ClientSecret, TokenURL: creds.TokenURL}
	tok, err := cc.Token(ti.ctx())
	require.NoError(t, err)
	c := ti.verifyAccess(t, tok.AccessToken)
	require.Equal(t, int64(120), c.Expiry-c.IssuedAt)
}

func TestBrokenStoreFailsClosed(t *testing.T) {
	ti := startIDP(t, t.TempDir())
	creds := ti.p.Credentials()
	cfg := ti.oauthConfig(t)
	b := ti.browser(t)
	id := startLogin(t, b, cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))

	path := filepath.Join(ti.dir, "dev", stateFile)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(`{"version":1,"users":`), 0o600))

	resp, err := b.PostForm(ti.issuer+"/login", url.Values{"id": {id}, "username": {AdminUser}, "password": {creds.Admin.Password}})
	require.NoError(t, err)
	readBody(t, resp)
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)

	cc := clientcredentials.Config{ClientID: creds.CI.ClientID, ClientSecret: creds.CI.ClientSecret, TokenURL: creds.TokenURL}
	_, err = cc.Token(ti.ctx())
	require.Error(t, err)

	// repaired: the same login request goes through (the 500 was not a failed attempt)
	require.NoError(t, os.WriteFile(path, good, 0o600))
	resp, err = b.PostForm(ti.issuer+"/login", url.Values{"id": {id}, "username": {AdminUser}, "password": {creds.Admin.Password}})
	require.NoError(t, err)
	readBody(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, resp.Request.URL.Query().Get("code"))
	_, err = cc.Token(ti.ctx())
	require.NoError(t, err)
}
