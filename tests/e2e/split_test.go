package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestSeparateProcesses runs the services as two processes sharing
// `edgeway dev-stores`: A = gateway, orchestrator, placement, secrets,
// deployer; B = clusterregistry. Every call goes through A's gateway, so
// cluster families and the cross-service checks (app intent → cluster
// registry, cluster delete → orchestrator) cross a process boundary.
func TestSeparateProcesses(t *testing.T) {
	skipShort(t)
	dataDir := t.TempDir()
	stores := harness.StartDevStores(t, dataDir)

	addrsA := harness.FreeAddrs(t)
	addrsB := addrsA.WithFreePublicAddrs(t)
	common := harness.Options{
		DataDir:       dataDir,
		MongoURI:      stores.MongoURI,
		EtcdEndpoints: stores.EtcdEndpoints,
	}
	optsB := common
	optsB.Target, optsB.Addrs = "clusterregistry", &addrsB
	// B serves no gateway: it verifies tokens of A's dev identity provider.
	optsB.ExtraArgs = []string{"--oidc-issuer", "https://" + addrsA.HTTPS + "/dev-idp"}
	optsA := common
	optsA.Target, optsA.Addrs = "gateway,orchestrator,placement,secrets,deployer", &addrsA

	// Each may wait for the other before it is ready: start both, then wait.
	b := harness.Spawn(t, optsB)
	a := harness.Spawn(t, optsA)
	a.WaitReady(t)
	b.WaitReady(t)
	require.Equal(t, a.CAFile(), b.CAFile(), "both processes use the dev CA of dev-stores")

	api := a.API()
	t.Run("cross-service", func(t *testing.T) {
		w := newWorld(api)
		// Cluster families answer through A's gateway although B owns them.
		cluster := w.clusterPath(t)
		api.Get(t, cluster).Require(t, http.StatusOK)
		gpi := w.gpiPath(t)
		w.appPath(t, 0)
		intent := func(cluster string) obj {
			return envelope("pin-"+cluster, "x", obj{"app": w.apps[0], "intent": obj{"allOf": []any{obj{"clusterProvider": w.provider, "cluster": cluster}}}})
		}
		// The orchestrator asks the cluster registry (process B).
		api.PostJSON(t, gpi+"/app-intents", intent("no-such-cluster")).RequireProblem(t, http.StatusNotFound)
		api.PostJSON(t, gpi+"/app-intents", intent(w.cluster)).Require(t, http.StatusCreated)
		// The cluster registry asks the orchestrator (process A).
		api.Delete(t, cluster).RequireProblem(t, http.StatusConflict)
		api.Delete(t, gpi+"/app-intents/pin-"+w.cluster).Require(t, http.StatusNoContent)
		api.Delete(t, cluster).Require(t, http.StatusNoContent)
	})
	t.Run("cluster references", func(t *testing.T) { runClusterReferences(t, api) })
	t.Run("resource families", func(t *testing.T) {
		runResourceFamilies(t, target{api: api, maxBody: harness.DefaultMaxBodyBytes})
	})
	t.Run("chart round trip", func(t *testing.T) { runChartRoundTrip(t, api) })
	t.Run("kubeconfig never returned", func(t *testing.T) { runKubeconfigNeverReturned(t, api, a.LogPath, b.LogPath) })
	t.Run("concurrent create", func(t *testing.T) { runConcurrentCreate(t, api) })

	// Last: take process B away and bring it back.
	t.Run("clusterregistry restart", func(t *testing.T) {
		w := newWorld(api)
		provider := w.providerPath(t)
		b.Kill()
		// A keeps serving what it owns, and answers 503 quickly for what B owns.
		api.Get(t, w.projectPath(t)).Require(t, http.StatusOK)
		start := time.Now()
		api.Get(t, provider).RequireProblem(t, http.StatusServiceUnavailable)
		require.Less(t, time.Since(start), 10*time.Second, "503 should come quickly")

		b.Restart(t)
		require.Eventually(t, func() bool {
			r, err := api.TryDo(http.MethodGet, provider, "", nil, nil)
			return err == nil && r.Status == http.StatusOK
		}, 30*time.Second, 100*time.Millisecond, "A reaches the restarted clusterregistry without a restart of its own")
		w.clusterPath(t)
	})
}
