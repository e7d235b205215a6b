package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"edgeway.dev/services/gateway/devidp"
)

// devIdPCmd manages the users and clients of the dev identity provider
// while the server runs; new credentials are printed as one JSON object.
func devIdPCmd() *cobra.Command {
	var dataDir string
	var admin bool
	root := &cobra.Command{Use: "dev-idp", Short: "Manage users and clients of the --dev identity provider"}
	root.PersistentFlags().StringVar(&dataDir, "data-dir", ".edgeway", "the data directory of the --dev server")
	root.PersistentFlags().BoolVar(&admin, "admin", false, "give the new user or client the platform-admin role")
	root.AddCommand(&cobra.Command{
		Use:   "add-user NAME",
		Short: `Create a user; prints {"username","password"}`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := devidp.AddUser(dataDir, args[0], admin)
			if err != nil {
				return err
			}
			return printJSON(cmd, map[string]string{"username": args[0], "password": pw})
		},
	}, &cobra.Command{
		Use:   "add-client NAME",
		Short: `Create a confidential client (client credentials); prints {"client_id","client_secret"}`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := devidp.AddClient(dataDir, args[0], admin)
			if err != nil {
				return err
			}
			return printJSON(cmd, map[string]string{"client_id": args[0], "client_secret": secret})
		},
	})
	return root
}

func printJSON(cmd *cobra.Command, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(cmd.OutOrStdout(), string(b))
	return err
}
