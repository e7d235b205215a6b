package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"edgeway.dev/services/secrets"
)

// keysCmd manages the secrets service's key-encryption keyset: the file
// outside the databases that seals kubeconfigs, project secrets and rendered
// Secrets. A running server picks up changes within a second.
func keysCmd() *cobra.Command {
	cfg := secrets.Config{}
	var dev bool
	root := &cobra.Command{
		Use:   "keys",
		Short: "Manage the encryption keys of the secrets service (init, status, rotate, retire)",
		PersistentPreRun: func(*cobra.Command, []string) {
			cfg.Dev = dev
		},
	}
	root.PersistentFlags().StringVar(&cfg.DataDir, "data-dir", ".edgeway", "data directory (with --dev the keyset is <data-dir>/keys/keyset.json)")
	root.PersistentFlags().BoolVar(&dev, "dev", true, "use the dev keyset location under --data-dir unless --secrets-keyset-file is given")
	cfg.RegisterFlags(root.PersistentFlags())
	root.AddCommand(&cobra.Command{
		Use: "init", Short: "Create the keyset (refuses to overwrite one)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := secrets.Init(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "keyset created; primary key %d\n", id)
			return nil
		},
	}, &cobra.Command{
		Use: "status", Short: "List the keys and which one is primary", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := secrets.Status(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			for _, k := range keys {
				primary := ""
				if k.Primary {
					primary = " primary"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d %s%s\n", k.ID, k.Status, primary)
			}
			return nil
		},
	}, &cobra.Command{
		Use: "rotate", Short: "Add a new primary key; old keys stay for decryption until retired", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := secrets.Rotate(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "new primary key %d; records move to it as they are re-encrypted\n", id)
			return nil
		},
	}, &cobra.Command{
		Use: "retire KEYID", Short: "Remove a non-primary key (after every record moved off it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil {
				return fmt.Errorf("key id %q: %w", args[0], err)
			}
			if err := secrets.Retire(cmd.Context(), cfg, uint32(id)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %d retired\n", id)
			return nil
		},
	})
	return root
}
