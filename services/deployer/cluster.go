package deployer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// runApply applies the cluster's part of the context, sends whether every
// resource was applied, then follows readiness.
func (c *clusterRun) runApply(ctx context.Context, outcomes chan<- bool) {
	if c.acquire(ctx) != nil {
		return
	}
	ok := c.applyAll(ctx)
	c.release()
	if ctx.Err() != nil {
		return
	}
	outcomes <- ok
	if !c.abandoned {
		c.followReadiness(ctx)
	}
}

// applyAll applies, in order: the setup resources, the CRDs and Namespaces
// of every app, then each app once the apps it depends on reached their
// op_status on this cluster.
func (c *clusterRun) applyAll(ctx context.Context) bool {
	err := func() error {
		if c.setup != nil {
			if err := c.applyResources(ctx, c.setup, func(*resource) bool { return true }); err != nil {
				return err
			}
			c.save(ctx, c.setup)
		}
		early := func(res *resource) bool { return res.Early }
		for _, app := range c.r.order {
			if rec := c.apps[app]; rec != nil && slices.ContainsFunc(rec.Resources, func(r resource) bool { return r.Early }) {
				if err := c.applyResources(ctx, rec, early); err != nil {
					return err
				}
			}
		}
		for _, app := range c.r.order {
			rec := c.apps[app]
			if rec == nil {
				continue
			}
			if err := c.waitDependencies(ctx, app); err != nil {
				var de *dependencyError
				if !errors.As(err, &de) {
					return err
				}
				c.log.Warn("app not applied: a dependency failed", "app", app, "dependency", de.app)
				for i := range rec.Resources {
					if res := &rec.Resources[i]; res.Deployed != ResourceApplied {
						res.Deployed, res.Error = ResourceFailed, de.Error()
					}
				}
				c.save(ctx, rec)
				continue
			}
			if err := c.applyResources(ctx, rec, func(res *resource) bool { return !res.Early }); err != nil {
				return err
			}
			c.save(ctx, rec)
		}
		return nil
	}()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("giving up on cluster", "error", err)
			c.failRemaining(ctx, ResourceApplied, err, nil)
		}
		c.abandoned = true
		return false
	}
	for _, rec := range c.records() {
		for _, res := range rec.Resources {
			if res.Deployed != ResourceApplied {
				return false
			}
		}
	}
	return true
}

// applyResources applies the resources of rec selected by pick, in order.
// A resource the cluster refuses is marked Failed and the others go on; a
// fatal error (cluster given up, context ended) is returned.
func (c *clusterRun) applyResources(ctx context.Context, rec *record, pick func(*resource) bool) error {
	for i := range rec.Resources {
		res := &rec.Resources[i]
		if !pick(res) {
			continue
		}
		var live *unstructured.Unstructured
		err := c.do(ctx, func(conn *kubeConn) error {
			obj, err := c.r.object(ctx, rec, res)
			if err != nil {
				return err
			}
			live, err = conn.apply(ctx, obj, res.Namespace)
			return err
		})
		switch {
		case err == nil:
			res.Deployed, res.Error = ResourceApplied, ""
			res.Ready = readyStatus(live)
			c.log.Debug("applied", "app", rec.App, "kind", res.Kind, "namespace", res.Namespace, "name", res.Name)
		case fatal(err):
			return err
		default:
			res.Deployed, res.Error = ResourceFailed, errorText(err, res.isSecret())
			c.log.Warn("apply refused", "app", rec.App, "kind", res.Kind, "namespace", res.Namespace, "name", res.Name, "error", res.Error)
		}
	}
	return nil
}

func readyStatus(live *unstructured.Unstructured) string {
	if live == nil {
		return NotPresent
	}
	if isReady(live.Object) {
		return Ready
	}
	return NotReady
}

// dependencyError says an app cannot be applied on the cluster because an
// app it depends on was not deployed there.
type dependencyError struct{ app string }

func (e *dependencyError) Error() string {
	return fmt.Sprintf("not applied: app %s it depends on was not deployed on this cluster", e.app)
}

// waitDependencies waits until each app that app depends on reached its
// op_status on this cluster (an app not placed on the cluster counts as
// reached), then its wait_seconds. It holds no slot while waiting.
func (c *clusterRun) waitDependencies(ctx context.Context, app string) error {
	for _, d := range c.r.app(app).DependsOn {
		dep := c.apps[d.App]
		if dep == nil {
			continue
		}
		for _, res := range dep.Resources {
			if res.Deployed != ResourceApplied {
				return &dependencyError{app: d.App}
			}
		}
		if d.OpStatus == opStatusReady {
			c.log.Debug("waiting for dependency to be ready", "app", app, "dependency", d.App)
			for {
				all, changed, err := c.refreshReady(ctx, []*record{dep})
				for _, rec := range changed {
					c.save(ctx, rec)
				}
				if err != nil {
					return err
				}
				if all {
					break
				}
				if err := c.pause(ctx, c.r.s.cfg.ReadyPoll); err != nil {
					return err
				}
			}
		}
		if d.WaitSeconds > 0 {
			if err := c.pause(ctx, time.Duration(d.WaitSeconds)*time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

// refreshReady reads the live objects of the applied resources of recs that
// are not ready yet and updates their ready status. It reports whether
// every applied resource is ready and which records changed; only a fatal
// error is returned.
func (c *clusterRun) refreshReady(ctx context.Context, recs []*record) (all bool, changed []*record, err error) {
	all = true
	for _, rec := range recs {
		recChanged := false
		for i := range rec.Resources {
			res := &rec.Resources[i]
			if res.Deployed != ResourceApplied || res.Ready == Ready {
				continue
			}
			var live *unstructured.Unstructured
			err := c.do(ctx, func(conn *kubeConn) error {
				var gerr error
				live, gerr = conn.get(ctx, res)
				return gerr
			})
			next := res.Ready
			switch {
			case err == nil:
				next = readyStatus(live)
			case apierrors.IsNotFound(err):
				next = NotPresent
			case fatal(err):
				if recChanged {
					changed = append(changed, rec)
				}
				return false, changed, err
			default:
				c.log.Debug("cannot read object for readiness", "kind", res.Kind, "name", res.Name, "error", err)
			}
			if next != Ready {
				all = false
			}
			if next != res.Ready {
				res.Ready = next
				recChanged = true
			}
		}
		if recChanged {
			changed = append(changed, rec)
		}
	}
	return all, changed, nil
}

// followReadiness polls the cluster's applied objects every ReadyPoll until
// all are ready, the cluster is given up or the context ends.
func (c *clusterRun) followReadiness(ctx context.Context) {
	recs := c.records()
	for {
		all, changed, err := c.refreshReady(ctx, recs)
		for _, rec := range changed {
			c.save(ctx, rec)
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("stopped following readiness", "error", err)
			}
			return
		}
		if all {
			c.log.Debug("cluster ready")
			return
		}
		if sleep(ctx, c.r.s.cfg.ReadyPoll) != nil {
			return
		}
	}
}

// deleteAll deletes the cluster's objects (except those keep selects) in
// reverse apply order: apps last to first, then CRDs and Namespaces, then
// the setup. It reports whether all are gone.
func (c *clusterRun) deleteAll(ctx context.Context, keep func(string, *resource) bool) bool {
	skip := func(res *resource) bool { return keep != nil && keep(c.key, res) }
	err := func() error {
		for _, app := range slices.Backward(c.r.order) {
			if rec := c.apps[app]; rec != nil {
				if err := c.deleteResources(ctx, rec, func(res *resource) bool { return !res.Early && !skip(res) }); err != nil {
					return err
				}
			}
		}
		for _, app := range slices.Backward(c.r.order) {
			if rec := c.apps[app]; rec != nil {
				if err := c.deleteResources(ctx, rec, func(res *resource) bool { return res.Early && !skip(res) }); err != nil {
					return err
				}
			}
		}
		if c.setup != nil {
			return c.deleteResources(ctx, c.setup, func(res *resource) bool { return !skip(res) })
		}
		return nil
	}()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("giving up on cluster", "error", err)
			c.failRemaining(ctx, ResourceDeleted, err, keep)
		}
		return false
	}
	for _, rec := range c.records() {
		for i := range rec.Resources {
			if res := &rec.Resources[i]; res.Deployed != ResourceDeleted && !skip(res) {
				return false
			}
		}
	}
	return true
}

// deleteResources deletes the resources of rec selected by pick, last to
// first, and saves rec if anything changed.
func (c *clusterRun) deleteResources(ctx context.Context, rec *record, pick func(*resource) bool) error {
	changed := false
	defer func() {
		if changed {
			c.save(ctx, rec)
		}
	}()
	for i := len(rec.Resources) - 1; i >= 0; i-- {
		res := &rec.Resources[i]
		if !pick(res) {
			continue
		}
		removed := false
		err := c.do(ctx, func(conn *kubeConn) error {
			var rerr error
			removed, rerr = conn.remove(ctx, res, c.r.m.DeploymentID)
			return rerr
		})
		switch {
		case err == nil:
			if !removed {
				c.log.Info("object left alone: it belongs to another deployment now", "kind", res.Kind, "namespace", res.Namespace, "name", res.Name)
			}
			res.Deployed, res.Ready, res.Error = ResourceDeleted, NotPresent, ""
		case fatal(err):
			return err
		default:
			res.Deployed, res.Error = ResourceFailed, errorText(err, res.isSecret())
			c.log.Warn("delete refused", "app", rec.App, "kind", res.Kind, "namespace", res.Namespace, "name", res.Name, "error", res.Error)
		}
		changed = true
	}
	return nil
}
