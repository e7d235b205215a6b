package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"edgeway.dev/common/audit"
	"edgeway.dev/common/devstores"
)

// auditCmd verifies the audit streams against their signed checkpoints.
func auditCmd() *cobra.Command {
	var dataDir, mongoURI, database string
	var streams []string
	root := &cobra.Command{Use: "audit", Short: "Work with the tamper-evident audit log"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check every audit stream's hash chain against its signed checkpoints; exit 1 at the first bad record",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			uri := mongoURI
			if uri == "" {
				// The server must be stopped: its embedded FerretDB is started here.
				m, err := devstores.StartMongo(ctx, filepath.Join(dataDir, "ferretdb"), "127.0.0.1:0", slog.New(slog.DiscardHandler))
				if err != nil {
					return fmt.Errorf("embedded FerretDB (is the server still running? then pass --mongo-uri): %w", err)
				}
				defer m.Stop()
				uri = m.URI()
			}
			cli, err := devstores.Connect(ctx, uri)
			if err != nil {
				return err
			}
			defer cli.Disconnect(ctx)
			db := cli.Database(database)
			bad := 0
			for _, s := range streams {
				rep, err := audit.Verify(ctx, db, s, audit.CheckpointFile(filepath.Join(dataDir, "audit"), s),
					filepath.Join(dataDir, "keys", audit.PublicKeyFile))
				if err != nil {
					return fmt.Errorf("%s: %w", s, err)
				}
				if rep.OK() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: OK: %d records, %d signed checkpoints\n", s, rep.Records, rep.Checkpoints)
					continue
				}
				bad++
				fmt.Fprintf(cmd.OutOrStdout(), "%s: TAMPERED: first bad record %d: %s\n", s, rep.FirstBad, rep.Reason)
			}
			if bad > 0 {
				os.Exit(1)
			}
			return nil
		},
	}
	verify.Flags().StringVar(&dataDir, "data-dir", ".edgeway", "data directory holding audit/ (checkpoints) and keys/ (public key)")
	verify.Flags().StringVar(&mongoURI, "mongo-uri", "", "MongoDB URI (default: the embedded FerretDB of --data-dir; stop the server first)")
	verify.Flags().StringVar(&database, "mongo-database", "edgeway", "MongoDB database name")
	verify.Flags().StringSliceVar(&streams, "stream", []string{"gateway", "orchestrator", "clusterregistry"}, "audit streams to verify")
	root.AddCommand(verify)
	return root
}
