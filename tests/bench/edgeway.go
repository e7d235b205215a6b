package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"edgeway.dev/tests/edgecluster"
	"edgeway.dev/tests/harness"
)

const (
	provider = "bench"
	project  = "/projects/bench"
	compApp  = project + "/composite-apps/bench/v1"
)

func digPath(n int) string { return fmt.Sprintf("%s/deployment-intent-groups/n%d", compApp, n) }

func benchLabel(n int) string { return fmt.Sprintf("bench-n%d", n) }

// client wraps harness.API with error-returning calls (no testing.TB).
type client struct{ api *harness.API }

func obj(name string, spec any) map[string]any {
	m := map[string]any{"metadata": map[string]any{"name": name}}
	if spec != nil {
		m["spec"] = spec
	}
	return m
}

// call sends a request and checks the status.
func (c client) call(method, path string, body any, want int) (*harness.Response, error) {
	var (
		data []byte
		ct   string
		err  error
	)
	if body != nil {
		if data, err = json.Marshal(body); err != nil {
			return nil, err
		}
		ct = harness.ContentJSON
	}
	resp, err := c.api.TryDo(method, path, ct, data, nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != want {
		return resp, fmt.Errorf("want %d: %s", want, resp)
	}
	return resp, nil
}

func (c client) multipart(path string, metadata any, file []byte) error {
	ct, body, err := harness.EncodeMultipart(metadata, file)
	if err != nil {
		return err
	}
	resp, err := c.api.TryDo(http.MethodPost, path, ct, body, nil)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusCreated {
		return fmt.Errorf("want 201: %s", resp)
	}
	return nil
}

// setup registers the clusters (cluster i carries bench-nN for every N ≥ i),
// uploads the three charts and creates and approves one DIG per N, placing
// every app on the clusters labelled bench-nN.
func setup(c client, clusters []edgecluster.Cluster, ns []int) error {
	if _, err := c.call(http.MethodPost, "/cluster-providers", obj(provider, nil), http.StatusCreated); err != nil {
		return err
	}
	for i, cl := range clusters {
		if err := c.multipart("/cluster-providers/"+provider+"/clusters", obj(cl.Name, nil), cl.Kubeconfig); err != nil {
			return fmt.Errorf("register %s: %w", cl.Name, err)
		}
		for _, n := range ns {
			if i < n {
				if _, err := c.call(http.MethodPost, "/cluster-providers/"+provider+"/clusters/"+cl.Name+"/labels",
					map[string]string{"clusterLabel": benchLabel(n)}, http.StatusCreated); err != nil {
					return err
				}
			}
		}
	}
	if _, err := c.call(http.MethodPost, "/projects", obj("bench", nil), http.StatusCreated); err != nil {
		return err
	}
	if _, err := c.call(http.MethodPost, project+"/composite-apps", obj("bench", map[string]any{"compositeAppVersion": "v1"}), http.StatusCreated); err != nil {
		return err
	}
	for _, ch := range charts {
		tgz, err := ch.archive()
		if err != nil {
			return err
		}
		if err := c.multipart(compApp+"/apps", obj(ch.name, nil), tgz); err != nil {
			return fmt.Errorf("upload chart %s: %w", ch.name, err)
		}
	}
	if _, err := c.call(http.MethodPost, project+"/logical-clouds", obj("lc", map[string]any{"namespace": appNamespace, "level": "0"}), http.StatusCreated); err != nil {
		return err
	}
	for _, n := range ns {
		dig := digPath(n)
		gpi := dig + "/generic-placement-intents/placement"
		steps := []struct {
			path string
			body any
		}{
			{compApp + "/deployment-intent-groups", obj(fmt.Sprintf("n%d", n), map[string]any{"version": "r1", "logicalCloud": "lc"})},
			{dig + "/generic-placement-intents", obj("placement", nil)},
		}
		for _, ch := range charts {
			steps = append(steps, struct {
				path string
				body any
			}{gpi + "/app-intents", obj(ch.name, map[string]any{"app": ch.name,
				"intent": map[string]any{"allOf": []any{map[string]any{"clusterProvider": provider, "clusterLabel": benchLabel(n)}}}})})
		}
		steps = append(steps, struct {
			path string
			body any
		}{dig + "/intents", obj("intents", map[string]any{"intent": map[string]any{"genericPlacementIntent": "placement"}})})
		for _, s := range steps {
			if _, err := c.call(http.MethodPost, s.path, s.body, http.StatusCreated); err != nil {
				return err
			}
		}
		if _, err := c.call(http.MethodPost, dig+"/approve", nil, http.StatusAccepted); err != nil {
			return err
		}
	}
	return nil
}

// statusAnswer is the part of the status answer the benchmark reads.
type statusAnswer struct {
	DeployedStatus string         `json:"deployedStatus"`
	ReadyStatus    string         `json:"readyStatus"`
	DeployedCounts map[string]int `json:"deployedCounts"`
	ReadyCounts    map[string]int `json:"readyCounts"`
	States         struct {
		StatusCtxID string `json:"statusctxid"`
	} `json:"states"`
	Apps []struct {
		Name     string `json:"name"`
		Clusters []struct {
			Cluster   string `json:"cluster"`
			Resources []struct {
				Name           string `json:"name"`
				DeployedStatus string `json:"deployedStatus"`
				ReadyStatus    string `json:"readyStatus"`
			} `json:"resources"`
		} `json:"clusters"`
	} `json:"apps"`
}

func (c client) status(dig, query string) (statusAnswer, time.Duration, error) {
	began := time.Now()
	resp, err := c.call(http.MethodGet, dig+"/status?"+query, nil, http.StatusOK)
	took := time.Since(began)
	var a statusAnswer
	if err != nil {
		return a, took, err
	}
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		return a, took, fmt.Errorf("status answer: %w", err)
	}
	return a, took, nil
}

// edgewayRun is one measured instantiate.
type edgewayRun struct {
	Instantiate time.Duration `json:"instantiate_call_ns"` // the instantiate call itself (202)
	Applied     time.Duration `json:"applied_ns"`          // every object Applied on every cluster
	// Done is when deployedStatus first said the deployer finished:
	// Instantiated, or Updated for an instantiate after a terminate (the
	// deployer calls every revision after the first an update).
	Done  time.Duration `json:"deployer_done_ns"`
	Ready time.Duration `json:"ready_ns"` // readyStatus Ready
	// ClusterApplied is, per cluster, when all its objects were first seen
	// Applied, sorted: it shows how the clusters are worked through.
	ClusterApplied []time.Duration `json:"cluster_applied_ns"`
	Polls          int             `json:"status_polls"`
	PollMedian     time.Duration   `json:"status_poll_median_ns"` // latency of one status call
	Terminate      time.Duration   `json:"terminate_ns"`          // terminate until Terminated (not part of the figures)
	// DeployedStatuses are the deployedStatus values seen while polling, in
	// order, repeats left out.
	DeployedStatuses []string `json:"deployed_statuses"`
	// Breakdown is what the server did in each phase (warm-up runs).
	Breakdown *breakdown `json:"breakdown,omitempty"`
}

func (r *edgewayRun) saw(status string) {
	if n := len(r.DeployedStatuses); n == 0 || r.DeployedStatuses[n-1] != status {
		r.DeployedStatuses = append(r.DeployedStatuses, status)
	}
}

// runEdgeway instantiates the DIG for N clusters and waits until every
// object is Applied and then Ready. With adminURL it also records, in
// r.Breakdown, what the server did in each phase (scraping /metrics inside
// the clock: warm-up runs only).
func runEdgeway(ctx context.Context, c client, n int, perCluster int, poll, limit time.Duration, adminURL string) (r edgewayRun, err error) {
	dig := digPath(n)
	want := n * perCluster
	var scrapes []scrape
	mark := func() {
		if adminURL == "" {
			return
		}
		s, err := scrapeMetrics(adminURL)
		if err != nil {
			s = scrape{}
		}
		scrapes = append(scrapes, s)
	}
	defer func() {
		if len(scrapes) == 3 {
			r.Breakdown = &breakdown{Instantiate: delta(scrapes[0], scrapes[1]), Apply: delta(scrapes[1], scrapes[2])}
		}
	}()
	mark()
	began := time.Now()
	resp, err := c.call(http.MethodPost, dig+"/instantiate", nil, http.StatusAccepted)
	if err != nil {
		return r, fmt.Errorf("instantiate: %w", err)
	}
	r.Instantiate = time.Since(began)
	mark()
	var inst struct {
		Instance string `json:"instance"`
	}
	if err := json.Unmarshal(resp.Body, &inst); err != nil || inst.Instance == "" {
		return r, fmt.Errorf("instantiate answer %s: %v", resp.Body, err)
	}
	deadline := began.Add(limit)
	var pollTimes []time.Duration
	seen := map[string]bool{}
	var last statusAnswer
	for r.Applied == 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return r, fmt.Errorf("not every object Applied after %s: last answer %s %v", limit, last.DeployedStatus, last.DeployedCounts)
		}
		a, took, err := c.status(dig, "status=deployed&output=all")
		now := time.Since(began)
		pollTimes = append(pollTimes, took)
		if err != nil {
			return r, err
		}
		last = a
		if a.States.StatusCtxID != inst.Instance {
			return r, fmt.Errorf("status is of context %q, not of the new instance %q", a.States.StatusCtxID, inst.Instance)
		}
		r.saw(a.DeployedStatus)
		if done(a.DeployedStatus) && r.Done == 0 {
			r.Done = now
		}
		if a.DeployedStatus == "Failed" {
			return r, fmt.Errorf("deployedStatus Failed: %v", a.DeployedCounts)
		}
		total, applied := 0, 0
		perClusterApplied := map[string]int{}
		for _, app := range a.Apps {
			for _, cl := range app.Clusters {
				for _, res := range cl.Resources {
					total++
					if res.DeployedStatus == "Applied" {
						applied++
						perClusterApplied[cl.Cluster]++
					}
				}
			}
		}
		for cl, k := range perClusterApplied {
			if k == perCluster && !seen[cl] {
				seen[cl] = true
				r.ClusterApplied = append(r.ClusterApplied, now)
			}
		}
		if total == want && applied == want {
			r.Applied = now
			break
		}
		if total > want {
			return r, fmt.Errorf("status lists %d resources, want %d", total, want)
		}
		sleep(ctx, poll)
	}
	for r.Ready == 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return r, fmt.Errorf("not Ready after %s: last answer %s %v", limit, last.ReadyStatus, last.ReadyCounts)
		}
		a, took, err := c.status(dig, "status=ready&output=summary")
		now := time.Since(began)
		pollTimes = append(pollTimes, took)
		if err != nil {
			return r, err
		}
		last = a
		if a.ReadyStatus == "Ready" {
			r.Ready = now
			break
		}
		sleep(ctx, poll)
	}
	mark()
	r.Polls = len(pollTimes)
	r.PollMedian = percentile(pollTimes, 0.5)
	// The deployer's own verdict usually comes with Applied.
	if r.Done == 0 {
		if a, _, err := c.status(dig, "status=deployed&output=summary"); err == nil {
			r.saw(a.DeployedStatus)
			if done(a.DeployedStatus) {
				r.Done = time.Since(began)
			}
		}
	}
	return r, nil
}

func done(deployedStatus string) bool {
	return deployedStatus == "Instantiated" || deployedStatus == "Updated"
}

// terminate terminates the DIG and waits for Terminated.
func terminate(ctx context.Context, c client, n int, limit time.Duration) (time.Duration, error) {
	dig := digPath(n)
	began := time.Now()
	if _, err := c.call(http.MethodPost, dig+"/terminate", nil, http.StatusAccepted); err != nil {
		return 0, fmt.Errorf("terminate: %w", err)
	}
	for {
		a, _, err := c.status(dig, "status=deployed&output=summary")
		if err != nil {
			return 0, err
		}
		if a.DeployedStatus == "Terminated" {
			return time.Since(began), nil
		}
		if time.Since(began) > limit || ctx.Err() != nil {
			return 0, fmt.Errorf("not Terminated after %s: %s %v", limit, a.DeployedStatus, a.DeployedCounts)
		}
		sleep(ctx, 50*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
