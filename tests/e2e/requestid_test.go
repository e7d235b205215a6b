package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRequestID checks that every answer carries one X-Request-Id header
// and that an error's problem document names the same id; a well-formed id
// sent by the client is kept, a malformed one replaced.
func TestRequestID(t *testing.T) {
	srv := sharedServer(t)
	api := srv.API()
	tests := []struct {
		name   string
		sent   string
		keep   bool
		path   string
		status int
	}{
		{"generated, error", "", false, "/projects/no-such-project", http.StatusNotFound},
		{"generated, success", "", false, "/projects", http.StatusOK},
		{"client id kept", "e2e-req.42_A", true, "/projects/no-such-project", http.StatusNotFound},
		{"malformed id replaced", "bad id\twith spaces", false, "/projects/no-such-project", http.StatusNotFound},
		{"overlong id replaced", strings.Repeat("r", 65), false, "/projects/no-such-project", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.sent != "" {
				h.Set("X-Request-Id", tc.sent)
			}
			r := api.Do(t, http.MethodGet, tc.path, "", nil, h).Require(t, tc.status)
			ids := r.Header.Values("X-Request-Id")
			require.Len(t, ids, 1, "exactly one X-Request-Id header, got %q", ids)
			if tc.keep {
				require.Equal(t, tc.sent, ids[0])
			} else {
				require.NotEqual(t, tc.sent, ids[0])
				require.NotEmpty(t, ids[0])
			}
			if tc.status >= 400 {
				p := r.RequireProblem(t, tc.status)
				require.Equal(t, ids[0], p.RequestID, "problem requestId matches the header")
			}
		})
	}
}
