package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"edgeway.dev/services/edgewayctl/internal/ops"
)

func rolloutCmd(g *globals) *cobra.Command {
	var ff fileFlags
	var wait bool
	var timeout, interval time.Duration
	cmd := &cobra.Command{
		Use:   "rollout -f FILE [-v VALUES] [--wait] [--timeout 10m]",
		Short: "Apply or update a file, approve and instantiate (or update) its groups, and wait until ready (for CI)",
		Long: `rollout is the CI path. It brings each object of the file to what the file says
(created when missing, replaced when different, left alone when equal), then, for
each deployment intent group named by an approve or instantiate document: approves
and instantiates it when it is not deployed, or rolls the changes out (POST update)
when it is already instantiated. With --wait it follows the status and prints a
line per change, suitable for a CI log.

Exit status: 0 ready; 1 failed (a document was refused, the deployed status is
*Failed, a resource was not applied or can never become ready, e.g. a Job with a
Failed condition); 2 --timeout passed first.`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			docs, err := ff.documents(true)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			c, err := g.client(ctx)
			if err != nil {
				return err
			}
			r := &ops.Runner{API: c, Out: g.stdout, File: ff.file, StopOnError: true, Poll: interval}
			ro := &ops.Rollout{Runner: r, Out: g.stdout, Wait: wait}
			if code := ro.Run(ctx, docs); code != ops.ExitReady {
				return &exitError{code: code}
			}
			return nil
		},
	}
	ff.register(cmd, false)
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the deployment is ready, failed or --timeout passes")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long (exit status 2)")
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "status poll interval")
	return cmd
}
