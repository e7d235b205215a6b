package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// bodyKind is how a family's bodies travel.
type bodyKind int

const (
	jsonBody      bodyKind = iota // application/json envelope
	multipartBody                 // multipart/form-data: metadata part + file part
	labelBody                     // {"clusterLabel": NAME}, no PUT
)

// family describes one REST resource family for the shared CRUD scenario.
type family struct {
	name string
	kind bodyKind
	// parent creates the parent objects and returns the parent item path;
	// nil for top-level families.
	parent func(t *testing.T, w *world) string
	// segment is the collection's last path segment.
	segment string
	// version: the item path is {collection}/{name}/{version} (composite apps).
	version string
	// spec returns a valid spec (nil: the body has no spec).
	spec func(t *testing.T, w *world) obj
	// file returns the file part of multipart families.
	file func(name string) []byte
	// badSpec turns a valid spec into one that violates the schema (nil:
	// no family-specific schema check).
	badSpec func(spec obj) obj
	// refs are specs naming objects that do not exist: POST → 404.
	refs []refCheck
}

type refCheck struct {
	name string
	spec func(t *testing.T, w *world) obj
}

// target is a deployment the scenarios run against.
type target struct {
	api     *harness.API
	maxBody int64 // the server's --max-body-bytes
}

func chartFile(name string) []byte { return harness.HelmChart(name, "0.1.0") }

func kubeconfigFile(name string) []byte { return harness.Kubeconfig(name, "", "token-"+name) }

// without returns a copy of spec without key.
func without(key string) func(obj) obj {
	return func(spec obj) obj {
		s := clone(spec)
		delete(s, key)
		return s
	}
}

// with returns a copy of spec with key set to v.
func with(key string, v any) func(obj) obj {
	return func(spec obj) obj {
		s := clone(spec)
		s[key] = v
		return s
	}
}

func emptySpecWithField(obj) obj { return obj{"bogus": "field"} }

// families lists every REST resource family of the v2 API.
func families() []family {
	ca := func(t *testing.T, w *world) string { return w.compositeAppPath(t) }
	lc := func(t *testing.T, w *world) string { return w.logicalCloudPath(t) }
	cluster := func(t *testing.T, w *world) string { return w.clusterPath(t) }
	kvSpec := func(*testing.T, *world) obj { return obj{"kv": []any{obj{"key1": "value1"}, obj{"key2": "value2"}}} }
	appIntentSpec := func(t *testing.T, w *world) obj {
		w.appPath(t, 0)
		w.clusterPath(t)
		return obj{"app": w.apps[0], "intent": obj{
			"allOf": []any{obj{"clusterProvider": w.provider, "cluster": w.cluster}},
			"anyOf": []any{obj{"clusterProvider": w.provider, "clusterLabel": "edge"}},
		}}
	}
	return []family{
		{
			name: "projects", segment: "projects",
			spec:    nil,
			badSpec: emptySpecWithField,
		},
		{
			name: "composite-apps", segment: "composite-apps", version: "v1",
			parent:  func(t *testing.T, w *world) string { return w.projectPath(t) },
			spec:    func(*testing.T, *world) obj { return obj{"compositeAppVersion": "v1"} },
			badSpec: without("compositeAppVersion"),
		},
		{
			name: "apps", segment: "apps", kind: multipartBody,
			parent: ca, file: chartFile,
			badSpec: emptySpecWithField,
		},
		{
			name: "app dependencies", segment: "dependency",
			parent: func(t *testing.T, w *world) string { return w.appPath(t, 0) },
			spec: func(t *testing.T, w *world) obj {
				w.appPath(t, 1)
				return obj{"app": w.apps[1], "opStatus": "Ready", "wait": 5}
			},
			badSpec: with("opStatus", "Sleeping"),
		},
		{
			name: "composite-profiles", segment: "composite-profiles",
			parent: ca, badSpec: emptySpecWithField,
		},
		{
			name: "app profiles", segment: "profiles", kind: multipartBody,
			parent: func(t *testing.T, w *world) string { return w.compositeProfilePath(t) },
			spec: func(t *testing.T, w *world) obj {
				w.appPath(t, 0)
				return obj{"app": w.apps[0]}
			},
			file:    chartFile,
			badSpec: without("app"),
		},
		{
			name: "deployment-intent-groups", segment: "deployment-intent-groups",
			parent:  ca,
			spec:    func(t *testing.T, w *world) obj { return w.digSpec(t) },
			badSpec: without("version"),
			refs: []refCheck{
				{"missing composite profile", func(t *testing.T, w *world) obj {
					return with("compositeProfile", "no-such-profile")(w.digSpec(t))
				}},
				{"missing logical cloud", func(t *testing.T, w *world) obj {
					return with("logicalCloud", "no-such-cloud")(w.digSpec(t))
				}},
			},
		},
		{
			name: "deployment intents", segment: "intents",
			parent: func(t *testing.T, w *world) string { return w.digPath(t) },
			spec: func(t *testing.T, w *world) obj {
				w.gpiPath(t)
				return obj{"intent": obj{"genericPlacementIntent": w.gpi}}
			},
			badSpec: with("intent", obj{}),
		},
		{
			name: "generic-placement-intents", segment: "generic-placement-intents",
			parent:  func(t *testing.T, w *world) string { return w.digPath(t) },
			badSpec: emptySpecWithField,
		},
		{
			name: "app-intents", segment: "app-intents",
			parent:  func(t *testing.T, w *world) string { return w.gpiPath(t) },
			spec:    appIntentSpec,
			badSpec: without("app"),
			refs: []refCheck{
				{"missing app", func(t *testing.T, w *world) obj {
					return with("app", "no-such-app")(appIntentSpec(t, w))
				}},
				{"missing cluster", func(t *testing.T, w *world) obj {
					return with("intent", obj{"allOf": []any{obj{"clusterProvider": w.provider, "cluster": "no-such-cluster"}}})(appIntentSpec(t, w))
				}},
				{"missing cluster provider", func(t *testing.T, w *world) obj {
					return with("intent", obj{"allOf": []any{obj{"clusterProvider": "no-such-provider", "cluster": w.cluster}}})(appIntentSpec(t, w))
				}},
			},
		},
		{
			name: "logical-clouds", segment: "logical-clouds",
			parent:  func(t *testing.T, w *world) string { return w.projectPath(t) },
			spec:    func(*testing.T, *world) obj { return logicalCloudSpec() },
			badSpec: with("level", "7"),
		},
		{
			name: "cluster-references", segment: "cluster-references",
			parent: lc,
			spec: func(t *testing.T, w *world) obj {
				w.clusterPath(t)
				return obj{"clusterProvider": w.provider, "cluster": w.cluster}
			},
			badSpec: without("cluster"),
			refs: []refCheck{
				{"missing cluster", func(t *testing.T, w *world) obj {
					return obj{"clusterProvider": w.provider, "cluster": "no-such-cluster"}
				}},
			},
		},
		{
			name: "user-permissions", segment: "user-permissions",
			parent: lc,
			spec: func(*testing.T, *world) obj {
				return obj{"namespace": "shop", "apiGroups": []any{"", "apps"}, "resources": []any{"pods", "deployments"}, "verbs": []any{"get", "list", "watch"}}
			},
			badSpec: without("verbs"),
		},
		{
			name: "cluster-quotas", segment: "cluster-quotas",
			parent:  lc,
			spec:    func(*testing.T, *world) obj { return obj{"limits.cpu": "4", "requests.memory": "8Gi", "pods": "50"} },
			badSpec: with("limits.cpu", "lots"),
		},
		{
			name: "logical-cloud kv-pairs", segment: "kv-pairs",
			parent: lc, spec: kvSpec, badSpec: without("kv"),
		},
		{
			// Values are write-only: reads return key names, so the shared
			// scenario sends secrets without data (the data is exercised in
			// tests/deploy).
			name: "project secrets", segment: "secrets",
			parent:  func(t *testing.T, w *world) string { return w.projectPath(t) },
			badSpec: emptySpecWithField,
		},
		{
			name: "controllers", segment: "controllers",
			spec: func(*testing.T, *world) obj {
				return obj{"host": "placer.edgeway.svc", "port": 9015, "type": "placement", "priority": 1}
			},
			badSpec: with("port", 70000),
		},
		{
			name: "cluster-providers", segment: "cluster-providers",
			badSpec: emptySpecWithField,
		},
		{
			name: "clusters", segment: "clusters", kind: multipartBody,
			parent:  func(t *testing.T, w *world) string { return w.providerPath(t) },
			file:    kubeconfigFile,
			badSpec: emptySpecWithField,
		},
		{
			name: "cluster labels", segment: "labels", kind: labelBody,
			parent: cluster,
		},
		{
			name: "cluster kv-pairs", segment: "kv-pairs",
			parent: cluster, spec: kvSpec, badSpec: without("kv"),
		},
	}
}

func (f family) itemPath(collection, name string) string {
	p := collection + "/" + name
	if f.version != "" {
		p += "/" + f.version
	}
	return p
}

// body returns a valid body for name (spec nil: none).
func (f family) body(name, description string, spec obj) obj {
	if f.kind == labelBody {
		return obj{"clusterLabel": name}
	}
	return envelope(name, description, spec)
}

// send sends a body the way the family takes it (multipart families add
// their file part).
func (f family) send(t *testing.T, api *harness.API, method, path string, body any) *harness.Response {
	t.Helper()
	if f.kind == multipartBody {
		return api.Multipart(t, method, path, body, f.file("item"))
	}
	return api.JSON(t, method, path, body)
}

// sendRaw sends metadata bytes as the family's body: as the JSON body, or as
// the metadata part of a multipart form.
func (f family) sendRaw(t *testing.T, api *harness.API, method, path string, raw []byte) *harness.Response {
	t.Helper()
	if f.kind == multipartBody {
		return api.Multipart(t, method, path, raw, f.file("item"))
	}
	return api.Do(t, method, path, harness.ContentJSON, raw, nil)
}

// names returns the names in a list response.
func (f family) names(t *testing.T, r *harness.Response) []string {
	t.Helper()
	var out []string
	for _, e := range r.Array(t) {
		m, ok := e.(map[string]any)
		require.True(t, ok, "list element is not an object:\n%s", r)
		if f.kind == labelBody {
			out = append(out, asString(m["clusterLabel"]))
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		out = append(out, asString(md["name"]))
	}
	return out
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// TestResourceFamilies runs the CRUD and error-status scenario for every
// resource family against the shared all-in-one server.
func TestResourceFamilies(t *testing.T) {
	srv := sharedServer(t)
	runResourceFamilies(t, target{api: srv.API(), maxBody: sharedMaxBody})
}

func runResourceFamilies(t *testing.T, tg target) {
	for _, f := range families() {
		t.Run(f.name, func(t *testing.T) { runFamily(t, tg, f) })
	}
}

func runFamily(t *testing.T, tg target, f family) {
	api := tg.api
	w := newWorld(api)
	collection := "/" + f.segment
	parent := ""
	if f.parent != nil {
		parent = f.parent(t, w)
		collection = parent + "/" + f.segment
	}
	var spec obj
	if f.spec != nil {
		spec = f.spec(t, w)
	}
	name := "item-" + w.id
	item := f.itemPath(collection, name)
	created := f.body(name, "first description", spec)
	updated := f.body(name, "second description", spec)

	if parent != "" {
		t.Run("empty list is []", func(t *testing.T) {
			r := api.Get(t, collection).Require(t, http.StatusOK)
			require.Equal(t, "[]", string(bytes.TrimSpace(r.Body)), "empty list:\n%s", r)
		})
	}
	if !t.Run("create 201", func(t *testing.T) {
		r := f.send(t, api, http.MethodPost, collection, created).Require(t, http.StatusCreated)
		requireSubset(t, created, r.Body, "create response")
	}) {
		return
	}
	t.Run("duplicate 409", func(t *testing.T) {
		f.send(t, api, http.MethodPost, collection, created).RequireProblem(t, http.StatusConflict)
	})
	t.Run("read 200", func(t *testing.T) {
		r := api.Get(t, item).Require(t, http.StatusOK)
		requireSubset(t, created, r.Body, "read response")
	})
	t.Run("list contains it", func(t *testing.T) {
		r := api.Get(t, collection).Require(t, http.StatusOK)
		require.Contains(t, f.names(t, r), name, "list:\n%s", r)
	})
	t.Run("read missing 404", func(t *testing.T) {
		api.Get(t, f.itemPath(collection, "missing-"+w.id)).RequireProblem(t, http.StatusNotFound)
	})

	if f.kind == labelBody {
		t.Run("PUT not allowed 405", func(t *testing.T) {
			api.PutJSON(t, item, created).Require(t, http.StatusMethodNotAllowed)
			api.Get(t, item).Require(t, http.StatusOK)
		})
	} else {
		t.Run("update 200", func(t *testing.T) {
			r := f.send(t, api, http.MethodPut, item, updated).Require(t, http.StatusOK)
			requireSubset(t, updated, r.Body, "update response")
			r = api.Get(t, item).Require(t, http.StatusOK)
			requireSubset(t, updated, r.Body, "read after update")
		})
		t.Run("PUT name mismatch 400", func(t *testing.T) {
			f.send(t, api, http.MethodPut, item, f.body("other-"+w.id, "x", spec)).RequireProblem(t, http.StatusBadRequest)
		})
		if f.version != "" {
			t.Run("PUT version mismatch 400", func(t *testing.T) {
				f.send(t, api, http.MethodPut, item, f.body(name, "x", with("compositeAppVersion", "v9")(spec))).RequireProblem(t, http.StatusBadRequest)
			})
		}
		t.Run("PUT missing 404", func(t *testing.T) {
			missing := "missing-" + w.id
			f.send(t, api, http.MethodPut, f.itemPath(collection, missing), f.body(missing, "x", spec)).RequireProblem(t, http.StatusNotFound)
		})
	}

	if parent != "" {
		t.Run("missing parent 404", func(t *testing.T) {
			gone := replaceLast(parent, "missing-"+w.id) + "/" + f.segment
			other := "orphan-" + w.id
			f.send(t, api, http.MethodPost, gone, f.body(other, "x", spec)).RequireProblem(t, http.StatusNotFound)
			api.Get(t, gone).RequireProblem(t, http.StatusNotFound)
		})
	}

	t.Run("schema violation 400", func(t *testing.T) {
		other := "invalid-" + w.id
		bodies := map[string]obj{}
		if f.kind == labelBody {
			bodies["no clusterLabel"] = obj{}
		} else {
			bodies["description too long"] = f.body(other, strings.Repeat("d", 1025), spec)
			noName := f.body(other, "no name", spec)
			delete(noName["metadata"].(obj), "name")
			bodies["no name"] = noName
			if f.badSpec != nil {
				s := spec
				if s == nil {
					s = obj{}
				}
				bodies["bad spec"] = envelope(other, "bad spec", f.badSpec(s))
			}
		}
		for what, body := range bodies {
			t.Run(what, func(t *testing.T) {
				f.send(t, api, http.MethodPost, collection, body).RequireProblem(t, http.StatusBadRequest)
			})
		}
		// Nothing was stored by the refused requests.
		api.Get(t, f.itemPath(collection, other)).RequireProblem(t, http.StatusNotFound)
	})
	t.Run("longest name 201", func(t *testing.T) {
		longest := "a.b_c-" + strings.Repeat("x", 122) // 128 characters, every allowed kind
		f.send(t, api, http.MethodPost, collection, f.body(longest, "x", spec)).Require(t, http.StatusCreated)
		api.Get(t, f.itemPath(collection, longest)).Require(t, http.StatusOK)
		api.Delete(t, f.itemPath(collection, longest)).Require(t, http.StatusNoContent)
	})
	t.Run("invalid name 400", func(t *testing.T) {
		for _, bad := range []string{"bad name/x", "-leading-dash", strings.Repeat("n", 129)} {
			f.send(t, api, http.MethodPost, collection, f.body(bad, "x", spec)).RequireProblem(t, http.StatusBadRequest)
		}
	})
	t.Run("invalid name in URL 400", func(t *testing.T) {
		// The OpenAPI document: "a path or query parameter outside its
		// pattern" is a 400, whatever the method.
		for _, bad := range []string{"bad%20name", "-leading-dash", strings.Repeat("n", 129)} {
			api.Get(t, f.itemPath(collection, bad)).RequireProblem(t, http.StatusBadRequest)
			api.Delete(t, f.itemPath(collection, bad)).RequireProblem(t, http.StatusBadRequest)
		}
	})
	t.Run("empty body 400", func(t *testing.T) {
		ct := harness.ContentJSON
		if f.kind == multipartBody {
			ct = harness.ContentMultipart + "; boundary=edgeway-e2e-boundary"
		}
		api.Do(t, http.MethodPost, collection, ct, []byte{}, nil).RequireProblem(t, http.StatusBadRequest)
	})
	t.Run("undecodable body 422", func(t *testing.T) {
		undecodable := `{"metadata":"x"}`
		if f.kind == labelBody {
			undecodable = `{"clusterLabel":{"not":"a string"}}`
		}
		f.sendRaw(t, api, http.MethodPost, collection, []byte(undecodable)).RequireProblem(t, http.StatusUnprocessableEntity)
	})
	t.Run("invalid JSON 422", func(t *testing.T) {
		f.sendRaw(t, api, http.MethodPost, collection, []byte(`{"metadata":`)).RequireProblem(t, http.StatusUnprocessableEntity)
	})
	t.Run("oversize body 413", func(t *testing.T) {
		pad := strings.Repeat("x", int(tg.maxBody)+16<<10)
		if f.kind == multipartBody {
			api.Multipart(t, http.MethodPost, collection, f.body("big-"+w.id, "x", spec), []byte(pad)).RequireProblem(t, http.StatusRequestEntityTooLarge)
			return
		}
		big := f.body("big-"+w.id, pad, spec)
		if f.kind == labelBody {
			big["pad"] = pad
		}
		api.PostJSON(t, collection, big).RequireProblem(t, http.StatusRequestEntityTooLarge)
	})
	t.Run("wrong content type 415", func(t *testing.T) {
		b, err := json.Marshal(f.body("ct-"+w.id, "x", spec))
		require.NoError(t, err)
		ct := "text/plain"
		if f.kind == multipartBody {
			ct = harness.ContentJSON
		}
		api.Do(t, http.MethodPost, collection, ct, b, nil).RequireProblem(t, http.StatusUnsupportedMediaType)
	})
	for _, rc := range f.refs {
		t.Run("reference to "+rc.name+" 404", func(t *testing.T) {
			other := "dangling-" + w.id
			f.send(t, api, http.MethodPost, collection, f.body(other, "x", rc.spec(t, w))).RequireProblem(t, http.StatusNotFound)
		})
	}

	if parent != "" {
		t.Run("delete parent with child 409", func(t *testing.T) {
			api.Delete(t, parent).RequireProblem(t, http.StatusConflict)
			api.Get(t, parent).Require(t, http.StatusOK)
		})
	}
	if !t.Run("delete 204", func(t *testing.T) {
		r := api.Delete(t, item).Require(t, http.StatusNoContent)
		require.Empty(t, r.Body, "204 carries no body")
	}) {
		return
	}
	t.Run("gone after delete 404", func(t *testing.T) {
		api.Get(t, item).RequireProblem(t, http.StatusNotFound)
		api.Delete(t, item).RequireProblem(t, http.StatusNotFound)
		r := api.Get(t, collection).Require(t, http.StatusOK)
		require.False(t, slices.Contains(f.names(t, r), name), "list still has %s:\n%s", name, r)
	})
}
