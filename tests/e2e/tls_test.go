package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestHTTPRedirect checks that the plain-HTTP listener only redirects (301)
// to the HTTPS API, and that the HTTPS API is reachable with nothing but the
// dev CA, like `curl --cacert <data-dir>/tls/ca.crt`.
func TestHTTPRedirect(t *testing.T) {
	srv := sharedServer(t)
	_, httpsPort, err := net.SplitHostPort(srv.Addrs.HTTPS)
	require.NoError(t, err)
	plain := harness.NewClient(nil)

	redirects := []struct {
		name, method, path string
	}{
		{"list", http.MethodGet, "/v2/projects"},
		{"query kept", http.MethodGet, "/v2/projects?limit=5"},
		{"item", http.MethodGet, "/v2/cluster-providers/nope"},
		{"write", http.MethodPost, "/v2/projects"},
	}
	for _, tc := range redirects {
		t.Run("redirect "+tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.HTTPURL+tc.path, strings.NewReader(`{"metadata":{"name":"via-http"}}`))
			require.NoError(t, err)
			resp, err := plain.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
			loc, err := url.Parse(resp.Header.Get("Location"))
			require.NoError(t, err, "Location %q", resp.Header.Get("Location"))
			require.Equal(t, "https", loc.Scheme, "Location %s", loc)
			require.Equal(t, httpsPort, loc.Port(), "Location %s points at the HTTPS port", loc)
			require.Equal(t, tc.path, loc.RequestURI(), "Location %s keeps path and query", loc)

			if tc.method == http.MethodGet {
				resp, err = srv.Client().Get(loc.String())
				require.NoError(t, err, "following the redirect with the dev CA")
				resp.Body.Close()
				require.NotEqual(t, http.StatusMovedPermanently, resp.StatusCode)
			}
		})
	}
	// Nothing was created through plain HTTP.
	srv.API().Get(t, "/projects/via-http").RequireProblem(t, http.StatusNotFound)

	t.Run("HTTPS with only the dev CA", func(t *testing.T) {
		tok := srv.AdminToken(t)
		for _, host := range []string{"127.0.0.1", "localhost"} {
			req, err := http.NewRequest(http.MethodGet, "https://"+net.JoinHostPort(host, httpsPort)+"/v2/projects", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err, "host %s", host)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "host %s", host)
		}
	})
	t.Run("curl --cacert", func(t *testing.T) {
		curl, err := exec.LookPath("curl")
		if err != nil {
			t.Skip("curl not installed")
		}
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}",
			"--cacert", srv.CAFile(), "-H", "Authorization: Bearer "+srv.AdminToken(t), srv.URL+"/v2/projects").CombinedOutput()
		require.NoError(t, err, "curl: %s", out)
		require.Equal(t, "200", string(out))
		// Without a token: 401 with a Bearer challenge.
		out, err = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}",
			"--cacert", srv.CAFile(), srv.URL+"/v2/projects").CombinedOutput()
		require.NoError(t, err, "curl: %s", out)
		require.Equal(t, "401", string(out))
	})
	t.Run("unknown CA refused", func(t *testing.T) {
		_, err := harness.NewClient(&tls.Config{}).Get(srv.URL + "/v2/projects")
		require.Error(t, err, "a client without the dev CA must not trust the server")
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		cfg, err := srv.TLSConfig()
		require.NoError(t, err)
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		_, err = harness.NewClient(cfg).Get(srv.URL + "/v2/projects")
		require.Error(t, err, "TLS 1.1 must be refused")
	})
}
