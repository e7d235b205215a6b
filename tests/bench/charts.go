package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// The composite app: three charts, 25 objects per cluster.
//
//	a: ConfigMap ×6, Service, Deployment                        (8)
//	b: ConfigMap ×6, Secret, Deployment                         (8)
//	c: ConfigMap ×5, ServiceAccount, Role, RoleBinding, Deployment (9)
//
// The templates use only .Release.Name, .Release.Namespace and .Values
// fields, so Go's text/template renders them exactly as Helm does; the floor
// applies that rendering.

// appNamespace is the logical cloud's namespace, where Edgeway deploys.
const appNamespace = "default"

type chartSpec struct {
	name      string
	configMap int
	extras    []string // template names besides the ConfigMaps and the Deployment
	values    map[string]any
}

var charts = []chartSpec{
	{name: "a", configMap: 6, extras: []string{"service"}, values: map[string]any{"image": "registry.example/a:1.4.2", "port": 8080, "setting": "alpha"}},
	{name: "b", configMap: 6, extras: []string{"secret"}, values: map[string]any{"image": "registry.example/b:2.0.1", "port": 9090, "setting": "bravo"}},
	{name: "c", configMap: 5, extras: []string{"serviceaccount", "role", "rolebinding"}, values: map[string]any{"image": "registry.example/c:0.9.7", "port": 7070, "setting": "charlie"}},
}

// configBody is about 1 KiB of configuration, as real ConfigMaps carry.
var configBody = func() string {
	var b strings.Builder
	for i := range 24 {
		fmt.Fprintf(&b, "    key%02d: value-%02d-{{ .Values.setting }}-0123456789\n", i, i)
	}
	return b.String()
}()

func configMapTmpl(i int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config-%d
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
    app.kubernetes.io/component: config-%d
data:
  setting: "{{ .Values.setting }}"
  index: "%d"
  config.yaml: |
%s`, i, i, i, configBody)
}

var extraTmpls = map[string]string{
	"service": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
spec:
  selector:
    app.kubernetes.io/name: {{ .Release.Name }}
  ports:
  - name: http
    port: 80
    targetPort: {{ .Values.port }}
`,
	"secret": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-credentials
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
type: Opaque
data:
  username: YmVuY2gtdXNlcg==
  password: c2VjcmV0LXBhc3N3b3JkLTAxMjM0NTY3ODk=
`,
	"serviceaccount": `apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
`,
	"role": `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ .Release.Name }}-reader
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
rules:
- apiGroups: [""]
  resources: ["configmaps", "secrets"]
  verbs: ["get", "list", "watch"]
`,
	"rolebinding": `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .Release.Name }}-reader
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .Release.Name }}-reader
subjects:
- kind: ServiceAccount
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
`,
}

const deploymentTmpl = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Release.Name }}
    spec:
      containers:
      - name: app
        image: {{ .Values.image }}
        ports:
        - containerPort: {{ .Values.port }}
        env:
        - name: SETTING
          value: "{{ .Values.setting }}"
        resources:
          requests: {cpu: 50m, memory: 64Mi}
          limits: {cpu: 500m, memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: {{ .Values.port }}}
        volumeMounts:
        - name: config
          mountPath: /etc/app
      volumes:
      - name: config
        configMap:
          name: {{ .Release.Name }}-config-1
`

// templates returns the chart's template files, file name → body.
func (c chartSpec) templates() map[string]string {
	t := map[string]string{"deployment.yaml": deploymentTmpl}
	for i := 1; i <= c.configMap; i++ {
		t[fmt.Sprintf("configmap-%d.yaml", i)] = configMapTmpl(i)
	}
	for _, e := range c.extras {
		t[e+".yaml"] = extraTmpls[e]
	}
	return t
}

// archive builds the chart's .tgz.
func (c chartSpec) archive() ([]byte, error) {
	values, err := yaml.Marshal(c.values)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(p string, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: c.name + "/" + p, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := add("Chart.yaml", fmt.Appendf(nil, "apiVersion: v2\nname: %s\nversion: 0.1.0\n", c.name)); err != nil {
		return nil, err
	}
	if err := add("values.yaml", values); err != nil {
		return nil, err
	}
	tmpls := c.templates()
	names := make([]string, 0, len(tmpls))
	for n := range tmpls {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := add("templates/"+n, []byte(tmpls[n])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// installOrder is Helm's install order (releaseutil.InstallOrder) for the
// kinds the charts use.
var installOrder = []string{"ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding", "Service", "Deployment"}

// floorObject is one rendered object and its resource.
type floorObject struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

var resourceOf = map[string]schema.GroupVersionResource{
	"ConfigMap":      {Version: "v1", Resource: "configmaps"},
	"Secret":         {Version: "v1", Resource: "secrets"},
	"Service":        {Version: "v1", Resource: "services"},
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
	"Role":           {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":    {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"Deployment":     {Group: "apps", Version: "v1", Resource: "deployments"},
}

// render renders the chart as Helm would for release name = app name in
// namespace appNamespace, in Helm's install order (kind, then name).
func (c chartSpec) render() ([]floorObject, error) {
	data := map[string]any{
		"Release": map[string]any{"Name": c.name, "Namespace": appNamespace},
		"Values":  c.values,
	}
	var out []floorObject
	for file, body := range c.templates() {
		t, err := template.New(file).Option("missingkey=error").Parse(body)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", c.name, file, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", c.name, file, err)
		}
		u := &unstructured.Unstructured{}
		js, err := yaml.YAMLToJSON(b.Bytes())
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", c.name, file, err)
		}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("%s/%s: %w", c.name, file, err)
		}
		gvr, ok := resourceOf[u.GetKind()]
		if !ok {
			return nil, fmt.Errorf("%s/%s: no resource for kind %s", c.name, file, u.GetKind())
		}
		out = append(out, floorObject{gvr: gvr, obj: u})
	}
	slices.SortFunc(out, func(x, y floorObject) int {
		if d := slices.Index(installOrder, x.obj.GetKind()) - slices.Index(installOrder, y.obj.GetKind()); d != 0 {
			return d
		}
		return strings.Compare(x.obj.GetName(), y.obj.GetName())
	})
	return out, nil
}

// renderAll renders every chart, apps in order.
func renderAll() ([]floorObject, error) {
	var all []floorObject
	for _, c := range charts {
		objs, err := c.render()
		if err != nil {
			return nil, err
		}
		all = append(all, objs...)
	}
	return all, nil
}
