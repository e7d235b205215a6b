package render_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"edgeway.dev/services/orchestrator/render"
)

// chartFiles are the files of a chart by path inside the chart directory.
type chartFiles map[string]string

// tgz packs files under dir/ into a gzipped tar, as `helm package` does.
func tgz(tb testing.TB, dir string, files chartFiles) []byte {
	tb.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		data := []byte(files[n])
		require.NoError(tb, tw.WriteHeader(&tar.Header{Name: dir + "/" + n, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(data)
		require.NoError(tb, err)
	}
	require.NoError(tb, tw.Close())
	require.NoError(tb, gz.Close())
	return buf.Bytes()
}

// chartYAML is a minimal Chart.yaml; extra is appended verbatim.
func chartYAML(name, extra string) string {
	return fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.1.0\n%s", name, extra)
}

// simpleChart is a chart named "app" with the given templates.
func simpleChart(tb testing.TB, templates chartFiles) []byte {
	tb.Helper()
	files := chartFiles{"Chart.yaml": chartYAML("app", "")}
	for n, t := range templates {
		files["templates/"+n] = t
	}
	return tgz(tb, "app", files)
}

func input(chartTgz []byte) render.Input {
	return render.Input{Chart: chartTgz, ReleaseName: "rel", Namespace: "apps"}
}

// ids lists objects as "Kind/name".
func ids(objs []render.Object) []string {
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Kind+"/"+o.Name)
	}
	return out
}

// configMapData decodes the data of a ConfigMap manifest.
func configMapData(tb testing.TB, o render.Object) map[string]string {
	tb.Helper()
	var cm struct {
		Data map[string]string `json:"data"`
	}
	require.NoError(tb, yaml.Unmarshal(o.Manifest, &cm))
	return cm.Data
}

func cm(name string, annotations ...string) string {
	s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
	if len(annotations) > 0 {
		s += "  annotations:\n"
		for _, a := range annotations {
			s += "    " + a + "\n"
		}
	}
	return s
}
