package deployer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/store"
)

// ctxRun is one pass of a worker over a context: its meta, its records
// grouped per cluster, and the slots bounding the clusters worked on at
// once.
type ctxRun struct {
	s        *Service
	m        *meta
	log      *slog.Logger
	order    []string // app names in apply order
	clusters []*clusterRun
	slots    chan struct{}
}

// clusterRun is the part of a ctxRun on one cluster. Its goroutine is the
// only writer of the cluster's records and connectivity record.
type clusterRun struct {
	r        *ctxRun
	provider string
	cluster  string
	key      string
	log      *slog.Logger
	setup    *record
	apps     map[string]*record

	conn      *kubeConn
	failures  int  // consecutive failed attempts
	held      bool // holds one of r.slots
	abandoned bool // given up: unreachable or unusable
	connSeen  connState
}

func newRun(s *Service, m *meta, recs map[string]*record, log *slog.Logger) *ctxRun {
	order, err := applyOrder(m.Apps)
	if err != nil { // validated at Install; keep the request order
		for _, a := range m.Apps {
			order = append(order, a.Name)
		}
	}
	r := &ctxRun{s: s, m: m, log: log, order: order, slots: make(chan struct{}, s.cfg.ClusterConcurrency)}
	byKey := map[string]*clusterRun{}
	keys := slices.Clone(m.Clusters)
	for _, rec := range recs {
		ck := rec.clusterKey()
		c := byKey[ck]
		if c == nil {
			c = &clusterRun{
				r: r, provider: rec.ClusterProvider, cluster: rec.Cluster, key: ck,
				log: log.With("cluster", ck), apps: map[string]*record{},
			}
			byKey[ck] = c
			if !slices.Contains(keys, ck) {
				keys = append(keys, ck)
			}
		}
		if rec.App == setupApp {
			c.setup = rec
		} else {
			c.apps[rec.App] = rec
		}
	}
	slices.Sort(keys)
	for _, ck := range keys {
		if c := byKey[ck]; c != nil {
			r.clusters = append(r.clusters, c)
		}
	}
	return r
}

// app returns the meta of an app.
func (r *ctxRun) app(name string) appMeta {
	for _, a := range r.m.Apps {
		if a.Name == name {
			return a
		}
	}
	return appMeta{Name: name}
}

// apply applies the context on every cluster, prunes what the previous
// context had and this one does not, records the outcome, then follows
// readiness until every applied object is ready.
func (r *ctxRun) apply(ctx context.Context) {
	r.log.Info("applying context", "revision", r.m.Revision, "clusters", len(r.clusters))
	outcomes := make(chan bool, len(r.clusters))
	var wg sync.WaitGroup
	for _, c := range r.clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.runApply(ctx, outcomes)
		}()
	}
	ok := true
	for range r.clusters {
		select {
		case o := <-outcomes:
			ok = ok && o
		case <-ctx.Done():
			wg.Wait()
			return
		}
	}
	if ok && r.m.PreviousContextID != "" {
		ok = r.prune(ctx)
	}
	if ctx.Err() == nil {
		r.s.finish(ctx, r.m, ok, r.log)
	}
	wg.Wait()
}

// terminate deletes every object of the context, in reverse apply order,
// then what the previous context left if this one's update never got to
// pruning it (stopped, failed, or uninstalled before the end); objects
// already gone cost one read each.
func (r *ctxRun) terminate(ctx context.Context) {
	r.log.Info("terminating context", "clusters", len(r.clusters))
	ok := r.deleteEverywhere(ctx, nil)
	if ok && r.m.PreviousContextID != "" {
		ok = r.prune(ctx)
	}
	if ctx.Err() == nil {
		r.s.finish(ctx, r.m, ok, r.log)
	}
}

// deleteEverywhere deletes the objects of every cluster (those for which
// keep is false) and reports whether all are gone.
func (r *ctxRun) deleteEverywhere(ctx context.Context, keep func(ck string, res *resource) bool) bool {
	outcomes := make(chan bool, len(r.clusters))
	var wg sync.WaitGroup
	for _, c := range r.clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.acquire(ctx) != nil {
				outcomes <- false
				return
			}
			defer c.release()
			outcomes <- c.deleteAll(ctx, keep)
		}()
	}
	wg.Wait()
	close(outcomes)
	ok := true
	for o := range outcomes {
		ok = ok && o
	}
	return ok
}

// prune deletes the objects of the previous context that this one no
// longer has: same cluster, group, kind, namespace and name.
func (r *ctxRun) prune(ctx context.Context) bool {
	prevID := r.m.PreviousContextID
	log := r.log.With("previous_context_id", prevID)
	pm, err := r.s.getMeta(ctx, prevID)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("previous context not found: nothing to prune")
		return true
	}
	if err != nil {
		log.Error("cannot read the previous context to prune it", "error", err)
		return false
	}
	precs, err := r.s.loadRecords(ctx, prevID)
	if err != nil {
		log.Error("cannot read the previous context to prune it", "error", err)
		return false
	}
	kept := map[string]bool{}
	for _, c := range r.clusters {
		for _, rec := range c.records() {
			for i := range rec.Resources {
				kept[c.key+"|"+pruneIdentity(&rec.Resources[i])] = true
			}
		}
	}
	prev := newRun(r.s, pm, precs, log)
	ok := prev.deleteEverywhere(ctx, func(ck string, res *resource) bool {
		return kept[ck+"|"+pruneIdentity(res)]
	})
	if ok {
		log.Info("previous context pruned")
	}
	return ok
}

// pruneIdentity is identity with an empty namespace read as "default",
// where a namespaced object without one goes.
func pruneIdentity(res *resource) string {
	c := *res
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	return c.identity()
}

// records lists the cluster's records in apply order: setup, then apps.
func (c *clusterRun) records() []*record {
	var out []*record
	if c.setup != nil {
		out = append(out, c.setup)
	}
	for _, app := range c.r.order {
		if rec := c.apps[app]; rec != nil {
			out = append(out, rec)
		}
	}
	return out
}

func (c *clusterRun) acquire(ctx context.Context) error {
	if c.held {
		return nil
	}
	select {
	case c.r.slots <- struct{}{}:
		c.held = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *clusterRun) release() {
	if c.held {
		<-c.r.slots
		c.held = false
	}
}

// pause waits d without holding a slot, so a waiting cluster does not hold
// up the others.
func (c *clusterRun) pause(ctx context.Context, d time.Duration) error {
	held := c.held
	c.release()
	if err := sleep(ctx, d); err != nil {
		return err
	}
	if held {
		return c.acquire(ctx)
	}
	return nil
}

// clusterError is a failure of the whole cluster: its kubeconfig cannot be
// had or used, or it stayed unreachable for RetryLimit attempts.
type clusterError struct{ err error }

func (e *clusterError) Error() string { return e.err.Error() }
func (e *clusterError) Unwrap() error { return e.err }

// fatal reports whether err ends the work on the cluster.
func fatal(err error) bool {
	var ce *clusterError
	var ge *gaveUpError
	return errors.As(err, &ce) || errors.As(err, &ge) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// do runs op against the cluster, connecting first when needed, and
// retries while the failure is retryable: with exponential backoff, the
// cluster's connectivity Retrying meanwhile, until RetryLimit consecutive
// failures. It returns nil, op's non-retryable error, a *clusterError, a
// *gaveUpError or the context's error.
func (c *clusterRun) do(ctx context.Context, op func(*kubeConn) error) error {
	cfg := c.r.s.cfg
	for {
		var err error
		if c.conn == nil {
			c.conn, err = c.r.s.connect(ctx, c.provider, c.cluster)
			if err != nil {
				c.conn = nil
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if !retryable(err) {
					c.setConn(ctx, ConnUnknown, err)
					return &clusterError{err: err}
				}
			}
		}
		if err == nil {
			err = op(c.conn)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !retryable(err) {
				c.failures = 0
				c.setConn(ctx, ConnAvailable, nil)
				return err
			}
		}
		c.failures++
		if cfg.RetryLimit > 0 && c.failures >= cfg.RetryLimit {
			c.setConn(ctx, ConnUnknown, err)
			return &gaveUpError{attempts: c.failures, err: err}
		}
		c.setConn(ctx, ConnRetrying, err)
		c.conn = nil // fetch the kubeconfig again: it may have been replaced
		wait := backoff(cfg.RetryBase, cfg.RetryMax, c.failures)
		c.log.Debug("cluster not reachable; retrying", "attempt", c.failures, "wait", wait, "error", err)
		if err := c.pause(ctx, wait); err != nil {
			return err
		}
	}
}

// setConn records the cluster's connectivity when it changes.
func (c *clusterRun) setConn(ctx context.Context, state string, err error) {
	next := connState{Connectivity: state, Error: errorText(err, false)}
	if next.Connectivity == c.connSeen.Connectivity && next.Error == c.connSeen.Error {
		return
	}
	if state != c.connSeen.Connectivity {
		c.log.Info("cluster connectivity", "connectivity", state, "error", next.Error)
	}
	c.connSeen = next
	next.Updated = time.Now().UTC()
	b, _ := json.Marshal(next)
	if perr := c.r.s.deps.KV.Put(ctx, connKey(c.r.m.ContextID, c.key), b); perr != nil && ctx.Err() == nil {
		c.log.Warn("cannot record cluster connectivity", "error", perr)
	}
}

// save writes one of the cluster's records; a failure is logged, and the
// next save of the record carries the lost change.
func (c *clusterRun) save(ctx context.Context, rec *record) {
	if err := c.r.s.saveRecord(ctx, c.r.m.ContextID, rec); err != nil && ctx.Err() == nil {
		c.log.Warn("cannot record resource statuses", "app", rec.App, "error", err)
	}
}

// failRemaining marks every resource not yet done (Applied when applying,
// Deleted when deleting) Failed with the cluster's error, and saves.
func (c *clusterRun) failRemaining(ctx context.Context, done string, err error, keep func(string, *resource) bool) {
	msg := errorText(err, false)
	for _, rec := range c.records() {
		changed := false
		for i := range rec.Resources {
			res := &rec.Resources[i]
			if res.Deployed == done || (keep != nil && keep(c.key, res)) {
				continue
			}
			res.Deployed, res.Error = ResourceFailed, msg
			changed = true
		}
		if changed {
			c.save(ctx, rec)
		}
	}
}

// object decodes a resource's manifest, unsealing it when sealed, fills a
// project secret's values in (fillProjectSecret), and labels it with the
// deployment. Nothing revision-specific is added: an
// annotation changing with every revision would bump the generation of
// every Deployment (its annotations are copied to ReplicaSets) and make an
// update wait for rollouts that change nothing. The plaintext of a Secret lives only in
// the returned object, which the caller drops after applying it.
func (r *ctxRun) object(ctx context.Context, rec *record, res *resource) (*unstructured.Unstructured, error) {
	data := []byte(res.Manifest)
	if res.Sealed != nil {
		out, err := r.s.deps.Secrets.Unseal(ctx, &secretsv1.UnsealRequest{
			Ciphertext:     res.Sealed,
			AssociatedData: sealAAD(recordKey(r.m.ContextID, rec.clusterKey(), rec.App), res),
		})
		if err != nil {
			return nil, fmt.Errorf("unseal manifest: %w", grpcx.FromStatus(err))
		}
		data = out.GetPlaintext()
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, permanent(errors.New("stored manifest cannot be decoded"))
	}
	if res.isSecret() {
		if err := r.fillProjectSecret(ctx, obj); err != nil {
			return nil, err
		}
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelDeployment] = r.m.DeploymentID
	obj.SetLabels(labels)
	return obj, nil
}
