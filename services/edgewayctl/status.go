package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/watch"
)

func statusCmd(g *globals) *cobra.Command {
	var watchFlag, noColor bool
	var output string
	var interval, timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status PROJECT/COMPOSITE-APP/VERSION/DEPLOYMENT-INTENT-GROUP",
		Short: "Show a deployment's apps × clusters with their deployed and ready state",
		Long: `status shows the lifecycle state of a deployment intent group and a table of its
apps on its clusters: how many resources are applied and ready, with a progress
bar. --watch refreshes it until everything is ready (exit 0) or failed (exit 1:
a failed deployed status, a resource that was not applied, or one that can never
become ready, such as a Job with a Failed condition); --timeout gives up with exit
status 2. On a terminal the table is redrawn in place (coloured unless --no-color
or NO_COLOR is set); in a pipe or a log each change is one plain line.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeGroup,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			path, err := watch.PathOf(args[0])
			if err != nil {
				return err
			}
			if watchFlag && output != outTable {
				return errors.New("--watch shows a table: leave out -o")
			}
			c, err := g.client(cmd.Context())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !watchFlag {
				snap, err := watch.Fetch(ctx, c, path)
				if err != nil {
					return err
				}
				switch output {
				case outJSON:
					return writeJSON(g.stdout, snap.Raw)
				case outYAML:
					return writeYAML(g.stdout, snap.Raw)
				}
				color := isTerminal(g.stdout) && !noColor && os.Getenv("NO_COLOR") == ""
				fmt.Fprintf(g.stdout, "%s: %s\n", watch.DisplayName(path), watch.Summary(snap))
				for _, l := range watch.Table(snap, color) {
					fmt.Fprintln(g.stdout, l)
				}
				for _, p := range snap.Problems() {
					fmt.Fprintln(g.stdout, "problem:", p)
				}
				return nil
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			tty := isTerminal(g.stdout)
			r := &watch.Renderer{W: g.stdout, TTY: tty, Color: tty && !noColor && os.Getenv("NO_COLOR") == "", Start: time.Now()}
			return watchStatus(ctx, c, path, r, interval)
		},
	}
	cmd.Flags().BoolVarP(&watchFlag, "watch", "w", false, "refresh until everything is ready or failed")
	cmd.Flags().BoolVar(&noColor, "no-color", false, "no colours (also when NO_COLOR is set)")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "refresh interval of --watch")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --watch: give up after this long (exit status 2); 0 waits forever")
	registerOutput(cmd, &output)
	return cmd
}

func watchStatus(ctx context.Context, c *api.Client, path string, r *watch.Renderer, interval time.Duration) error {
	var last *watch.Snapshot
	for {
		snap, err := watch.Fetch(ctx, c, path)
		switch {
		case err != nil && ctx.Err() == nil:
			if api.StatusOf(err) == 404 || api.StatusOf(err) == 401 || api.StatusOf(err) == 403 {
				return err
			}
			r.Note("status: " + err.Error() + " (retrying)")
		case err == nil:
			last = snap
			r.Render(snap)
			switch snap.Phase() {
			case watch.Ready:
				r.Note(watch.DisplayName(path) + " is ready")
				return nil
			case watch.Failed:
				r.Note(watch.DisplayName(path) + " failed:")
				for _, p := range snap.Problems() {
					r.Note("  " + p)
				}
				return &exitError{code: 1}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := "timed out: " + watch.DisplayName(path) + " is not ready"
				if last != nil {
					msg += " (" + watch.Summary(last) + ")"
				}
				r.Note(msg)
				return &exitError{code: 2}
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// completeGroup completes PROJECT/COMPOSITE-APP/VERSION/DIG one level at
// a time from the API.
func (g *globals) completeGroup(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := g.client(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	parts := strings.Split(toComplete, "/")
	var list []struct {
		Metadata struct{ Name string } `json:"metadata"`
		Spec     struct {
			CompositeAppVersion string `json:"compositeAppVersion"`
		} `json:"spec"`
	}
	var prefix, path, suffix string
	switch len(parts) {
	case 1:
		path, suffix = "projects", "/"
	case 2, 3:
		prefix, path, suffix = parts[0]+"/", "projects/"+parts[0]+"/composite-apps", "/"
	case 4:
		prefix = strings.Join(parts[:3], "/") + "/"
		path = "projects/" + parts[0] + "/composite-apps/" + parts[1] + "/" + parts[2] + "/deployment-intent-groups"
	default:
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if err := c.GetJSON(cmd.Context(), path, "", &list); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	}
	var out []string
	for _, o := range list {
		name := o.Metadata.Name
		if o.Spec.CompositeAppVersion != "" {
			name += "/" + o.Spec.CompositeAppVersion
		}
		out = append(out, prefix+name+suffix)
	}
	if suffix != "" {
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// isTerminal tells whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
