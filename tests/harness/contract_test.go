package harness

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContract(t *testing.T) {
	c, err := LoadContract()
	require.NoError(t, err)
	jsonHeader := http.Header{"Content-Type": {ContentJSON}}
	problemHeader := http.Header{"Content-Type": {ContentProblem}}
	const base = "https://127.0.0.1:9443/v2"
	tests := []struct {
		name    string
		method  string
		path    string
		status  int
		header  http.Header
		body    string
		wantErr bool
	}{
		{"valid project", "GET", "/projects/p1", 200, jsonHeader, `{"metadata":{"name":"p1","description":"d"}}`, false},
		{"unknown member", "GET", "/projects/p1", 200, jsonHeader, `{"metadata":{"name":"p1","extra":1}}`, true},
		{"list of projects", "GET", "/projects", 200, jsonHeader, `[{"metadata":{"name":"p1"}}]`, false},
		{"list is not an array", "GET", "/projects", 200, jsonHeader, `{"metadata":{"name":"p1"}}`, true},
		{"undocumented status", "GET", "/projects/p1", 418, problemHeader, `{"title":"teapot","status":418}`, true},
		{"problem", "GET", "/projects/p1", 404, problemHeader, `{"type":"about:blank","title":"Not Found","status":404,"requestId":"r"}`, false},
		{"problem without status", "GET", "/projects/p1", 404, problemHeader, `{"title":"Not Found"}`, true},
		{"error as text", "GET", "/projects/p1", 404, http.Header{"Content-Type": {"text/plain"}}, `not found`, true},
		{"archive", "GET", "/projects/p1/composite-apps/ca/v1/apps/a", 200, http.Header{"Content-Type": {ContentOctet}}, "\x1f\x8b", false},
		{"undocumented path", "GET", "/nothing/here", 200, jsonHeader, `{}`, false},
		{"delete", "DELETE", "/projects/p1", 204, http.Header{}, ``, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(tc.method, base+tc.path, tc.status, tc.header, []byte(tc.body))
			if tc.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
		})
	}
}
