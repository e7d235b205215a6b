package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

const (
	ca  = "/projects/{project}/composite-apps/{compositeApp}/{compositeAppVersion}"
	dig = ca + "/deployment-intent-groups/{deploymentIntentGroup}"
	gpi = dig + "/generic-placement-intents/{genericPlacementIntent}"
	lc  = "/projects/{project}/logical-clouds/{logicalCloud}"
	cl  = "/cluster-providers/{clusterProvider}/clusters/{cluster}"
)

type bodyKind int

const (
	noBody bodyKind = iota
	jsonBody
	multipartBody
)

// resource describes a collection/item pair: the collection answers POST and
// GET, the item GET, PUT and DELETE (labels: GET and DELETE).
type resource struct {
	collection, item string
	body             bodyKind
	// topLevel are the properties the body schema must declare.
	topLevel []string
	noPut    bool
}

var resources = []resource{
	{"/projects", "/projects/{project}", jsonBody, []string{"metadata", "spec"}, false},
	{"/projects/{project}/composite-apps", ca, jsonBody, []string{"metadata", "spec"}, false},
	{ca + "/apps", ca + "/apps/{app}", multipartBody, []string{"metadata", "spec"}, false},
	{ca + "/apps/{app}/dependency", ca + "/apps/{app}/dependency/{dependency}", jsonBody, []string{"metadata", "spec"}, false},
	{ca + "/composite-profiles", ca + "/composite-profiles/{compositeProfile}", jsonBody, []string{"metadata", "spec"}, false},
	{ca + "/composite-profiles/{compositeProfile}/profiles", ca + "/composite-profiles/{compositeProfile}/profiles/{appProfile}", multipartBody, []string{"metadata", "spec"}, false},
	{ca + "/deployment-intent-groups", dig, jsonBody, []string{"metadata", "spec"}, false},
	{dig + "/intents", dig + "/intents/{intent}", jsonBody, []string{"metadata", "spec"}, false},
	{dig + "/generic-placement-intents", gpi, jsonBody, []string{"metadata", "spec"}, false},
	{gpi + "/app-intents", gpi + "/app-intents/{appIntent}", jsonBody, []string{"metadata", "spec"}, false},
	{"/projects/{project}/logical-clouds", lc, jsonBody, []string{"metadata", "spec"}, false},
	{lc + "/cluster-references", lc + "/cluster-references/{clusterReference}", jsonBody, []string{"metadata", "spec"}, false},
	{lc + "/user-permissions", lc + "/user-permissions/{userPermission}", jsonBody, []string{"metadata", "spec"}, false},
	{lc + "/cluster-quotas", lc + "/cluster-quotas/{clusterQuota}", jsonBody, []string{"metadata", "spec"}, false},
	{lc + "/kv-pairs", lc + "/kv-pairs/{kvPair}", jsonBody, []string{"metadata", "spec"}, false},
	{"/controllers", "/controllers/{controller}", jsonBody, []string{"metadata", "spec"}, false},
	{"/projects/{project}/role-bindings", "/projects/{project}/role-bindings/{roleBinding}", jsonBody, []string{"metadata", "spec"}, false},
	{"/projects/{project}/secrets", "/projects/{project}/secrets/{secret}", jsonBody, []string{"metadata", "spec"}, false},
	{"/cluster-providers", "/cluster-providers/{clusterProvider}", jsonBody, []string{"metadata", "spec"}, false},
	{"/cluster-providers/{clusterProvider}/clusters", cl, multipartBody, []string{"metadata", "spec"}, false},
	{cl + "/labels", cl + "/labels/{clusterLabel}", jsonBody, []string{"clusterLabel"}, true},
	{cl + "/kv-pairs", cl + "/kv-pairs/{clusterKv}", jsonBody, []string{"metadata", "spec"}, false},
}

// lifecycle paths: method, success status, body.
var lifecycle = []struct {
	path, method string
	status       int
	body         bodyKind
}{
	{dig + "/approve", http.MethodPost, http.StatusAccepted, noBody},
	{dig + "/instantiate", http.MethodPost, http.StatusAccepted, noBody},
	{dig + "/terminate", http.MethodPost, http.StatusAccepted, noBody},
	{dig + "/update", http.MethodPost, http.StatusAccepted, noBody},
	{dig + "/rollback", http.MethodPost, http.StatusAccepted, jsonBody},
	{dig + "/stop", http.MethodPost, http.StatusAccepted, noBody},
	{dig + "/status", http.MethodGet, http.StatusOK, noBody},
	{"/audit", http.MethodGet, http.StatusOK, noBody},
}

type opSpec struct {
	status int
	body   bodyKind
	top    []string
}

// expected returns every documented path with its methods.
func expected() map[string]map[string]opSpec {
	want := map[string]map[string]opSpec{}
	for _, r := range resources {
		want[r.collection] = map[string]opSpec{
			http.MethodPost: {http.StatusCreated, r.body, r.topLevel},
			http.MethodGet:  {http.StatusOK, noBody, nil},
		}
		item := map[string]opSpec{
			http.MethodGet:    {http.StatusOK, noBody, nil},
			http.MethodDelete: {http.StatusNoContent, noBody, nil},
		}
		if !r.noPut {
			item[http.MethodPut] = opSpec{http.StatusOK, r.body, r.topLevel}
		}
		want[r.item] = item
	}
	for _, l := range lifecycle {
		want[l.path] = map[string]opSpec{l.method: {l.status, l.body, nil}}
	}
	return want
}

func mustLoad(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return doc
}

func TestLoadValidatesAndIsShared(t *testing.T) {
	doc := mustLoad(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Errorf("Validate: %v", err)
	}
	again, err := Load()
	if err != nil || again != doc {
		t.Errorf("second Load = %p, %v; want the same document %p", again, err, doc)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/v2" {
		t.Errorf("servers = %v, want one server /v2", doc.Servers)
	}
}

func TestRawIsTheEmbeddedDocument(t *testing.T) {
	raw := Raw()
	if !bytes.Equal(raw, spec) || !bytes.HasPrefix(raw, []byte("# Edgeway v2 REST API.")) {
		t.Fatalf("Raw does not return the embedded document")
	}
	raw[0] = 'X'
	if Raw()[0] != '#' {
		t.Errorf("Raw exposes the embedded bytes to modification")
	}
}

func TestPathsAndMethods(t *testing.T) {
	doc := mustLoad(t)
	want := expected()
	got := doc.Paths.Map()
	for path, methods := range want {
		item := got[path]
		if item == nil {
			t.Errorf("missing path %s", path)
			continue
		}
		var have, exp []string
		for m := range item.Operations() {
			have = append(have, m)
		}
		for m := range methods {
			exp = append(exp, m)
		}
		sort.Strings(have)
		sort.Strings(exp)
		if strings.Join(have, ",") != strings.Join(exp, ",") {
			t.Errorf("%s: methods %v, want %v", path, have, exp)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok {
			t.Errorf("undocumented path %s in the document", path)
		}
	}
}

var pathVar = regexp.MustCompile(`\{([^}]+)\}`)

func TestPathParameters(t *testing.T) {
	doc := mustLoad(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			declared := map[string]bool{}
			for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
				for _, p := range params {
					if p.Value.In == openapi3.ParameterInPath {
						declared[p.Value.Name] = true
						if s := p.Value.Schema.Value; s.Pattern == "" || s.MaxLength == nil || *s.MaxLength != 128 {
							t.Errorf("%s %s: path parameter %s lacks the name pattern/maxLength", method, path, p.Value.Name)
						}
					}
				}
			}
			vars := pathVar.FindAllStringSubmatch(path, -1)
			if len(vars) != len(declared) {
				t.Errorf("%s %s: %d path variables, %d declared", method, path, len(vars), len(declared))
			}
			for _, v := range vars {
				if !declared[v[1]] {
					t.Errorf("%s %s: path variable %s has no parameter", method, path, v[1])
				}
			}
		}
	}
}

func hasType(s *openapi3.Schema, typ string) bool { return s.Type != nil && s.Type.Is(typ) }

func closed(s *openapi3.Schema) bool {
	return s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
}

// engineSchema mimics the REST engine's lookup of the body schema.
func engineSchema(t *testing.T, doc *openapi3.T, path, method string) *openapi3.Schema {
	t.Helper()
	item := doc.Paths.Value(path)
	if item == nil {
		t.Fatalf("no path %s", path)
	}
	op := item.GetOperation(method)
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		t.Fatalf("%s %s: no request body", method, path)
	}
	content := op.RequestBody.Value.Content
	if mt := content.Get("application/json"); mt != nil {
		return mt.Schema.Value
	}
	if mt := content.Get("multipart/form-data"); mt != nil {
		return mt.Schema.Value.Properties["metadata"].Value
	}
	t.Fatalf("%s %s: no JSON or multipart body", method, path)
	return nil
}

func TestRequestBodies(t *testing.T) {
	doc := mustLoad(t)
	for path, methods := range expected() {
		item := doc.Paths.Value(path)
		if item == nil {
			continue // reported by TestPathsAndMethods
		}
		for method, spec := range methods {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			if spec.body == noBody {
				if op.RequestBody != nil {
					t.Errorf("%s %s: unexpected request body", method, path)
				}
				continue
			}
			if op.RequestBody == nil || op.RequestBody.Value == nil || !op.RequestBody.Value.Required {
				t.Errorf("%s %s: missing or optional request body", method, path)
				continue
			}
			content := op.RequestBody.Value.Content
			if len(content) != 1 {
				t.Errorf("%s %s: %d body media types, want 1", method, path, len(content))
			}
			switch spec.body {
			case jsonBody:
				mt := content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
					t.Errorf("%s %s: no application/json schema", method, path)
					continue
				}
				if spec.top != nil {
					checkEnvelope(t, method+" "+path, mt.Schema.Value, spec.top)
				}
			case multipartBody:
				mt := content.Get("multipart/form-data")
				if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
					t.Errorf("%s %s: no multipart/form-data schema", method, path)
					continue
				}
				form := mt.Schema.Value
				meta, file := form.Properties["metadata"], form.Properties["file"]
				if meta == nil || file == nil {
					t.Errorf("%s %s: multipart schema needs metadata and file parts", method, path)
					continue
				}
				checkEnvelope(t, method+" "+path, meta.Value, spec.top)
				if !hasType(file.Value, "string") || file.Value.Format != "binary" {
					t.Errorf("%s %s: file part is not a binary string", method, path)
				}
				if !contains(form.Required, "metadata") || !contains(form.Required, "file") {
					t.Errorf("%s %s: metadata and file must both be required, have %v", method, path, form.Required)
				}
			}
		}
	}
}

func checkEnvelope(t *testing.T, where string, s *openapi3.Schema, props []string) {
	t.Helper()
	if !hasType(s, "object") || !closed(s) {
		t.Errorf("%s: body is not a closed object", where)
	}
	for _, p := range props {
		if s.Properties[p] == nil {
			t.Errorf("%s: body lacks property %s", where, p)
		}
	}
	if props[0] == "metadata" {
		if !contains(s.Required, "metadata") {
			t.Errorf("%s: metadata is not required", where)
		}
		meta := s.Properties["metadata"].Value
		if !closed(meta) || !contains(meta.Required, "name") || meta.Properties["name"].Value.Pattern == "" {
			t.Errorf("%s: metadata is not the common Metadata schema", where)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var (
	errorsAll   = []int{400, 401, 403, 404, 429, 500, 503}
	errorsWrite = []int{409, 413, 415, 422}
)

func TestResponses(t *testing.T) {
	doc := mustLoad(t)
	for path, methods := range expected() {
		item := doc.Paths.Value(path)
		if item == nil {
			continue
		}
		for method, spec := range methods {
			op := item.GetOperation(method)
			if op == nil {
				continue
			}
			where := method + " " + path
			if op.Responses.Status(spec.status) == nil {
				t.Errorf("%s: success status %d not documented", where, spec.status)
			}
			codes := errorsAll
			if spec.body != noBody {
				codes = append(append([]int{}, errorsAll...), errorsWrite...)
			}
			for _, code := range codes {
				r := op.Responses.Status(code)
				if r == nil || r.Value == nil {
					t.Errorf("%s: error status %d not documented", where, code)
					continue
				}
				mt := r.Value.Content.Get("application/problem+json")
				if mt == nil || mt.Schema.Value.Properties["requestId"] == nil {
					t.Errorf("%s: %d is not a Problem document", where, code)
				}
			}
		}
	}
}

func TestGetRepresentations(t *testing.T) {
	doc := mustLoad(t)
	types := func(path string) []string {
		var out []string
		for mime := range doc.Paths.Value(path).Get.Responses.Status(200).Value.Content {
			out = append(out, mime)
		}
		sort.Strings(out)
		return out
	}
	for _, path := range []string{ca + "/apps/{app}", ca + "/composite-profiles/{compositeProfile}/profiles/{appProfile}"} {
		if got := strings.Join(types(path), ","); got != "application/json,application/octet-stream,multipart/form-data" {
			t.Errorf("GET %s: 200 media types %s", path, got)
		}
	}
	if got := strings.Join(types(cl), ","); got != "application/json" {
		t.Errorf("GET %s: 200 media types %s, want JSON only", cl, got)
	}
}

// bodyCase is a request body the engine must accept (ok) or reject.
type bodyCase struct {
	name string
	ok   bool
	body string
}

func TestBodySchemasAcceptAndReject(t *testing.T) {
	doc := mustLoad(t)
	cases := map[string][]bodyCase{
		"/projects": {
			{"minimal", true, `{"metadata":{"name":"p1"}}`},
			{"full metadata, empty spec", true, `{"metadata":{"name":"p.1_a-b","description":"d","userData1":"u","userData2":"v"},"spec":{}}`},
			{"no metadata", false, `{"spec":{}}`},
			{"no name", false, `{"metadata":{"description":"d"}}`},
			{"bad name", false, `{"metadata":{"name":"-p"}}`},
			{"name with slash", false, `{"metadata":{"name":"a/b"}}`},
			{"long name", false, `{"metadata":{"name":"` + strings.Repeat("a", 129) + `"}}`},
			{"long description", false, `{"metadata":{"name":"p","description":"` + strings.Repeat("d", 1025) + `"}}`},
			{"unknown metadata field", false, `{"metadata":{"name":"p","labels":{}}}`},
			{"unknown top-level field", false, `{"metadata":{"name":"p"},"status":{}}`},
			{"non-empty spec", false, `{"metadata":{"name":"p"},"spec":{"x":1}}`},
			{"not an object", false, `[]`},
		},
		"/projects/{project}/composite-apps": {
			{"ok", true, `{"metadata":{"name":"ca"},"spec":{"compositeAppVersion":"v1"}}`},
			{"no spec", false, `{"metadata":{"name":"ca"}}`},
			{"no version", false, `{"metadata":{"name":"ca"},"spec":{}}`},
			{"bad version", false, `{"metadata":{"name":"ca"},"spec":{"compositeAppVersion":"v 1"}}`},
		},
		ca + "/apps": {
			{"ok", true, `{"metadata":{"name":"web"}}`},
			{"empty spec", true, `{"metadata":{"name":"web"},"spec":{}}`},
			{"no metadata", false, `{}`},
		},
		ca + "/apps/{app}/dependency": {
			{"ok", true, `{"metadata":{"name":"d"},"spec":{"app":"db","opStatus":"Ready","wait":5}}`},
			{"deployed", true, `{"metadata":{"name":"d"},"spec":{"app":"db","opStatus":"Deployed"}}`},
			{"bad opStatus", false, `{"metadata":{"name":"d"},"spec":{"app":"db","opStatus":"Running"}}`},
			{"negative wait", false, `{"metadata":{"name":"d"},"spec":{"app":"db","opStatus":"Ready","wait":-1}}`},
			{"fractional wait", false, `{"metadata":{"name":"d"},"spec":{"app":"db","opStatus":"Ready","wait":1.5}}`},
			{"no app", false, `{"metadata":{"name":"d"},"spec":{"opStatus":"Ready"}}`},
		},
		ca + "/composite-profiles/{compositeProfile}/profiles": {
			{"ok", true, `{"metadata":{"name":"pr"},"spec":{"app":"web"}}`},
			{"no app", false, `{"metadata":{"name":"pr"},"spec":{}}`},
			{"no spec", false, `{"metadata":{"name":"pr"}}`},
		},
		ca + "/deployment-intent-groups": {
			{"ok", true, `{"metadata":{"name":"g"},"spec":{"compositeProfile":"cp","version":"r1","logicalCloud":"lc",
				"overrideValues":[{"app":"web","values":{".Values.replicaCount":"2"}}]}}`},
			{"minimal", true, `{"metadata":{"name":"g"},"spec":{"version":"r1","logicalCloud":"lc"}}`},
			{"no logical cloud", false, `{"metadata":{"name":"g"},"spec":{"version":"r1"}}`},
			{"no version", false, `{"metadata":{"name":"g"},"spec":{"logicalCloud":"lc"}}`},
			{"override without app", false, `{"metadata":{"name":"g"},"spec":{"version":"r1","logicalCloud":"lc","overrideValues":[{"values":{}}]}}`},
			{"non-string override", false, `{"metadata":{"name":"g"},"spec":{"version":"r1","logicalCloud":"lc","overrideValues":[{"app":"a","values":{"k":2}}]}}`},
			{"emco dash spelling", false, `{"metadata":{"name":"g"},"spec":{"version":"r1","logicalCloud":"lc","override-values":[]}}`},
		},
		dig + "/intents": {
			{"ok", true, `{"metadata":{"name":"i"},"spec":{"intent":{"genericPlacementIntent":"gpi"}}}`},
			{"empty intent", false, `{"metadata":{"name":"i"},"spec":{"intent":{}}}`},
			{"bad intent name", false, `{"metadata":{"name":"i"},"spec":{"intent":{"genericPlacementIntent":"a b"}}}`},
			{"no intent", false, `{"metadata":{"name":"i"},"spec":{}}`},
		},
		dig + "/generic-placement-intents": {
			{"no spec", true, `{"metadata":{"name":"gpi"}}`},
			{"logical cloud", true, `{"metadata":{"name":"gpi"},"spec":{"logicalCloud":"lc"}}`},
			{"unknown spec field", false, `{"metadata":{"name":"gpi"},"spec":{"cluster":"c"}}`},
		},
		gpi + "/app-intents": {
			{"allOf cluster", true, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"allOf":[{"clusterProvider":"p","cluster":"c"}]}}}`},
			{"anyOf label", true, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"anyOf":[{"clusterProvider":"p","clusterLabel":"east"}]}}}`},
			{"both lists", true, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"allOf":[{"clusterProvider":"p","cluster":"c"}],"anyOf":[{"clusterProvider":"p","clusterLabel":"l"}]}}}`},
			{"empty intent", false, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{}}}`},
			{"cluster and label", false, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"allOf":[{"clusterProvider":"p","cluster":"c","clusterLabel":"l"}]}}}`},
			{"neither cluster nor label", false, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"allOf":[{"clusterProvider":"p"}]}}}`},
			{"no provider", false, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"allOf":[{"cluster":"c"}]}}}`},
			{"unknown selector field", false, `{"metadata":{"name":"ai"},"spec":{"app":"web","intent":{"allOf":[{"clusterProvider":"p","cluster":"c","zone":"z"}]}}}`},
			{"no app", false, `{"metadata":{"name":"ai"},"spec":{"intent":{"allOf":[{"clusterProvider":"p","cluster":"c"}]}}}`},
		},
		"/projects/{project}/logical-clouds": {
			{"standard", true, `{"metadata":{"name":"lc"},"spec":{"namespace":"ns1","level":"1","user":{"userName":"u","type":"certificate"}}}`},
			{"admin", true, `{"metadata":{"name":"lc"},"spec":{"level":"0"}}`},
			{"bad level", false, `{"metadata":{"name":"lc"},"spec":{"level":"2"}}`},
			{"numeric level", false, `{"metadata":{"name":"lc"},"spec":{"level":1}}`},
			{"bad namespace", false, `{"metadata":{"name":"lc"},"spec":{"namespace":"NS_1"}}`},
			{"unknown user field", false, `{"metadata":{"name":"lc"},"spec":{"user":{"userName":"u","password":"x"}}}`},
		},
		lc + "/cluster-references": {
			{"ok", true, `{"metadata":{"name":"r"},"spec":{"clusterProvider":"p","cluster":"c","loadBalancerIP":"10.0.0.1"}}`},
			{"no cluster", false, `{"metadata":{"name":"r"},"spec":{"clusterProvider":"p"}}`},
		},
		lc + "/user-permissions": {
			{"ok", true, `{"metadata":{"name":"up"},"spec":{"namespace":"ns1","apiGroups":["","apps"],"resources":["pods"],"verbs":["get","list"]}}`},
			{"no verbs", false, `{"metadata":{"name":"up"},"spec":{"resources":["pods"]}}`},
		},
		lc + "/cluster-quotas": {
			{"ok", true, `{"metadata":{"name":"q"},"spec":{"limits.cpu":"4","requests.memory":"8Gi","pods":"50","count/deployments.apps":"10"}}`},
			{"unknown quota", false, `{"metadata":{"name":"q"},"spec":{"gpus":"1"}}`},
			{"number instead of string", false, `{"metadata":{"name":"q"},"spec":{"pods":50}}`},
			{"not a quantity", false, `{"metadata":{"name":"q"},"spec":{"pods":"many"}}`},
		},
		lc + "/kv-pairs": {
			{"ok", true, `{"metadata":{"name":"kv"},"spec":{"kv":[{"a":"1"},{"b":"2"}]}}`},
			{"no kv", false, `{"metadata":{"name":"kv"},"spec":{}}`},
			{"non-string value", false, `{"metadata":{"name":"kv"},"spec":{"kv":[{"a":1}]}}`},
		},
		"/controllers": {
			{"ok", true, `{"metadata":{"name":"c"},"spec":{"host":"placer","port":9015,"type":"placement","priority":1}}`},
			{"minimal", true, `{"metadata":{"name":"c"},"spec":{"host":"10.0.0.1","port":1}}`},
			{"string port", false, `{"metadata":{"name":"c"},"spec":{"host":"h","port":"9015"}}`},
			{"port out of range", false, `{"metadata":{"name":"c"},"spec":{"host":"h","port":70000}}`},
			{"bad type", false, `{"metadata":{"name":"c"},"spec":{"host":"h","port":1,"type":"other"}}`},
			{"priority zero", false, `{"metadata":{"name":"c"},"spec":{"host":"h","port":1,"priority":0}}`},
			{"no host", false, `{"metadata":{"name":"c"},"spec":{"port":1}}`},
		},
		"/cluster-providers": {
			{"ok", true, `{"metadata":{"name":"acme"}}`},
		},
		"/cluster-providers/{clusterProvider}/clusters": {
			{"ok", true, `{"metadata":{"name":"edge-1","description":"first"}}`},
			{"kubeconfig in metadata", false, `{"metadata":{"name":"edge-1"},"kubeconfig":"..."}`},
		},
		cl + "/labels": {
			{"ok", true, `{"clusterLabel":"east"}`},
			{"bad label", false, `{"clusterLabel":"east west"}`},
			{"metadata envelope", false, `{"metadata":{"name":"east"}}`},
			{"extra field", false, `{"clusterLabel":"east","x":"y"}`},
		},
		cl + "/kv-pairs": {
			{"ok", true, `{"metadata":{"name":"kv"},"spec":{"kv":[{"istioIngressGatewayAddress":"192.0.2.1"}]}}`},
			{"no spec", false, `{"metadata":{"name":"kv"}}`},
		},
		"/projects/{project}/secrets": {
			{"ok", true, `{"metadata":{"name":"db-credentials"},"spec":{"data":{"username":"shop","password":"s3cr3t"}}}`},
			{"no spec", true, `{"metadata":{"name":"empty"}}`},
			{"empty data", true, `{"metadata":{"name":"empty"},"spec":{"data":{}}}`},
			{"non-string value", false, `{"metadata":{"name":"s"},"spec":{"data":{"port":5432}}}`},
			{"base64 data field", false, `{"metadata":{"name":"s"},"spec":{"stringData":{"a":"b"}}}`},
			{"keys in a write", false, `{"metadata":{"name":"s"},"spec":{"keys":["a"]}}`},
			{"unknown top-level field", false, `{"metadata":{"name":"s"},"data":{"a":"b"}}`},
		},
		dig + "/rollback": {
			{"revision", true, `{"revision":2}`},
			{"emco envelope", true, `{"metadata":{"name":"rb"},"spec":{"revision":"2"}}`},
			{"string revision", false, `{"revision":"2"}`},
			{"empty", false, `{}`},
		},
	}
	for path, list := range cases {
		schema := engineSchema(t, doc, path, http.MethodPost)
		for _, c := range list {
			var v any
			if err := json.Unmarshal([]byte(c.body), &v); err != nil {
				t.Fatalf("%s %s: bad test JSON: %v", path, c.name, err)
			}
			err := schema.VisitJSON(v)
			if c.ok && err != nil {
				t.Errorf("%s: %s: rejected: %v", path, c.name, err)
			}
			if !c.ok && err == nil {
				t.Errorf("%s: %s: accepted", path, c.name)
			}
		}
	}
	// The item PUT uses the same schema as the collection POST.
	for _, r := range resources {
		if r.noPut {
			continue
		}
		if engineSchema(t, doc, r.collection, http.MethodPost) != engineSchema(t, doc, r.item, http.MethodPut) {
			t.Errorf("%s: PUT and POST bodies differ", r.item)
		}
	}
}
