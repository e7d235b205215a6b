package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDeploy runs the deployment scenarios on one world (two edge clusters
// and the all-in-one server), one after the other.
func TestDeploy(t *testing.T) {
	w := newWorld(t)
	t.Run("ApplyDelete", func(t *testing.T) { testApplyDelete(t, w) })
	t.Run("Rollout", func(t *testing.T) { testRollout(t, w) })
	t.Run("StatusWatch", func(t *testing.T) { testStatusWatch(t, w) })
	t.Run("Example", func(t *testing.T) { testExample(t, w) })
}

// deployedStatus reads the group's deployed status as the admin.
func (w *world) deployedStatus(t *testing.T, project string) string {
	t.Helper()
	var a struct {
		DeployedStatus string `json:"deployedStatus"`
	}
	w.admin.Get(t, digPath(project)+"/status?status=deployed&output=summary").Require(t, http.StatusOK).Decode(t, &a)
	return a.DeployedStatus
}

func (w *world) waitDeployed(t *testing.T, project, want string) {
	t.Helper()
	require.Eventually(t, func() bool { return w.deployedStatus(t, project) == want },
		90*time.Second, 250*time.Millisecond, "deployed status of %s never became %s", project, want)
}

// configMessage reads data.message of ConfigMap name on cluster.
func (w *world) configMessage(t *testing.T, cluster, name string) string {
	t.Helper()
	cm, err := w.clients[cluster].CoreV1().ConfigMaps("default").Get(ctxT(t), name, metav1.GetOptions{})
	require.NoError(t, err, "ConfigMap %s on %s", name, cluster)
	return cm.Data["message"]
}

// requireGone checks with client-go that the named ConfigMaps and
// Deployments are on no cluster.
func (w *world) requireGone(t *testing.T, configMaps, deployments []string) {
	t.Helper()
	for _, c := range w.clusterNames() {
		for _, n := range configMaps {
			_, err := w.clients[c].CoreV1().ConfigMaps("default").Get(ctxT(t), n, metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err), "ConfigMap %s on %s: %v", n, c, err)
		}
		for _, n := range deployments {
			_, err := w.clients[c].AppsV1().Deployments("default").Get(ctxT(t), n, metav1.GetOptions{})
			assert.True(t, apierrors.IsNotFound(err), "Deployment %s on %s: %v", n, c, err)
		}
	}
}

// resultLines returns the lines of out that start with word.
func resultLines(out, word string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, word+" ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func testApplyDelete(t *testing.T, w *world) {
	c := w.client(t, "shop-team")
	file, values := shop(t, "cli-shop", "hello from values",
		app{name: "web", templates: map[string]string{"configmap.yaml": configMapTmpl, "deployment.yaml": deploymentTmpl}},
		app{name: "db", templates: map[string]string{"configmap.yaml": configMapTmpl}, profile: "message: from-profile\n"})
	const docs, objects = 15, 13 // 13 objects, approve and instantiate

	// apply: every object created in order, then approve and instantiate.
	r := c.ok("apply", "-f", file, "-v", values)
	require.Len(t, resultLines(r.stdout, "created"), objects, "%s", r)
	require.Equal(t, "created      projects/cli-shop", strings.Split(r.stdout, "\n")[0], "%s", r)
	require.Contains(t, r.stdout, "approved     projects/cli-shop/composite-apps/shop/v1/deployment-intent-groups/edge\n", "%s", r)
	require.Contains(t, r.stdout, "instantiated projects/cli-shop/composite-apps/shop/v1/deployment-intent-groups/edge (revision 1)\n", "%s", r)
	require.Contains(t, r.stdout, "apply: 15 documents, 15 succeeded, 0 failed", "%s", r)

	// The charts reached both clusters, with the values of the file (the
	// group's override) and of the profile, checked with client-go.
	w.waitDeployed(t, "cli-shop", "Instantiated")
	for _, cl := range w.clusterNames() {
		assert.Equal(t, "hello from values", w.configMessage(t, cl, "web-config"), "on %s", cl)
		assert.Equal(t, "from-profile", w.configMessage(t, cl, "db-config"), "on %s", cl)
		_, err := w.clients[cl].AppsV1().Deployments("default").Get(ctxT(t), "web", metav1.GetOptions{})
		require.NoError(t, err, "Deployment web on %s", cl)
	}

	// Applying again changes nothing and succeeds.
	r = c.ok("apply", "-f", file, "-v", values)
	require.Len(t, resultLines(r.stdout, "exists"), docs, "%s", r)
	require.Contains(t, r.stdout, "(already Instantiated)", "%s", r)

	// get -f reads every object; lifecycle documents are skipped.
	r = c.ok("get", "-f", file, "-v", values, "-o", "json")
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), "%s", r)
	require.Len(t, got, objects)
	require.Equal(t, "cli-shop", got[0]["metadata"].(map[string]any)["name"])
	r = c.ok("get", "-f", file, "-v", values)
	require.Regexp(t, `(?m)^apps\s+web\s+chart charts/web.tgz$`, r.stdout)
	require.Regexp(t, `(?m)^composite-apps\s+shop/v1\s*$`, r.stdout)

	// An error shows the server's problem detail, not a stack trace.
	r = c.run("get", "/v2/projects/no-such-project")
	require.Equal(t, 1, r.code, "%s", r)
	require.Regexp(t, `^edgewayctl: GET /v2/projects/no-such-project: 404 Not Found: .*project no-such-project not found.* \(request id [^)]+\)\n$`, r.stderr)

	// The environment instead of flags; the CA from the system trust store
	// (SSL_CERT_FILE) or from EDGEWAY_CA_FILE; none: a TLS error.
	id, secret := w.srv.AddClient(t, "env-client", false)
	for _, ca := range []string{"SSL_CERT_FILE=", "EDGEWAY_CA_FILE=", ""} {
		e := newCtl(t)
		e.Env = []string{"EDGEWAY_ENDPOINT=" + w.srv.URL, "EDGEWAY_CLIENT_ID=" + id, "EDGEWAY_CLIENT_SECRET=" + secret}
		if ca != "" {
			e.Env = append(e.Env, ca+w.srv.CAFile())
			r = e.ok("get", "/v2/projects", "-o", "yaml")
			require.Equal(t, "[]\n", r.stdout, "a project this client has no role in does not exist for it")
			continue
		}
		r = e.run("get", "/v2/projects")
		require.Equal(t, 1, r.code, "%s", r)
		require.Contains(t, r.stderr, "certificate signed by unknown authority", "%s", r)
	}

	// delete -f: terminate (and wait), then every object in reverse order.
	r = c.ok("delete", "-f", file, "-v", values)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Equal(t, "terminated   projects/cli-shop/composite-apps/shop/v1/deployment-intent-groups/edge (objects deleted from the clusters)", lines[0], "%s", r)
	require.Equal(t, "skipped      projects/cli-shop/composite-apps/shop/v1/deployment-intent-groups/edge (approve: nothing to undo)", lines[1], "%s", r)
	require.Len(t, resultLines(r.stdout, "deleted"), objects, "%s", r)
	require.Equal(t, "deleted      projects/cli-shop", lines[len(lines)-2], "%s", r)
	w.requireGone(t, []string{"web-config", "db-config"}, []string{"web"})
	w.admin.Get(t, "/projects/cli-shop").RequireProblem(t, http.StatusNotFound)

	// Deleting again finds nothing and succeeds.
	r = c.ok("delete", "-f", file, "-v", values)
	require.Contains(t, r.stdout, "gone         projects/cli-shop/composite-apps/shop/v1/deployment-intent-groups/edge (not found)", "%s", r)
	require.Len(t, resultLines(r.stdout, "gone"), objects+1, "%s", r)

	// Without -s every document is tried and the failures are summed up
	// at the end; with -s the run stops at the first failure.
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"partial.yaml": []byte(partialFile)})
	partial := dir + "/partial.yaml"
	r = c.run("apply", "-f", partial)
	require.Equal(t, 1, r.code, "%s", r)
	require.Equal(t, []string{"created      projects/cli-partial", "created      projects/cli-partial/logical-clouds/lc"},
		resultLines(r.stdout, "created"), "%s", r)
	require.Regexp(t, `(?m)^FAILED +projects/no-such-project/composite-apps/x/v1: 404 Not Found: project no-such-project not found \(request id .+\)$`, r.stdout)
	require.Contains(t, r.stderr, "apply: 3 documents, 2 succeeded, 1 failed\n  partial.yaml#2 (line 5) projects/no-such-project/composite-apps/x/v1: 404 Not Found", "%s", r)
	r = c.run("apply", "-s", "-f", partial)
	require.Equal(t, 1, r.code, "%s", r)
	require.Contains(t, r.stderr, "apply: 3 documents, 1 succeeded, 1 failed, 1 not tried (stopped at the first failure)", "%s", r)
	r = c.ok("delete", "-f", partial)
	require.Equal(t, "deleted      projects/cli-partial/logical-clouds/lc\ngone         projects/no-such-project/composite-apps/x/v1 (not found)\ndeleted      projects/cli-partial\n"+
		"delete: 3 documents, 3 succeeded, 0 failed\n", r.stdout)
}

// partialFile has a document in the middle that fails (its project does
// not exist).
const partialFile = `version: emco/v2
resourceContext: {anchor: projects}
metadata: {name: cli-partial}
---
version: emco/v2
resourceContext: {anchor: projects/no-such-project/composite-apps}
metadata: {name: x}
spec: {compositeAppVersion: v1}
---
version: emco/v2
resourceContext: {anchor: /v2/projects/cli-partial/logical-clouds/}
metadata: {name: lc}
spec: {namespace: default, level: "0"}
`
