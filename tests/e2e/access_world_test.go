package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// Shared pieces of the access tests (access_*_test.go): tenants that own a
// project holding one object of every project-scoped resource family, the
// platform objects around them, and route templates filled with their names.

// accessPlatform holds the objects outside projects that only platform
// admins manage: a cluster provider with a cluster (with a label and a
// kv-pair set) and a controller.
type accessPlatform struct {
	w    *world
	vars map[string]string // path variable → object name
}

// newAccessCluster creates, as the platform admin, a cluster provider with
// one cluster.
func newAccessCluster(t *testing.T, admin *harness.API) *accessPlatform {
	t.Helper()
	w := newWorld(admin)
	w.clusterPath(t)
	return &accessPlatform{w: w, vars: map[string]string{
		"clusterProvider": w.provider,
		"cluster":         w.cluster,
	}}
}

// newAccessPlatform creates, as the platform admin, a cluster provider with
// a cluster (with a label and a kv-pair set) and a controller.
func newAccessPlatform(t *testing.T, admin *harness.API) *accessPlatform {
	t.Helper()
	p := newAccessCluster(t, admin)
	w := p.w
	p.vars["controller"] = "ctl-" + w.id
	p.vars["clusterLabel"] = "lbl-" + w.id
	p.vars["clusterKv"] = "ckv-" + w.id
	accessCreate(t, w, "controllers", p.vars["controller"])
	accessCreate(t, w, "cluster labels", p.vars["clusterLabel"])
	accessCreate(t, w, "cluster kv-pairs", p.vars["clusterKv"])
	return p
}

// accessTenant is a non-admin client of the dev identity provider that
// created (and so owns) one project with an object of every project-scoped
// resource family in it. Every name contains the world id, so a foreign
// object is recognised by that id in any answer.
type accessTenant struct {
	client string // client id
	api    *harness.API
	w      *world
	vars   map[string]string // path variable → object name (platform ones included)
}

// newAccessClient creates a non-admin client and returns its id and an API
// sending its token.
func newAccessClient(t *testing.T, srv *harness.Server, name string) (string, *harness.API) {
	t.Helper()
	id, secret := srv.AddClient(t, name, false)
	return id, srv.API().WithToken(srv.Token(t, id, secret))
}

// newAccessTenant creates client name and, with its token, its project and
// the full tree of objects in it. Objects that name a cluster use the
// platform's cluster.
func newAccessTenant(t *testing.T, srv *harness.Server, name string, pl *accessPlatform) *accessTenant {
	t.Helper()
	client, api := newAccessClient(t, srv, name)
	w := newWorld(api)
	id := w.id
	w.compositeApp, w.compositeProfile, w.logicalCloud = "ca-"+id, "cprof-"+id, "lc-"+id
	w.dig, w.gpi, w.apps = "dig-"+id, "gpi-"+id, [2]string{"web-" + id, "db-" + id}
	// The cluster is the platform's: mark it made so the world does not
	// try to create it with the tenant's token.
	w.provider, w.cluster = pl.w.provider, pl.w.cluster
	w.made["/cluster-providers/"+w.provider] = true
	w.made["/cluster-providers/"+w.provider+"/clusters/"+w.cluster] = true

	tn := &accessTenant{client: client, api: api, w: w, vars: map[string]string{
		"project":                w.project,
		"compositeApp":           w.compositeApp,
		"compositeAppVersion":    w.version,
		"app":                    w.apps[0],
		"compositeProfile":       w.compositeProfile,
		"deploymentIntentGroup":  w.dig,
		"genericPlacementIntent": w.gpi,
		"logicalCloud":           w.logicalCloud,
		"dependency":             "dep-" + id,
		"appProfile":             "aprof-" + id,
		"intent":                 "intent-" + id,
		"appIntent":              "aint-" + id,
		"clusterReference":       "cref-" + id,
		"userPermission":         "uperm-" + id,
		"clusterQuota":           "quota-" + id,
		"kvPair":                 "kv-" + id,
		"roleBinding":            "rb-" + id,
		"secret":                 "sec-" + id,
	}}
	for k, v := range pl.vars {
		tn.vars[k] = v
	}
	w.gpiPath(t) // project, composite app, apps, profile, logical cloud, DIG, GPI
	w.appPath(t, 1)
	for fam, v := range map[string]string{
		"app dependencies":       "dependency",
		"app profiles":           "appProfile",
		"deployment intents":     "intent",
		"app-intents":            "appIntent",
		"cluster-references":     "clusterReference",
		"user-permissions":       "userPermission",
		"cluster-quotas":         "clusterQuota",
		"logical-cloud kv-pairs": "kvPair",
		"project secrets":        "secret",
	} {
		accessCreate(t, w, fam, tn.vars[v])
	}
	api.PostJSON(t, w.projectPath(t)+"/role-bindings",
		accessBinding(tn.vars["roleBinding"], "group", "auditor-"+id, "viewer")).Require(t, http.StatusCreated)
	return tn
}

// accessBinding returns a role binding body.
func accessBinding(name, kind, subject, role string) obj {
	return obj{"metadata": obj{"name": name}, "spec": obj{"subject": obj{"kind": kind, "name": subject}, "role": role}}
}

// familyNamed returns the resource family of families() with that name.
func familyNamed(t *testing.T, name string) family {
	t.Helper()
	for _, f := range families() {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no resource family %q in families()", name)
	return family{}
}

// accessCreate creates object name of family fam in w (its parents first)
// with w's token.
func accessCreate(t *testing.T, w *world, fam, name string) {
	t.Helper()
	f := familyNamed(t, fam)
	collection := "/" + f.segment
	if f.parent != nil {
		collection = f.parent(t, w) + "/" + f.segment
	}
	var spec obj
	if f.spec != nil {
		spec = f.spec(t, w)
	}
	f.send(t, w.api, http.MethodPost, collection, f.body(name, "created by "+w.id, spec)).Require(t, http.StatusCreated)
}

var routeVar = regexp.MustCompile(`\{([^}]+)\}`)

// fillRoute replaces every {variable} of an OpenAPI path template with its
// value in vars (path-escaped); a variable without a value fails t.
func fillRoute(t *testing.T, tmpl string, vars map[string]string) string {
	t.Helper()
	return routeVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[1 : len(m)-1]
		v, ok := vars[name]
		require.True(t, ok, "route %s: no value for path variable %q", tmpl, name)
		return url.PathEscape(v)
	})
}

// routeVars returns the variables of a path template, in order.
func routeVars(tmpl string) []string {
	var out []string
	for _, m := range routeVar.FindAllStringSubmatch(tmpl, -1) {
		out = append(out, m[1])
	}
	return out
}

// projectNames returns the metadata names in a GET /projects answer, sorted.
func projectNames(t *testing.T, r *harness.Response) []string {
	t.Helper()
	names := familyNamed(t, "projects").names(t, r)
	sort.Strings(names)
	return names
}

// platformRoute reports whether a path template is outside projects.
func platformRoute(tmpl string) bool { return !strings.HasPrefix(tmpl, "/projects") }
