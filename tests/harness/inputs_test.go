package harness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHelmChart(t *testing.T) {
	tests := []struct {
		name  string
		chart Chart
		want  []string
	}{
		{"minimal", Chart{Name: "web", Version: "1.2.3"}, []string{"web/", "web/templates/", "web/Chart.yaml", "web/values.yaml", "web/templates/configmap.yaml"}},
		{"padded", Chart{Name: "big", Padding: 4096}, []string{"big/", "big/files/", "big/templates/", "big/Chart.yaml", "big/values.yaml", "big/templates/configmap.yaml", "big/files/padding.bin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.chart.Archive()
			require.Equal(t, b, tc.chart.Archive(), "archives are reproducible")
			gz, err := gzip.NewReader(bytes.NewReader(b))
			require.NoError(t, err)
			tr := tar.NewReader(gz)
			var names []string
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				names = append(names, h.Name)
				body, err := io.ReadAll(tr)
				require.NoError(t, err)
				if strings.HasSuffix(h.Name, "Chart.yaml") {
					require.Contains(t, string(body), "name: "+tc.chart.Name+"\n")
					require.Contains(t, string(body), "apiVersion: v2\n")
				}
				if strings.HasSuffix(h.Name, "padding.bin") {
					require.Len(t, body, tc.chart.Padding)
				}
			}
			require.Equal(t, tc.want, names)
		})
	}
}

func TestKubeconfig(t *testing.T) {
	kc := string(Kubeconfig("edge1", "", "tok-123"))
	for _, want := range []string{"server: https://127.0.0.1:6443\n", "token: tok-123\n", "current-context: edge1\n"} {
		require.Contains(t, kc, want)
	}
	require.NotContains(t, kc, "exec:")
}

func TestFreeLoopbackAddrs(t *testing.T) {
	addrs, err := FreeLoopbackAddrs(8)
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, a := range addrs {
		require.True(t, strings.HasPrefix(a, "127.0.0.1:"), a)
		require.False(t, seen[a], "duplicate %s", a)
		seen[a] = true
	}
}
