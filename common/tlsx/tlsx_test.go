package tlsx_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/tlsx"
)

// handshakeResult is what both ends of one TLS connection saw.
type handshakeResult struct {
	server, client       tls.ConnectionState
	serverErr, clientErr error
}

// handshake runs one TLS connection over loopback TCP. On success the
// server writes one byte that the client reads, so a refusal by the server
// after the client's handshake returned (TLS 1.3 client certificates) is
// seen as a client error too.
func handshake(t *testing.T, srvCfg, cliCfg *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	type srvResult struct {
		st  tls.ConnectionState
		err error
	}
	done := make(chan srvResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- srvResult{err: err}
			return
		}
		tc := tls.Server(c, srvCfg)
		defer tc.Close()
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		err = tc.Handshake()
		if err == nil {
			_, err = tc.Write([]byte{1})
		}
		done <- srvResult{st: tc.ConnectionState(), err: err}
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	tc := tls.Client(c, cliCfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	cliErr := tc.Handshake()
	if cliErr == nil {
		_, cliErr = io.ReadFull(tc, make([]byte, 1))
	}
	cliState := tc.ConnectionState()
	_ = tc.Close()
	s := <-done
	return handshakeResult{server: s.st, client: cliState, serverErr: s.err, clientErr: cliErr}
}

func newReloader(t *testing.T, f tlsx.Files) *tlsx.Reloader {
	t.Helper()
	r, err := tlsx.NewReloader(f, nil)
	require.NoError(t, err)
	return r
}

func caPool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(b))
	return pool
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	blk, _ := pem.Decode(b)
	require.NotNil(t, blk, path)
	c, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	return c
}

func serverSerial(res handshakeResult) *big.Int {
	if len(res.client.PeerCertificates) == 0 {
		return nil
	}
	return res.client.PeerCertificates[0].SerialNumber
}

func clientSerial(res handshakeResult) *big.Int {
	if len(res.server.PeerCertificates) == 0 {
		return nil
	}
	return res.server.PeerCertificates[0].SerialNumber
}

func TestHandshakes(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	require.NoError(t, tlsx.EnsureDevPKI(dirA, []string{"secrets", "orchestrator"}))
	require.NoError(t, tlsx.EnsureDevPKI(dirB, []string{"secrets", "orchestrator"}))
	now := time.Now()
	require.NoError(t, tlsx.IssueLeafForTest(dirA, "orchestrator", "expired-orchestrator", now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	require.NoError(t, tlsx.IssueLeafForTest(dirA, "secrets", "expired-secrets", now.Add(-48*time.Hour), now.Add(-24*time.Hour)))

	caA := filepath.Join(dirA, "ca.crt")
	secrets := newReloader(t, tlsx.ServiceFiles(dirA, "secrets"))
	orch := newReloader(t, tlsx.ServiceFiles(dirA, "orchestrator"))
	public := newReloader(t, tlsx.ServiceFiles(dirA, tlsx.HTTPSName))
	foreignClient := newReloader(t, tlsx.Files{CA: caA, Cert: filepath.Join(dirB, "orchestrator.crt"), Key: filepath.Join(dirB, "orchestrator.key")})
	foreignServer := newReloader(t, tlsx.Files{CA: caA, Cert: filepath.Join(dirB, "secrets.crt"), Key: filepath.Join(dirB, "secrets.key")})
	expiredClient := newReloader(t, tlsx.ServiceFiles(dirA, "expired-orchestrator"))
	expiredServer := newReloader(t, tlsx.ServiceFiles(dirA, "expired-secrets"))

	withVersions := func(c *tls.Config, lo, hi uint16) *tls.Config {
		c.MinVersion, c.MaxVersion = lo, hi
		return c
	}
	publicClient := func(lo, hi uint16) *tls.Config {
		return &tls.Config{RootCAs: caPool(t, dirA), ServerName: "localhost", MinVersion: lo, MaxVersion: hi}
	}

	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		// refusedBy is "" when the connection must succeed, else the side
		// that must report the failure.
		refusedBy string
		peer      string // PeerService seen by the server, when it succeeds
	}{
		{name: "mtls ok", server: secrets.ServerConfig(), client: orch.ClientConfig("secrets"), peer: "orchestrator"},
		{name: "no client certificate", server: secrets.ServerConfig(),
			client:    &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true},
			refusedBy: "server"},
		{name: "client certificate from another CA", server: secrets.ServerConfig(), client: foreignClient.ClientConfig("secrets"), refusedBy: "server"},
		{name: "expired client certificate", server: secrets.ServerConfig(), client: expiredClient.ClientConfig("secrets"), refusedBy: "server"},
		{name: "wrong server identity", server: secrets.ServerConfig(), client: orch.ClientConfig("placement"), refusedBy: "client"},
		{name: "no expected identity", server: secrets.ServerConfig(), client: orch.ClientConfig(""), refusedBy: "client"},
		{name: "server certificate from another CA", server: foreignServer.ServerConfig(), client: orch.ClientConfig("secrets"), refusedBy: "client"},
		{name: "expired server certificate", server: expiredServer.ServerConfig(), client: orch.ClientConfig("secrets"), refusedBy: "client"},
		{name: "TLS 1.2 client against internal server", server: secrets.ServerConfig(),
			client: withVersions(orch.ClientConfig("secrets"), tls.VersionTLS12, tls.VersionTLS12), refusedBy: "server"},
		{name: "public TLS 1.3", server: public.PublicServerConfig(), client: publicClient(tls.VersionTLS13, tls.VersionTLS13)},
		{name: "public TLS 1.2", server: public.PublicServerConfig(), client: publicClient(tls.VersionTLS12, tls.VersionTLS12)},
		{name: "public TLS 1.1 refused", server: public.PublicServerConfig(), client: publicClient(tls.VersionTLS11, tls.VersionTLS11), refusedBy: "server"},
		{name: "public CBC suite refused", server: public.PublicServerConfig(),
			client: func() *tls.Config {
				c := publicClient(tls.VersionTLS12, tls.VersionTLS12)
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
				return c
			}(),
			refusedBy: "server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := handshake(t, tt.server, tt.client)
			switch tt.refusedBy {
			case "":
				require.NoError(t, res.serverErr)
				require.NoError(t, res.clientErr)
				peer, ok := tlsx.PeerService(&res.server)
				require.Equal(t, tt.peer != "", ok)
				require.Equal(t, tt.peer, peer)
			case "server":
				require.Error(t, res.serverErr)
				require.Error(t, res.clientErr)
				_, ok := tlsx.PeerService(&res.server)
				require.False(t, ok)
			case "client":
				require.Error(t, res.clientErr)
				require.Error(t, res.serverErr)
			}
		})
	}

	t.Run("negotiated parameters", func(t *testing.T) {
		res := handshake(t, secrets.ServerConfig(), orch.ClientConfig("secrets"))
		require.NoError(t, res.clientErr)
		require.Equal(t, uint16(tls.VersionTLS13), res.client.Version)
		require.Equal(t, "h2", res.client.NegotiatedProtocol)
		// The client side has no verified chain (identity checked by
		// ClientConfig itself), so PeerService reports nothing there.
		_, ok := tlsx.PeerService(&res.client)
		require.False(t, ok)
	})
}

// syncBuffer is an io.Writer safe for the concurrent slog writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestReloaderPicksUpRotation(t *testing.T) {
	dir := t.TempDir()
	services := []string{"secrets", "orchestrator"}
	require.NoError(t, tlsx.EnsureDevPKI(dir, services))
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := tlsx.NewReloader(tlsx.ServiceFiles(dir, "secrets"), log)
	require.NoError(t, err)
	cli, err := tlsx.NewReloader(tlsx.ServiceFiles(dir, "orchestrator"), log)
	require.NoError(t, err)
	srvCfg, cliCfg := srv.ServerConfig(), cli.ClientConfig("secrets")

	first := handshake(t, srvCfg, cliCfg)
	require.NoError(t, first.clientErr)
	oldServer, oldClient := serverSerial(first), clientSerial(first)

	// Rotate both certificates: remove them and let EnsureDevPKI issue new
	// ones from the existing CA.
	for _, name := range services {
		require.NoError(t, os.Remove(filepath.Join(dir, name+".crt")))
		require.NoError(t, os.Remove(filepath.Join(dir, name+".key")))
	}
	require.NoError(t, tlsx.EnsureDevPKI(dir, services))
	newServer := readCert(t, filepath.Join(dir, "secrets.crt")).SerialNumber
	newClient := readCert(t, filepath.Join(dir, "orchestrator.crt")).SerialNumber
	require.NotEqual(t, oldServer, newServer)
	require.NotEqual(t, oldClient, newClient)

	// The same configs (no new Reloader) present the new certificates.
	require.Eventually(t, func() bool {
		res := handshake(t, srvCfg, cliCfg)
		return res.clientErr == nil && serverSerial(res).Cmp(newServer) == 0 && clientSerial(res).Cmp(newClient) == 0
	}, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, newServer, srv.Leaf().SerialNumber)

	// A broken file keeps the previous material and logs a warning.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets.crt"), []byte("not a certificate"), 0o644))
	require.Eventually(t, func() bool {
		res := handshake(t, srvCfg, cliCfg)
		require.NoError(t, res.clientErr)
		require.Equal(t, 0, serverSerial(res).Cmp(newServer))
		return bytes.Contains([]byte(logs.String()), []byte("cannot be loaded"))
	}, 10*time.Second, 50*time.Millisecond)
	require.Contains(t, logs.String(), "level=WARN")

	// Repairing it is picked up again.
	require.NoError(t, tlsx.EnsureDevPKI(dir, services))
	repaired := readCert(t, filepath.Join(dir, "secrets.crt")).SerialNumber
	require.Eventually(t, func() bool {
		res := handshake(t, srvCfg, cliCfg)
		return res.clientErr == nil && serverSerial(res).Cmp(repaired) == 0
	}, 10*time.Second, 50*time.Millisecond)
}

func TestNewReloaderFailsOnBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, tlsx.EnsureDevPKI(dir, []string{"secrets"}))
	f := tlsx.ServiceFiles(dir, "secrets")
	for _, broken := range []tlsx.Files{
		{CA: f.CA, Cert: f.Cert, Key: filepath.Join(dir, "missing.key")},
		{CA: f.CA, Cert: f.Cert, Key: filepath.Join(dir, "https.key")}, // key of another cert
		{CA: f.Key, Cert: f.Cert, Key: f.Key},                          // no CA certificate
	} {
		_, err := tlsx.NewReloader(broken, nil)
		require.Error(t, err, "%+v", broken)
	}
}

// snapshot returns name → content+mtime of every file in dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		fi, err := e.Info()
		require.NoError(t, err)
		out[e.Name()] = fi.ModTime().String() + "\n" + string(b)
	}
	return out
}

func TestEnsureDevPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	services := []string{"orchestrator", "secrets", "placement"}
	require.NoError(t, tlsx.EnsureDevPKI(dir, services))

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	for _, name := range append([]string{"ca", tlsx.HTTPSName}, services...) {
		fi, err := os.Stat(filepath.Join(dir, name+".key"))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}

	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	require.True(t, ca.IsCA)
	require.InDelta(t, 10*365*24, ca.NotAfter.Sub(ca.NotBefore).Hours(), 1)
	pool := caPool(t, dir)
	for _, name := range services {
		leaf := readCert(t, filepath.Join(dir, name+".crt"))
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		require.NoError(t, err)
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		require.NoError(t, err)
		require.Equal(t, []string{"spiffe://edgeway/" + name}, urisOf(leaf))
		require.ElementsMatch(t, []string{name, "localhost"}, leaf.DNSNames)
		require.Len(t, leaf.IPAddresses, 2)
		require.True(t, leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
		require.True(t, leaf.IPAddresses[1].Equal(net.IPv6loopback))
		require.InDelta(t, 365*24, leaf.NotAfter.Sub(leaf.NotBefore).Hours(), 1)
		require.NoError(t, leaf.VerifyHostname("localhost"))
		require.NoError(t, leaf.VerifyHostname("127.0.0.1"))
	}
	https := readCert(t, filepath.Join(dir, "https.crt"))
	_, err = https.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"})
	require.NoError(t, err)
	require.Empty(t, https.URIs)
	require.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, https.ExtKeyUsage)

	t.Run("idempotent", func(t *testing.T) {
		before := snapshot(t, dir)
		require.NoError(t, tlsx.EnsureDevPKI(dir, services))
		require.Equal(t, before, snapshot(t, dir))
	})

	t.Run("missing files are issued from the existing CA", func(t *testing.T) {
		before := snapshot(t, dir)
		require.NoError(t, os.Remove(filepath.Join(dir, "placement.key")))
		require.NoError(t, tlsx.EnsureDevPKI(dir, append(services, "deployer")))
		after := snapshot(t, dir)
		for _, name := range []string{"ca.crt", "ca.key", "orchestrator.crt", "secrets.key", "https.crt"} {
			require.Equal(t, before[name], after[name], name)
		}
		require.NotEqual(t, before["placement.crt"], after["placement.crt"])
		for _, name := range []string{"placement", "deployer"} {
			_, err := tlsx.NewReloader(tlsx.ServiceFiles(dir, name), nil)
			require.NoError(t, err)
			_, err = readCert(t, filepath.Join(dir, name+".crt")).Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			require.NoError(t, err)
		}
	})

	t.Run("soon expiring leaf is reissued", func(t *testing.T) {
		now := time.Now()
		require.NoError(t, tlsx.IssueLeafForTest(dir, "secrets", "secrets", now.Add(-time.Hour), now.Add(24*time.Hour)))
		require.NoError(t, tlsx.EnsureDevPKI(dir, services))
		require.True(t, readCert(t, filepath.Join(dir, "secrets.crt")).NotAfter.After(now.Add(300*24*time.Hour)))
	})

	t.Run("unusable CA is an error, not replaced", func(t *testing.T) {
		bad := t.TempDir()
		require.NoError(t, tlsx.EnsureDevPKI(bad, nil))
		caCrt, err := os.ReadFile(filepath.Join(bad, "ca.crt"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(bad, "ca.key"), []byte("garbage"), 0o600))
		require.Error(t, tlsx.EnsureDevPKI(bad, []string{"secrets"}))
		after, err := os.ReadFile(filepath.Join(bad, "ca.crt"))
		require.NoError(t, err)
		require.Equal(t, caCrt, after)
	})

	t.Run("invalid service names", func(t *testing.T) {
		for _, name := range []string{"", "../x", "a/b", "Secrets", "ca", tlsx.HTTPSName, "-x"} {
			require.Error(t, tlsx.EnsureDevPKI(t.TempDir(), []string{name}), name)
		}
	})
}

func urisOf(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}

func TestEnsureDevPKIConcurrent(t *testing.T) {
	dir := t.TempDir()
	services := []string{"orchestrator", "secrets", "placement", "clusterregistry", "deployer", "gateway"}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tlsx.EnsureDevPKI(dir, services)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// One CA, and every leaf signed by it with a matching key.
	ca, err := tls.LoadX509KeyPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	require.NoError(t, err)
	require.True(t, ca.Leaf.IsCA)
	pool := caPool(t, dir)
	for _, name := range append(services, tlsx.HTTPSName) {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
		require.NoError(t, err, name)
		_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		require.NoError(t, err, name)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	require.NoError(t, err)
	require.Empty(t, leftovers)

	before := snapshot(t, dir)
	require.NoError(t, tlsx.EnsureDevPKI(dir, services))
	require.Equal(t, before, snapshot(t, dir))
}

func TestPeerService(t *testing.T) {
	cert := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{}
		for _, s := range uris {
			u, err := url.Parse(s)
			require.NoError(t, err)
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	state := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{HandshakeComplete: true, VerifiedChains: [][]*x509.Certificate{{c}}}
	}
	tests := []struct {
		name  string
		state *tls.ConnectionState
		want  string
	}{
		{"nil state", nil, ""},
		{"not verified", &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert("spiffe://edgeway/secrets")}}, ""},
		{"ok", state(cert("spiffe://edgeway/secrets")), "secrets"},
		{"other URIs ignored", state(cert("https://example.com/x", "spiffe://edgeway/secrets")), "secrets"},
		{"other trust domain", state(cert("spiffe://other/secrets")), ""},
		{"two identities", state(cert("spiffe://edgeway/secrets", "spiffe://edgeway/deployer")), ""},
		{"nested path", state(cert("spiffe://edgeway/ns/secrets")), ""},
		{"query", state(cert("spiffe://edgeway/secrets?x=1")), ""},
		{"no URI", state(cert()), ""},
		{"empty name", state(cert("spiffe://edgeway/")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tlsx.PeerService(tt.state)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want != "", ok)
		})
	}
}
