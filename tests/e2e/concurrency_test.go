package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// TestConcurrentCreate races several creates of the same name: exactly one
// wins with 201, every other gets 409, and one object is stored.
func TestConcurrentCreate(t *testing.T) {
	srv := sharedServer(t)
	runConcurrentCreate(t, srv.API())
}

func runConcurrentCreate(t *testing.T, api *harness.API) {
	const racers = 8
	w := newWorld(api)
	tests := []struct {
		name       string
		collection func(t *testing.T) string
		encode     func(name string) (contentType string, body []byte, err error)
		list       string // "" when the collection is top-level and shared
	}{
		{"projects", func(*testing.T) string { return "/projects" }, jsonEncoder(nil), ""},
		{"composite-apps", func(t *testing.T) string { return w.projectPath(t) + "/composite-apps" },
			jsonEncoder(obj{"compositeAppVersion": "v1"}), "yes"},
		{"cluster-providers", func(*testing.T) string { return "/cluster-providers" }, jsonEncoder(nil), ""},
		{"clusters", func(t *testing.T) string { return w.providerPath(t) + "/clusters" }, func(name string) (string, []byte, error) {
			return harness.EncodeMultipart(envelope(name, "race", nil), harness.Kubeconfig(name, "", "race-token"))
		}, "yes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			collection := tc.collection(t)
			name := "race-" + uniqueID()
			ct, body, err := tc.encode(name)
			require.NoError(t, err)

			start := make(chan struct{})
			statuses := make([]int, racers)
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					r, err := api.TryDo(http.MethodPost, collection, ct, body, nil)
					if err != nil {
						errs[i] = err
						return
					}
					statuses[i] = r.Status
				})
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			count := map[int]int{}
			for _, s := range statuses {
				count[s]++
			}
			require.Equal(t, map[int]int{http.StatusCreated: 1, http.StatusConflict: racers - 1}, count,
				"statuses of %d concurrent creates of %s", racers, name)
			if tc.list != "" {
				var n int
				for _, e := range api.Get(t, collection).Require(t, http.StatusOK).Array(t) {
					if fmt.Sprint(e.(map[string]any)["metadata"].(map[string]any)["name"]) == name {
						n++
					}
				}
				require.Equal(t, 1, n, "objects named %s in the list", name)
			}
		})
	}
}

func jsonEncoder(spec obj) func(name string) (string, []byte, error) {
	return func(name string) (string, []byte, error) {
		return harness.ContentJSON, mustJSON(envelope(name, "race", spec)), nil
	}
}
