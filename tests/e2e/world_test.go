package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// world creates, on demand and once each, the parent objects a test needs:
// a project with a composite app (two apps with charts, a composite profile,
// a logical cloud, a deployment intent group with a generic placement
// intent) and a cluster provider with one cluster. Every world has its own
// names, so worlds never collide on one server.
type world struct {
	api  *harness.API
	id   string
	made map[string]bool

	project, compositeApp, version, compositeProfile, logicalCloud string
	dig, gpi, provider, cluster                                    string
	apps                                                           [2]string
}

func newWorld(api *harness.API) *world {
	id := uniqueID()
	return &world{
		api: api, id: id, made: map[string]bool{},
		project: "p-" + id, compositeApp: "shop", version: "v1",
		compositeProfile: "shop-profile", logicalCloud: "edge-cloud",
		dig: "shop-edge", gpi: "shop-placement",
		provider: "prov-" + id, cluster: "edge-1",
		apps: [2]string{"web", "db"},
	}
}

// uniqueID returns 8 random hex digits.
func uniqueID() string { return fmt.Sprintf("%08x", rand.Uint32()) }

func (w *world) once(t *testing.T, key string, create func()) {
	t.Helper()
	if w.made[key] {
		return
	}
	create()
	w.made[key] = true
}

func (w *world) projectPath(t *testing.T) string {
	t.Helper()
	p := "/projects/" + w.project
	w.once(t, p, func() {
		w.api.PostJSON(t, "/projects", envelope(w.project, "world project", nil)).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) compositeAppPath(t *testing.T) string {
	t.Helper()
	parent := w.projectPath(t)
	p := parent + "/composite-apps/" + w.compositeApp + "/" + w.version
	w.once(t, p, func() {
		w.api.PostJSON(t, parent+"/composite-apps",
			envelope(w.compositeApp, "world composite app", obj{"compositeAppVersion": w.version})).Require(t, http.StatusCreated)
	})
	return p
}

// appPath returns the path of app i (0 or 1) of the composite app.
func (w *world) appPath(t *testing.T, i int) string {
	t.Helper()
	parent := w.compositeAppPath(t)
	name := w.apps[i]
	p := parent + "/apps/" + name
	w.once(t, p, func() {
		w.api.Multipart(t, http.MethodPost, parent+"/apps", envelope(name, "world app", nil),
			harness.HelmChart(name, "0.1.0")).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) compositeProfilePath(t *testing.T) string {
	t.Helper()
	parent := w.compositeAppPath(t)
	p := parent + "/composite-profiles/" + w.compositeProfile
	w.once(t, p, func() {
		w.api.PostJSON(t, parent+"/composite-profiles", envelope(w.compositeProfile, "world profile", nil)).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) logicalCloudPath(t *testing.T) string {
	t.Helper()
	parent := w.projectPath(t)
	p := parent + "/logical-clouds/" + w.logicalCloud
	w.once(t, p, func() {
		w.api.PostJSON(t, parent+"/logical-clouds", envelope(w.logicalCloud, "world cloud", logicalCloudSpec())).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) digSpec(t *testing.T) obj {
	t.Helper()
	w.appPath(t, 0)
	w.compositeProfilePath(t)
	w.logicalCloudPath(t)
	return obj{
		"compositeProfile": w.compositeProfile,
		"version":          "r1",
		"logicalCloud":     w.logicalCloud,
		"overrideValues":   []any{obj{"app": w.apps[0], "values": obj{".Values.replicaCount": "2"}}},
	}
}

func (w *world) digPath(t *testing.T) string {
	t.Helper()
	parent := w.compositeAppPath(t)
	p := parent + "/deployment-intent-groups/" + w.dig
	w.once(t, p, func() {
		w.api.PostJSON(t, parent+"/deployment-intent-groups", envelope(w.dig, "world dig", w.digSpec(t))).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) gpiPath(t *testing.T) string {
	t.Helper()
	parent := w.digPath(t)
	p := parent + "/generic-placement-intents/" + w.gpi
	w.once(t, p, func() {
		w.api.PostJSON(t, parent+"/generic-placement-intents", envelope(w.gpi, "world placement", nil)).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) providerPath(t *testing.T) string {
	t.Helper()
	p := "/cluster-providers/" + w.provider
	w.once(t, p, func() {
		w.api.PostJSON(t, "/cluster-providers", envelope(w.provider, "world provider", nil)).Require(t, http.StatusCreated)
	})
	return p
}

func (w *world) clusterPath(t *testing.T) string {
	t.Helper()
	parent := w.providerPath(t)
	p := parent + "/clusters/" + w.cluster
	w.once(t, p, func() {
		w.api.Multipart(t, http.MethodPost, parent+"/clusters", envelope(w.cluster, "world cluster", nil),
			harness.Kubeconfig(w.cluster, "", "token-"+w.id)).Require(t, http.StatusCreated)
	})
	return p
}

// obj is a JSON object.
type obj = map[string]any

// envelope returns {"metadata": {...}, "spec": spec} (spec left out when nil).
func envelope(name, description string, spec obj) obj {
	o := obj{"metadata": obj{"name": name, "description": description, "userData1": "u1", "userData2": "u2"}}
	if spec != nil {
		o["spec"] = spec
	}
	return o
}

func logicalCloudSpec() obj {
	return obj{"namespace": "shop", "level": "1", "user": obj{"userName": "shop-admin", "type": "certificate"}}
}

// clone deep-copies a JSON value.
func clone(v obj) obj {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out obj
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// requireSubset fails t unless every member of want (recursively) appears in
// got with an equal value; arrays must have the same length.
func requireSubset(t *testing.T, want any, got []byte, msg string) {
	t.Helper()
	var w, g any
	b, err := json.Marshal(want)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &w))
	require.NoError(t, json.Unmarshal(got, &g), "%s: body is not JSON: %s", msg, got)
	if diff := subsetDiff("$", w, g); diff != "" {
		require.Failf(t, msg, "%s\nwant (subset): %s\ngot: %s", diff, b, got)
	}
}

func subsetDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %T", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := subsetDiff(path+"."+k, wv, gv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want an array of %d, got %v", path, len(w), got)
		}
		for i := range w {
			if d := subsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) || fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return fmt.Sprintf("%s: want %v, got %v", path, want, got)
		}
		return ""
	}
}

// replaceLast replaces the last path segment of p.
func replaceLast(p, seg string) string {
	i := strings.LastIndex(p, "/")
	return p[:i+1] + seg
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
