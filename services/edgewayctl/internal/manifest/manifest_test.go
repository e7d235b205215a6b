package manifest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	const file = `# comment only before the first document
version: emco/v2
resourceContext:
  anchor: /v2/projects/
metadata:
  name: demo
---
version: emco/v2
resourceContext: {anchor: projects/demo/composite-apps}
metadata: {name: shop}
spec: {compositeAppVersion: v1}
---
version: emco/v2
resourceContext: {anchor: projects/demo/composite-apps/shop/v1/apps}
metadata: {name: web, description: the web tier}
file: charts/web.tgz
---
version: emco/v2
resourceContext: {anchor: cluster-providers/local/clusters/edge1/labels}
clusterLabel: edge
---
version: emco/v2
resourceContext: {anchor: projects/demo/composite-apps/shop/v1/deployment-intent-groups/d1/rollback}
spec: {revision: "1"}
---
version: emco/v2
resourceContext: {anchor: projects/demo/composite-apps/shop/v1/deployment-intent-groups/d1/instantiate}
---
`
	docs, err := Parse([]byte(file), "/files")
	require.NoError(t, err)
	require.Len(t, docs, 6)
	tests := []struct {
		anchor, verb, name, object, kind string
		line                             int
		files                            []string
		body                             bool
	}{
		{"projects", "", "demo", "projects/demo", "projects", 2, nil, true},
		{"projects/demo/composite-apps", "", "shop", "projects/demo/composite-apps/shop/v1", "composite-apps", 8, nil, true},
		{"projects/demo/composite-apps/shop/v1/apps", "", "web", "projects/demo/composite-apps/shop/v1/apps/web", "apps", 13, []string{"/files/charts/web.tgz"}, true},
		{"cluster-providers/local/clusters/edge1/labels", "", "edge", "cluster-providers/local/clusters/edge1/labels/edge", "labels", 18, nil, true},
		{"projects/demo/composite-apps/shop/v1/deployment-intent-groups/d1/rollback", "rollback", "", "projects/demo/composite-apps/shop/v1/deployment-intent-groups/d1", "rollback", 22, nil, true},
		{"projects/demo/composite-apps/shop/v1/deployment-intent-groups/d1/instantiate", "instantiate", "", "projects/demo/composite-apps/shop/v1/deployment-intent-groups/d1", "instantiate", 26, nil, false},
	}
	for i, tc := range tests {
		d := docs[i]
		require.Equal(t, i+1, d.Index)
		require.Equal(t, tc.anchor, d.Anchor, "document %d", i+1)
		require.Equal(t, tc.verb, d.Verb, "document %d", i+1)
		require.Equal(t, tc.name, d.Name, "document %d", i+1)
		require.Equal(t, tc.object, d.ObjectPath(), "document %d", i+1)
		require.Equal(t, tc.kind, d.Kind(), "document %d", i+1)
		require.Equal(t, tc.line, d.Line, "document %d", i+1)
		require.Equal(t, tc.files, d.Files, "document %d", i+1)
		require.Equal(t, tc.body, d.HasBody(), "document %d", i+1)
	}
	require.Equal(t, map[string]any{"clusterLabel": "edge"}, docs[3].Body)
	require.Equal(t, map[string]any{"metadata": map[string]any{"name": "web", "description": "the web tier"}}, docs[2].Body)
}

func TestParseReportsEveryProblem(t *testing.T) {
	const file = `version: emco/v1
resourceContext: {anchor: projects}
metadata: {name: a}
---
version: emco/v2
metadata: {name: b}
---
version: emco/v2
resourceContext: {anchor: projects/p/composite-apps}
metadata: {name: c}
---
version: emco/v2
resourceContext: {anchor: projects/p/composite-apps/c/v1/apps}
metadata: {name: d}
files: [a.tgz, b.tgz]
---
version: emco/v2
resourceContext: {anchor: projects}
spec: {}
`
	_, err := Parse([]byte(file), "")
	require.Error(t, err)
	for _, want := range []string{
		`document 1 (line 1): version is "emco/v1", want "emco/v2"`,
		"document 2 (line 5): resourceContext.anchor is missing",
		"document 3 (line 8): a composite app needs spec.compositeAppVersion",
		"document 4 (line 12): 2 files given; Edgeway takes one file per object",
		"document 5 (line 17): metadata.name is missing",
	} {
		require.Contains(t, err.Error(), want)
	}
	_, err = Parse([]byte("# nothing\n---\n"), "")
	require.EqualError(t, err, "no documents")
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		return p
	}
	v1 := write("v1.yaml", "Project: one\nApp: {name: web, replicas: 1}\n")
	v2 := write("v2.yaml", "App: {replicas: 2}\n")
	values, err := ReadValues([]string{v1, v2})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"Project": "one", "App": map[string]any{"name": "web", "replicas": 2}}, values)

	file := write("f.yaml", "version: emco/v2\nresourceContext: {anchor: projects/{{.Project}}/composite-apps}\n"+
		"metadata: {name: '{{.App.name}}'}\nspec: {compositeAppVersion: v{{.App.replicas}}}\n")
	docs, err := ParseFile(file, Options{Values: values})
	require.NoError(t, err)
	require.Equal(t, "projects/one/composite-apps/web/v2", docs[0].ObjectPath())

	_, err = Render("f.yaml", []byte("{{.Missing}}"), values)
	require.ErrorContains(t, err, `map has no entry for key "Missing"`)
}

func TestFileDirectory(t *testing.T) {
	dir := t.TempDir()
	chart := filepath.Join(dir, "web")
	prof := filepath.Join(dir, "web-profile")
	for p, body := range map[string]string{
		filepath.Join(chart, "Chart.yaml"):           "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		filepath.Join(chart, "templates", "cm.yaml"): "kind: ConfigMap\n",
		filepath.Join(prof, "manifest.yaml"):         "version: v1\n",
		filepath.Join(prof, "override_values.yaml"):  "a: 1\n",
		filepath.Join(dir, "kubeconfig"):             "apiVersion: v1\n",
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	names := func(tgz []byte) []string {
		zr, err := gzip.NewReader(bytes.NewReader(tgz))
		require.NoError(t, err)
		tr := tar.NewReader(zr)
		var out []string
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return out
			}
			require.NoError(t, err)
			out = append(out, h.Name)
		}
	}
	d := &Document{Files: []string{chart}}
	b1, name, err := d.File()
	require.NoError(t, err)
	require.Equal(t, "web.tgz", name)
	require.Equal(t, []string{"web/Chart.yaml", "web/templates/cm.yaml"}, names(b1))
	b2, _, err := d.File()
	require.NoError(t, err)
	require.Equal(t, b1, b2, "packing is reproducible")

	b, _, err := (&Document{Files: []string{prof}}).File()
	require.NoError(t, err)
	require.Equal(t, []string{"manifest.yaml", "override_values.yaml"}, names(b), "a profile is packed flat")

	b, name, err = (&Document{Files: []string{filepath.Join(dir, "kubeconfig")}}).File()
	require.NoError(t, err)
	require.Equal(t, "kubeconfig", name)
	require.Equal(t, "apiVersion: v1\n", string(b))

	require.ErrorContains(t, CheckFiles([]*Document{{Index: 3, Files: []string{filepath.Join(dir, "missing.tgz")}}}), "document 3:")
}

// FuzzParse: any input is parsed or refused, never a panic, and every
// document it accepts has an anchor and an object path.
func FuzzParse(f *testing.F) {
	f.Add([]byte("version: emco/v2\nresourceContext: {anchor: projects}\nmetadata: {name: p}\n"))
	f.Add([]byte("version: emco/v2\nresourceContext: {anchor: projects/p/composite-apps}\nmetadata: {name: c}\nspec: {compositeAppVersion: v1}\n---\n"))
	f.Add([]byte("version: emco/v2\nresourceContext: {anchor: a/b/approve}\n---\nversion: emco/v2\nresourceContext: {anchor: x/labels}\nclusterLabel: e\nfiles: [a]\n"))
	f.Add([]byte("- 1\n---\n: :\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := Parse(data, "/d")
		if err != nil {
			return
		}
		for _, d := range docs {
			if d.Anchor == "" || d.ObjectPath() == "" {
				t.Fatalf("accepted document without anchor or path: %+v", d)
			}
		}
	})
}
