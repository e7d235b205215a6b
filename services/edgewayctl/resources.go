package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/ops"
)

func applyCmd(g *globals) *cobra.Command {
	var ff fileFlags
	cmd := &cobra.Command{
		Use:   "apply -f FILE [-v VALUES]",
		Short: "Create the objects of a resource file, in order (POST; lifecycle documents POST their verb)",
		Long: `apply creates each document's object in the order of the file: a POST to the
document's anchor (multipart with the file when the document names one). A
document whose anchor ends in a lifecycle verb (approve, instantiate, ...) is a
POST to that verb. An object that already exists counts as applied, so applying
a file again is harmless. Every document is tried unless -s is given; failures
are listed at the end and make the exit status 1.`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := ff.documents(true)
			if err != nil {
				return err
			}
			r, err := g.runner(cmd, &ff)
			if err != nil {
				return err
			}
			return finish(g, ff.file, r.Apply(cmd.Context(), docs))
		},
	}
	ff.register(cmd, true)
	return cmd
}

func updateCmd(g *globals) *cobra.Command {
	var ff fileFlags
	cmd := &cobra.Command{
		Use:   "update -f FILE [-v VALUES]",
		Short: "Replace the objects of a resource file (PUT); an instantiate document rolls the changes out",
		Long: `update replaces each document's object: a PUT to anchor/name (for a composite
app anchor/name/version). An instantiate document becomes a POST to the group's
update verb when the group is instantiated, so the changes reach the clusters as
a new revision; other lifecycle documents are skipped.`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := ff.documents(true)
			if err != nil {
				return err
			}
			r, err := g.runner(cmd, &ff)
			if err != nil {
				return err
			}
			return finish(g, ff.file, r.Update(cmd.Context(), docs))
		},
	}
	ff.register(cmd, true)
	return cmd
}

func deleteCmd(g *globals) *cobra.Command {
	var ff fileFlags
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "delete -f FILE [-v VALUES] | delete PATH",
		Short: "Delete the objects of a resource file in reverse order, terminating instantiated groups first",
		Long: `delete walks the documents from last to first and deletes each object. An
instantiate document terminates its deployment intent group and waits (up to
--timeout) until the group's objects are gone from the clusters before the
group's children are deleted. Objects that are already gone count as deleted.

delete PATH deletes one API path, e.g. delete /v2/projects/demo.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if ff.file != "" {
					return fmt.Errorf("give -f FILE or a PATH, not both")
				}
				c, err := g.client(cmd.Context())
				if err != nil {
					return err
				}
				if _, err := c.Do(cmd.Context(), api.Request{Method: http.MethodDelete, Path: args[0]}); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%-12s %s\n", ops.WordDeleted, args[0])
				return nil
			}
			docs, err := ff.documents(false)
			if err != nil {
				return err
			}
			r, err := g.runner(cmd, &ff)
			if err != nil {
				return err
			}
			r.TerminateTimeout = timeout
			return finish(g, ff.file, r.Delete(cmd.Context(), docs))
		},
	}
	ff.register(cmd, true)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for a terminated group's objects to leave the clusters")
	return cmd
}

// runner builds the ops runner of a file command.
func (g *globals) runner(cmd *cobra.Command, ff *fileFlags) (*ops.Runner, error) {
	c, err := g.client(cmd.Context())
	if err != nil {
		return nil, err
	}
	return &ops.Runner{API: c, Out: g.stdout, File: ff.file, StopOnError: ff.stop}, nil
}

// finish prints the summary and turns failures into exit status 1.
func finish(g *globals, file string, s *ops.Summary) error {
	if len(s.Failed()) == 0 && s.NotTried == 0 {
		s.Print(g.stdout, file)
		return nil
	}
	s.Print(g.stderr, file)
	return &exitError{code: 1}
}
