package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testExample deploys examples/emcoctl/shop.yaml through the generic CI
// step examples/emcoctl/ci/rollout.sh (which runs `edgewayctl rollout
// --wait`), playing the Deployment controller for the shop's Deployments,
// then removes it with `edgewayctl delete -f`: the example files stay valid.
func testExample(t *testing.T, w *world) {
	root, err := workspaceRoot()
	require.NoError(t, err)
	dir := filepath.Join(root, "examples", "emcoctl")
	file, values := filepath.Join(dir, "shop.yaml"), filepath.Join(dir, "values.yaml")

	ci := w.client(t, "example-ci")
	ci.Env = append(ci.Env, "EDGEWAY_ENDPOINT="+w.srv.URL, "EDGEWAY_CA_FILE="+w.srv.CAFile(), "ROLLOUT_TIMEOUT=3m", "GIT_COMMIT=0123abc")
	script := newCtl(t)
	script.bin = "bash"
	script.Env = append(ci.Env, "PATH="+filepath.Dir(cliBinary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	b := script.start(filepath.Join(dir, "ci", "rollout.sh"), file, values)

	for _, cl := range w.clusterNames() {
		w.markDeploymentReadyIn(t, cl, "shop", "backend")
	}
	// The frontend is on one cluster labelled edge (anyOf).
	var frontendOn string
	require.Eventually(t, func() bool {
		for _, cl := range w.clusterNames() {
			if _, err := w.clients[cl].AppsV1().Deployments("shop").Get(ctxT(t), "frontend", metav1.GetOptions{}); err == nil {
				frontendOn = cl
				return true
			}
		}
		return false
	}, 90*time.Second, 200*time.Millisecond, "frontend never deployed:\n%s", b.stdout)
	w.markDeploymentReadyIn(t, frontendOn, "shop", "frontend")

	code := b.wait(t, 3*time.Minute)
	t.Logf("ci/rollout.sh output:\n%s%s", b.stdout, b.stderr)
	require.Equal(t, 0, code)
	require.Contains(t, b.stdout.String(), "rollout: shop-cli/shop/v1/edge is ready (revision 1)")
	require.Contains(t, b.stdout.String(), "deployment ready\n")

	// The values of the file reached the cluster.
	cm, err := w.clients[frontendOn].CoreV1().ConfigMaps("shop").Get(ctxT(t), "frontend-config", metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, "Edgeway shop via edgewayctl", cm.Data["title"], "the group's override wins over the profile")

	r := ci.ok("delete", "-f", file, "-v", values)
	require.Contains(t, r.stdout, "terminated   projects/shop-cli/composite-apps/shop/v1/deployment-intent-groups/edge")
	for _, cl := range w.clusterNames() {
		_, err := w.clients[cl].AppsV1().Deployments("shop").Get(ctxT(t), "backend", metav1.GetOptions{})
		require.True(t, apierrors.IsNotFound(err), "backend on %s: %v", cl, err)
	}
	w.admin.Get(t, "/projects/shop-cli").RequireProblem(t, 404)
}
