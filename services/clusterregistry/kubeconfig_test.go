package clusterregistry

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/httpx"
)

const goodKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: edge
  cluster:
    server: https://edge.example.net:6443
    certificate-authority-data: Zm9v
users:
- name: admin
  user:
    token: abc
contexts:
- name: edge
  context: {cluster: edge, user: admin}
current-context: edge
`

func withCluster(server, extra string) string {
	return "clusters:\n- name: a\n  cluster:\n    server: '" + server + "'\n" + extra
}

func withUser(user string) string {
	return withCluster("https://a.example", "") + "users:\n- name: u\n  user:\n" + user
}

func TestCheckKubeconfig(t *testing.T) {
	cases := []struct {
		name, data, err string
		status          int
		dev             bool
	}{
		{name: "good", data: goodKubeconfig},
		{name: "not yaml", data: "clusters: [", err: "could not be parsed"},
		{name: "wrong kind", data: "kind: Pod\nclusters: []", err: "kind"},
		{name: "no clusters", data: "kind: Config\n", err: "no clusters"},
		{name: "http server", data: withCluster("http://10.0.0.1", ""), err: "https", status: 422},
		{name: "exec plugin", data: withUser("    exec: {command: sh}\n"), err: "exec plug-in", status: 422},
		{name: "auth provider", data: withUser("    auth-provider: {name: gcp}\n"), err: "auth-provider plug-in", status: 422},
		{name: "token file", data: withUser("    tokenFile: /var/run/secrets/token\n"), err: "tokenFile", status: 422},
		{name: "client cert file", data: withUser("    client-certificate: /etc/edgeway/tls/gateway.crt\n"), err: "client-certificate", status: 422},
		{name: "client key file", data: withUser("    client-key: /etc/edgeway/tls/gateway.key\n"), err: "client-key", status: 422},
		{name: "insecure skip verify", data: withCluster("https://a.example", "    insecure-skip-tls-verify: true\n"), err: "insecure-skip-tls-verify", status: 422},
		{name: "ca file", data: withCluster("https://a.example", "    certificate-authority: /etc/ssl/ca.pem\n"), err: "certificate-authority", status: 422},
		{name: "proxy", data: withCluster("https://a.example", "    proxy-url: http://10.1.1.1:3128\n"), err: "proxy-url", status: 422},
		{name: "metadata address", data: withCluster("https://169.254.169.254", ""), err: "link-local", status: 422},
		{name: "link-local v6", data: withCluster("https://[fe80::1]:6443", ""), err: "link-local", status: 422},
		{name: "aws v6 metadata", data: withCluster("https://[fd00:ec2::254]", ""), err: "metadata", status: 422},
		{name: "metadata name", data: withCluster("https://metadata.google.internal", ""), err: "metadata", status: 422},
		{name: "loopback refused", data: withCluster("https://127.0.0.1:6443", ""), err: "loopback", status: 422},
		{name: "localhost refused", data: withCluster("https://localhost:6443", ""), err: "loopback", status: 422},
		{name: "loopback in dev", data: withCluster("https://127.0.0.1:6443", ""), dev: true},
		{name: "mapped loopback", data: withCluster("https://[::ffff:127.0.0.1]:6443", ""), err: "loopback", status: 422},
		{name: "too large", data: goodKubeconfig + "# " + strings.Repeat("x", MaxKubeconfigBytes), err: "larger", status: 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := KubeconfigChecker{AllowLoopback: c.dev}.Check([]byte(c.data))
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
	require.Equal(t, http.StatusUnprocessableEntity, 422)
}

func FuzzCheckKubeconfig(f *testing.F) {
	f.Add([]byte(goodKubeconfig))
	f.Add([]byte(withUser("    exec: {command: sh}\n")))
	f.Add([]byte(withCluster("https://[fe80::1%25eth0]:6443", "")))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dev := range []bool{false, true} {
			_ = KubeconfigChecker{AllowLoopback: dev}.Check(data)
		}
	})
}
