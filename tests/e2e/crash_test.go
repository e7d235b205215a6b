package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// acked is an object the server acknowledged with 201, and how to check it.
type acked struct {
	path    string
	name    string
	archive []byte // the chart, for apps
}

// TestCrashRecovery checks that every acknowledged write survives SIGKILL:
// first a sequential batch of every kind of object, then concurrent writers
// killed in the middle.
func TestCrashRecovery(t *testing.T) {
	skipShort(t)
	srv := harness.Start(t, harness.Options{})
	api := srv.API()

	requireAllThere := func(t *testing.T, objs []acked) {
		t.Helper()
		api := srv.API() // fresh connections after the restart
		for _, o := range objs {
			r := api.Get(t, o.path).Require(t, http.StatusOK)
			requireSubset(t, obj{"metadata": obj{"name": o.name}}, r.Body, o.path)
			if o.archive != nil {
				r := api.GetAccept(t, o.path, harness.ContentOctet).Require(t, http.StatusOK)
				require.True(t, bytesEqual(o.archive, r.Body), "%s: chart differs after restart (%d bytes sent, %d read)", o.path, len(o.archive), len(r.Body))
			}
		}
	}

	t.Run("sequential batch", func(t *testing.T) {
		var objs []acked
		post := func(collection, item, name string, body obj) {
			api.PostJSON(t, collection, body).Require(t, http.StatusCreated)
			objs = append(objs, acked{path: item, name: name})
		}
		for i := range 3 {
			p := fmt.Sprintf("crash-p%d", i)
			post("/projects", "/projects/"+p, p, envelope(p, "batch", nil))
			for j := range 2 {
				ca := fmt.Sprintf("ca%d", j)
				post("/projects/"+p+"/composite-apps", "/projects/"+p+"/composite-apps/"+ca+"/v1", ca,
					envelope(ca, "batch", obj{"compositeAppVersion": "v1"}))
			}
		}
		chart := harness.Chart{Name: "crashy", Padding: 64 << 10}.Archive()
		api.Multipart(t, http.MethodPost, "/projects/crash-p0/composite-apps/ca0/v1/apps", envelope("crashy", "batch", nil), chart).Require(t, http.StatusCreated)
		objs = append(objs, acked{path: "/projects/crash-p0/composite-apps/ca0/v1/apps/crashy", name: "crashy", archive: chart})
		post("/cluster-providers", "/cluster-providers/crash-prov", "crash-prov", envelope("crash-prov", "batch", nil))
		api.Multipart(t, http.MethodPost, "/cluster-providers/crash-prov/clusters", envelope("edge-1", "batch", nil),
			harness.Kubeconfig("edge-1", "", "crash-token")).Require(t, http.StatusCreated)
		objs = append(objs, acked{path: "/cluster-providers/crash-prov/clusters/edge-1", name: "edge-1"})
		post("/cluster-providers/crash-prov/clusters/edge-1/labels", "/cluster-providers/crash-prov/clusters/edge-1/labels/edge", "", obj{"clusterLabel": "edge"})
		objs[len(objs)-1].name = "" // labels have no metadata

		oldPid := srv.Pid()
		srv.Kill()
		srv.Restart(t)
		require.NotEqual(t, oldPid, srv.Pid())
		requireAllThereOrLabel(t, srv.API(), objs, requireAllThere)
	})

	t.Run("concurrent writers", func(t *testing.T) {
		api := srv.API()
		api.PostJSON(t, "/projects", envelope("cw-base", "writers", nil)).Require(t, http.StatusCreated)
		api.PostJSON(t, "/cluster-providers", envelope("cw-prov", "writers", nil)).Require(t, http.StatusCreated)

		// Writers use their own client with a short timeout so they notice
		// the kill at once.
		wapi := &harness.API{BaseURL: api.BaseURL, HTTP: srv.Client(), Header: api.Header}
		wapi.HTTP.Timeout = 10 * time.Second
		const writers = 6
		var (
			mu    sync.Mutex
			objs  []acked
			count atomic.Int64
			wg    sync.WaitGroup
		)
		deadline := time.Now().Add(2 * time.Minute)
		for wr := range writers {
			wg.Go(func() {
				for i := 0; i < 2000 && time.Now().Before(deadline); i++ {
					name := fmt.Sprintf("cw-%d-%d", wr, i)
					var (
						r    *harness.Response
						err  error
						item string
					)
					switch wr % 3 {
					case 0:
						item = "/projects/" + name
						r, err = wapi.TryDo(http.MethodPost, "/projects", harness.ContentJSON, mustJSON(envelope(name, "w", nil)), nil)
					case 1:
						item = "/projects/cw-base/composite-apps/" + name + "/v1"
						r, err = wapi.TryDo(http.MethodPost, "/projects/cw-base/composite-apps", harness.ContentJSON,
							mustJSON(envelope(name, "w", obj{"compositeAppVersion": "v1"})), nil)
					case 2:
						item = "/cluster-providers/cw-prov/clusters/" + name
						ct, body, _ := harness.EncodeMultipart(envelope(name, "w", nil), harness.Kubeconfig(name, "", "tok-"+name))
						r, err = wapi.TryDo(http.MethodPost, "/cluster-providers/cw-prov/clusters", ct, body, nil)
					}
					if err != nil || r.Status != http.StatusCreated {
						return // the server is gone (or refused): stop writing
					}
					mu.Lock()
					objs = append(objs, acked{path: item, name: name})
					mu.Unlock()
					count.Add(1)
				}
			})
		}
		require.Eventually(t, func() bool { return count.Load() >= 60 }, time.Minute, 20*time.Millisecond,
			"writers got only %d acknowledgements", count.Load())
		srv.Kill()
		wg.Wait()
		mu.Lock()
		got := append([]acked(nil), objs...)
		mu.Unlock()
		t.Logf("%d writes acknowledged before SIGKILL", len(got))

		srv.Restart(t)
		requireAllThere(t, got)
	})

	t.Run("graceful stop", func(t *testing.T) {
		require.NoError(t, srv.Stop(), "SIGTERM should end the server cleanly (exit 0)")
		srv.Restart(t)
		srv.API().Get(t, "/projects/cw-base").Require(t, http.StatusOK)
	})
}

// requireAllThereOrLabel checks labels (no metadata) by path and the rest
// with check.
func requireAllThereOrLabel(t *testing.T, api *harness.API, objs []acked, check func(*testing.T, []acked)) {
	t.Helper()
	var rest []acked
	for _, o := range objs {
		if o.name == "" {
			api.Get(t, o.path).Require(t, http.StatusOK)
			continue
		}
		rest = append(rest, o)
	}
	check(t, rest)
}
