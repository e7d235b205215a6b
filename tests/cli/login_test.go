package cli

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// addUser creates a user of the dev identity provider and returns its
// password.
func addUser(t *testing.T, srv *harness.Server, name string) string {
	t.Helper()
	out, err := exec.Command(harness.RequireBinary(t), "dev-idp", "add-user", "--data-dir", srv.DataDir, name).Output()
	require.NoError(t, err)
	var u struct {
		Password string `json:"password"`
	}
	require.NoError(t, json.Unmarshal(out, &u), "%s", out)
	require.NotEmpty(t, u.Password)
	return u.Password
}

// browser is what the test uses as a person's browser: it follows
// redirects, keeps cookies and trusts the dev CA.
func browser(t *testing.T, srv *harness.Server) *http.Client {
	t.Helper()
	cfg, err := srv.TLSConfig()
	require.NoError(t, err)
	c := harness.NewClient(cfg)
	c.CheckRedirect = nil
	c.Jar, err = cookiejar.New(nil)
	require.NoError(t, err)
	return c
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	hiddenID   = regexp.MustCompile(`<input type="hidden" name="id" value="([^"]+)">`)
)

// submit posts a form as a browser does (same-origin request).
func submit(t *testing.T, b *http.Client, srv *harness.Server, action string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+action, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func get(t *testing.T, b *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := b.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// tokenFile is the part of edgewayctl's token cache the test reads.
type tokenFile struct {
	Sessions map[string]map[string]any `json:"sessions"`
}

func readTokens(t *testing.T, path string) tokenFile {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f tokenFile
	require.NoError(t, json.Unmarshal(b, &f))
	return f
}

func requireMode0600(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "mode of %s", path)
}

// TestLogin logs a person in with the device flow as they would (the
// verification page and its form), checks the token cache and its
// refresh, logs out, and logs in again through a browser (authorization
// code with PKCE and the loopback redirect).
func TestLogin(t *testing.T) {
	srv := harness.Start(t, harness.Options{})
	password := addUser(t, srv, "alice")
	c := newCtl(t)
	configDir := filepath.Join(c.home, ".config", "edgeway")
	tokensPath := filepath.Join(configDir, "tokens.json")

	// Before login: no credentials, a clear message.
	r := c.run("--endpoint", srv.URL, "--ca-file", srv.CAFile(), "get", "/v2/projects")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "not logged in to "+srv.URL+": run `edgewayctl login`", "%s", r)

	// login --device: the CLI prints where to go and the code.
	b := c.start("--endpoint", srv.URL, "--ca-file", srv.CAFile(), "login", "--device")
	prompt := regexp.MustCompile(`To log in to \S+, visit\n  (\S+)\nand enter the code  (\S+)\n`)
	var m []string
	require.Eventually(t, func() bool { m = prompt.FindStringSubmatch(b.stderr.String()); return m != nil },
		30*time.Second, 50*time.Millisecond, "no device prompt:\n%s", b.stderr)
	verifyURL, code := m[1], m[2]
	require.Equal(t, srv.URL+"/dev-idp/device", verifyURL)

	// The person opens the page, types the code, username and password,
	// and approves.
	br := browser(t, srv)
	status, page := get(t, br, verifyURL)
	require.Equal(t, http.StatusOK, status, page)
	action := formAction.FindStringSubmatch(page)
	require.NotNil(t, action, page)
	require.Contains(t, page, `name="user_code"`)
	status, page = submit(t, br, srv, html.UnescapeString(action[1]), url.Values{
		"user_code": {strings.ToLower(strings.ReplaceAll(code, "-", ""))}, // as typed
		"username":  {"alice"}, "password": {password}, "action": {"approve"}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Device approved")

	require.Equal(t, 0, b.wait(t, time.Minute), "stdout:\n%s\nstderr:\n%s", b.stdout, b.stderr)
	require.Equal(t, "Logged in to "+srv.URL+" as alice.\n", b.stdout.String())
	requireMode0600(t, tokensPath)
	requireMode0600(t, filepath.Join(configDir, "config.yaml"))
	tokens := readTokens(t, tokensPath)
	sess := tokens.Sessions[srv.URL]
	require.NotNil(t, sess, "session for %s in %s", srv.URL, tokensPath)
	require.Equal(t, "alice", sess["username"])
	require.NotEmpty(t, sess["refresh_token"])

	// The endpoint and CA were saved: later commands need no flags. alice
	// creates a project and so owns it.
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"p.yaml": []byte("version: emco/v2\nresourceContext: {anchor: projects}\nmetadata: {name: alice-project}\n")})
	r = c.ok("apply", "-f", filepath.Join(dir, "p.yaml"))
	require.Contains(t, r.stdout, "created      projects/alice-project\n")
	r = c.ok("get", "/v2/projects")
	require.Regexp(t, `(?m)^alice-project\s*$`, r.stdout)

	// An expired access token is refreshed without prompting (no input),
	// and the rotated tokens are saved, still with mode 0600.
	sess["expiry"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	bs, err := json.Marshal(tokens)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tokensPath, bs, 0o600))
	r = c.ok("get", "/v2/projects", "-o", "json")
	require.Contains(t, r.stdout, `"alice-project"`)
	require.Empty(t, r.stderr)
	after := readTokens(t, tokensPath).Sessions[srv.URL]
	require.NotEqual(t, sess["access_token"], after["access_token"], "a new access token")
	require.NotEqual(t, sess["refresh_token"], after["refresh_token"], "the refresh token rotated")
	expiry, err := time.Parse(time.RFC3339, after["expiry"].(string))
	require.NoError(t, err)
	require.True(t, expiry.After(time.Now()), "new expiry %s", expiry)
	requireMode0600(t, tokensPath)

	// logout forgets the session (and revokes the refresh token).
	r = c.ok("logout")
	require.Equal(t, "Logged out of "+srv.URL+".\n", r.stdout)
	require.Empty(t, r.stderr, "the refresh token was revoked")
	_, err = os.Stat(tokensPath)
	require.ErrorIs(t, err, os.ErrNotExist)
	r = c.run("get", "/v2/projects")
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "not logged in")

	// login --browser: authorization code with PKCE. $BROWSER does nothing
	// here; the person opens the printed URL, signs in on the login page and
	// is sent back to the CLI's loopback callback.
	c.Env = append(c.Env, "BROWSER=true")
	b = c.start("login", "--browser")
	open := regexp.MustCompile(`If it does not open, visit:\n  (\S+)\n`)
	require.Eventually(t, func() bool { m = open.FindStringSubmatch(b.stderr.String()); return m != nil },
		30*time.Second, 50*time.Millisecond, "no authorization URL:\n%s", b.stderr)
	authURL, err := url.Parse(m[1])
	require.NoError(t, err)
	require.Equal(t, "S256", authURL.Query().Get("code_challenge_method"))
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/callback$`, authURL.Query().Get("redirect_uri"))
	status, page = get(t, br, authURL.String())
	require.Equal(t, http.StatusOK, status, page)
	action = formAction.FindStringSubmatch(page)
	id := hiddenID.FindStringSubmatch(page)
	require.NotNil(t, action, page)
	require.NotNil(t, id, page)
	status, page = submit(t, br, srv, html.UnescapeString(action[1]), url.Values{
		"id": {html.UnescapeString(id[1])}, "username": {"alice"}, "password": {password}})
	require.Equal(t, http.StatusOK, status, page)
	require.Contains(t, page, "Login complete")
	require.Equal(t, 0, b.wait(t, time.Minute), "stdout:\n%s\nstderr:\n%s", b.stdout, b.stderr)
	require.Equal(t, "Logged in to "+srv.URL+" as alice.\n", b.stdout.String())
	r = c.ok("get", "projects/alice-project")
	require.Regexp(t, `(?m)^alice-project\s*$`, r.stdout)
	requireMode0600(t, tokensPath)
}
