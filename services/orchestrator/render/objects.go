package render

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"sigs.k8s.io/yaml"
)

// assemble splits the rendered files and the chart's CRD files into
// objects, orders them as `helm install` would and fills in namespaces.
func assemble(chrt *chart.Chart, files map[string]string, namespace, notes string) (*Result, error) {
	res := &Result{Notes: notes}

	for _, crd := range chrt.CRDObjects() {
		docs := releaseutil.SplitManifests(string(crd.File.Data))
		keys := make([]string, 0, len(docs))
		for k := range docs {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		for _, k := range keys {
			obj, ok, err := parseObject(crd.Filename, docs[k])
			if err != nil {
				return nil, err
			}
			if ok {
				res.CRDs = append(res.CRDs, obj)
			}
		}
	}

	// SortManifests skips partials and blank files, splits documents, tells
	// hooks apart and orders both by kind (releaseutil.InstallOrder).
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRender, err)
	}
	for _, m := range manifests {
		obj, ok, err := parseObject(m.Name, m.Content)
		if err != nil {
			return nil, err
		}
		if ok {
			res.Objects = append(res.Objects, obj)
		}
	}
	for _, h := range hooks {
		var events []string
		for _, e := range h.Events {
			if e != release.HookTest {
				events = append(events, e.String())
			}
		}
		if len(events) == 0 {
			continue // test hooks are for `helm test`, never installed
		}
		obj, ok, err := parseObject(h.Path, h.Manifest)
		if err != nil {
			return nil, err
		}
		if ok {
			obj.Hook = strings.Join(events, ",")
			obj.HookWeight = h.Weight
			res.Hooks = append(res.Hooks, obj)
		}
	}
	// Helm runs the hooks of one event by weight, then name; the kind order
	// from SortManifests breaks remaining ties.
	sort.SliceStable(res.Hooks, func(i, j int) bool {
		a, b := res.Hooks[i], res.Hooks[j]
		if a.HookWeight != b.HookWeight {
			return a.HookWeight < b.HookWeight
		}
		return a.Name < b.Name
	})

	scopes := chartScopes(res)
	for _, list := range [][]Object{res.CRDs, res.Objects, res.Hooks} {
		for i := range list {
			o := &list[i]
			switch {
			case scopes.clusterScoped(o.APIVersion, o.Kind):
				o.Namespace = ""
			case o.Namespace == "":
				o.Namespace = namespace
			}
		}
	}
	return res, nil
}

// parseObject reads the identity of one YAML document. ok is false for a
// document that is empty or only comments.
func parseObject(source, doc string) (obj Object, ok bool, err error) {
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return Object{}, false, fmt.Errorf("%w: YAML parse error on %s: %w", ErrRender, source, err)
	}
	if m == nil {
		return Object{}, false, nil
	}
	obj = Object{
		Manifest:   []byte(strings.TrimSpace(doc) + "\n"),
		APIVersion: field(m, "apiVersion"),
		Kind:       field(m, "kind"),
		Name:       field(m, "metadata", "name"),
		Namespace:  field(m, "metadata", "namespace"),
		Source:     source,
	}
	var missing []string
	for _, f := range []struct{ name, val string }{{"apiVersion", obj.APIVersion}, {"kind", obj.Kind}, {"metadata.name", obj.Name}} {
		if f.val == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		what := obj.Kind
		if what == "" {
			what = "object"
		}
		return Object{}, false, fmt.Errorf("%w: %s: %s without %s", ErrRender, source, what, strings.Join(missing, ", "))
	}
	return obj, true, nil
}

// field is the string at path in m, or "" if there is none.
func field(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}
