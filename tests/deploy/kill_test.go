package deploy

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"edgeway.dev/tests/harness"
)

// TestKillDuringInstantiate kills the server (SIGKILL) in the middle of an
// instantiation and checks that the restarted server finishes it, leaving
// on each cluster exactly the objects of the deployment, each applied by
// one "edgeway" field manager entry.
//
// The deployment cannot finish before the kill: "db" (40 ConfigMaps and a
// Deployment, on both clusters) must be Ready before "web" is applied, and
// these apiservers run no Deployment controller; the test reports the
// rollouts done only after the restart. With one cluster at a time, the
// first Applied resources show up while the second cluster is still being
// applied, so the kill usually lands in the middle of applying too.
func TestKillDuringInstantiate(t *testing.T) {
	const cms = 40
	w := newWorld(t, 2, harness.Options{ExtraArgs: []string{
		"--deployer-cluster-concurrency=1"}})
	setupApps(t, w, shopSpec{
		DB:        chart(t, "db", "count: 40\n", map[string]string{"configmaps.yaml": manyConfigMapsTmpl, "deployment.yaml": deploymentTmpl}),
		Web:       chart(t, "web", "message: web\n", map[string]string{"configmap.yaml": configMapTmpl}),
		WebNeeds:  "Ready",
		WebIntent: onEveryEdge,
	})
	const total = 2 * (cms + 1 + 1) // per cluster: db's ConfigMaps and Deployment, web's ConfigMap

	w.api.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).Require(t, http.StatusAccepted)
	instance := w.instantiate(t)

	// Some resources are Applied, not all: kill the server now.
	var atKill statusAnswer
	require.Eventually(t, func() bool {
		atKill = w.status(t, dig, "status=deployed&output=all")
		return atKill.DeployedCounts["Applied"] > 0
	}, 30*time.Second, 20*time.Millisecond, "no resource was ever Applied")
	// Let the apply on the other cluster get under way, so that the kill
	// interrupts it (if it is over by then, the kill still comes before web).
	other := "edge1"
	if countsOn(atKill, "edge1")["Applied"] > 0 {
		other = "edge2"
	}
	ctx := ctxT(t)
	require.Eventually(t, func() bool {
		cms, err := w.clients[other].CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{LabelSelector: labelDeployment})
		return err == nil && len(cms.Items) >= 10
	}, 30*time.Second, 10*time.Millisecond, "the apply on %s never started", other)
	atKill = w.status(t, dig, "status=deployed&output=all")
	w.srv.Kill()
	t.Logf("killed the server at deployedCounts %v (edge1 %v, edge2 %v); objects on the clusters: edge1 %d, edge2 %d",
		atKill.DeployedCounts, countsOn(atKill, "edge1"), countsOn(atKill, "edge2"),
		len(w.labelled(t, "edge1")), len(w.labelled(t, "edge2")))
	require.Equal(t, "Instantiating", atKill.DeployedStatus)
	require.Less(t, atKill.DeployedCounts["Applied"], total)
	require.Equal(t, total, atKill.DeployedCounts["Applied"]+atKill.DeployedCounts["Pending"], "only Applied and Pending before the kill: %v", atKill.DeployedCounts)

	w.srv.Restart(t)

	// The restarted server knows the deployment and resumes it.
	st := w.status(t, dig, "status=deployed")
	require.Equal(t, instance, st.States.StatusCtxID)
	require.Equal(t, "Instantiated", st.States.Actions[len(st.States.Actions)-1].State)
	require.Contains(t, []string{"Instantiating", "Instantiated"}, st.DeployedStatus)
	require.Zero(t, st.DeployedCounts["Failed"], "%v", st.DeployedCounts)

	for _, c := range []string{"edge1", "edge2"} {
		w.markDeploymentReady(t, c, "db")
	}
	st = w.waitDeployed(t, dig, "Instantiated", 45*time.Second)
	require.Equal(t, map[string]int{"Applied": total}, st.DeployedCounts)
	for _, c := range []string{"edge1", "edge2"} {
		require.Equal(t, map[string]string{"db": "Available", "web": "Available"}, connectivityOn(st, c))
	}

	want := append(objectNames("ConfigMap", append(numbered("db-cm-", cms), "web-config")...), objectNames("Deployment", "db")...)
	for _, c := range []string{"edge1", "edge2"} {
		w.requireDeployed(t, c, instance, want)
	}
}
