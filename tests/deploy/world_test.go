package deploy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"edgeway.dev/tests/edgecluster"
	"edgeway.dev/tests/harness"
)

// chart builds a Helm chart .tgz from name → template body (plus
// Chart.yaml and values.yaml).
func chart(t testing.TB, name, values string, templates map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(p, body string) {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name + "/" + p, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	add("Chart.yaml", fmt.Sprintf("apiVersion: v2\nname: %s\nversion: 0.1.0\n", name))
	add("values.yaml", values)
	for p, b := range templates {
		add("templates/"+p, b)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

const configMapTmpl = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  message: {{ .Values.message | quote }}
`

const deploymentTmpl = `apiVersion: apps/v1
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

// world is a running Edgeway with registered edge clusters.
type world struct {
	srv     *harness.Server
	api     *harness.API
	fleet   *edgecluster.Fleet
	clients map[string]kubernetes.Interface
}

func newWorld(t *testing.T, clusters int, opts harness.Options) *world {
	t.Helper()
	fleet := edgecluster.StartT(t, edgecluster.Options{N: clusters})
	srv := harness.Start(t, opts)
	w := &world{srv: srv, api: srv.API(), fleet: fleet, clients: map[string]kubernetes.Interface{}}
	w.api.PostJSON(t, "/cluster-providers", obj("local", nil)).Require(t, http.StatusCreated)
	for i, c := range fleet.Clusters() {
		w.api.Multipart(t, http.MethodPost, "/cluster-providers/local/clusters", obj(c.Name, nil), c.Kubeconfig).Require(t, http.StatusCreated)
		for _, l := range []string{"edge", fmt.Sprintf("zone-%c", 'a'+i)} {
			w.api.PostJSON(t, "/cluster-providers/local/clusters/"+c.Name+"/labels", map[string]string{"clusterLabel": l}).Require(t, http.StatusCreated)
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig)
		require.NoError(t, err)
		w.clients[c.Name], err = kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
	}
	return w
}

func obj(name string, spec any) map[string]any {
	m := map[string]any{"metadata": map[string]any{"name": name}}
	if spec != nil {
		m["spec"] = spec
	}
	return m
}

// statusAnswer is the part of EMCO's status answer the tests read.
type statusAnswer struct {
	DeployedStatus string         `json:"deployedStatus"`
	ReadyStatus    string         `json:"readyStatus"`
	DeployedCounts map[string]int `json:"deployedCounts"`
	ReadyCounts    map[string]int `json:"readyCounts"`
	States         struct {
		StatusCtxID string `json:"statusctxid"`
		Actions     []struct {
			State    string `json:"state"`
			Revision int    `json:"revision"`
		} `json:"actions"`
	} `json:"states"`
	Apps []struct {
		Name     string `json:"name"`
		Clusters []struct {
			ClusterProvider string `json:"clusterProvider"`
			Cluster         string `json:"cluster"`
			Connectivity    string `json:"connectivity"`
			Resources       []struct {
				Name           string `json:"name"`
				DeployedStatus string `json:"deployedStatus"`
				ReadyStatus    string `json:"readyStatus"`
			} `json:"resources"`
		} `json:"clusters"`
	} `json:"apps"`
}

func (w *world) status(t testing.TB, dig, query string) statusAnswer {
	t.Helper()
	resp := w.api.Get(t, dig+"/status?"+query).Require(t, http.StatusOK)
	var a statusAnswer
	require.NoError(t, json.Unmarshal(resp.Body, &a), resp.String())
	return a
}

// waitDeployed waits until the DIG's deployedStatus is want.
func (w *world) waitDeployed(t testing.TB, dig, want string, within time.Duration) statusAnswer {
	t.Helper()
	var last statusAnswer
	require.Eventually(t, func() bool {
		last = w.status(t, dig, "status=deployed")
		return last.DeployedStatus == want
	}, within, 200*time.Millisecond, "deployedStatus never became %s", want)
	return last
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

var _ = metav1.GetOptions{}
