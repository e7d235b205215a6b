package e2e

import (
	"net/http"
	"testing"

	"edgeway.dev/tests/harness"
)

// TestClusterReferences checks that a cluster named by another service's
// object cannot be deleted (409) until that object is gone (then 204).
func TestClusterReferences(t *testing.T) {
	srv := sharedServer(t)
	runClusterReferences(t, srv.API())
}

func runClusterReferences(t *testing.T, api *harness.API) {
	tests := []struct {
		name string
		// refer creates an object naming w's cluster and returns its path.
		refer func(t *testing.T, w *world) string
	}{
		{"app intent", func(t *testing.T, w *world) string {
			gpi := w.gpiPath(t)
			w.appPath(t, 0)
			api.PostJSON(t, gpi+"/app-intents", envelope("pin-web", "names the cluster", obj{
				"app":    w.apps[0],
				"intent": obj{"allOf": []any{obj{"clusterProvider": w.provider, "cluster": w.cluster}}},
			})).Require(t, http.StatusCreated)
			return gpi + "/app-intents/pin-web"
		}},
		{"logical-cloud cluster reference", func(t *testing.T, w *world) string {
			lc := w.logicalCloudPath(t)
			api.PostJSON(t, lc+"/cluster-references", envelope("edge-ref", "names the cluster", obj{
				"clusterProvider": w.provider, "cluster": w.cluster,
			})).Require(t, http.StatusCreated)
			return lc + "/cluster-references/edge-ref"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(api)
			cluster := w.clusterPath(t)
			ref := tc.refer(t, w)

			api.Delete(t, cluster).RequireProblem(t, http.StatusConflict)
			api.Get(t, cluster).Require(t, http.StatusOK)

			api.Delete(t, ref).Require(t, http.StatusNoContent)
			api.Delete(t, cluster).Require(t, http.StatusNoContent)
			api.Get(t, cluster).RequireProblem(t, http.StatusNotFound)
			// The provider is empty now and can go too.
			api.Delete(t, w.providerPath(t)).Require(t, http.StatusNoContent)
		})
	}
}
