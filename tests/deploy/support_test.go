package deploy

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Helpers shared by the interruption and status tests.

// manyConfigMapsTmpl renders .Values.count ConfigMaps <release>-cm-<i>.
const manyConfigMapsTmpl = `{{- range $i := until (int .Values.count) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $.Release.Name }}-cm-{{ $i }}
data:
  index: {{ $i | quote }}
{{- end }}
`

const (
	// labelDeployment is the label the deployer puts on every object.
	labelDeployment = "edgeway.dev/deployment"
	// fieldManager is the deployer's server-side apply field manager.
	fieldManager = "edgeway"
	// testController is the field manager of the status updates the tests
	// make while playing the Deployment controller.
	testController = "deploy-test-controller"
)

// shopSpec describes the composite app "shop" of setupApps: charts "db"
// (placed on every cluster labelled edge) and "web" (placed by WebIntent),
// web depending on db reaching WebNeeds ("Deployed" or "Ready").
type shopSpec struct {
	DB, Web   []byte
	WebNeeds  string
	WebIntent map[string]any
}

// setupApps is setupShop with the charts and the dependency chosen by the
// test.
func setupApps(t *testing.T, w *world, s shopSpec) {
	t.Helper()
	a := w.api
	a.PostJSON(t, "/projects", obj("p1", nil)).Require(t, http.StatusCreated)
	a.PostJSON(t, proj+"/composite-apps", obj("shop", map[string]any{"compositeAppVersion": "v1"})).Require(t, http.StatusCreated)
	a.Multipart(t, http.MethodPost, ca+"/apps", obj("db", nil), s.DB).Require(t, http.StatusCreated)
	a.Multipart(t, http.MethodPost, ca+"/apps", obj("web", nil), s.Web).Require(t, http.StatusCreated)
	a.PostJSON(t, ca+"/apps/web/dependency", obj("needs-db", map[string]any{"app": "db", "opStatus": s.WebNeeds, "wait": 0})).Require(t, http.StatusCreated)
	a.PostJSON(t, proj+"/logical-clouds", obj("lc", map[string]any{"namespace": "default", "level": "0"})).Require(t, http.StatusCreated)
	a.PostJSON(t, ca+"/deployment-intent-groups", obj("d1", map[string]any{"version": "r1", "logicalCloud": "lc"})).Require(t, http.StatusCreated)
	a.PostJSON(t, dig+"/generic-placement-intents", obj("placement", nil)).Require(t, http.StatusCreated)
	a.PostJSON(t, gpi+"/app-intents", obj("db", map[string]any{"app": "db",
		"intent": map[string]any{"allOf": []any{map[string]any{"clusterProvider": "local", "clusterLabel": "edge"}}}})).Require(t, http.StatusCreated)
	a.PostJSON(t, gpi+"/app-intents", obj("web", map[string]any{"app": "web", "intent": s.WebIntent})).Require(t, http.StatusCreated)
	a.PostJSON(t, dig+"/intents", obj("intents", map[string]any{"intent": map[string]any{"genericPlacementIntent": "placement"}})).Require(t, http.StatusCreated)
}

// onEveryEdge places an app on every cluster labelled edge.
var onEveryEdge = map[string]any{"allOf": []any{map[string]any{"clusterProvider": "local", "clusterLabel": "edge"}}}

// instantiate starts the deployment of the (approved) DIG and returns the
// runtime context id the answer names.
func (w *world) instantiate(t *testing.T) string {
	t.Helper()
	var ans struct {
		Revision int    `json:"revision"`
		Instance string `json:"instance"`
	}
	w.api.Do(t, http.MethodPost, dig+"/instantiate", "", nil, nil).Require(t, http.StatusAccepted).Decode(t, &ans)
	require.Equal(t, 1, ans.Revision)
	require.NotEmpty(t, ans.Instance)
	return ans.Instance
}

// markDeploymentReady plays the Deployment controller (these apiservers run
// none): it reports the rollout of Deployment name on cluster done, once
// the Deployment exists, retrying on conflicts with the deployer's applies.
func (w *world) markDeploymentReady(t *testing.T, cluster, name string) {
	t.Helper()
	ctx := ctxT(t)
	deps := w.clients[cluster].AppsV1().Deployments("default")
	var last error
	if !assert.Eventually(t, func() bool {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err
			return false
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		_, last = deps.UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: testController})
		return last == nil
	}, 30*time.Second, 100*time.Millisecond) {
		require.FailNow(t, "cannot mark Deployment ready", "%s on %s: %v", name, cluster, last)
	}
}

// labelledObject is an object found on a cluster by the deployment label.
type labelledObject struct {
	Label   string
	Entries []metav1.ManagedFieldsEntry
}

// labelled lists, in every namespace of cluster, the ConfigMaps and
// Deployments that carry the deployment label (whatever its value), keyed
// Kind/namespace/name.
func (w *world) labelled(t *testing.T, cluster string) map[string]labelledObject {
	t.Helper()
	ctx, c := ctxT(t), w.clients[cluster]
	sel := metav1.ListOptions{LabelSelector: labelDeployment}
	out := map[string]labelledObject{}
	add := func(kind string, m metav1.ObjectMeta) {
		key := kind + "/" + m.Namespace + "/" + m.Name
		_, dup := out[key]
		require.False(t, dup, "%s listed twice on %s", key, cluster)
		out[key] = labelledObject{Label: m.Labels[labelDeployment], Entries: m.ManagedFields}
	}
	cms, err := c.CoreV1().ConfigMaps("").List(ctx, sel)
	require.NoError(t, err)
	for _, o := range cms.Items {
		add("ConfigMap", o.ObjectMeta)
	}
	ds, err := c.AppsV1().Deployments("").List(ctx, sel)
	require.NoError(t, err)
	for _, o := range ds.Items {
		add("Deployment", o.ObjectMeta)
	}
	return out
}

// requireDeployed checks with client-go that cluster holds exactly the
// objects want (Kind/namespace/name) labelled with the deployment — none
// missing, none extra — each labelled deploymentID and applied by exactly
// one "edgeway" field manager entry (an Apply); the only other manager
// allowed is the tests' own status updates.
func (w *world) requireDeployed(t *testing.T, cluster, deploymentID string, want []string) {
	t.Helper()
	got := w.labelled(t, cluster)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want = slices.Sorted(slices.Values(want))
	require.Equal(t, want, keys, "objects labelled %s on %s", labelDeployment, cluster)
	for _, k := range keys {
		o := got[k]
		assert.Equal(t, deploymentID, o.Label, "%s on %s: label %s", k, cluster, labelDeployment)
		var ours []metav1.ManagedFieldsEntry
		for _, e := range o.Entries {
			switch {
			case e.Manager == fieldManager:
				ours = append(ours, e)
			case e.Manager == testController && e.Subresource == "status":
			default:
				assert.Failf(t, "unexpected field manager", "%s on %s: %s (%s %s)", k, cluster, e.Manager, e.Operation, e.Subresource)
			}
		}
		if assert.Len(t, ours, 1, "%s on %s: entries of field manager %q: %+v", k, cluster, fieldManager, o.Entries) {
			assert.Equal(t, metav1.ManagedFieldsOperationApply, ours[0].Operation, "%s on %s", k, cluster)
			assert.Empty(t, ours[0].Subresource, "%s on %s", k, cluster)
		}
	}
}

// objectNames returns Kind/default/name for the given names of one kind.
func objectNames(kind string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = kind + "/default/" + n
	}
	return out
}

// numbered returns prefix0 … prefix(n-1).
func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// countsOn counts, by deployed status, the resources of the answer on one
// cluster (all clusters when cluster is "").
func countsOn(st statusAnswer, cluster string) map[string]int {
	out := map[string]int{}
	for _, a := range st.Apps {
		for _, c := range a.Clusters {
			if cluster != "" && c.Cluster != cluster {
				continue
			}
			for _, r := range c.Resources {
				out[r.DeployedStatus]++
			}
		}
	}
	return out
}

// connectivityOn returns the connectivity each app reports for cluster.
func connectivityOn(st statusAnswer, cluster string) map[string]string {
	out := map[string]string{}
	for _, a := range st.Apps {
		for _, c := range a.Clusters {
			if c.Cluster == cluster {
				out[a.Name] = c.Connectivity
			}
		}
	}
	return out
}
