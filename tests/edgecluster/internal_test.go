package edgecluster

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
)

// These tests need no kube-apiserver.

func TestPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p, err := loadOrCreatePKI(dir, "edge1", serviceIP)
	require.NoError(t, err)

	ca := readCert(t, p.path(caCertFile))
	require.True(t, ca.IsCA)
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	serving := readCert(t, p.path(servingCertFile))
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "kubernetes.default.svc", serviceIP} {
		_, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
		require.NoError(t, err, host)
	}

	admin := readCert(t, p.path(adminCertFile))
	_, err = admin.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	require.NoError(t, err)
	require.Equal(t, []string{"system:masters"}, admin.Subject.Organization)

	pub, err := os.ReadFile(p.path(saPubFile))
	require.NoError(t, err)
	block, _ := pem.Decode(pub)
	require.NotNil(t, block)
	_, err = x509.ParsePKIXPublicKey(block.Bytes)
	require.NoError(t, err)

	// A second load keeps the key material.
	again, err := loadOrCreatePKI(dir, "edge1", serviceIP)
	require.NoError(t, err)
	require.Equal(t, p.caCert, again.caCert)
	require.Equal(t, p.adminKey, again.adminKey)
}

func TestAdminKubeconfig(t *testing.T) {
	p, err := loadOrCreatePKI(t.TempDir(), "edge1", serviceIP)
	require.NoError(t, err)
	kc, err := adminKubeconfig("edge1", "https://127.0.0.1:6443", p)
	require.NoError(t, err)
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kc)
	require.NoError(t, err)
	require.Equal(t, "https://127.0.0.1:6443", cfg.Host)
	require.Equal(t, p.caCert, cfg.CAData)
	require.Equal(t, p.adminCert, cfg.CertData)
	require.Equal(t, p.adminKey, cfg.KeyData)
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; empty for none
	}{
		{"zero", Options{}, ""},
		{"names", Options{Names: []string{"a", "b-2"}}, ""},
		{"n matches names", Options{N: 2, Names: []string{"a", "b"}}, ""},
		{"n differs", Options{N: 3, Names: []string{"a", "b"}}, "N is 3 but 2 names"},
		{"negative", Options{N: -1}, "N is -1"},
		{"bad name", Options{Names: []string{"Edge_1"}}, `"Edge_1" is not a DNS label`},
		{"reserved name", Options{Names: []string{"etcd"}}, `"etcd"`},
		{"duplicate", Options{Names: []string{"a", "a"}}, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestTailOf(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"a\nb\nc\n", 3, "a\nb\nc"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, string(tailOf([]byte(tt.in), tt.n)), "%q", tt.in)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, rest := pem.Decode(data)
	require.NotNil(t, block)
	require.Empty(t, strings.TrimSpace(string(rest)))
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

// TestStartFailure runs a stand-in for kube-apiserver that fails at once:
// Start reports its output and leaves nothing running.
func TestStartFailure(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-apiserver")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho \"fake apiserver: no luck with $*\" >&2\nexit 3\n"), 0o755))

	_, err := Start(t.Context(), Options{N: 2, Dir: filepath.Join(dir, "state"), Binary: fake})
	require.ErrorContains(t, err, "kube-apiserver exited before it was ready: exit status 3")
	require.ErrorContains(t, err, "fake apiserver: no luck with --bind-address=127.0.0.1")
	require.Regexp(t, `edge[12]: `, err.Error())

	// The etcd data directory is closed and can be opened again.
	f, err := Start(t.Context(), Options{Names: []string{"other"}, Dir: filepath.Join(dir, "state"), Binary: fake})
	require.ErrorContains(t, err, "other: kube-apiserver exited before it was ready")
	require.Nil(t, f)
}
