package secrets

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

// logBuffer collects a service's log lines, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a secrets service on a dev keyset in a temporary data directory,
// served over an in-memory gRPC connection (no mTLS: the policy is tested
// on its own).
type env struct {
	cfg     Config
	svc     *Service
	logs    *logBuffer
	secrets secretsv1.SecretsClient
	keys    secretsv1.KeysClient
}

func devConfig(t *testing.T) Config {
	t.Helper()
	return Config{DataDir: t.TempDir(), Dev: true}
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	logs := &logBuffer{}
	s, err := New(cfg, Deps{Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	require.NoError(t, err)
	ln := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	s.RegisterGRPC(g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return &env{cfg: cfg, svc: s, logs: logs, secrets: secretsv1.NewSecretsClient(cc), keys: secretsv1.NewKeysClient(cc)}
}

func (e *env) seal(t *testing.T, plain []byte, aad string) []byte {
	t.Helper()
	resp, err := e.secrets.Seal(context.Background(), &secretsv1.SealRequest{Plaintext: plain, AssociatedData: aad})
	require.NoError(t, err)
	return resp.GetCiphertext()
}

func (e *env) unseal(ct []byte, aad string) ([]byte, error) {
	resp, err := e.secrets.Unseal(context.Background(), &secretsv1.UnsealRequest{Ciphertext: ct, AssociatedData: aad})
	return resp.GetPlaintext(), err
}

func keyIDOf(t *testing.T, ct []byte) uint32 {
	t.Helper()
	id, ok := KeyID(ct)
	require.True(t, ok, "sealed value carries a key id")
	return id
}
