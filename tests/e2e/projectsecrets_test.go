package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProjectSecrets checks the project secrets' REST routes with real
// tokens through the gateway: values are write-only, any role reads key
// names, only owners write, other tenants get the 404 of a project that
// does not exist, a project that has secrets cannot be deleted, and
// mutations and refusals land in the "secrets" audit stream without values.
func TestProjectSecrets(t *testing.T) {
	srv := sharedServer(t)
	admin := srv.API()
	_, owner := newAccessClient(t, srv, "secrets-owner")
	viewerID, viewer := newAccessClient(t, srv, "secrets-viewer")
	deployerID, deployer := newAccessClient(t, srv, "secrets-deployer")
	_, stranger := newAccessClient(t, srv, "secrets-stranger")
	w := newWorld(owner)
	project := w.projectPath(t)
	coll, item := project+"/secrets", project+"/secrets/db"
	marker := "secret-MARKER-" + w.id
	body := func(name, value string) obj {
		return obj{"metadata": obj{"name": name}, "spec": obj{"data": obj{"password": value, "user": "shop"}}}
	}

	r := owner.PostJSON(t, coll, body("db", marker)).Require(t, http.StatusCreated)
	require.JSONEq(t, `{"metadata":{"name":"db"},"spec":{"keys":["password","user"]}}`, string(r.Body))
	owner.PostJSON(t, project+"/role-bindings", accessBinding("viewer", "client", viewerID, "viewer")).Require(t, http.StatusCreated)
	owner.PostJSON(t, project+"/role-bindings", accessBinding("deployer", "client", deployerID, "deployer")).Require(t, http.StatusCreated)

	t.Run("reads return key names, never values", func(t *testing.T) {
		for _, c := range []struct {
			who string
			get func(string) []byte
		}{
			{"owner", func(p string) []byte { return owner.Get(t, p).Require(t, http.StatusOK).Body }},
			{"viewer", func(p string) []byte { return viewer.Get(t, p).Require(t, http.StatusOK).Body }},
			{"deployer", func(p string) []byte { return deployer.Get(t, p).Require(t, http.StatusOK).Body }},
			{"admin", func(p string) []byte { return admin.Get(t, p).Require(t, http.StatusOK).Body }},
		} {
			for _, p := range []string{coll, item} {
				b := c.get(p)
				require.NotContains(t, string(b), marker, "%s GET %s", c.who, p)
				require.Contains(t, string(b), `"keys":["password","user"]`, "%s GET %s", c.who, p)
			}
		}
	})

	t.Run("only owners write", func(t *testing.T) {
		for _, c := range []struct {
			who  string
			code int
			do   func(method, path string, v any) int
		}{
			{"viewer", http.StatusForbidden, func(m, p string, v any) int { return viewer.JSON(t, m, p, v).Status }},
			{"deployer", http.StatusForbidden, func(m, p string, v any) int { return deployer.JSON(t, m, p, v).Status }},
			{"stranger", http.StatusNotFound, func(m, p string, v any) int { return stranger.JSON(t, m, p, v).Status }},
		} {
			require.Equal(t, c.code, c.do(http.MethodPost, coll, body("other", "x")), "%s POST", c.who)
			require.Equal(t, c.code, c.do(http.MethodPut, item, body("db", "taken")), "%s PUT", c.who)
			require.Equal(t, c.code, c.do(http.MethodDelete, item, nil), "%s DELETE", c.who)
		}
		p := stranger.Get(t, coll).RequireProblem(t, http.StatusNotFound)
		nx := stranger.Get(t, "/projects/nx-"+w.id+"/secrets").RequireProblem(t, http.StatusNotFound)
		require.Equal(t, "project "+w.project+" not found", p.Detail)
		require.Equal(t, "project nx-"+w.id+" not found", nx.Detail, "a foreign project answers as one that does not exist")
		owner.Get(t, project+"/secrets/other").RequireProblem(t, http.StatusNotFound)
	})

	t.Run("a project with secrets cannot be deleted", func(t *testing.T) {
		owner.Delete(t, project).RequireProblem(t, http.StatusConflict)
		owner.PutJSON(t, item, body("db", marker+"-2")).Require(t, http.StatusOK)
		owner.Delete(t, item).Require(t, http.StatusNoContent)
		owner.Delete(t, project).Require(t, http.StatusNoContent)
		owner.Get(t, coll).RequireProblem(t, http.StatusNotFound)
	})

	t.Run("audited, without values", func(t *testing.T) {
		r := admin.Get(t, "/audit?service=secrets&limit=1000").Require(t, http.StatusOK)
		require.NotContains(t, string(r.Body), marker)
		var recs []struct {
			Method, Path, Outcome, Subject string
		}
		require.NoError(t, json.Unmarshal(r.Body, &recs))
		seen := map[string]bool{}
		for _, rec := range recs {
			if rec.Path == "/v2"+coll || rec.Path == "/v2"+item {
				seen[rec.Method+" "+rec.Outcome] = true
			}
		}
		for _, want := range []string{"POST 201", "PUT 200", "DELETE 204", "POST denied:403", "DELETE denied:404"} {
			require.True(t, seen[want], "audit record %s in %v", want, seen)
		}
		log, err := os.ReadFile(srv.LogPath)
		require.NoError(t, err)
		require.NotContains(t, string(log), marker, "server log")
	})
}
