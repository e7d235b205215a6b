package main

import (
	"errors"

	"github.com/spf13/cobra"

	"edgeway.dev/services/edgewayctl/internal/manifest"
)

// fileFlags are -f, -v and -s of the commands that read resource files.
type fileFlags struct {
	file   string
	values []string
	stop   bool
}

func (f *fileFlags) register(cmd *cobra.Command, stop bool) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "emcoctl-style resource file (multi-document YAML)")
	cmd.Flags().StringArrayVarP(&f.values, "values", "v", nil, "values file: render FILE as a Go text/template with these values (repeatable; later files win)")
	if stop {
		cmd.Flags().BoolVarP(&f.stop, "stop-on-error", "s", false, "stop at the first failed document")
	}
	_ = cmd.MarkFlagFilename("file", "yaml", "yml")
	_ = cmd.MarkFlagFilename("values", "yaml", "yml")
}

// documents reads, renders and parses the file; withFiles also checks
// that every file the documents name can be read.
func (f *fileFlags) documents(withFiles bool) ([]*manifest.Document, error) {
	if f.file == "" {
		return nil, errors.New("-f FILE is required (get and delete also take an API path instead)")
	}
	var opts manifest.Options
	if len(f.values) > 0 {
		v, err := manifest.ReadValues(f.values)
		if err != nil {
			return nil, err
		}
		opts.Values = v
	}
	docs, err := manifest.ParseFile(f.file, opts)
	if err != nil {
		return nil, err
	}
	if withFiles {
		if err := manifest.CheckFiles(docs); err != nil {
			return nil, err
		}
	}
	return docs, nil
}
