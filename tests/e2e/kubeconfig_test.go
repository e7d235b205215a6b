package e2e

import (
	"encoding/base64"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestKubeconfigNeverReturned checks that no response about a cluster — its
// creation, update, item and list, whatever the Accept header — carries the
// kubeconfig's server URL or token, in clear or base64, and that the token
// is not logged either.
func TestKubeconfigNeverReturned(t *testing.T) {
	srv := sharedServer(t)
	runKubeconfigNeverReturned(t, srv.API(), srv.LogPath)
}

// runKubeconfigNeverReturned runs the scenario; logs are the server log
// files to search for the token afterwards.
func runKubeconfigNeverReturned(t *testing.T, api *harness.API, logs ...string) {
	w := newWorld(api)
	provider := w.providerPath(t)
	name := "secret-" + w.id
	server := "https://127.0.0.1:6443"
	token := "canary-token-" + w.id + "-Zq9"
	kubeconfig := harness.Kubeconfig(name, server, token)
	secrets := []string{server, token, string(kubeconfig)}

	check := func(t *testing.T, r *harness.Response) {
		t.Helper()
		body := string(r.Body)
		for _, s := range secrets {
			require.NotContains(t, body, s, "%s %s leaks the kubeconfig", r.Method, r.Path)
		}
		for _, h := range r.Header {
			for _, v := range h {
				require.NotContains(t, v, token, "%s %s leaks the token in a header", r.Method, r.Path)
			}
		}
		// Base64 anywhere in the body: decode every run and look inside.
		for _, run := range base64Run.FindAllString(body, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				dec, err := enc.DecodeString(strings.TrimRight(run, "="))
				if err != nil {
					dec, err = enc.DecodeString(run)
				}
				if err == nil {
					require.NotContains(t, string(dec), token, "%s %s leaks the token in base64", r.Method, r.Path)
				}
			}
		}
	}

	meta := envelope(name, "holds a canary kubeconfig", nil)
	r := api.Multipart(t, http.MethodPost, provider+"/clusters", meta, kubeconfig).Require(t, http.StatusCreated)
	check(t, r)
	r = api.Multipart(t, http.MethodPut, provider+"/clusters/"+name, meta, kubeconfig).Require(t, http.StatusOK)
	check(t, r)

	for _, accept := range []string{harness.ContentJSON, harness.ContentMultipart, harness.ContentOctet, "*/*", ""} {
		for _, c := range []struct{ what, path string }{{"item", provider + "/clusters/" + name}, {"list", provider + "/clusters"}} {
			path := c.path
			t.Run(c.what+" Accept="+accept, func(t *testing.T) {
				r := api.GetAccept(t, path, accept)
				check(t, r)
				if accept == harness.ContentJSON || accept == "*/*" || accept == "" {
					r.Require(t, http.StatusOK)
				}
			})
		}
	}
	t.Run("not logged", func(t *testing.T) {
		for _, l := range logs {
			b, err := os.ReadFile(l)
			require.NoError(t, err)
			require.NotContains(t, string(b), token, "log %s holds the kubeconfig token", l)
		}
	})
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)
