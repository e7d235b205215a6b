package orchestrator

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"

	"sigs.k8s.io/yaml"
)

const maxProfileFile = 4 << 20

// profileFileValues returns the override values of an EMCO app profile
// archive: the file that its manifest.yaml names under type.values, or else
// a top-level override_values.yaml or values.yaml. A profile without values
// yields nil.
func profileFileValues(tgz []byte) ([]byte, error) {
	files := map[string][]byte{}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, errors.New("not a gzip-compressed archive")
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, errors.New("not a valid tar archive")
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxProfileFile+1))
		if err != nil {
			return nil, errors.New("not a valid tar archive")
		}
		if len(b) > maxProfileFile {
			return nil, fmt.Errorf("profile file %s is larger than %d bytes", h.Name, maxProfileFile)
		}
		files[path.Clean(h.Name)] = b
	}
	name := ""
	if m, ok := files["manifest.yaml"]; ok {
		var manifest struct {
			Type struct {
				Values string `json:"values"`
			} `json:"type"`
		}
		if err := yaml.Unmarshal(m, &manifest); err != nil {
			return nil, fmt.Errorf("manifest.yaml: %w", err)
		}
		name = path.Clean(manifest.Type.Values)
		if manifest.Type.Values != "" {
			if _, ok := files[name]; !ok {
				return nil, fmt.Errorf("manifest.yaml names %s, which the profile does not contain", manifest.Type.Values)
			}
		}
	}
	for _, n := range []string{name, "override_values.yaml", "values.yaml"} {
		if b, ok := files[n]; ok {
			var probe map[string]any
			if err := yaml.Unmarshal(b, &probe); err != nil {
				return nil, fmt.Errorf("%s is not a YAML map: %w", n, err)
			}
			return b, nil
		}
	}
	return nil, nil
}
