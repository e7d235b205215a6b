package ops

import (
	"context"
	"net/http"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/manifest"
	"edgeway.dev/services/edgewayctl/internal/watch"
)

// Apply creates each document's object (POST to its anchor) in order; a
// lifecycle document is a POST to its verb. An object that already exists
// (409) counts as applied, and so does an approve or instantiate of a group
// that is already past it, so that applying a file again changes nothing.
func (r *Runner) Apply(ctx context.Context, docs []*manifest.Document) *Summary {
	return r.run(ctx, "apply", docs, r.apply)
}

func (r *Runner) apply(ctx context.Context, d *manifest.Document) Result {
	if d.Verb != "" {
		return r.applyVerb(ctx, d)
	}
	_, err := r.send(ctx, http.MethodPost, d.Anchor, d)
	if err == nil {
		return Result{Word: WordCreated}
	}
	if api.StatusOf(err) == http.StatusConflict {
		if _, gerr := r.API.Get(ctx, d.ObjectPath(), ""); gerr == nil {
			return Result{Word: WordExists, Note: "already exists, left as it is"}
		}
	}
	return Result{Err: err}
}

func (r *Runner) applyVerb(ctx context.Context, d *manifest.Document) Result {
	dig := d.ObjectPath()
	var resp *api.Response
	var err error
	if d.HasBody() {
		resp, err = r.send(ctx, http.MethodPost, d.Anchor, d)
	} else {
		resp, err = r.post(ctx, d.Anchor)
	}
	if err == nil {
		note, _ := revisionNote(resp)
		return Result{Word: pastTense(d.Verb), Path: dig, Note: note}
	}
	if api.StatusOf(err) == http.StatusConflict && (d.Verb == "approve" || d.Verb == "instantiate") {
		state, _, serr := watch.State(ctx, r.API, dig)
		if serr == nil && watch.Deployed(state) {
			return Result{Word: WordExists, Path: dig, Note: "already " + state}
		}
	}
	return Result{Path: dig, Err: err}
}

// Update replaces each document's object (PUT to anchor/name; a composite
// app at anchor/name/version). An instantiate document rolls the changes
// out (POST update) when its group is instantiated; other lifecycle
// documents are skipped.
func (r *Runner) Update(ctx context.Context, docs []*manifest.Document) *Summary {
	return r.run(ctx, "update", docs, r.update)
}

func (r *Runner) update(ctx context.Context, d *manifest.Document) Result {
	if d.Verb != "" {
		dig := d.ObjectPath()
		if d.Verb != "instantiate" {
			return Result{Word: WordSkipped, Path: dig, Note: d.Verb + ": nothing to update"}
		}
		state, _, err := watch.State(ctx, r.API, dig)
		if err != nil {
			return Result{Path: dig, Err: err}
		}
		if state != watch.StateInstantiated && state != watch.StateUpdated {
			return Result{Word: WordSkipped, Path: dig, Note: "not instantiated (" + state + "): nothing to roll out"}
		}
		resp, err := r.post(ctx, dig+"/update")
		if err != nil {
			return Result{Path: dig, Err: err}
		}
		note, _ := revisionNote(resp)
		return Result{Word: "rolled-out", Path: dig, Note: note}
	}
	if _, err := r.send(ctx, http.MethodPut, d.ObjectPath(), d); err != nil {
		return Result{Err: err}
	}
	return Result{Word: WordUpdated}
}

// Get reads each document's object; lifecycle documents are skipped.
func (r *Runner) Get(ctx context.Context, docs []*manifest.Document) *Summary {
	return r.run(ctx, "get", docs, func(ctx context.Context, d *manifest.Document) Result {
		if d.Verb != "" {
			return Result{Word: WordSkipped, Note: "lifecycle verb " + d.Verb}
		}
		resp, err := r.API.Get(ctx, d.ObjectPath(), "")
		if err != nil {
			return Result{Err: err}
		}
		return Result{Word: WordRead, Object: resp.Body}
	})
}
