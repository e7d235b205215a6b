package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func getCmd(g *globals) *cobra.Command {
	var ff fileFlags
	var output string
	cmd := &cobra.Command{
		Use:   "get -f FILE [-v VALUES] | get PATH",
		Short: "Read the objects of a resource file, or one API path",
		Long: `get -f FILE reads each document's object (lifecycle documents are skipped).
get PATH reads one API path, e.g. get /v2/projects or get projects/demo.

-o table (default) shows names and descriptions; json and yaml show the objects.`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if len(args) == 1 {
				if ff.file != "" {
					return fmt.Errorf("give -f FILE or a PATH, not both")
				}
				c, err := g.client(cmd.Context())
				if err != nil {
					return err
				}
				resp, err := c.Get(cmd.Context(), args[0], "")
				if err != nil {
					return err
				}
				return writeAnswer(g.stdout, resp.Body, output)
			}
			docs, err := ff.documents(false)
			if err != nil {
				return err
			}
			r, err := g.runner(cmd, &ff)
			if err != nil {
				return err
			}
			r.Out = nil
			s := r.Get(cmd.Context(), docs)
			var objects []json.RawMessage
			var rows []objectRow
			for _, res := range s.Results {
				if res.Object == nil {
					continue
				}
				objects = append(objects, res.Object)
				row, _ := rowOf(res.Object)
				row.kind = res.Doc.Kind()
				rows = append(rows, row)
			}
			switch output {
			case outTable:
				if len(rows) > 0 {
					if err := writeTable(g.stdout, rows, true); err != nil {
						return err
					}
				}
			case outJSON:
				b, err := json.Marshal(objects)
				if err != nil {
					return err
				}
				if objects == nil {
					b = []byte("[]")
				}
				if err := writeJSON(g.stdout, b); err != nil {
					return err
				}
			case outYAML:
				for i, o := range objects {
					if i > 0 {
						fmt.Fprintln(g.stdout, "---")
					}
					if err := writeYAML(g.stdout, o); err != nil {
						return err
					}
				}
			}
			if len(s.Failed()) > 0 || s.NotTried > 0 {
				s.Print(g.stderr, ff.file)
				return &exitError{code: 1}
			}
			return nil
		},
	}
	ff.register(cmd, true)
	registerOutput(cmd, &output)
	return cmd
}
