package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// bindingRevocation bounds how long a removed role binding may still work
// (the orchestrator caches bindings for at most 2 s).
const bindingRevocation = 5 * time.Second

// roleCall is one request of a role scenario.
type roleCall struct {
	method, path string
	// body is sent as JSON unless file is set (then multipart); nil: none.
	body any
	file []byte
}

func (c roleCall) String() string { return c.method + " " + c.path }

func (c roleCall) do(t *testing.T, api *harness.API) *harness.Response {
	t.Helper()
	switch {
	case c.file != nil:
		return api.Multipart(t, c.method, c.path, c.body, c.file)
	case c.body != nil:
		return api.JSON(t, c.method, c.path, c.body)
	}
	return api.Do(t, c.method, c.path, "", nil, nil)
}

// readAll GETs every path with api, requires 200 and returns the bodies.
func readAll(t *testing.T, api *harness.API, paths []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		out[p] = string(api.Get(t, p).Require(t, http.StatusOK).Body)
	}
	return out
}

// requireNoProject waits until api gets 404 for project and an empty
// project list, and returns how long that took.
func requireNoProject(t *testing.T, api *harness.API, project string) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool {
		r, err := api.TryDo(http.MethodGet, "/projects/"+project, "", nil, nil)
		return err == nil && r.Status == http.StatusNotFound
	}, bindingRevocation, 50*time.Millisecond, "the subject still reaches project %s %s after its binding was removed", project, bindingRevocation)
	took := time.Since(start)
	api.Get(t, "/projects/"+project).RequireProblem(t, http.StatusNotFound)
	r := api.Get(t, "/projects").Require(t, http.StatusOK)
	require.Empty(t, projectNames(t, r), "project list after the binding was removed:\n%s", r)
	return took
}

// TestTenantRoles checks the project roles with real tokens: a viewer reads
// and may change nothing; a deployer also creates and updates under
// composite-apps and runs the lifecycle verbs, but deletes nothing and
// cannot touch role bindings; neither reads role bindings; removing a
// binding sends the subject back to 404 within a few seconds.
func TestTenantRoles(t *testing.T) {
	skipShort(t)
	srv := harness.Start(t, harness.Options{})
	_, owner := newAccessClient(t, srv, "owner")
	w := newWorld(owner)
	project := w.projectPath(t)
	ca := w.compositeAppPath(t)
	app := w.appPath(t, 0)
	dig := w.digPath(t)
	lc := w.logicalCloudPath(t)
	viewerID, viewer := newAccessClient(t, srv, "viewer")
	deployerID, deployer := newAccessClient(t, srv, "deployer")

	reads := []string{
		project, project + "/composite-apps", ca, ca + "/apps", app,
		ca + "/composite-profiles", ca + "/deployment-intent-groups", dig, dig + "/status",
		project + "/logical-clouds", lc,
	}
	// Changes nobody but an owner may make (deployer: everything here is a
	// delete, outside composite-apps, or a role binding).
	ownerOnly := []roleCall{
		{method: http.MethodPut, path: project, body: envelope(w.project, "taken over", nil)},
		{method: http.MethodDelete, path: project},
		{method: http.MethodDelete, path: ca},
		{method: http.MethodDelete, path: app},
		{method: http.MethodDelete, path: dig},
		{method: http.MethodPost, path: project + "/logical-clouds", body: envelope("lc-x", "x", logicalCloudSpec())},
		{method: http.MethodPut, path: lc, body: envelope(w.logicalCloud, "taken over", logicalCloudSpec())},
		{method: http.MethodDelete, path: lc},
		{method: http.MethodGet, path: project + "/role-bindings"},
		{method: http.MethodGet, path: project + "/role-bindings/creator"},
		{method: http.MethodPost, path: project + "/role-bindings", body: accessBinding("grab", "client", "x", "owner")},
		{method: http.MethodPut, path: project + "/role-bindings/creator", body: accessBinding("creator", "client", "x", "owner")},
		{method: http.MethodDelete, path: project + "/role-bindings/creator"},
	}
	// Changes under composite-apps a deployer may make and a viewer may not.
	deployerWrites := []roleCall{
		{method: http.MethodPost, path: project + "/composite-apps", body: envelope("ca2-"+w.id, "by the deployer", obj{"compositeAppVersion": "v1"})},
		{method: http.MethodPut, path: ca, body: envelope(w.compositeApp, "updated by the deployer", obj{"compositeAppVersion": w.version})},
		{method: http.MethodPost, path: ca + "/apps", body: envelope("app3-"+w.id, "by the deployer", nil), file: harness.HelmChart("app3", "0.1.0")},
		{method: http.MethodPut, path: dig, body: envelope(w.dig, "updated by the deployer", w.digSpec(t))},
		{method: http.MethodPost, path: dig + "/generic-placement-intents", body: envelope("gpi2-"+w.id, "by the deployer", nil)},
	}
	verbs := []roleCall{
		{method: http.MethodPost, path: dig + "/approve"},
		{method: http.MethodPost, path: dig + "/instantiate"},
	}

	for _, api := range []*harness.API{viewer, deployer} {
		api.Get(t, project).RequireProblem(t, http.StatusNotFound)
	}
	owner.PostJSON(t, project+"/role-bindings", accessBinding("viewer", "client", viewerID, "viewer")).Require(t, http.StatusCreated)
	owner.PostJSON(t, project+"/role-bindings", accessBinding("deployer", "client", deployerID, "deployer")).Require(t, http.StatusCreated)
	before := readAll(t, owner, reads)

	t.Run("viewer", func(t *testing.T) {
		r := viewer.Get(t, "/projects").Require(t, http.StatusOK)
		require.Equal(t, []string{w.project}, projectNames(t, r))
		readAll(t, viewer, reads)
		for _, c := range slices.Concat(ownerOnly, deployerWrites, verbs) {
			t.Run(c.String(), func(t *testing.T) { c.do(t, viewer).RequireProblem(t, http.StatusForbidden) })
		}
		after := readAll(t, owner, reads)
		for _, p := range reads {
			requireSameJSON(t, before[p], after[p], "GET %s after the viewer's refused changes", p)
		}
	})

	t.Run("deployer", func(t *testing.T) {
		r := deployer.Get(t, "/projects").Require(t, http.StatusOK)
		require.Equal(t, []string{w.project}, projectNames(t, r))
		readAll(t, deployer, reads)
		for _, c := range deployerWrites {
			t.Run(c.String(), func(t *testing.T) {
				r := c.do(t, deployer)
				require.Contains(t, []int{http.StatusCreated, http.StatusOK}, r.Status, "deployer write refused:\n%s", r)
			})
		}
		for _, c := range verbs {
			t.Run(c.String(), func(t *testing.T) {
				r := c.do(t, deployer)
				requireAuthorized(t, r)
				t.Logf("as deployer: %s", r)
			})
		}
		for _, c := range ownerOnly {
			t.Run(c.String()+" 403", func(t *testing.T) { c.do(t, deployer).RequireProblem(t, http.StatusForbidden) })
		}
		t.Run("DELETE of its own object 403", func(t *testing.T) {
			own := project + "/composite-apps/ca2-" + w.id + "/v1"
			deployer.Delete(t, own).RequireProblem(t, http.StatusForbidden)
			owner.Get(t, own).Require(t, http.StatusOK)
		})
		readAll(t, owner, reads) // nothing was deleted
		r = owner.Get(t, project+"/role-bindings").Require(t, http.StatusOK)
		require.NotContains(t, string(r.Body), `"grab"`)
	})

	t.Run("binding removed → 404", func(t *testing.T) {
		owner.Delete(t, project+"/role-bindings/viewer").Require(t, http.StatusNoContent)
		owner.Delete(t, project+"/role-bindings/deployer").Require(t, http.StatusNoContent)
		t.Logf("viewer back to 404 after %s", requireNoProject(t, viewer, w.project))
		t.Logf("deployer back to 404 after %s", requireNoProject(t, deployer, w.project))
		deployer.PostJSON(t, project+"/composite-apps", envelope("ca3-"+w.id, "x", obj{"compositeAppVersion": "v1"})).RequireProblem(t, http.StatusNotFound)
	})

	// A client-credentials token is also the user "service-account-<client>"
	// (preferred_username): a binding of that user works like one of the client.
	t.Run("user subject of a client's service account", func(t *testing.T) {
		owner.PostJSON(t, project+"/role-bindings",
			accessBinding("deployer-user", "user", "service-account-"+deployerID, "deployer")).Require(t, http.StatusCreated)
		deployer.Get(t, dig).Require(t, http.StatusOK)
		deployer.Delete(t, dig).RequireProblem(t, http.StatusForbidden)
		deployer.Get(t, project+"/role-bindings").RequireProblem(t, http.StatusForbidden)
		owner.Delete(t, project+"/role-bindings/deployer-user").Require(t, http.StatusNoContent)
		requireNoProject(t, deployer, w.project)
	})
}

// requireAuthorized fails t if the answer says the caller was not
// authenticated, not allowed, or could not see the object, or if the
// server failed.
func requireAuthorized(t *testing.T, r *harness.Response) {
	t.Helper()
	require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}, r.Status,
		"the call did not get past authorization:\n%s", r)
	require.Less(t, r.Status, 500, "server error:\n%s", r)
}

// ciCredentials is the part of <data-dir>/dev/credentials.json a CI job reads.
type ciCredentials struct {
	TokenURL string `json:"token_url"`
	CI       struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	} `json:"ci"`
}

// ciToken gets an access token by the client-credentials grant, the way a
// CI job does with curl: a form post with HTTP basic client authentication.
func ciToken(t *testing.T, client *http.Client, c ciCredentials) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequest(http.MethodPost, c.TokenURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.CI.ClientID), url.QueryEscape(c.CI.ClientSecret))
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "token endpoint: %s", body)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	require.NoError(t, json.Unmarshal(body, &tr), "token answer: %s", body)
	require.NotEmpty(t, tr.AccessToken, "token answer: %s", body)
	require.True(t, strings.EqualFold(tr.TokenType, "Bearer"), "token type: %s", body)
	return tr.AccessToken
}

// TestCIClient follows a CI job: it reads the edgeway-ci client's
// credentials from the data directory, gets a token by client credentials,
// has no role anywhere until a project owner binds it as deployer, then
// reads the project and runs its deployment intent group's lifecycle, but
// cannot delete the project and does not see another one.
func TestCIClient(t *testing.T) {
	skipShort(t)
	srv := harness.Start(t, harness.Options{})
	raw, err := os.ReadFile(filepath.Join(srv.DataDir, "dev", "credentials.json"))
	require.NoError(t, err)
	var creds ciCredentials
	require.NoError(t, json.Unmarshal(raw, &creds))
	require.Equal(t, "edgeway-ci", creds.CI.ClientID)
	require.NotEmpty(t, creds.CI.ClientSecret)
	require.True(t, strings.HasPrefix(creds.TokenURL, srv.URL+"/"), "token URL %q is not on the server %s", creds.TokenURL, srv.URL)
	ci := srv.API().WithToken(ciToken(t, srv.Client(), creds))

	r := ci.Get(t, "/projects").Require(t, http.StatusOK)
	require.Equal(t, "[]", string(bytes.TrimSpace(r.Body)), "the CI client has no role anywhere yet:\n%s", r)

	pl := newAccessCluster(t, srv.API())
	// The app intents also ask for a cluster labelled "edge".
	srv.API().PostJSON(t, pl.w.clusterPath(t)+"/labels", obj{"clusterLabel": "edge"}).Require(t, http.StatusCreated)
	p := newAccessTenant(t, srv, "p-owner", pl) // a DIG placing an app on the cluster
	_, qOwner := newAccessClient(t, srv, "q-owner")
	q := newWorld(qOwner)
	qProject := q.projectPath(t)
	project := p.w.projectPath(t)
	dig := p.w.digPath(t)
	// Place the second app too, so that the group can be approved.
	p.api.PostJSON(t, p.w.gpiPath(t)+"/app-intents", envelope("place-db", "x", obj{
		"app":    p.w.apps[1],
		"intent": obj{"allOf": []any{obj{"clusterProvider": p.w.provider, "cluster": p.w.cluster}}},
	})).Require(t, http.StatusCreated)

	ci.Get(t, project).RequireProblem(t, http.StatusNotFound)
	p.api.PostJSON(t, project+"/role-bindings", accessBinding("ci-deployer", "client", creds.CI.ClientID, "deployer")).Require(t, http.StatusCreated)

	r = ci.Get(t, "/projects").Require(t, http.StatusOK)
	require.Equal(t, []string{p.w.project}, projectNames(t, r))
	ci.Get(t, project).Require(t, http.StatusOK)
	ci.Get(t, dig).Require(t, http.StatusOK)
	for _, verb := range []string{"approve", "instantiate"} {
		r := ci.Do(t, http.MethodPost, dig+"/"+verb, "", nil, nil)
		requireAuthorized(t, r)
		t.Logf("as edgeway-ci: %s", r)
	}
	ci.Delete(t, project).RequireProblem(t, http.StatusForbidden)
	p.api.Get(t, project).Require(t, http.StatusOK)

	ci.Get(t, qProject).RequireProblem(t, http.StatusNotFound)
	ci.Delete(t, qProject).RequireProblem(t, http.StatusNotFound)
	ci.PostJSON(t, qProject+"/composite-apps", envelope("ci-ca", "x", obj{"compositeAppVersion": "v1"})).RequireProblem(t, http.StatusNotFound)
	qOwner.Get(t, qProject).Require(t, http.StatusOK)
}
