package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testRollout runs `rollout --wait` as a CI pipeline would: a confidential
// client without any platform role (EDGEWAY_CLIENT_ID / _SECRET) that owns
// the projects it creates, checking the exit codes 0 (ready), 1 (failed)
// and 2 (timed out).
func testRollout(t *testing.T, w *world) {
	ci := w.client(t, "ci-pipeline")
	webApp := func(name string) app {
		return app{name: name, templates: map[string]string{"configmap.yaml": configMapTmpl, "deployment.yaml": deploymentTmpl}}
	}

	t.Run("Ready", func(t *testing.T) {
		file, values := shop(t, "ci-ready", "one", webApp("ready-web"))
		b := ci.start("rollout", "-f", file, "-v", values, "--wait", "--timeout", "3m", "--interval", "500ms")
		// Play the Deployment controller while the rollout waits.
		for _, cl := range w.clusterNames() {
			w.markDeploymentReady(t, cl, "ready-web")
		}
		code := b.wait(t, 3*time.Minute)
		out := b.stdout.String()
		t.Logf("rollout output:\n%s", out)
		require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, b.stderr)
		require.Contains(t, out, "rollout: ci-ready/shop/v1/edge is new\n")
		require.Contains(t, out, "rollout: ci-ready/shop/v1/edge: approved\n")
		require.Contains(t, out, "rollout: ci-ready/shop/v1/edge: instantiate started (revision 1)\n")
		require.Regexp(t, `ci-ready/shop/v1/edge: Instantiated \(revision 1\), deployed Instantiated 4/4 applied, ready 4/4 \[#+\] 100%`, out)
		require.Regexp(t, `(?m)^rollout: ci-ready/shop/v1/edge is ready \(revision 1\) after \d+s$`, out)

		// A changed value: the group is replaced (PUT) and updated (revision 2).
		file, values = shop(t, "ci-ready", "two", webApp("ready-web"))
		r := ci.run("rollout", "-f", file, "-v", values, "--wait", "--timeout", "3m", "--interval", "500ms")
		require.Equal(t, 0, r.code, "%s", r)
		require.Contains(t, r.stdout, "updated      projects/ci-ready/composite-apps/shop/v1/deployment-intent-groups/edge\n", "%s", r)
		require.Len(t, resultLines(r.stdout, "unchanged"), 9, "every other object is left alone:\n%s", r)
		require.Contains(t, r.stdout, "rollout: ci-ready/shop/v1/edge: update started (revision 2)\n", "%s", r)
		require.Regexp(t, `(?m)^rollout: ci-ready/shop/v1/edge is ready \(revision 2\)`, r.stdout)
		for _, cl := range w.clusterNames() {
			require.Equal(t, "two", w.configMessage(t, cl, "ready-web-config"), "on %s", cl)
		}

		// The same file again: nothing to do.
		r = ci.run("rollout", "-f", file, "-v", values, "--wait", "--timeout", "1m", "--interval", "500ms")
		require.Equal(t, 0, r.code, "%s", r)
		require.Contains(t, r.stdout, "rollout: ci-ready/shop/v1/edge: nothing changed, no update needed\n", "%s", r)

		ci.ok("delete", "-f", file, "-v", values)
		w.requireGone(t, []string{"ready-web-config"}, []string{"ready-web"})
	})

	t.Run("Failed", func(t *testing.T) {
		file, values := shop(t, "ci-fail", "x",
			app{name: "migrate", templates: map[string]string{"job.yaml": jobTmpl}})
		b := ci.start("rollout", "-f", file, "-v", values, "--wait", "--timeout", "3m", "--interval", "500ms")
		// Play the Job controller: the Job fails on one cluster.
		w.failJob(t, w.clusterNames()[0], "migrate")
		code := b.wait(t, 3*time.Minute)
		out := b.stdout.String()
		t.Logf("rollout output:\n%s", out)
		require.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, b.stderr)
		require.Contains(t, out, "rollout: ci-fail/shop/v1/edge failed:\n  Job migrate of app migrate on local/"+w.clusterNames()[0]+
			": failed (BackoffLimitExceeded: Job has reached the specified backoff limit)\n")
		ci.ok("delete", "-f", file, "-v", values)
	})

	t.Run("Timeout", func(t *testing.T) {
		file, values := shop(t, "ci-slow", "x", webApp("slow-web"))
		r := ci.run("rollout", "-f", file, "-v", values, "--wait", "--timeout", "12s", "--interval", "500ms")
		t.Logf("rollout output:\n%s", r.stdout)
		require.Equal(t, 2, r.code, "%s", r)
		require.Regexp(t, `(?m)^rollout: timed out after \d+s$`, r.stdout)
		require.Contains(t, r.stdout, "  ci-slow/shop/v1/edge is not ready (", "%s", r)
		require.Regexp(t, `(?m)^    Deployment slow-web of app slow-web on local/edge\d \(Applied, NotReady\)$`, r.stdout)
		ci.ok("delete", "-f", file, "-v", values)
	})
}
