package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"edgeway.dev/tests/edgecluster"
	"edgeway.dev/tests/harness"
)

// chart builds a Helm chart .tgz from name → template body (plus
// Chart.yaml and values.yaml).
func chart(_ testing.TB, name, values string, templates map[string]string) []byte {
	return harness.HelmChartWith(name, values, templates)
}

const (
	configMapTmpl  = harness.ConfigMapTemplate
	deploymentTmpl = harness.DeploymentTemplate
)

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
