package deployer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	vfield "k8s.io/apimachinery/pkg/util/validation/field"
)

func TestBackoff(t *testing.T) {
	base, limit := 500*time.Millisecond, 10*time.Second
	var got []time.Duration
	for f := 1; f <= 7; f++ {
		got = append(got, backoff(base, limit, f))
	}
	require.Equal(t, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}, got)
}

func TestRetryable(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &url.Error{Op: "Get", URL: "https://127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{"discovery failure", fmt.Errorf("discovery: %w", errors.New("unable to retrieve the complete list of server APIs")), true},
		{"internal error", apierrors.NewInternalError(errors.New("boom")), true},
		{"service unavailable", apierrors.NewServiceUnavailable("later"), true},
		{"too many requests", apierrors.NewTooManyRequests("slow down", 1), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "patch", 1), true},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "x", vfield.ErrorList{vfield.Invalid(vfield.NewPath("data"), "x", "bad")}), false},
		{"forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{"not found", apierrors.NewNotFound(gr, "x"), false},
		{"permanent", permanent(errors.New("bad kubeconfig")), false},
		{"cancelled", context.Canceled, false},
		{"registry unavailable", status.Error(codes.Unavailable, "down"), true},
		{"cluster not registered", status.Error(codes.NotFound, "no cluster"), false},
		{"unseal refused", fmt.Errorf("unseal: %w", status.Error(codes.InvalidArgument, "no")), false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, retryable(c.err), c.name)
	}
}

func TestErrorTextOfSecretsKeepsNoValue(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "s",
		vfield.ErrorList{vfield.Invalid(vfield.NewPath("data").Key("password"), "hunter2-value", "bad")})
	require.Contains(t, errorText(err, false), "hunter2-value", "the API server does quote values")
	got := errorText(err, true)
	require.NotContains(t, got, "hunter2-value")
	require.Contains(t, got, "Invalid (422)")
	require.Contains(t, got, "data[password]")
	require.Equal(t, "apply failed", errorText(errors.New("value hunter2-value"), true))
}

func TestKubeconfigRefusesPluginsAndFiles(t *testing.T) {
	const head = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
	ok := head + "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:6443'}}]\nusers: [{name: u, user: {token: abc}}]\n"
	_, err := restConfig([]byte(ok), time.Second)
	require.NoError(t, err)
	for name, kc := range map[string]string{
		"exec":        head + "clusters: [{name: k, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {exec: {command: /bin/sh, apiVersion: client.authentication.k8s.io/v1}}}]\n",
		"token file":  head + "clusters: [{name: k, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {tokenFile: /var/run/secrets/token}}]\n",
		"client key":  head + "clusters: [{name: k, cluster: {server: 'https://h'}}]\nusers: [{name: u, user: {client-key: /etc/key.pem, client-certificate: /etc/cert.pem}}]\n",
		"ca file":     head + "clusters: [{name: k, cluster: {server: 'https://h', certificate-authority: /etc/ca.crt}}]\nusers: [{name: u, user: {token: abc}}]\n",
		"plain http":  head + "clusters: [{name: k, cluster: {server: 'http://h'}}]\nusers: [{name: u, user: {token: abc}}]\n",
		"not a thing": "{{{",
	} {
		_, err := restConfig([]byte(kc), time.Second)
		require.Error(t, err, name)
		require.NotContains(t, err.Error(), "abc", name)
	}
}
