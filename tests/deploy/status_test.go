package deploy

import (
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"edgeway.dev/tests/harness"
)

// fullStatus is EMCO's default status answer, every field.
type fullStatus struct {
	Project             string `json:"project"`
	CompositeApp        string `json:"compositeApp"`
	CompositeAppVersion string `json:"compositeAppVersion"`
	Name                string `json:"name"`
	States              struct {
		StatusCtxID string `json:"statusctxid"`
		Actions     []struct {
			State    string `json:"state"`
			Instance string `json:"instance"`
			Time     string `json:"time"`
			Revision int    `json:"revision"`
		} `json:"actions"`
	} `json:"states"`
	DeployedStatus string         `json:"deployedStatus"`
	ReadyStatus    string         `json:"readyStatus"`
	DeployedCounts map[string]int `json:"deployedCounts"`
	ReadyCounts    map[string]int `json:"readyCounts"`
	Apps           []struct {
		Name     string `json:"name"`
		Clusters []struct {
			ClusterProvider string `json:"clusterProvider"`
			Cluster         string `json:"cluster"`
			Connectivity    string `json:"connectivity"`
			Resources       []struct {
				GVK            struct{ Group, Version, Kind string } `json:"GVK"`
				Name           string                                `json:"name"`
				DeployedStatus string                                `json:"deployedStatus"`
				ReadyStatus    string                                `json:"readyStatus"`
				Detail         map[string]any                        `json:"detail"`
			} `json:"resources"`
		} `json:"clusters"`
	} `json:"apps"`

	raw map[string]any // the answer's top-level fields
}

// has reports whether the answer has the top-level field.
func (s fullStatus) has(field string) bool { _, ok := s.raw[field]; return ok }

// rows flattens the apps to "app cluster Kind name" lines, sorted.
func (s fullStatus) rows() []string {
	out := []string{}
	for _, a := range s.Apps {
		for _, c := range a.Clusters {
			for _, r := range c.Resources {
				out = append(out, a.Name+" "+c.ClusterProvider+"+"+c.Cluster+" "+r.GVK.Kind+" "+r.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (w *world) fullStatus(t *testing.T, query string) fullStatus {
	t.Helper()
	resp := w.api.Get(t, dig+"/status?"+query).Require(t, http.StatusOK)
	var s fullStatus
	resp.Decode(t, &s)
	resp.Decode(t, &s.raw)
	return s
}

// The resources of the deployment TestStatusQueries makes: db on both
// clusters, web on edge1.
var (
	dbOn1  = []string{"db local+edge1 ConfigMap db-config", "db local+edge1 Deployment db"}
	dbOn2  = []string{"db local+edge2 ConfigMap db-config", "db local+edge2 Deployment db"}
	webOn1 = []string{"web local+edge1 ConfigMap web-config"}
)

// deployedStatuses are the top-level deployedStatus values of EMCO (and of
// the OpenAPI enum).
var deployedStatuses = []string{"Instantiating", "Instantiated", "InstantiateFailed", "Terminating", "Terminated",
	"TerminateFailed", "Updating", "Updated", "UpdateFailed"}

func rowsOf(groups ...[]string) []string {
	out := []string{}
	for _, g := range groups {
		out = append(out, g...)
	}
	sort.Strings(out)
	return out
}

// TestStatusQueries checks EMCO's status query parameters and answer
// shapes (shared/reference/emco-status.md) on a DIG before approval, after
// approval, once instantiated and ready, and after an update.
func TestStatusQueries(t *testing.T) {
	w := newWorld(t, 2, harness.Options{})
	setupShop(t, w, map[string]any{"allOf": []any{map[string]any{"clusterProvider": "local", "cluster": "edge1"}}})

	// Only created: the state, no apps.
	for _, q := range []string{"", "status=deployed", "status=ready&output=all", "output=detail"} {
		st := w.fullStatus(t, q)
		require.Len(t, st.States.Actions, 1, "%q: %+v", q, st.States.Actions)
		assert.Equal(t, "Created", st.States.Actions[0].State, q)
		assert.Empty(t, st.States.Actions[0].Instance, q)
		assert.Empty(t, st.States.StatusCtxID, q)
		assert.Empty(t, st.Apps, q)
		assert.Equal(t, "d1", st.Name, q)
	}
	st := w.fullStatus(t, "status=deployed")
	// The action carries the time the DIG was created.
	created, err := time.Parse(time.RFC3339Nano, st.States.Actions[0].Time)
	if assert.NoError(t, err) {
		assert.WithinDuration(t, time.Now(), created, 5*time.Minute, "time of the Created action")
	}
	// The OpenAPI enum has no empty deployedStatus; EMCO leaves the field
	// out when nothing was deployed.
	if st.has("deployedStatus") {
		assert.Contains(t, deployedStatuses, st.DeployedStatus, "deployedStatus of a DIG never instantiated")
	}
	st = w.fullStatus(t, "output=summary")
	assert.False(t, st.has("apps"), "summary: %v", st.raw)
	w.api.Get(t, dig+"/status?cluster=local%2Bedge1").RequireProblem(t, http.StatusNotFound)

	// Approved: still no apps.
	w.api.Do(t, http.MethodPost, dig+"/approve", "", nil, nil).Require(t, http.StatusAccepted)
	st = w.fullStatus(t, "status=deployed")
	require.NotEmpty(t, st.States.Actions)
	assert.Equal(t, "Approved", st.States.Actions[len(st.States.Actions)-1].State)
	assert.Empty(t, st.Apps)

	instance := w.instantiate(t)
	w.waitDeployed(t, dig, "Instantiated", 60*time.Second)
	for _, c := range []string{"edge1", "edge2"} {
		w.markDeploymentReady(t, c, "db")
	}
	require.Eventually(t, func() bool { return w.status(t, dig, "status=ready").ReadyStatus == "Ready" }, 30*time.Second, 250*time.Millisecond)

	all := rowsOf(dbOn1, dbOn2, webOn1)
	deployed := func(t *testing.T, st fullStatus) {
		assert.Equal(t, "Instantiated", st.DeployedStatus)
		assert.True(t, st.has("deployedCounts"), "%v", st.raw)
		assert.False(t, st.has("readyStatus"), "%v", st.raw)
		assert.False(t, st.has("readyCounts"), "%v", st.raw)
		for _, a := range st.Apps {
			for _, c := range a.Clusters {
				for _, r := range c.Resources {
					assert.Equal(t, "Applied", r.DeployedStatus, "%s %s", a.Name, r.Name)
					assert.Empty(t, r.ReadyStatus, "%s %s", a.Name, r.Name)
				}
			}
		}
	}
	ready := func(t *testing.T, st fullStatus) {
		assert.Equal(t, "Ready", st.ReadyStatus)
		assert.True(t, st.has("readyCounts"), "%v", st.raw)
		assert.False(t, st.has("deployedStatus"), "%v", st.raw)
		assert.False(t, st.has("deployedCounts"), "%v", st.raw)
		for _, a := range st.Apps {
			for _, c := range a.Clusters {
				for _, r := range c.Resources {
					assert.Equal(t, "Ready", r.ReadyStatus, "%s %s", a.Name, r.Name)
					assert.Empty(t, r.DeployedStatus, "%s %s", a.Name, r.Name)
				}
			}
		}
	}
	noDetail := func(t *testing.T, st fullStatus) {
		for _, a := range st.Apps {
			for _, c := range a.Clusters {
				for _, r := range c.Resources {
					assert.Nil(t, r.Detail, "%s %s %s", a.Name, c.Cluster, r.Name)
				}
			}
		}
	}

	cases := []struct {
		name  string
		query string
		rows  []string // nil: no apps in the answer
		check func(t *testing.T, st fullStatus)
	}{
		{"default is ready", "", all, func(t *testing.T, st fullStatus) {
			ready(t, st)
			noDetail(t, st)
			assert.Equal(t, map[string]int{"Ready": 5}, st.ReadyCounts)
		}},
		{"ready", "status=ready", all, func(t *testing.T, st fullStatus) {
			ready(t, st)
			assert.Equal(t, map[string]int{"Ready": 5}, st.ReadyCounts)
		}},
		{"deployed", "status=deployed", all, func(t *testing.T, st fullStatus) {
			deployed(t, st)
			noDetail(t, st)
			assert.Equal(t, map[string]int{"Applied": 5}, st.DeployedCounts)
			for _, a := range st.Apps {
				for _, c := range a.Clusters {
					assert.Equal(t, "local", c.ClusterProvider)
					assert.Equal(t, "Available", c.Connectivity, "%s on %s", a.Name, c.Cluster)
					for _, r := range c.Resources {
						want := map[string]string{"ConfigMap": "v1", "Deployment": "apps/v1"}[r.GVK.Kind]
						got := r.GVK.Version
						if r.GVK.Group != "" {
							got = r.GVK.Group + "/" + got
						}
						assert.Equal(t, want, got, "GVK of %s %s: %+v", a.Name, r.Name, r.GVK)
					}
				}
			}
		}},
		{"type=rsync is deployed", "type=rsync", all, func(t *testing.T, st fullStatus) {
			deployed(t, st)
			assert.Equal(t, map[string]int{"Applied": 5}, st.DeployedCounts)
		}},
		{"type=cluster is ready", "type=cluster", all, func(t *testing.T, st fullStatus) {
			ready(t, st)
			assert.Equal(t, map[string]int{"Ready": 5}, st.ReadyCounts)
		}},
		{"summary", "status=deployed&output=summary", nil, func(t *testing.T, st fullStatus) {
			deployed(t, st)
			assert.False(t, st.has("apps"), "%v", st.raw)
			assert.Equal(t, map[string]int{"Applied": 5}, st.DeployedCounts)
		}},
		{"ready summary", "output=summary", nil, func(t *testing.T, st fullStatus) {
			ready(t, st)
			assert.False(t, st.has("apps"), "%v", st.raw)
			assert.Equal(t, map[string]int{"Ready": 5}, st.ReadyCounts)
		}},
		{"all", "status=deployed&output=all", all, func(t *testing.T, st fullStatus) {
			deployed(t, st)
			noDetail(t, st)
		}},
		{"detail", "output=detail", all, func(t *testing.T, st fullStatus) {
			ready(t, st)
			for _, a := range st.Apps {
				for _, c := range a.Clusters {
					for _, r := range c.Resources {
						if r.GVK.Kind == "Deployment" {
							// The live status the test wrote as the controller.
							if assert.NotNil(t, r.Detail, "detail of Deployment %s on %s", r.Name, c.Cluster) {
								assert.EqualValues(t, 1, r.Detail["availableReplicas"], "%v", r.Detail)
								assert.EqualValues(t, 1, r.Detail["readyReplicas"], "%v", r.Detail)
							}
						}
					}
				}
			}
		}},
		{"deployed detail", "status=deployed&output=detail", all, func(t *testing.T, st fullStatus) {
			deployed(t, st)
		}},
		{"instance", "status=deployed&instance=" + instance, all, func(t *testing.T, st fullStatus) {
			deployed(t, st)
			assert.Equal(t, instance, st.States.StatusCtxID)
		}},
		{"app filter", "status=deployed&app=db", rowsOf(dbOn1, dbOn2), func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Applied": 4}, st.DeployedCounts, "counts cover only the filtered resources")
		}},
		{"apps filter", "app=db&app=web", all, func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Ready": 5}, st.ReadyCounts)
		}},
		{"cluster filter", "status=deployed&cluster=local%2Bedge1", rowsOf(dbOn1, webOn1), func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Applied": 3}, st.DeployedCounts)
		}},
		{"other cluster", "cluster=local%2Bedge2", dbOn2, func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Ready": 2}, st.ReadyCounts)
		}},
		{"resource filter", "status=deployed&resource=db-config", []string{dbOn1[0], dbOn2[0]}, func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Applied": 2}, st.DeployedCounts)
		}},
		{"resources filter", "resource=db&resource=web-config", []string{dbOn1[1], dbOn2[1], webOn1[0]}, func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Ready": 3}, st.ReadyCounts)
		}},
		{"app and cluster", "status=deployed&app=db&cluster=local%2Bedge2", dbOn2, func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Applied": 2}, st.DeployedCounts)
		}},
		{"app, cluster and resource", "type=rsync&output=detail&app=db&cluster=local%2Bedge1&resource=db", dbOn1[1:], func(t *testing.T, st fullStatus) {
			deployed(t, st)
			assert.Equal(t, map[string]int{"Applied": 1}, st.DeployedCounts)
		}},
		{"cluster and resource", "cluster=local%2Bedge1&resource=web-config&output=summary", nil, func(t *testing.T, st fullStatus) {
			assert.Equal(t, map[string]int{"Ready": 1}, st.ReadyCounts)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := w.fullStatus(t, tc.query)
			assert.Equal(t, "p1", st.Project)
			assert.Equal(t, "shop", st.CompositeApp)
			assert.Equal(t, "v1", st.CompositeAppVersion)
			assert.Equal(t, "d1", st.Name)
			assert.True(t, st.has("compositeProfile"), "%v", st.raw)
			assert.Equal(t, instance, st.States.StatusCtxID)
			if assert.NotEmpty(t, st.States.Actions) {
				last := st.States.Actions[len(st.States.Actions)-1]
				assert.Equal(t, "Instantiated", last.State)
				assert.Equal(t, instance, last.Instance)
				assert.Equal(t, 1, last.Revision)
			}
			if tc.rows == nil {
				assert.False(t, st.has("apps"), "%v", st.raw)
			} else {
				assert.Equal(t, tc.rows, st.rows())
			}
			tc.check(t, st)
		})
	}

	// List answers, their precedence (apps > clusters > resources, whatever
	// the order in the query) and the filters they honour.
	appsList := `{"name": "d1", "apps": ["db", "web"]}`
	clustersList := `{"name": "d1", "clustersByApp": [
		{"app": "db", "clusters": [{"clusterProvider": "local", "cluster": "edge1"}, {"clusterProvider": "local", "cluster": "edge2"}]},
		{"app": "web", "clusters": [{"clusterProvider": "local", "cluster": "edge1"}]}]}`
	cm := `{"name": "db-config", "GVK": {"Group": "", "Version": "v1", "Kind": "ConfigMap"}}`
	dep := `{"name": "db", "GVK": {"Group": "apps", "Version": "v1", "Kind": "Deployment"}}`
	webCM := `{"name": "web-config", "GVK": {"Group": "", "Version": "v1", "Kind": "ConfigMap"}}`
	resourcesList := `{"name": "d1", "resourcesByApp": [
		{"app": "db", "clusterProvider": "local", "cluster": "edge1", "resources": [` + cm + `, ` + dep + `]},
		{"app": "db", "clusterProvider": "local", "cluster": "edge2", "resources": [` + cm + `, ` + dep + `]},
		{"app": "web", "clusterProvider": "local", "cluster": "edge1", "resources": [` + webCM + `]}]}`
	lists := []struct{ query, want string }{
		{"apps", appsList},
		{"apps=", appsList},
		{"status=deployed&output=summary&apps", appsList},
		{"resources&clusters&apps", appsList},
		{"apps&app=web", `{"name": "d1", "apps": ["web"]}`},
		{"clusters", clustersList},
		{"resources&clusters", clustersList},
		{"clusters&app=web", `{"name": "d1", "clustersByApp": [{"app": "web", "clusters": [{"clusterProvider": "local", "cluster": "edge1"}]}]}`},
		{"clusters&cluster=local%2Bedge2&app=db", `{"name": "d1", "clustersByApp": [{"app": "db", "clusters": [{"clusterProvider": "local", "cluster": "edge2"}]}]}`},
		{"resources", resourcesList},
		{"resources&status=deployed&output=detail", resourcesList},
		{"resources&app=db&cluster=local%2Bedge2", `{"name": "d1", "resourcesByApp": [{"app": "db", "clusterProvider": "local", "cluster": "edge2", "resources": [` + cm + `, ` + dep + `]}]}`},
	}
	for _, tc := range lists {
		t.Run("list "+tc.query, func(t *testing.T) {
			resp := w.api.Get(t, dig+"/status?"+tc.query).Require(t, http.StatusOK)
			assert.JSONEq(t, tc.want, string(resp.Body))
		})
	}

	// Unknown filters are 404, bad values 400.
	errs := []struct {
		query  string
		status int
	}{
		{"app=nope", http.StatusNotFound},
		{"app=db&app=nope", http.StatusNotFound},
		{"cluster=local%2Bnope", http.StatusNotFound},
		{"cluster=other%2Bedge1", http.StatusNotFound},
		{"cluster=edge1", http.StatusNotFound},
		{"cluster=local+edge1", http.StatusNotFound}, // "+" unencoded is a space
		{"resource=nope", http.StatusNotFound},
		{"status=deployed&app=db&resource=web-config&resource=nope", http.StatusNotFound},
		{"apps&app=nope", http.StatusNotFound},
		{"clusters&cluster=local%2Bnope", http.StatusNotFound},
		{"resources&resource=nope", http.StatusNotFound},
		{"instance=0000000000000000", http.StatusNotFound},
		{"status=rsync", http.StatusBadRequest},
		{"status=Deployed", http.StatusBadRequest},
		{"output=full", http.StatusBadRequest},
		{"status=deployed&output=SUMMARY", http.StatusBadRequest},
		{"type=bogus", http.StatusBadRequest},
	}
	for _, tc := range errs {
		t.Run("error "+tc.query, func(t *testing.T) {
			w.api.Get(t, dig+"/status?"+tc.query).RequireProblem(t, tc.status)
		})
	}

	// After an update, instance= reports on the first revision's context.
	setMessage(t, w, "two")
	w.api.Do(t, http.MethodPost, dig+"/update", "", nil, nil).Require(t, http.StatusAccepted)
	st = fullStatus{}
	require.Eventually(t, func() bool {
		st = w.fullStatus(t, "status=deployed")
		return st.DeployedStatus == "Updated"
	}, 60*time.Second, 250*time.Millisecond)
	require.NotEqual(t, instance, st.States.StatusCtxID)
	last := st.States.Actions[len(st.States.Actions)-1]
	assert.Equal(t, "Updated", last.State)
	assert.Equal(t, st.States.StatusCtxID, last.Instance)
	assert.Equal(t, 2, last.Revision)

	old := w.fullStatus(t, "status=deployed&instance="+instance)
	assert.Equal(t, instance, old.States.StatusCtxID)
	assert.Equal(t, "Instantiated", old.DeployedStatus)
	assert.Equal(t, map[string]int{"Applied": 5}, old.DeployedCounts)
	assert.Equal(t, all, old.rows())
	assert.Equal(t, st.States.Actions, old.States.Actions, "the actions do not depend on the instance")
}
