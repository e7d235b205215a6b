package deploy

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"edgeway.dev/tests/harness"
)

const (
	proj = "/projects/p1"
	ca   = proj + "/composite-apps/shop/v1"
	dig  = ca + "/deployment-intent-groups/d1"
	gpi  = dig + "/generic-placement-intents/placement"
)

// setupShop creates a composite app of two charts: "db" (ConfigMap +
// Deployment) placed on every cluster labelled edge, and "web" (ConfigMap)
// placed on any one of edge1/edge2, depending on db being deployed.
func setupShop(t *testing.T, w *world, webIntent map[string]any) {
	a := w.api
	a.PostJSON(t, "/projects", obj("p1", nil)).Require(t, http.StatusCreated)
	a.PostJSON(t, proj+"/composite-apps", obj("shop", map[string]any{"compositeAppVersion": "v1"})).Require(t, http.StatusCreated)
	a.Multipart(t, http.MethodPost, ca+"/apps", obj("db", nil),
		chart(t, "db", "message: one\n", map[string]string{"configmap.yaml": configMapTmpl, "deployment.yaml": deploymentTmpl})).Require(t, http.StatusCreated)
	a.Multipart(t, http.MethodPost, ca+"/apps", obj("web", nil),
		chart(t, "web", "message: web\n", map[string]string{"configmap.yaml": configMapTmpl})).Require(t, http.StatusCreated)
	a.PostJSON(t, ca+"/apps/web/dependency", obj("needs-db", map[string]any{"app": "db", "opStatus": "Deployed", "wait": 0})).Require(t, http.StatusCreated)
	a.PostJSON(t, proj+"/logical-clouds", obj("lc", map[string]any{"namespace": "default", "level": "0"})).Require(t, http.StatusCreated)
	a.PostJSON(t, ca+"/deployment-intent-groups", obj("d1", map[string]any{"version": "r1", "logicalCloud": "lc"})).Require(t, http.StatusCreated)
	a.PostJSON(t, dig+"/generic-placement-intents", obj("placement", nil)).Require(t, http.StatusCreated)
	a.PostJSON(t, gpi+"/app-intents", obj("db", map[string]any{"app": "db",
		"intent": map[string]any{"allOf": []any{map[string]any{"clusterProvider": "local", "clusterLabel": "edge"}}}})).Require(t, http.StatusCreated)
	a.PostJSON(t, gpi+"/app-intents", obj("web", map[string]any{"app": "web", "intent": webIntent})).Require(t, http.StatusCreated)
	a.PostJSON(t, dig+"/intents", obj("intents", map[string]any{"intent": map[string]any{"genericPlacementIntent": "placement"}})).Require(t, http.StatusCreated)
}

func setMessage(t *testing.T, w *world, msg string) {
	w.api.PutJSON(t, dig, obj("d1", map[string]any{"version": "r1", "logicalCloud": "lc",
		"overrideValues": []any{map[string]any{"app": "db", "values": map[string]string{"message": msg}}}})).Require(t, http.StatusOK)
}

func (w *world) configMessage(t *testing.T, cluster, name string) string {
	cm, err := w.clients[cluster].CoreV1().ConfigMaps("default").Get(ctxT(t), name, metav1.GetOptions{})
	require.NoError(t, err)
	return cm.Data["message"]
}

func TestDeployLifecycle(t *testing.T) {
	w := newWorld(t, 2, harness.Options{})
	setupShop(t, w, map[string]any{"anyOf": []any{
		map[string]any{"clusterProvider": "local", "cluster": "edge1"},
		map[string]any{"clusterProvider": "local", "cluster": "edge2"}}})

	// Illegal transitions answer 409 with the current state.
	w.api.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).RequireProblem(t, http.StatusConflict)
	w.api.Do(t, http.MethodPost, dig+"/terminate", "", nil, nil).RequireProblem(t, http.StatusConflict)
	w.api.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).Require(t, http.StatusAccepted)
	w.api.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).Require(t, http.StatusAccepted)
	w.api.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).RequireProblem(t, http.StatusConflict)
	w.api.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).RequireProblem(t, http.StatusConflict)

	st := w.waitDeployed(t, dig, "Instantiated", 90*time.Second)
	require.Equal(t, map[string]int{"Applied": 5}, st.DeployedCounts, "db: ConfigMap + Deployment on 2 clusters, web: ConfigMap on 1")
	for _, a := range st.Apps {
		for _, c := range a.Clusters {
			require.Equal(t, "Available", c.Connectivity)
		}
	}

	// The objects are on the clusters, checked with client-go.
	for _, c := range []string{"edge1", "edge2"} {
		require.Equal(t, "one", w.configMessage(t, c, "db-config"))
		d, err := w.clients[c].AppsV1().Deployments("default").Get(ctxT(t), "db", metav1.GetOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, d.Labels["edgeway.dev/deployment"])
		require.Equal(t, "edgeway", d.ManagedFields[0].Manager)
	}
	webOn := 0
	for _, c := range []string{"edge1", "edge2"} {
		if _, err := w.clients[c].CoreV1().ConfigMaps("default").Get(ctxT(t), "web-config", metav1.GetOptions{}); err == nil {
			webOn++
		}
	}
	require.Equal(t, 1, webOn, "anyOf places web on exactly one cluster")

	// Readiness: these apiservers run no controllers, so the test plays the
	// Deployment controller and reports the rollout done.
	require.Equal(t, "NotReady", w.status(t, dig, "").ReadyStatus)
	for _, c := range []string{"edge1", "edge2"} {
		d, err := w.clients[c].AppsV1().Deployments("default").Get(ctxT(t), "db", metav1.GetOptions{})
		require.NoError(t, err)
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		_, err = w.clients[c].AppsV1().Deployments("default").UpdateStatus(ctxT(t), d, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return w.status(t, dig, "status=ready").ReadyStatus == "Ready" }, 60*time.Second, 250*time.Millisecond)

	// Update: a new value reaches the clusters as revision 2.
	setMessage(t, w, "two")
	w.api.Do(t, http.MethodPost, dig+"/update", "", nil, nil).Require(t, http.StatusAccepted)
	w.waitDeployed(t, dig, "Updated", 90*time.Second)
	for _, c := range []string{"edge1", "edge2"} {
		require.Equal(t, "two", w.configMessage(t, c, "db-config"))
	}

	// Rollback to revision 1: the value is back.
	w.api.PostJSON(t, dig+"/rollback", map[string]any{"revision": 1}).Require(t, http.StatusAccepted)
	require.Eventually(t, func() bool {
		st := w.status(t, dig, "status=deployed")
		return st.DeployedStatus == "Updated" && len(st.States.Actions) > 0 && st.States.Actions[len(st.States.Actions)-1].Revision == 3
	}, 90*time.Second, 250*time.Millisecond)
	for _, c := range []string{"edge1", "edge2"} {
		require.Equal(t, "one", w.configMessage(t, c, "db-config"))
	}

	// Terminate: every object is gone.
	w.api.Do(t, http.MethodPost, dig+"/terminate", "", nil, nil).Require(t, http.StatusAccepted)
	w.waitDeployed(t, dig, "Terminated", 90*time.Second)
	for _, c := range []string{"edge1", "edge2"} {
		for _, name := range []string{"db-config", "web-config"} {
			_, err := w.clients[c].CoreV1().ConfigMaps("default").Get(ctxT(t), name, metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "%s on %s: %v", name, c, err)
		}
		_, err := w.clients[c].AppsV1().Deployments("default").Get(ctxT(t), "db", metav1.GetOptions{})
		require.True(t, apierrors.IsNotFound(err))
	}
	// Instantiating again after terminate is an instantiation (revision 4),
	// not an update.
	w.api.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).Require(t, http.StatusAccepted)
	w.waitDeployed(t, dig, "Instantiated", 90*time.Second)
	require.Equal(t, "two", w.configMessage(t, "edge1", "db-config"), "the DIG as it is now (the rollback did not change it)")
	w.api.Do(t, http.MethodPost, dig+"/terminate", "", nil, nil).Require(t, http.StatusAccepted)
	w.waitDeployed(t, dig, "Terminated", 90*time.Second)

	// A terminated DIG can be deleted... after its children.
	w.api.Delete(t, dig).RequireProblem(t, http.StatusConflict)
}

func TestApproveChecksPlacement(t *testing.T) {
	w := newWorld(t, 1, harness.Options{})
	// No cluster of this one-cluster world has label zone-b.
	setupShop(t, w, map[string]any{"allOf": []any{map[string]any{"clusterProvider": "local", "clusterLabel": "zone-b"}}})
	p := w.api.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).RequireProblem(t, http.StatusConflict)
	require.Contains(t, p.Detail, "zone-b")
	require.Contains(t, p.Detail, "web")
}
