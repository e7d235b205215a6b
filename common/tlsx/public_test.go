package tlsx_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/tlsx"
)

// PublicServerConfig works as an http.Server's TLSConfig and offers HTTP/2.
func TestPublicServerConfigWithHTTPServer(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, tlsx.EnsureDevPKI(dir, nil))
	r := newReloader(t, tlsx.ServiceFiles(dir, tlsx.HTTPSName))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		TLSConfig:         r.PublicServerConfig(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	defer srv.Close()

	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		tr := &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: caPool(t, dir), MinVersion: v, MaxVersion: v},
			ForceAttemptHTTP2: true,
		}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := c.Get("https://localhost:" + portOf(t, ln.Addr()) + "/")
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, 2, resp.ProtoMajor)
		require.Equal(t, v, resp.TLS.Version)
		tr.CloseIdleConnections()
	}
}

func portOf(t *testing.T, a net.Addr) string {
	_, port, err := net.SplitHostPort(a.String())
	require.NoError(t, err)
	return port
}
