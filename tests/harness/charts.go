package harness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"time"
)

// Templates shared by the deployment tests: a ConfigMap carrying
// .Values.message and a one-replica Deployment, both named after the release.
const (
	ConfigMapTemplate = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
`
	DeploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
      - name: c
        image: registry.example/app:1.0
`
)

// TarGz builds a reproducible .tgz of path → body (sorted, fixed times).
func TarGz(files map[string]string) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		body := files[n]
		mustTar(tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}))
		_, err := tw.Write([]byte(body))
		mustTar(err)
	}
	mustTar(tw.Close())
	mustTar(zw.Close())
	return buf.Bytes()
}

// HelmChartWith builds a Helm chart archive named name with the given
// values.yaml and templates (file name → body).
func HelmChartWith(name, values string, templates map[string]string) []byte {
	files := map[string]string{
		name + "/Chart.yaml":  fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.1.0\n", name),
		name + "/values.yaml": values,
	}
	for p, b := range templates {
		files[name+"/templates/"+p] = b
	}
	return TarGz(files)
}
