package deploy

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestClusterDownDuringInstantiate instantiates while edge2's API server is
// down: edge1 is deployed at once, edge2 is retried (connectivity
// Retrying) without end, and deployed once it is back.
func TestClusterDownDuringInstantiate(t *testing.T) {
	w := newWorld(t, 2, harness.Options{ExtraArgs: []string{
		"--deployer-retry-limit=0"}})
	setupShop(t, w, onEveryEdge)
	w.api.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).Require(t, http.StatusAccepted)

	require.NoError(t, w.fleet.StopCluster("edge2"))
	instance := w.instantiate(t)

	var st statusAnswer
	require.Eventually(t, func() bool {
		st = w.status(t, dig, "status=deployed")
		edge2 := connectivityOn(st, "edge2")
		return st.DeployedStatus == "Instantiating" &&
			len(countsOn(st, "edge1")) == 1 && countsOn(st, "edge1")["Applied"] == 3 &&
			edge2["db"] == "Retrying" && edge2["web"] == "Retrying"
	}, 30*time.Second, 200*time.Millisecond, "want edge1 Applied and edge2 Retrying")
	require.Equal(t, map[string]string{"db": "Available", "web": "Available"}, connectivityOn(st, "edge1"))
	require.Equal(t, map[string]int{"Pending": 3}, countsOn(st, "edge2"), "edge2's resources wait")
	require.Equal(t, map[string]int{"Applied": 3, "Pending": 3}, st.DeployedCounts)
	want := append(objectNames("ConfigMap", "db-config", "web-config"), objectNames("Deployment", "db")...)
	w.requireDeployed(t, "edge1", instance, want)

	// Retried without limit: still Retrying well after the first attempts.
	require.Never(t, func() bool {
		st := w.status(t, dig, "status=deployed")
		return st.DeployedStatus != "Instantiating" || connectivityOn(st, "edge2")["db"] != "Retrying"
	}, 3*time.Second, 500*time.Millisecond)

	require.NoError(t, w.fleet.StartCluster(ctxT(t), "edge2"))
	st = w.waitDeployed(t, dig, "Instantiated", 30*time.Second)
	require.Equal(t, map[string]int{"Applied": 6}, st.DeployedCounts)
	for _, c := range []string{"edge1", "edge2"} {
		require.Equal(t, map[string]string{"db": "Available", "web": "Available"}, connectivityOn(st, c))
	}
	for _, c := range []string{"edge1", "edge2"} {
		w.requireDeployed(t, c, instance, want)
	}
}
