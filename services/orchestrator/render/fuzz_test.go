package render_test

import (
	"testing"

	"edgeway.dev/services/orchestrator/render"
)

// FuzzRender feeds arbitrary bytes as the chart archive: Render must return
// a result or an error, never panic or hang. `go test` runs the seeds only;
// fuzz with `go test -fuzz FuzzRender ./services/orchestrator/render/`.
func FuzzRender(f *testing.F) {
	sub := tgz(f, "sub", chartFiles{"Chart.yaml": chartYAML("sub", ""), "crds/c.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: c}\n", "templates/cm.yaml": cm("sub")})
	f.Add(tgz(f, "app", chartFiles{
		"Chart.yaml":           chartYAML("app", "dependencies:\n  - name: sub\n    version: 0.1.0\n"),
		"values.yaml":          "a: {b: [1, 2]}\n",
		"values.schema.json":   `{"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"type": "object"}}}`,
		"templates/cm.yaml":    cm("{{ .Release.Name }}") + "---\n" + cm("hook", "helm.sh/hook: pre-install"),
		"templates/NOTES.txt":  "{{ .Values.a.b }}",
		"charts/sub-0.1.0.tgz": string(sub),
	}))
	f.Add(sub)
	f.Add(simpleChart(f, chartFiles{"bad.yaml": "{{ .Values.x "}))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0})
	f.Add([]byte("apiVersion: v2\nname: x\n"))
	f.Fuzz(func(t *testing.T, chart []byte) {
		res, err := render.Render(render.Input{Chart: chart, ReleaseName: "rel", Namespace: "apps", Overrides: map[string]string{"a.c": "1"}})
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
	})
}
