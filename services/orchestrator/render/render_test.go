package render_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/services/orchestrator/render"
)

func TestValuesPrecedence(t *testing.T) {
	chrt := tgz(t, "app", chartFiles{
		"Chart.yaml": chartYAML("app", ""),
		"values.yaml": `
image: {repo: nginx, tag: "1.0"}
replicas: 1
debug: false
extra: {}
ports:
  - {name: http, port: 80}
  - {name: metrics, port: 9090}
`,
		"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cfg
data:
  repo: {{ .Values.image.repo | quote }}
  tag: {{ .Values.image.tag | quote }}
  replicas: {{ .Values.replicas | quote }}
  debug: {{ kindOf .Values.debug | quote }}
  port0: {{ (index .Values.ports 0).name | quote }}
  port1: {{ (index .Values.ports 1).port | quote }}
  extra: {{ .Values.extra.list | toJson | quote }}
`,
	})
	defaults := map[string]string{"repo": "nginx", "tag": "1.0", "replicas": "1", "debug": "bool", "port0": "http", "port1": "9090", "extra": "null"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range defaults {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name      string
		profile   string
		overrides map[string]string
		want      map[string]string
	}{
		{name: "chart defaults", want: defaults},
		{
			name:    "profile deep-merges over defaults",
			profile: "image: {tag: \"2.0\"}\nreplicas: 3\n",
			want:    with("tag", "2.0", "replicas", "3"),
		},
		{
			name:      "override beats profile",
			profile:   "image: {tag: \"2.0\"}\nreplicas: 3\n",
			overrides: map[string]string{"image.tag": "3.0"},
			want:      with("tag", "3.0", "replicas", "3"),
		},
		{
			name:      "override typed like --set",
			overrides: map[string]string{"debug": "true", "replicas": "5"},
			want:      with("replicas", "5"),
		},
		{
			name:      "list index into profile list",
			profile:   "ports:\n  - {name: web, port: 8080}\n  - {name: metrics, port: 9090}\n",
			overrides: map[string]string{"ports[1].port": "9191"},
			want:      with("port0", "web", "port1", "9191"),
		},
		{
			name:      "nested path and list created by override",
			overrides: map[string]string{"extra.list[1].a": "x", "image.repo": "registry.local/nginx"},
			want:      with("repo", "registry.local/nginx", "extra", `[null,{"a":"x"}]`),
		},
		{
			name:      "list literal",
			overrides: map[string]string{"extra.list": "{a,b}"},
			want:      with("extra", `["a","b"]`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(chrt)
			in.ProfileValues = []byte(tt.profile)
			in.Overrides = tt.overrides
			res, err := render.Render(in)
			require.NoError(t, err)
			require.Len(t, res.Objects, 1)
			require.Equal(t, tt.want, configMapData(t, res.Objects[0]))
			require.Equal(t, "rel-cfg", res.Objects[0].Name)
			require.Equal(t, "app/templates/cm.yaml", res.Objects[0].Source)
		})
	}
}

func TestCapabilitiesAndLookup(t *testing.T) {
	chrt := simpleChart(t, chartFiles{"cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: caps
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  minor: {{ .Capabilities.KubeVersion.Minor | quote }}
  lookup: {{ lookup "v1" "Secret" "apps" "x" | len | quote }}
  dns: {{ getHostByName "localhost" | quote }}
  ns: {{ .Release.Namespace | quote }}
  rel: {{ .Release.Name | quote }}
  install: {{ .Release.IsInstall | quote }}
`})
	res, err := render.Render(input(chrt))
	require.NoError(t, err)
	require.Equal(t, map[string]string{
		"kube": "v1.37.0", "minor": "37", "lookup": "0", "dns": "",
		"ns": "apps", "rel": "rel", "install": "true",
	}, configMapData(t, res.Objects[0]))
}

func TestKubeVersionConstraint(t *testing.T) {
	for _, tt := range []struct {
		constraint string
		ok         bool
	}{
		{">= 1.30.0-0", true},
		{"~1.37.0", true},
		{">= 1.38.0", false},
		{"< 1.37.0", false},
	} {
		t.Run(tt.constraint, func(t *testing.T) {
			chrt := tgz(t, "app", chartFiles{
				"Chart.yaml":        chartYAML("app", "kubeVersion: \""+tt.constraint+"\"\n"),
				"templates/cm.yaml": cm("x"),
			})
			_, err := render.Render(input(chrt))
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, render.ErrInvalidChart)
			require.ErrorContains(t, err, "v1.37.0")
		})
	}
}

func TestCRDsComeFirstAndSeparate(t *testing.T) {
	crd := func(kind, plural, scope string) string {
		return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ` + plural + `.example.com
spec:
  group: example.com
  scope: ` + scope + `
  names: {kind: ` + kind + `, plural: ` + plural + `}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`
	}
	sub := tgz(t, "sub", chartFiles{
		"Chart.yaml":         chartYAML("sub", ""),
		"crds/gizmo.yaml":    crd("Gizmo", "gizmos", "Namespaced"),
		"templates/cm.yaml":  cm("sub-cm"),
		"templates/giz.yaml": "apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n",
	})
	chrt := tgz(t, "app", chartFiles{
		"Chart.yaml": chartYAML("app", "dependencies:\n  - name: sub\n    version: 0.1.0\n"),
		// Not templated: CRD files are taken verbatim.
		"crds/widgets.yaml":     crd("Widget", "widgets", "Namespaced") + "---\n# only a comment\n---\n" + crd("ClusterWidget", "clusterwidgets", "Cluster"),
		"charts/sub-0.1.0.tgz":  string(sub),
		"templates/cm.yaml":     cm("app-cm"),
		"templates/widget.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\napiVersion: example.com/v1\nkind: ClusterWidget\nmetadata:\n  name: cw\n",
	})
	res, err := render.Render(input(chrt))
	require.NoError(t, err)
	require.Equal(t, []string{
		"CustomResourceDefinition/widgets.example.com",
		"CustomResourceDefinition/clusterwidgets.example.com",
		"CustomResourceDefinition/gizmos.example.com",
	}, ids(res.CRDs))
	for _, c := range res.CRDs {
		require.Empty(t, c.Namespace, "CRDs are cluster-scoped")
		require.Empty(t, c.Hook)
	}
	require.Equal(t, "app/crds/widgets.yaml", res.CRDs[0].Source)
	require.Equal(t, "app/charts/sub/crds/gizmo.yaml", res.CRDs[2].Source)
	require.ElementsMatch(t, []string{"ConfigMap/app-cm", "ConfigMap/sub-cm", "Widget/w", "ClusterWidget/cw", "Gizmo/g"}, ids(res.Objects))
	ns := map[string]string{}
	for _, o := range res.Objects {
		ns[o.Kind] = o.Namespace
	}
	require.Equal(t, "", ns["ClusterWidget"], "the chart's CRD says Cluster")
	require.Equal(t, "apps", ns["Widget"])
	require.Equal(t, "apps", ns["Gizmo"])
}

func TestInstallOrder(t *testing.T) {
	chrt := simpleChart(t, chartFiles{
		"all.yaml": `apiVersion: example.com/v1
kind: Zebra
metadata: {name: z}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: v1
kind: Service
metadata: {name: svc}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
---
apiVersion: example.com/v1
kind: Aardvark
metadata: {name: a}
`,
		"b-secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\n",
		"a-secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s1}\n",
		"rbac.yaml":     "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: cr}\n",
	})
	res, err := render.Render(input(chrt))
	require.NoError(t, err)
	require.Equal(t, []string{
		"Namespace/ns", "ServiceAccount/sa", "Secret/s1", "Secret/s2", "ConfigMap/cm",
		"ClusterRole/cr", "Service/svc", "Deployment/d",
		"Aardvark/a", "Zebra/z", // unknown kinds last, by kind
	}, ids(res.Objects))
	require.Empty(t, res.CRDs)
	require.Empty(t, res.Hooks)
}

func TestHooks(t *testing.T) {
	chrt := simpleChart(t, chartFiles{
		"hooks.yaml": cm("post", `helm.sh/hook: post-install`, `helm.sh/hook-weight: "5"`) +
			"---\n" + cm("pre-z", `helm.sh/hook: pre-install`, `helm.sh/hook-weight: "-1"`) +
			"---\n" + cm("pre-b", `helm.sh/hook: "pre-install,pre-upgrade"`, `helm.sh/hook-weight: "-1"`) +
			"---\n" + cm("both", `helm.sh/hook: "pre-install, test"`) +
			"---\n" + cm("bad-weight", `helm.sh/hook: post-install`, `helm.sh/hook-weight: heavy`) +
			"---\n" + cm("plain", `example.com/note: not a hook`),
		"tests/test.yaml":    cm("test", `helm.sh/hook: test`),
		"tests/legacy.yaml":  cm("legacy", `helm.sh/hook: test-success`),
		"tests/neither.yaml": "# {{ .Release.Name }}\n",
	})
	res, err := render.Render(input(chrt))
	require.NoError(t, err)
	require.Equal(t, []string{"ConfigMap/plain"}, ids(res.Objects))
	type hook struct {
		Name, Hook string
		Weight     int
	}
	var got []hook
	for _, h := range res.Hooks {
		got = append(got, hook{h.Name, h.Hook, h.HookWeight})
		require.Equal(t, "apps", h.Namespace)
		require.Equal(t, "app/templates/hooks.yaml", h.Source)
	}
	require.Equal(t, []hook{
		{"pre-b", "pre-install,pre-upgrade", -1},
		{"pre-z", "pre-install", -1},
		{"bad-weight", "post-install", 0},
		{"both", "pre-install", 0},
		{"post", "post-install", 5},
	}, got)
}

func TestNamespaces(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     string
	}{
		{"namespaced kind gets the release namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "apps"},
		{"explicit namespace kept", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: other}\n", "other"},
		{"unknown kind is namespaced", "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: x}\n", "apps"},
		{"Namespace", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n", ""},
		{"ClusterRole", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\n", ""},
		{"ClusterRoleBinding with a namespace", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x, namespace: other}\n", ""},
		{"StorageClass", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: x}\n", ""},
		{"PriorityClass", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: x}\n", ""},
		{"PersistentVolume", "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: x}\n", ""},
		{"PersistentVolumeClaim", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\n", "apps"},
		{"CRD in templates", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n", ""},
		{"webhook configuration", "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: x}\n", ""},
		{"same kind, other group", "apiVersion: example.com/v1\nkind: ClusterRole\nmetadata: {name: x}\n", "apps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := render.Render(input(simpleChart(t, chartFiles{"x.yaml": tt.manifest})))
			require.NoError(t, err)
			require.Len(t, res.Objects, 1)
			require.Equal(t, tt.want, res.Objects[0].Namespace)
			require.Equal(t, strings.TrimSpace(tt.manifest)+"\n", string(res.Objects[0].Manifest), "the manifest is not rewritten")
		})
	}
}

func TestSubcharts(t *testing.T) {
	subTemplate := `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
data:
  size: {{ .Values.size | quote }}
  region: {{ .Values.global.region | quote }}
`
	db := tgz(t, "db", chartFiles{
		"Chart.yaml":          chartYAML("db", ""),
		"values.yaml":         "size: small\n",
		"templates/cm.yaml":   subTemplate,
		"templates/NOTES.txt": "db notes",
	})
	opt := tgz(t, "opt", chartFiles{
		"Chart.yaml":        chartYAML("opt", ""),
		"templates/cm.yaml": subTemplate,
	})
	chrt := tgz(t, "app", chartFiles{
		"Chart.yaml": chartYAML("app", `dependencies:
  - name: db
    version: 0.1.0
  - name: opt
    version: 0.1.0
    condition: opt.enabled
`),
		"values.yaml":                    "global: {region: eu}\ndb: {size: medium}\nopt: {enabled: false}\n",
		"charts/db-0.1.0.tgz":            string(db),
		"charts/opt-0.1.0.tgz":           string(opt),
		"charts/cache/Chart.yaml":        chartYAML("cache", ""),
		"charts/cache/values.yaml":       "size: tiny\n",
		"charts/cache/templates/cm.yaml": subTemplate,
		"templates/NOTES.txt":            "Installed {{ .Release.Name }} in {{ .Release.Namespace }}.",
	})
	in := input(chrt)
	in.Overrides = map[string]string{"cache.size": "large"}
	res, err := render.Render(in)
	require.NoError(t, err)
	require.Equal(t, []string{"ConfigMap/rel-cache", "ConfigMap/rel-db"}, ids(res.Objects))
	require.Equal(t, "app/charts/cache/templates/cm.yaml", res.Objects[0].Source)
	require.Equal(t, map[string]string{"size": "large", "region": "eu"}, configMapData(t, res.Objects[0]))
	require.Equal(t, "app/charts/db/templates/cm.yaml", res.Objects[1].Source)
	require.Equal(t, map[string]string{"size": "medium", "region": "eu"}, configMapData(t, res.Objects[1]))
	require.Equal(t, "Installed rel in apps.", res.Notes, "only the top chart's notes")

	t.Run("enabling the subchart", func(t *testing.T) {
		in.Overrides = map[string]string{"opt.enabled": "true"}
		res, err := render.Render(in)
		require.NoError(t, err)
		require.Equal(t, []string{"ConfigMap/rel-cache", "ConfigMap/rel-db", "ConfigMap/rel-opt"}, ids(res.Objects))
	})
	t.Run("declared dependency missing", func(t *testing.T) {
		chrt := tgz(t, "app", chartFiles{
			"Chart.yaml":        chartYAML("app", "dependencies:\n  - name: ghost\n    version: 0.1.0\n"),
			"templates/cm.yaml": cm("x"),
		})
		_, err := render.Render(input(chrt))
		require.ErrorIs(t, err, render.ErrInvalidChart)
		require.ErrorContains(t, err, "ghost")
	})
}

func TestDocumentsAndErrors(t *testing.T) {
	tests := []struct {
		name      string
		templates chartFiles
		wantIDs   []string
		wantErr   error
		errHas    []string
	}{
		{
			name: "empty and comment-only documents dropped, partials used",
			templates: chartFiles{
				"_helpers.tpl": `{{ define "app.name" }}from-helper{{ end }}`,
				"cm.yaml":      "---\n---\n# just a comment\n---\n" + cm(`{{ include "app.name" . }}`) + "---\n\n---\n# trailing\n",
				"empty.yaml":   "{{- if false }}\n" + cm("never") + "{{- end }}\n",
				"blank.yaml":   "   \n",
			},
			wantIDs: []string{"ConfigMap/from-helper"},
		},
		{
			name:      "template parse error names the template",
			templates: chartFiles{"bad.yaml": "{{ .Values.x "},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/bad.yaml"},
		},
		{
			name:      "required value names the template",
			templates: chartFiles{"ok.yaml": cm("ok"), "deploy.yaml": `{{ required "image.tag is required" .Values.image }}`},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/deploy.yaml", "image.tag is required"},
		},
		{
			name:      "fail names the template",
			templates: chartFiles{"f.yaml": `{{ fail "no way" }}`},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/f.yaml", "no way"},
		},
		{
			name:      "index of nothing names the template",
			templates: chartFiles{"p.yaml": `{{ index .Values.nothing 3 }}`},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/p.yaml"},
		},
		{
			name:      "missing metadata.name",
			templates: chartFiles{"ok.yaml": cm("ok"), "noname.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n"},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/noname.yaml", "metadata.name"},
		},
		{
			name:      "missing kind and apiVersion",
			templates: chartFiles{"nokind.yaml": "metadata: {name: x}\n"},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/nokind.yaml", "apiVersion, kind"},
		},
		{
			name:      "missing name in a hook",
			templates: chartFiles{"hook.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations: {helm.sh/hook: pre-install}\n"},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/hook.yaml", "Pod without metadata.name"},
		},
		{
			name:      "invalid YAML",
			templates: chartFiles{"y.yaml": "apiVersion: v1\nkind: [\n"},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/y.yaml"},
		},
		{
			name:      "a document that is not a mapping",
			templates: chartFiles{"list.yaml": "- a\n- b\n"},
			wantErr:   render.ErrRender,
			errHas:    []string{"app/templates/list.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := render.Render(input(simpleChart(t, tt.templates)))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				for _, s := range tt.errHas {
					require.ErrorContains(t, err, s)
				}
				require.Nil(t, res)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantIDs, ids(res.Objects))
		})
	}
}

func TestInvalidInput(t *testing.T) {
	good := simpleChart(t, chartFiles{"cm.yaml": cm("x")})
	tests := []struct {
		name    string
		mutate  func(*render.Input)
		wantErr error
	}{
		{"release name", func(in *render.Input) { in.ReleaseName = "Not_Valid" }, render.ErrInvalidInput},
		{"empty release name", func(in *render.Input) { in.ReleaseName = "" }, render.ErrInvalidInput},
		{"namespace", func(in *render.Input) { in.Namespace = "a.b" }, render.ErrInvalidInput},
		{"empty namespace", func(in *render.Input) { in.Namespace = "" }, render.ErrInvalidInput},
		{"profile values not a map", func(in *render.Input) { in.ProfileValues = []byte("- a\n") }, render.ErrInvalidInput},
		{"override syntax", func(in *render.Input) { in.Overrides = map[string]string{"a[x": "1"} }, render.ErrInvalidInput},
		{"not gzip", func(in *render.Input) { in.Chart = []byte("apiVersion: v2\nname: x\n") }, render.ErrInvalidChart},
		{"no chart", func(in *render.Input) { in.Chart = nil }, render.ErrInvalidChart},
		{"no Chart.yaml", func(in *render.Input) { in.Chart = tgz(t, "app", chartFiles{"templates/cm.yaml": cm("x")}) }, render.ErrInvalidChart},
		{"library chart", func(in *render.Input) {
			in.Chart = tgz(t, "lib", chartFiles{"Chart.yaml": chartYAML("lib", "type: library\n")})
		}, render.ErrInvalidChart},
		{"path escaping the chart", func(in *render.Input) {
			in.Chart = tgz(t, "app", chartFiles{"Chart.yaml": chartYAML("app", ""), "../../etc/x": "x"})
		}, render.ErrInvalidChart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := input(good)
			tt.mutate(&in)
			res, err := render.Render(in)
			require.ErrorIs(t, err, tt.wantErr)
			require.Nil(t, res)
		})
	}
}

func TestReleaseName(t *testing.T) {
	require.Equal(t, "web", render.ReleaseName("dig-1", "web"))
	require.Equal(t, render.ReleaseName("dig-1", "web"), render.ReleaseName("dig-2", "web"))
}
