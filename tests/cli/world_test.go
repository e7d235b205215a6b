package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"edgeway.dev/tests/edgecluster"
	"edgeway.dev/tests/harness"
)

// testController is the field manager of the status updates the tests make
// while playing the controllers these apiservers do not run.
const testController = "cli-test-controller"

// world is a running Edgeway with two registered edge clusters.
type world struct {
	srv     *harness.Server
	admin   *harness.API
	clients map[string]kubernetes.Interface
}

// newWorld starts two edge clusters and the all-in-one server; the admin
// registers the clusters under provider "local" with labels "edge" and
// "zone-a" / "zone-b", as tests/deploy does.
func newWorld(t *testing.T) *world {
	t.Helper()
	fleet := edgecluster.StartT(t, edgecluster.Options{N: 2})
	srv := harness.Start(t, harness.Options{})
	w := &world{srv: srv, admin: srv.API(), clients: map[string]kubernetes.Interface{}}
	w.admin.PostJSON(t, "/cluster-providers", obj("local")).Require(t, http.StatusCreated)
	for i, c := range fleet.Clusters() {
		w.admin.Multipart(t, http.MethodPost, "/cluster-providers/local/clusters", obj(c.Name), c.Kubeconfig).Require(t, http.StatusCreated)
		for _, l := range []string{"edge", fmt.Sprintf("zone-%c", 'a'+i)} {
			w.admin.PostJSON(t, "/cluster-providers/local/clusters/"+c.Name+"/labels", map[string]string{"clusterLabel": l}).Require(t, http.StatusCreated)
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig)
		require.NoError(t, err)
		w.clients[c.Name], err = kubernetes.NewForConfig(cfg)
		require.NoError(t, err)
	}
	return w
}

func obj(name string) map[string]any {
	return map[string]any{"metadata": map[string]any{"name": name}}
}

// clusterNames returns the edge clusters' names, sorted.
func (w *world) clusterNames() []string {
	var out []string
	for n := range w.clients {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// client returns a ctl that acts as a new confidential client of the dev
// identity provider (no platform role) with the CI environment variables,
// reaching the server by --endpoint and --ca-file.
func (w *world) client(t *testing.T, name string) *ctl {
	t.Helper()
	id, secret := w.srv.AddClient(t, name, false)
	c := newCtl(t, "--endpoint", w.srv.URL, "--ca-file", w.srv.CAFile())
	c.Env = []string{"EDGEWAY_CLIENT_ID=" + id, "EDGEWAY_CLIENT_SECRET=" + secret}
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// archive builds a .tgz of name → body.
func archive(_ testing.TB, files map[string]string) []byte { return harness.TarGz(files) }

// chart builds a Helm chart archive: Chart.yaml, values.yaml and templates.
func chart(_ testing.TB, name, values string, templates map[string]string) []byte {
	return harness.HelmChartWith(name, values, templates)
}

// profile builds an EMCO app profile archive overriding values.
func profile(t testing.TB, values string) []byte {
	return archive(t, map[string]string{
		"manifest.yaml":        "version: v1\ntype:\n  values: override_values.yaml\n",
		"override_values.yaml": values,
	})
}

const (
	configMapTmpl  = harness.ConfigMapTemplate
	deploymentTmpl = harness.DeploymentTemplate
)

const jobTmpl = `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: registry.example/migrate:1.0
`

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
}

// markDeploymentReady plays the Deployment controller: once Deployment
// name exists in namespace default of cluster, it reports the rollout done.
func (w *world) markDeploymentReady(t *testing.T, cluster, name string) {
	t.Helper()
	w.markDeploymentReadyIn(t, cluster, "default", name)
}

// markDeploymentReadyIn is markDeploymentReady in a namespace.
func (w *world) markDeploymentReadyIn(t *testing.T, cluster, namespace, name string) {
	t.Helper()
	ctx := ctxT(t)
	deps := w.clients[cluster].AppsV1().Deployments(namespace)
	var last error
	if !assert.Eventually(t, func() bool {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err
			return false
		}
		n := int32(1)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n}
		_, last = deps.UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: testController})
		return last == nil
	}, 90*time.Second, 200*time.Millisecond) {
		require.FailNow(t, "cannot mark Deployment ready", "%s on %s: %v", name, cluster, last)
	}
}

// failJob plays the Job controller: once Job name exists on cluster, it
// reports the Job failed (FailureTarget and Failed conditions, as the
// controller sets them after the backoff limit).
func (w *world) failJob(t *testing.T, cluster, name string) {
	t.Helper()
	ctx := ctxT(t)
	jobs := w.clients[cluster].BatchV1().Jobs("default")
	var last error
	if !assert.Eventually(t, func() bool {
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err
			return false
		}
		now := metav1.Now()
		j.Status = batchv1.JobStatus{
			StartTime: &now,
			Failed:    1,
			Conditions: []batchv1.JobCondition{
				{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
				{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
			},
		}
		_, last = jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{FieldManager: testController})
		return last == nil
	}, 90*time.Second, 200*time.Millisecond) {
		require.FailNow(t, "cannot fail Job", "%s on %s: %v", name, cluster, last)
	}
}
