package render_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/services/orchestrator/render"
)

func TestLimits(t *testing.T) {
	big := strings.Repeat("x", 4<<20) // within Helm's 5 MiB per file
	tests := []struct {
		name    string
		chart   func(t *testing.T) []byte
		wantErr []error
	}{
		{
			name: "too many files",
			chart: func(t *testing.T) []byte {
				files := chartFiles{"Chart.yaml": chartYAML("app", "")}
				for i := range render.MaxFiles {
					files[fmt.Sprintf("files/f%d", i)] = "x"
				}
				return tgz(t, "app", files)
			},
			wantErr: []error{render.ErrInvalidChart, render.ErrTooLarge},
		},
		{
			name: "expanded size",
			chart: func(t *testing.T) []byte {
				files := chartFiles{"Chart.yaml": chartYAML("app", "")}
				for i := range 5 {
					files[fmt.Sprintf("files/f%d", i)] = big
				}
				return tgz(t, "app", files)
			},
			wantErr: []error{render.ErrInvalidChart, render.ErrTooLarge},
		},
		{
			name: "nested subchart archives share the budget",
			chart: func(t *testing.T) []byte {
				inner := tgz(t, "inner", chartFiles{"Chart.yaml": chartYAML("inner", ""), "files/a": big, "files/b": big})
				mid := tgz(t, "mid", chartFiles{"Chart.yaml": chartYAML("mid", ""), "files/a": big, "charts/inner-0.1.0.tgz": string(inner)})
				return tgz(t, "app", chartFiles{"Chart.yaml": chartYAML("app", ""), "files/a": big, "charts/mid/Chart.yaml": chartYAML("mid2", ""), "charts/mid/charts/mid-0.1.0.tgz": string(mid)})
			},
			wantErr: []error{render.ErrInvalidChart, render.ErrTooLarge},
		},
		{
			name: "rendered output",
			chart: func(t *testing.T) []byte {
				return tgz(t, "app", chartFiles{
					"Chart.yaml":         chartYAML("app", ""),
					"files/big":          big,
					"templates/big.yaml": `{{ range until 9 }}{{ $.Files.Get "files/big" }}{{ end }}`,
				})
			},
			wantErr: []error{render.ErrRender, render.ErrTooLarge},
		},
		{
			name: "archive size",
			chart: func(t *testing.T) []byte {
				return make([]byte, render.MaxArchiveBytes+1)
			},
			wantErr: []error{render.ErrInvalidChart, render.ErrTooLarge},
		},
		{
			name: "within limits",
			chart: func(t *testing.T) []byte {
				inner := tgz(t, "inner", chartFiles{"Chart.yaml": chartYAML("inner", ""), "files/a": big, "templates/cm.yaml": cm("inner")})
				return tgz(t, "app", chartFiles{"Chart.yaml": chartYAML("app", ""), "files/a": big, "charts/inner-0.1.0.tgz": string(inner)})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := render.Render(input(tt.chart(t)))
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, []string{"ConfigMap/inner"}, ids(res.Objects))
				return
			}
			for _, e := range tt.wantErr {
				require.ErrorIs(t, err, e)
			}
			require.Nil(t, res)
		})
	}
}
