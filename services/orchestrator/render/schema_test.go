package render_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/services/orchestrator/render"
)

func TestValuesSchema(t *testing.T) {
	// Any request to this server is a failure: schemas must not fetch.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("schema fetched %s", r.URL)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	t.Cleanup(srv.Close)
	local := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(local, []byte(`{"type": "object"}`), 0o600))

	const replicas = `{"type": "object", "properties": {"replicas": {"type": "integer", "minimum": 1}}, "required": ["replicas"]}`
	tests := []struct {
		name      string
		schema    string
		subSchema string
		profile   string
		overrides map[string]string
		wantErr   error
		errHas    []string
	}{
		{name: "defaults satisfy the schema", schema: replicas},
		{name: "profile value of the wrong type", schema: replicas, profile: "replicas: many\n", wantErr: render.ErrInvalidInput, errHas: []string{"values don't meet the specifications", "app:", "replicas"}},
		{name: "override below minimum", schema: replicas, overrides: map[string]string{"replicas": "0"}, wantErr: render.ErrInvalidInput, errHas: []string{"minimum"}},
		{name: "override typed as integer passes", schema: replicas, overrides: map[string]string{"replicas": "4"}},
		{
			name:   "internal refs and the draft-07 meta-schema resolve",
			schema: `{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"n": {"type": "integer"}}, "properties": {"replicas": {"$ref": "#/definitions/n"}}}`,
		},
		{
			name:   "2020-12 meta-schema and $defs",
			schema: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"n": {"type": "integer"}}, "properties": {"replicas": {"$ref": "#/$defs/n"}}}`,
		},
		{name: "remote $ref", schema: `{"properties": {"replicas": {"$ref": "` + srv.URL + `/s.json"}}}`, wantErr: render.ErrInvalidChart, errHas: []string{srv.URL, "app/values.schema.json"}},
		{name: "remote $schema", schema: `{"$schema": "` + srv.URL + `/meta.json", "type": "object"}`, wantErr: render.ErrInvalidChart, errHas: []string{srv.URL}},
		{name: "relative $ref under a remote $id", schema: `{"$id": "` + srv.URL + `/root.json", "properties": {"replicas": {"$ref": "other.json"}}}`, wantErr: render.ErrInvalidChart, errHas: []string{srv.URL + "/other.json"}},
		{name: "file $ref", schema: `{"properties": {"replicas": {"$ref": "file://` + local + `"}}}`, wantErr: render.ErrInvalidChart, errHas: []string{local}},
		{name: "relative file $ref", schema: `{"properties": {"replicas": {"$ref": "s.json"}}}`, wantErr: render.ErrInvalidChart, errHas: []string{"file:///s.json"}},
		{name: "urn $ref", schema: `{"properties": {"replicas": {"$ref": "urn:example:x"}}}`, wantErr: render.ErrInvalidChart},
		{name: "schema is not JSON", schema: `{"type": `, wantErr: render.ErrInvalidChart},
		{name: "subchart schema checked against its values", subSchema: replicas, profile: "sub: {replicas: none}\n", wantErr: render.ErrInvalidInput, errHas: []string{"sub:"}},
		{name: "subchart remote ref", subSchema: `{"$ref": "` + srv.URL + `/x.json"}`, profile: "sub: {a: 1}\n", wantErr: render.ErrInvalidChart, errHas: []string{"app/charts/sub/values.schema.json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := chartFiles{"Chart.yaml": chartYAML("sub", ""), "templates/cm.yaml": cm("sub")}
			if tt.subSchema != "" {
				sub["values.schema.json"] = tt.subSchema
			}
			files := chartFiles{
				"Chart.yaml":           chartYAML("app", ""),
				"values.yaml":          "replicas: 2\n",
				"templates/cm.yaml":    cm("app"),
				"charts/sub-0.1.0.tgz": string(tgz(t, "sub", sub)),
			}
			if tt.schema != "" {
				files["values.schema.json"] = tt.schema
			}
			in := input(tgz(t, "app", files))
			in.ProfileValues = []byte(tt.profile)
			in.Overrides = tt.overrides
			res, err := render.Render(in)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Len(t, res.Objects, 2)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			for _, s := range tt.errHas {
				require.ErrorContains(t, err, s)
			}
		})
	}
}
