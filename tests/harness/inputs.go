package harness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"time"
)

// Chart describes a tiny Helm chart archive for HelmChart.
type Chart struct {
	Name    string // chart name; "" means "demo"
	Version string // chart version; "" means "0.1.0"
	// Padding adds a file of that many incompressible bytes (seeded by Name,
	// so the archive is reproducible) to make larger archives.
	Padding int
}

// HelmChart returns a valid Helm v3 chart archive (.tgz) named name with
// Chart.yaml, values.yaml and templates/configmap.yaml, built in memory.
// The same arguments always give the same bytes.
func HelmChart(name, version string) []byte {
	return Chart{Name: name, Version: version}.Archive()
}

// Archive builds the chart's .tgz bytes.
func (c Chart) Archive() []byte {
	if c.Name == "" {
		c.Name = "demo"
	}
	if c.Version == "" {
		c.Version = "0.1.0"
	}
	files := []struct {
		name string
		body []byte
	}{
		{"Chart.yaml", fmt.Appendf(nil, "apiVersion: v2\nname: %s\ndescription: A tiny chart for Edgeway tests\ntype: application\nversion: %s\nappVersion: \"1.0\"\n", c.Name, c.Version)},
		{"values.yaml", []byte("greeting: hello\nreplicaCount: 1\n")},
		{"templates/configmap.yaml", []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-{{ .Chart.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicaCount | quote }}
`)},
	}
	if c.Padding > 0 {
		seed := uint64(len(c.Name))
		for _, r := range c.Name {
			seed = seed*31 + uint64(r)
		}
		rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		pad := make([]byte, c.Padding)
		for i := range pad {
			pad[i] = byte(rng.Uint32())
		}
		files = append(files, struct {
			name string
			body []byte
		}{"files/padding.bin", pad})
	}

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(gz)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dirs := map[string]bool{}
	for _, f := range files {
		full := c.Name + "/" + f.name
		for d := dirOf(full); d != "" && !dirs[d]; d = dirOf(d) {
			dirs[d] = true
		}
	}
	// Directories first, parents before children.
	for _, d := range sortedByDepth(dirs) {
		mustTar(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}))
	}
	for _, f := range files {
		mustTar(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: c.Name + "/" + f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mtime}))
		_, err := tw.Write(f.body)
		mustTar(err)
	}
	mustTar(tw.Close())
	mustTar(gz.Close())
	return buf.Bytes()
}

func dirOf(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}

func sortedByDepth(dirs map[string]bool) []string {
	out := make([]string, 0, len(dirs))
	for d := range dirs {
		out = append(out, d)
	}
	depth := func(s string) int {
		n := 0
		for i := range len(s) {
			if s[i] == '/' {
				n++
			}
		}
		return n
	}
	// Tiny insertion sort: by depth, then name.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0; j-- {
			a, b := out[j-1], out[j]
			if depth(a) < depth(b) || (depth(a) == depth(b) && a <= b) {
				break
			}
			out[j-1], out[j] = b, a
		}
	}
	return out
}

func mustTar(err error) {
	if err != nil {
		panic("harness: building an in-memory archive: " + err.Error())
	}
}

// DefaultClusterServer is the API server URL Kubeconfig uses by default.
const DefaultClusterServer = "https://127.0.0.1:6443"

// Kubeconfig returns a kubeconfig YAML for one cluster at server ("" means
// DefaultClusterServer) that authenticates with a bearer token.
func Kubeconfig(cluster, server, token string) []byte {
	if server == "" {
		server = DefaultClusterServer
	}
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[4]s
users:
- name: %[1]s-admin
  user:
    token: %[3]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s-admin
    namespace: default
current-context: %[1]s
preferences: {}
`, cluster, server, token, base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nnot a real CA: the cluster is never contacted\n-----END CERTIFICATE-----\n")))
}
