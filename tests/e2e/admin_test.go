package e2e

import (
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAdminEndpoints checks the admin listener: health, readiness and
// Prometheus metrics.
func TestAdminEndpoints(t *testing.T) {
	srv := sharedServer(t)
	tests := []struct {
		path string
		want string // a substring of the body; "" for none
	}{
		{"/healthz", ""},
		{"/readyz", ""},
		{"/metrics", "# TYPE "},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.AdminURL + tc.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", tc.path, body)
			require.Contains(t, string(body), tc.want)
		})
	}
}
