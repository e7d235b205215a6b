package e2e

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/api-spec/openapi"
	"edgeway.dev/tests/harness"
)

// Route templates shared by the BOLA table.
const (
	bolaCA  = "/projects/{project}/composite-apps/{compositeApp}/{compositeAppVersion}"
	bolaCP  = bolaCA + "/composite-profiles/{compositeProfile}"
	bolaDIG = bolaCA + "/deployment-intent-groups/{deploymentIntentGroup}"
	bolaGPI = bolaDIG + "/generic-placement-intents/{genericPlacementIntent}"
	bolaLC  = "/projects/{project}/logical-clouds/{logicalCloud}"
	bolaPrv = "/cluster-providers/{clusterProvider}"
	bolaCL  = bolaPrv + "/clusters/{cluster}"
)

// Bodies that are not in families().
const (
	bodyRoleBinding = "role-bindings" // A binds itself as owner
	bodyRollback    = "rollback"      // {"revision": 1}
)

// bolaRoute is what tenant A gets when it calls a route template filled
// with tenant B's names (platform routes: the platform admin's names).
type bolaRoute struct {
	path    string
	methods string // space-separated
	// body names the family whose valid body POST and PUT send (see
	// bolaRequest); "" sends none.
	body string
	want int
}

// bolaRoutes is the expected outcome of every path × method of the
// OpenAPI document; TestBOLARouteCoverage keeps both in step. Inside a
// project a foreign tenant gets 404 (the project does not exist for it);
// platform routes are 403 for everyone but platform admins.
var bolaRoutes = []bolaRoute{
	// GET /projects lists only A's own project.
	{"/projects", "GET", "", http.StatusOK},
	// Project names are global: creating one named like B's is a conflict.
	{"/projects", "POST", "projects", http.StatusConflict},
	{"/projects/{project}", "GET PUT DELETE", "projects", http.StatusNotFound},
	{"/projects/{project}/composite-apps", "GET POST", "composite-apps", http.StatusNotFound},
	{bolaCA, "GET PUT DELETE", "composite-apps", http.StatusNotFound},
	{bolaCA + "/apps", "GET POST", "apps", http.StatusNotFound},
	{bolaCA + "/apps/{app}", "GET PUT DELETE", "apps", http.StatusNotFound},
	{bolaCA + "/apps/{app}/dependency", "GET POST", "app dependencies", http.StatusNotFound},
	{bolaCA + "/apps/{app}/dependency/{dependency}", "GET PUT DELETE", "app dependencies", http.StatusNotFound},
	{bolaCA + "/composite-profiles", "GET POST", "composite-profiles", http.StatusNotFound},
	{bolaCP, "GET PUT DELETE", "composite-profiles", http.StatusNotFound},
	{bolaCP + "/profiles", "GET POST", "app profiles", http.StatusNotFound},
	{bolaCP + "/profiles/{appProfile}", "GET PUT DELETE", "app profiles", http.StatusNotFound},
	{bolaCA + "/deployment-intent-groups", "GET POST", "deployment-intent-groups", http.StatusNotFound},
	{bolaDIG, "GET PUT DELETE", "deployment-intent-groups", http.StatusNotFound},
	{bolaDIG + "/intents", "GET POST", "deployment intents", http.StatusNotFound},
	{bolaDIG + "/intents/{intent}", "GET PUT DELETE", "deployment intents", http.StatusNotFound},
	{bolaDIG + "/generic-placement-intents", "GET POST", "generic-placement-intents", http.StatusNotFound},
	{bolaGPI, "GET PUT DELETE", "generic-placement-intents", http.StatusNotFound},
	{bolaGPI + "/app-intents", "GET POST", "app-intents", http.StatusNotFound},
	{bolaGPI + "/app-intents/{appIntent}", "GET PUT DELETE", "app-intents", http.StatusNotFound},
	{bolaDIG + "/approve", "POST", "", http.StatusNotFound},
	{bolaDIG + "/instantiate", "POST", "", http.StatusNotFound},
	{bolaDIG + "/terminate", "POST", "", http.StatusNotFound},
	{bolaDIG + "/update", "POST", "", http.StatusNotFound},
	{bolaDIG + "/rollback", "POST", bodyRollback, http.StatusNotFound},
	{bolaDIG + "/stop", "POST", "", http.StatusNotFound},
	{bolaDIG + "/status", "GET", "", http.StatusNotFound},
	{"/projects/{project}/logical-clouds", "GET POST", "logical-clouds", http.StatusNotFound},
	{bolaLC, "GET PUT DELETE", "logical-clouds", http.StatusNotFound},
	{bolaLC + "/cluster-references", "GET POST", "cluster-references", http.StatusNotFound},
	{bolaLC + "/cluster-references/{clusterReference}", "GET PUT DELETE", "cluster-references", http.StatusNotFound},
	{bolaLC + "/user-permissions", "GET POST", "user-permissions", http.StatusNotFound},
	{bolaLC + "/user-permissions/{userPermission}", "GET PUT DELETE", "user-permissions", http.StatusNotFound},
	{bolaLC + "/cluster-quotas", "GET POST", "cluster-quotas", http.StatusNotFound},
	{bolaLC + "/cluster-quotas/{clusterQuota}", "GET PUT DELETE", "cluster-quotas", http.StatusNotFound},
	{bolaLC + "/kv-pairs", "GET POST", "logical-cloud kv-pairs", http.StatusNotFound},
	{bolaLC + "/kv-pairs/{kvPair}", "GET PUT DELETE", "logical-cloud kv-pairs", http.StatusNotFound},
	{"/projects/{project}/role-bindings", "GET POST", bodyRoleBinding, http.StatusNotFound},
	{"/projects/{project}/role-bindings/{roleBinding}", "GET PUT DELETE", bodyRoleBinding, http.StatusNotFound},
	{"/projects/{project}/secrets", "GET POST", "project secrets", http.StatusNotFound},
	{"/projects/{project}/secrets/{secret}", "GET PUT DELETE", "project secrets", http.StatusNotFound},
	// Platform routes.
	{"/audit", "GET", "", http.StatusForbidden},
	{"/controllers", "GET POST", "controllers", http.StatusForbidden},
	{"/controllers/{controller}", "GET PUT DELETE", "controllers", http.StatusForbidden},
	{"/cluster-providers", "GET POST", "cluster-providers", http.StatusForbidden},
	{bolaPrv, "GET PUT DELETE", "cluster-providers", http.StatusForbidden},
	{bolaPrv + "/clusters", "GET POST", "clusters", http.StatusForbidden},
	{bolaCL, "GET PUT DELETE", "clusters", http.StatusForbidden},
	{bolaCL + "/labels", "GET POST", "cluster labels", http.StatusForbidden},
	{bolaCL + "/labels/{clusterLabel}", "GET DELETE", "cluster labels", http.StatusForbidden},
	{bolaCL + "/kv-pairs", "GET POST", "cluster kv-pairs", http.StatusForbidden},
	{bolaCL + "/kv-pairs/{clusterKv}", "GET PUT DELETE", "cluster kv-pairs", http.StatusForbidden},
}

// bolaOp is one path × method.
type bolaOp struct {
	method, path string
	route        bolaRoute
}

func (o bolaOp) String() string { return o.method + " " + o.path }

// bolaTable returns the table as operations, keyed "METHOD path".
func bolaTable() map[string]bolaOp {
	out := map[string]bolaOp{}
	for _, r := range bolaRoutes {
		for _, m := range strings.Fields(r.methods) {
			op := bolaOp{method: m, path: r.path, route: r}
			out[op.String()] = op
		}
	}
	return out
}

// documentOps returns every path × method of the OpenAPI document, sorted,
// and whether each has a request body.
func documentOps(t *testing.T) ([]string, map[string]bool) {
	t.Helper()
	doc, err := openapi.Load()
	require.NoError(t, err)
	var ops []string
	hasBody := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			k := strings.ToUpper(method) + " " + path
			ops = append(ops, k)
			hasBody[k] = op.RequestBody != nil
		}
	}
	sort.Strings(ops)
	return ops, hasBody
}

// bolaVariables are the path variables a tenant plus the platform name.
var bolaVariables = []string{
	"project", "compositeApp", "compositeAppVersion", "app", "dependency", "compositeProfile", "appProfile",
	"deploymentIntentGroup", "intent", "genericPlacementIntent", "appIntent", "logicalCloud",
	"clusterReference", "userPermission", "clusterQuota", "kvPair", "roleBinding", "secret",
	"controller", "clusterProvider", "cluster", "clusterLabel", "clusterKv",
}

// TestBOLARouteCoverage fails when the OpenAPI document and the BOLA table
// disagree: a route added to the document must get an expected outcome
// (and a body) in bolaRoutes before the cross-tenant matrix passes.
func TestBOLARouteCoverage(t *testing.T) {
	docOps, hasBody := documentOps(t)
	table := bolaTable()
	var tableOps []string
	for k := range table {
		tableOps = append(tableOps, k)
	}
	sort.Strings(tableOps)
	require.Equal(t, docOps, tableOps, "the BOLA table (bolaRoutes) must list exactly the document's path × method pairs")

	for _, k := range tableOps {
		op := table[k]
		t.Run(k, func(t *testing.T) {
			for _, v := range routeVars(op.path) {
				require.Contains(t, bolaVariables, v, "unknown path variable: add it to bolaVariables and the tenants' names")
			}
			switch {
			case op.path == "/projects" && op.method == http.MethodGet:
				require.Equal(t, http.StatusOK, op.route.want)
			case op.path == "/projects" && op.method == http.MethodPost:
				require.Equal(t, http.StatusConflict, op.route.want)
			case platformRoute(op.path):
				require.Equal(t, http.StatusForbidden, op.route.want, "platform routes are admin-only (403)")
			default:
				require.Equal(t, http.StatusNotFound, op.route.want, "a foreign project's routes are 404, not 403")
			}
			writes := op.method == http.MethodPost || op.method == http.MethodPut
			if hasBody[k] {
				require.True(t, writes && op.route.body != "", "the document gives %s a request body; the table must send one", k)
				if op.route.body != bodyRoleBinding && op.route.body != bodyRollback {
					familyNamed(t, op.route.body)
				}
			}
		})
	}
}

// bolaRequest returns a valid request body for op (none for reads,
// deletes and body-less verbs). POST creates a fresh name (B's project name
// for POST /projects); PUT replaces the object in the path, as w knows it.
func bolaRequest(t *testing.T, op bolaOp, vars map[string]string, w *world, attacker, fresh string) (string, []byte) {
	t.Helper()
	if op.method != http.MethodPost && op.method != http.MethodPut || op.route.body == "" {
		return "", nil
	}
	name := fresh
	switch {
	case op.path == "/projects":
		name = vars["project"]
	case op.method == http.MethodPut:
		vs := routeVars(op.path)
		item := vs[len(vs)-1]
		if item == "compositeAppVersion" {
			item = "compositeApp"
		}
		name = vars[item]
	}
	switch op.route.body {
	case bodyRollback:
		return harness.ContentJSON, mustJSON(obj{"revision": 1})
	case bodyRoleBinding:
		return harness.ContentJSON, mustJSON(accessBinding(name, "client", attacker, "owner"))
	}
	f := familyNamed(t, op.route.body)
	var spec obj
	if f.spec != nil {
		spec = f.spec(t, w)
	}
	body := f.body(name, "written by "+attacker, spec)
	if f.kind == multipartBody {
		return harness.MultipartBody(t, body, f.file(name))
	}
	return harness.ContentJSON, mustJSON(body)
}

// bolaSnapshot reads, as the platform admin, every GET route filled with
// vars (the audit log aside, which records the refusals) and returns the
// answers by path. Every route must answer 200: the objects exist.
func bolaSnapshot(t *testing.T, admin *harness.API, vars map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, op := range bolaTable() {
		if op.method != http.MethodGet || op.path == "/audit" {
			continue
		}
		p := fillRoute(t, op.path, vars)
		r := admin.Get(t, p)
		require.Equal(t, http.StatusOK, r.Status, "the object must exist for the matrix to mean anything:\n%s", r)
		out[p] = string(r.Body)
	}
	return out
}

// TestTenantIsolationBOLA calls every route of the API with tenant A's token
// on tenant B's objects (and on the platform's): every call is refused
// (404 inside B's project, exactly as for a project that does not exist;
// 403 on platform routes), nothing changes, and no answer A gets for its own
// objects mentions B's.
func TestTenantIsolationBOLA(t *testing.T) {
	skipShort(t)
	srv := harness.Start(t, harness.Options{})
	admin := srv.API()
	pl := newAccessPlatform(t, admin)
	a := newAccessTenant(t, srv, "tenant-a", pl)
	b := newAccessTenant(t, srv, "tenant-b", pl)

	// B owns everything it made and reads it.
	for _, op := range bolaTable() {
		if op.method == http.MethodGet && !platformRoute(op.path) {
			b.api.Get(t, fillRoute(t, op.path, b.vars)).Require(t, http.StatusOK)
		}
	}
	before := bolaSnapshot(t, admin, b.vars)

	// Names of nothing: A's answers on B's objects must equal its answers
	// on objects that never existed.
	nx := map[string]string{}
	for _, v := range bolaVariables {
		nx[v] = "nx-" + v + "-" + a.w.id
	}
	docOps, _ := documentOps(t)
	table := bolaTable()
	fresh := "bola-" + a.w.id
	for _, k := range docOps {
		op, ok := table[k]
		if !ok {
			t.Errorf("%s: not in the BOLA table (see TestBOLARouteCoverage)", k)
			continue
		}
		t.Run(k, func(t *testing.T) {
			w := b.w
			if platformRoute(op.path) {
				w = pl.w
			}
			path := fillRoute(t, op.path, b.vars)
			ct, body := bolaRequest(t, op, b.vars, w, a.client, fresh)
			r := a.api.Do(t, op.method, path, ct, body, nil)
			switch op.route.want {
			case http.StatusOK: // GET /projects
				r.Require(t, http.StatusOK)
				require.Equal(t, []string{a.w.project}, projectNames(t, r), "A's project list:\n%s", r)
				return
			case http.StatusConflict: // POST /projects with B's project name
				r.RequireProblem(t, http.StatusConflict)
				return
			}
			got := r.RequireProblem(t, op.route.want)

			nxPath := fillRoute(t, op.path, nx)
			nct, nbody := bolaRequest(t, op, nx, w, a.client, fresh)
			rn := a.api.Do(t, op.method, nxPath, nct, nbody, nil)
			want := rn.RequireProblem(t, op.route.want)
			require.Equal(t,
				strings.ReplaceAll(want.Detail, nx["project"], "{project}"),
				strings.ReplaceAll(got.Detail, b.vars["project"], "{project}"),
				"A must not tell B's objects from objects that do not exist:\n%s\n%s", r, rn)
		})
	}

	t.Run("B's objects unchanged", func(t *testing.T) {
		after := bolaSnapshot(t, admin, b.vars)
		for p, was := range before {
			requireSameJSON(t, was, after[p], "GET %s as admin before and after A's calls", p)
		}
	})
	t.Run("B still owns its project alone", func(t *testing.T) {
		r := admin.Get(t, "/projects/"+b.w.project+"/role-bindings").Require(t, http.StatusOK)
		require.NotContains(t, string(r.Body), a.client, "A is bound in B's project:\n%s", r)
		a.api.Get(t, "/projects/"+b.w.project).RequireProblem(t, http.StatusNotFound)
	})
	t.Run("A's answers never mention B", func(t *testing.T) {
		for _, k := range docOps {
			op := table[k]
			if op.method != http.MethodGet || platformRoute(op.path) {
				continue
			}
			r := a.api.Get(t, fillRoute(t, op.path, a.vars)).Require(t, http.StatusOK)
			if op.path == "/projects" {
				require.Equal(t, []string{a.w.project}, projectNames(t, r), "A's project list:\n%s", r)
			}
			for _, marker := range []string{b.w.id, b.client} {
				require.NotContains(t, string(r.Body), marker, "A's answer names B's object:\n%s", r)
			}
		}
	})
}

// requireSameJSON fails t unless two JSON documents are equal (member
// order aside).
func requireSameJSON(t *testing.T, want, got string, msgAndArgs ...any) {
	t.Helper()
	var w, g any
	require.NoError(t, json.Unmarshal([]byte(want), &w), msgAndArgs...)
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		require.Failf(t, "not JSON", "%v: %s", err, got)
	}
	require.Equal(t, w, g, msgAndArgs...)
}
