package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/manifest"
	"edgeway.dev/services/edgewayctl/internal/watch"
)

// Exit codes of a rollout.
const (
	ExitReady   = 0
	ExitFailed  = 1
	ExitTimeout = 2
)

// Rollout is the CI path: bring a file's objects to what it says, deploy
// its deployment intent groups (approve and instantiate, or update when
// already instantiated) and wait until they are ready.
type Rollout struct {
	Runner *Runner
	// Out receives the progress lines.
	Out io.Writer
	// Wait follows the deployment until it is ready, failed or ctx ends.
	Wait bool
}

// group is one deployment intent group of the file.
type group struct {
	path     string
	state    string
	instance string // the context to wait for; "" means the current one
	renderer *watch.Renderer
	done     bool
}

// Run rolls the documents out and returns the exit code: ExitReady,
// ExitFailed (a document or a deployment failed) or ExitTimeout (ctx's
// deadline passed first). Lines for a CI log go to Out.
func (ro *Rollout) Run(ctx context.Context, docs []*manifest.Document) int {
	start := time.Now()
	code, err := ro.run(ctx, docs, start)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			fmt.Fprintf(ro.Out, "rollout: timed out after %s: %v\n", time.Since(start).Round(time.Second), err)
			return ExitTimeout
		}
		fmt.Fprintf(ro.Out, "rollout: failed: %s\n", errText(err))
		return ExitFailed
	}
	return code
}

func (ro *Rollout) run(ctx context.Context, docs []*manifest.Document, start time.Time) (int, error) {
	r := ro.Runner
	var groups []*group
	for _, d := range docs {
		if d.Verb == "approve" || d.Verb == "instantiate" {
			p := d.ObjectPath()
			if !slices.ContainsFunc(groups, func(g *group) bool { return g.path == p }) {
				groups = append(groups, &group{path: p})
			}
		}
	}
	if len(groups) == 0 {
		return ExitFailed, errors.New("the file has no approve or instantiate document: no deployment intent group to roll out")
	}
	for _, g := range groups {
		state, _, err := watch.State(ctx, r.API, g.path)
		switch {
		case api.StatusOf(err) == http.StatusNotFound:
			state = "new"
		case err != nil:
			return ExitFailed, err
		}
		g.state = state
		fmt.Fprintf(ro.Out, "rollout: %s is %s\n", watch.DisplayName(g.path), state)
	}

	// Bring every object to what the file says.
	var changed []string
	var objects []*manifest.Document
	for _, d := range docs {
		if d.Verb == "" {
			objects = append(objects, d)
		}
	}
	sub := *r
	sub.StopOnError = true
	s := sub.run(ctx, "rollout", objects, func(ctx context.Context, d *manifest.Document) Result {
		res := r.sync(ctx, d)
		if res.Err == nil && res.Word != WordUnchanged {
			changed = append(changed, d.ObjectPath())
		}
		return res
	})
	if err := s.Err(); err != nil {
		if ctx.Err() != nil {
			return ExitTimeout, ctx.Err()
		}
		s.Print(ro.Out, r.File)
		return ExitFailed, err
	}

	// Deploy each group.
	for _, g := range groups {
		if err := ro.deploy(ctx, g, changed); err != nil {
			return ExitFailed, err
		}
	}
	if !ro.Wait {
		fmt.Fprintln(ro.Out, "rollout: started; not waiting (--wait not given)")
		return ExitReady, nil
	}
	return ro.wait(ctx, groups, start)
}

// deploy approves and instantiates a group that is not deployed, and
// rolls changes out to one that is.
func (ro *Rollout) deploy(ctx context.Context, g *group, changed []string) error {
	r := ro.Runner
	name := watch.DisplayName(g.path)
	switch g.state {
	case watch.StateInstantiated, watch.StateUpdated:
		project := strings.Join(strings.SplitN(g.path, "/", 3)[:2], "/") + "/"
		if !slices.ContainsFunc(changed, func(p string) bool { return strings.HasPrefix(p, project) }) {
			fmt.Fprintf(ro.Out, "rollout: %s: nothing changed, no update needed\n", name)
			return nil
		}
		resp, err := r.post(ctx, g.path+"/update")
		if err != nil {
			return err
		}
		note, inst := revisionNote(resp)
		g.instance = inst
		fmt.Fprintf(ro.Out, "rollout: %s: update started (%s)\n", name, note)
		return nil
	case watch.StateInstantiateStopped, watch.StateTerminateStopped:
		return fmt.Errorf("%s is %s: terminate it (edgewayctl delete -f) before rolling out again", name, g.state)
	}
	if g.state != watch.StateApproved {
		if _, err := r.post(ctx, g.path+"/approve"); err != nil {
			return err
		}
		fmt.Fprintf(ro.Out, "rollout: %s: approved\n", name)
	}
	resp, err := r.post(ctx, g.path+"/instantiate")
	if err != nil {
		return err
	}
	note, inst := revisionNote(resp)
	g.instance = inst
	fmt.Fprintf(ro.Out, "rollout: %s: instantiate started (%s)\n", name, note)
	return nil
}

// wait polls every group until all are ready (ExitReady), one failed
// (ExitFailed) or ctx ends (ExitTimeout).
func (ro *Rollout) wait(ctx context.Context, groups []*group, start time.Time) (int, error) {
	r := ro.Runner
	last := map[string]*watch.Snapshot{}
	for _, g := range groups {
		g.renderer = &watch.Renderer{W: ro.Out, Start: start}
	}
	for {
		pending := 0
		for _, g := range groups {
			if g.done {
				continue
			}
			snap, err := watch.Fetch(ctx, r.API, g.path)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				g.renderer.Note("status of " + watch.DisplayName(g.path) + ": " + errText(err) + " (retrying)")
				pending++
				continue
			}
			last[g.path] = snap
			g.renderer.Render(snap)
			current := g.instance == "" || snap.Instance == g.instance
			switch phase := snap.Phase(); {
			case current && phase == watch.Ready:
				g.done = true
				fmt.Fprintf(ro.Out, "rollout: %s is ready (revision %d) after %s\n", watch.DisplayName(g.path), snap.Revision, time.Since(start).Round(time.Second))
			case current && phase == watch.Failed:
				fmt.Fprintf(ro.Out, "rollout: %s failed:\n", watch.DisplayName(g.path))
				for _, p := range snap.Problems() {
					fmt.Fprintf(ro.Out, "  %s\n", p)
				}
				return ExitFailed, nil
			default:
				pending++
			}
		}
		if pending == 0 && ctx.Err() == nil {
			return ExitReady, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(ro.Out, "rollout: timed out after %s\n", time.Since(start).Round(time.Second))
			for _, g := range groups {
				if g.done {
					continue
				}
				fmt.Fprintf(ro.Out, "  %s is not ready", watch.DisplayName(g.path))
				if s := last[g.path]; s != nil {
					fmt.Fprintf(ro.Out, " (%s):\n", watch.Summary(s))
					for _, w := range s.Waiting() {
						fmt.Fprintf(ro.Out, "    %s\n", w)
					}
				} else {
					fmt.Fprintln(ro.Out)
				}
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return ExitTimeout, nil
			}
			return ExitFailed, ctx.Err()
		case <-time.After(r.poll()):
		}
	}
}
