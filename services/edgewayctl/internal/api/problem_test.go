package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestErrorShowsTheProblemDetail(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   string
	}{
		{"problem", 409, nil, `{"type":"about:blank","title":"Conflict","status":409,"detail":"project p1 already exists","requestId":"r1"}`,
			"POST /v2/projects: 409 Conflict: project p1 already exists (request id r1)"},
		{"title only", 401, nil, `{"title":"token expired","status":401}`, "POST /v2/projects: 401 Unauthorized: token expired"},
		{"not a problem", 502, http.Header{"X-Request-Id": {"r2"}}, "bad gateway\n", "POST /v2/projects: 502 Bad Gateway: bad gateway (request id r2)"},
		{"empty", 404, nil, ``, "POST /v2/projects: 404 Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			e := newError(http.MethodPost, "/v2/projects", &Response{Status: tc.status, Header: h, Body: []byte(tc.body)})
			require.Equal(t, tc.want, e.Error())
			wrapped := fmt.Errorf("apply: %w", e)
			require.Equal(t, tc.status, StatusOf(wrapped))
		})
	}
}

func TestURL(t *testing.T) {
	c := &Client{Endpoint: "https://x:9443"}
	require.Equal(t, "https://x:9443/v2/projects/p", c.URL("projects/p", ""))
	require.Equal(t, "https://x:9443/v2/projects/p", c.URL("/v2/projects/p", ""))
	require.Equal(t, "https://x:9443/v2/projects?a=b", c.URL("/projects", "a=b"))
	c.Prefix = "/api/v2"
	require.Equal(t, "https://x:9443/api/v2/projects", c.URL("projects", ""))
}
