package clusterregistry

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/httpx"
)

const goodKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: edge
  cluster:
    server: https://127.0.0.1:6443
users:
- name: admin
  user:
    token: abc
contexts:
- name: edge
  context: {cluster: edge, user: admin}
current-context: edge
`

func TestCheckKubeconfig(t *testing.T) {
	cases := []struct {
		name, data, err string
		status          int
	}{
		{name: "good", data: goodKubeconfig},
		{name: "not yaml", data: "clusters: [", err: "could not be parsed"},
		{name: "wrong kind", data: "kind: Pod\nclusters: []", err: "kind"},
		{name: "no clusters", data: "kind: Config\n", err: "no clusters"},
		{name: "http server", data: "clusters:\n- name: a\n  cluster: {server: 'http://10.0.0.1'}\n", err: "https"},
		{name: "exec plugin", data: "clusters:\n- name: a\n  cluster: {server: 'https://a'}\nusers:\n- name: u\n  user:\n    exec: {command: sh}\n",
			err: "exec", status: http.StatusUnprocessableEntity},
		{name: "auth provider", data: "clusters:\n- name: a\n  cluster: {server: 'https://a'}\nusers:\n- name: u\n  user:\n    auth-provider: {name: gcp}\n",
			err: "auth-provider", status: http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckKubeconfig([]byte(c.data))
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, c.err)
			if c.status != 0 {
				var he *httpx.Error
				require.True(t, errors.As(err, &he))
				require.Equal(t, c.status, he.Status)
			}
		})
	}
}
