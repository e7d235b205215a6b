package ops

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/manifest"
	"edgeway.dev/services/edgewayctl/internal/watch"
)

// Delete deletes the documents' objects in reverse order. An instantiate
// document terminates its group and waits until the group's objects are
// gone from the clusters (deployed status Terminated) before anything else
// is deleted; a group that could not be terminated keeps its children and
// itself. Other lifecycle documents have nothing to undo. An object that
// is already gone counts as deleted.
func (r *Runner) Delete(ctx context.Context, docs []*manifest.Document) *Summary {
	rev := slices.Clone(docs)
	slices.Reverse(rev)
	var held []string // groups that are not terminated
	return r.run(ctx, "delete", rev, func(ctx context.Context, d *manifest.Document) Result {
		p := d.ObjectPath()
		for _, h := range held {
			if d.Verb == "" && (p == h || strings.HasPrefix(p, h+"/")) {
				return Result{Err: fmt.Errorf("kept: deployment intent group %s was not terminated", watch.DisplayName(h))}
			}
		}
		switch d.Verb {
		case "":
		case "instantiate":
			res := r.terminate(ctx, p)
			if res.Err != nil {
				held = append(held, p)
			}
			return res
		default:
			return Result{Word: WordSkipped, Path: p, Note: d.Verb + ": nothing to undo"}
		}
		_, err := r.API.Do(ctx, api.Request{Method: http.MethodDelete, Path: p})
		switch {
		case err == nil:
			return Result{Word: WordDeleted}
		case api.StatusOf(err) == http.StatusNotFound:
			return Result{Word: WordGone, Note: "not found"}
		}
		return Result{Err: err}
	})
}

func (r *Runner) terminate(ctx context.Context, dig string) Result {
	state, ds, err := watch.State(ctx, r.API, dig)
	switch {
	case api.StatusOf(err) == http.StatusNotFound:
		return Result{Word: WordGone, Path: dig, Note: "not found"}
	case err != nil:
		return Result{Path: dig, Err: err}
	case watch.Deployed(state):
		if _, err := r.post(ctx, dig+"/terminate"); err != nil {
			return Result{Path: dig, Err: err}
		}
	case state == watch.StateTerminated:
		if ds == watch.StateTerminated {
			return Result{Word: "terminated", Path: dig, Note: "already terminated"}
		}
	default:
		return Result{Word: WordSkipped, Path: dig, Note: "not instantiated (" + state + ")"}
	}
	if err := r.waitTerminated(ctx, dig); err != nil {
		return Result{Path: dig, Err: err}
	}
	return Result{Word: "terminated", Path: dig, Note: "objects deleted from the clusters"}
}

func (r *Runner) waitTerminated(ctx context.Context, dig string) error {
	timeout := r.TerminateTimeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		_, ds, err := watch.State(ctx, r.API, dig)
		switch {
		case err == nil && ds == watch.StateTerminated:
			return nil
		case err == nil && ds == "TerminateFailed":
			return errors.New("termination failed (deployed status TerminateFailed)")
		case err == nil:
			last = ds
		case ctx.Err() == nil:
			last = errText(err)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("still %s after %s: its children are kept", last, timeout)
			}
			return ctx.Err()
		case <-time.After(r.poll()):
		}
	}
}
