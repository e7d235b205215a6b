package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Output formats of the read commands.
const (
	outTable = "table"
	outJSON  = "json"
	outYAML  = "yaml"
)

func registerOutput(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", outTable, "output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{outTable, outJSON, outYAML}, cobra.ShellCompDirectiveNoFileComp
	})
}

func checkOutput(o string) error {
	switch o {
	case outTable, outJSON, outYAML:
		return nil
	}
	return fmt.Errorf("-o %s: want table, json or yaml", o)
}

// writeJSON writes a JSON value indented.
func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		_, err = w.Write(raw)
		return err
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// writeYAML writes a JSON value as YAML.
func writeYAML(w io.Writer, raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		_, err = w.Write(raw)
		return err
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// objectRow is a table row of an API object.
type objectRow struct {
	kind, name, description string
}

// rowOf reads the name and description of an API object; ok is false for
// answers that are not objects with metadata.
func rowOf(raw json.RawMessage) (objectRow, bool) {
	var o struct {
		Metadata *struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"metadata"`
		Spec struct {
			CompositeAppVersion string `json:"compositeAppVersion"`
		} `json:"spec"`
		ClusterLabel string `json:"clusterLabel"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return objectRow{}, false
	}
	switch {
	case o.Metadata != nil:
		name := o.Metadata.Name
		if o.Spec.CompositeAppVersion != "" {
			name += "/" + o.Spec.CompositeAppVersion
		}
		return objectRow{name: name, description: o.Metadata.Description}, true
	case o.ClusterLabel != "":
		return objectRow{name: o.ClusterLabel}, true
	}
	return objectRow{}, false
}

// writeTable writes rows with a header; withKind adds the KIND column.
func writeTable(w io.Writer, rows []objectRow, withKind bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if withKind {
		fmt.Fprintln(tw, "KIND\tNAME\tDESCRIPTION")
	} else {
		fmt.Fprintln(tw, "NAME\tDESCRIPTION")
	}
	for _, r := range rows {
		d := strings.ReplaceAll(r.description, "\n", " ")
		if withKind {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.kind, r.name, d)
		} else {
			fmt.Fprintf(tw, "%s\t%s\n", r.name, d)
		}
	}
	return tw.Flush()
}

// writeAnswer writes one API answer in the chosen format; a table when the
// answer is an object or a list of objects, indented JSON otherwise.
func writeAnswer(w io.Writer, raw []byte, format string) error {
	switch format {
	case outJSON:
		return writeJSON(w, raw)
	case outYAML:
		return writeYAML(w, raw)
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		rows := make([]objectRow, 0, len(list))
		for _, e := range list {
			r, ok := rowOf(e)
			if !ok {
				return writeJSON(w, raw)
			}
			rows = append(rows, r)
		}
		return writeTable(w, rows, false)
	}
	if r, ok := rowOf(raw); ok {
		return writeTable(w, []objectRow{r}, false)
	}
	return writeJSON(w, raw)
}
