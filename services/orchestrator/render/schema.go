package render

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
)

// validateSchemas enforces the values.schema.json of the chart and of each
// subchart that has values, like Helm's chartutil.ValidateAgainstSchema
// (same scope, same message), with one difference: Helm v3.21.4 resolves
// $ref (and $schema) URLs with file://, http:// and https:// loaders, so a
// chart could make the orchestrator read local files or send requests. Here
// the compiler gets a loader that fetches nothing; only references inside
// the schema itself and the JSON Schema meta-schemas built into the
// validator resolve, and a schema that needs anything else is rejected.
func validateSchemas(c *chart.Chart, values map[string]any) error {
	var sb strings.Builder
	if err := validateChart(c, values, &sb); err != nil {
		return err
	}
	if sb.Len() > 0 {
		return fmt.Errorf("%w: values don't meet the specifications of the schema(s) in the following chart(s):\n%s", ErrInvalidInput, sb.String())
	}
	return nil
}

// validateChart writes schema violations to sb; it returns an error only
// for a schema that cannot be used.
func validateChart(c *chart.Chart, values map[string]any, sb *strings.Builder) error {
	if c.Schema != nil {
		if err := validateOne(c.Schema, values); err != nil {
			var verr *jsonschema.ValidationError
			if !errors.As(err, &verr) {
				return fmt.Errorf("%w: %s/values.schema.json: %w", ErrInvalidChart, c.ChartFullPath(), err)
			}
			fmt.Fprintf(sb, "%s:\n%s\n", c.Name(), strings.TrimPrefix(verr.Error(), "jsonschema validation failed with 'file:///values.schema.json#'\n"))
		}
	}
	for _, sub := range c.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := validateChart(sub, subValues, sb); err != nil {
			return err
		}
	}
	return nil
}

func validateOne(schemaJSON []byte, values map[string]any) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return err
	}
	var l refusingLoader
	compiler := jsonschema.NewCompiler()
	compiler.UseLoader(&l)
	if err := compiler.AddResource("file:///values.schema.json", doc); err != nil {
		return err
	}
	schema, err := compiler.Compile("file:///values.schema.json")
	if err != nil {
		if l.refused != "" {
			return fmt.Errorf("refers to %q: only references inside the schema are allowed", l.refused)
		}
		return err
	}
	return schema.Validate(values)
}

// refusingLoader is the compiler's only way to fetch a schema resource it
// does not have; it fetches nothing and remembers what was asked.
type refusingLoader struct {
	refused string
}

func (l *refusingLoader) Load(url string) (any, error) {
	if l.refused == "" {
		l.refused = url
	}
	return nil, errors.New("external schema references are disabled")
}
