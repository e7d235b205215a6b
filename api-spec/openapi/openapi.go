package openapi

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed edgeway-v2.yaml
var spec []byte

// Raw returns the embedded OpenAPI document (YAML). The slice is a copy, so
// callers may modify it.
func Raw() []byte {
	out := make([]byte, len(spec))
	copy(out, spec)
	return out
}

var (
	loadOnce sync.Once
	loadDoc  *openapi3.T
	loadErr  error
)

// Load parses the embedded document, resolves its references and validates it.
// The work is done once; every call returns the same document (or the same
// error). The document is shared and must not be modified.
func Load() (*openapi3.T, error) {
	loadOnce.Do(func() {
		loadDoc, loadErr = load(spec)
	})
	return loadDoc, loadErr
}

func load(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("openapi: load edgeway-v2.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: validate edgeway-v2.yaml: %w", err)
	}
	return doc, nil
}
