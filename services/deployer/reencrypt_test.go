package deployer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/services/secrets"
	"edgeway.dev/services/secrets/reencrypt"
)

// realSecrets is the secrets service (tink, a dev keyset in a temporary
// directory) over an in-memory connection.
type realSecrets struct {
	cfg     secrets.Config
	svc     *secrets.Service
	secrets secretsv1.SecretsClient
	keys    secretsv1.KeysClient
}

func startSecrets(t *testing.T) *realSecrets {
	t.Helper()
	cfg := secrets.Config{DataDir: t.TempDir(), Dev: true}
	svc, err := secrets.New(cfg, secrets.Deps{Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ln := bufconn.Listen(1 << 20)
	g := grpc.NewServer()
	svc.RegisterGRPC(g)
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(g.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cc.Close() })
	return &realSecrets{cfg: cfg, svc: svc, secrets: secretsv1.NewSecretsClient(cc), keys: secretsv1.NewKeysClient(cc)}
}

// rotate makes a new primary key and waits until the service uses it.
func (r *realSecrets) rotate(t *testing.T) uint32 {
	t.Helper()
	id, err := secrets.Rotate(context.Background(), r.cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return r.svc.Primary() == id }, 5*time.Second, 10*time.Millisecond)
	return id
}

// sealedKeyIDs returns the key id of every sealed manifest of the env.
func sealedKeyIDs(t *testing.T, e *env) map[string]uint32 {
	t.Helper()
	out := map[string]uint32{}
	for k, v := range e.rawValues() {
		if !strings.Contains(k, "/res/") {
			continue
		}
		var rec record
		require.NoError(t, json.Unmarshal(v, &rec))
		for _, r := range rec.Resources {
			if r.Sealed != nil {
				id, ok := reencrypt.KeyID(r.Sealed)
				require.True(t, ok)
				out[k+"|"+r.Name] = id
			}
		}
	}
	return out
}

// TestReencryptSealedManifests: after a rotation the job moves every sealed
// Secret manifest to the new primary key, once; a worker saving the stale
// copy of a record it read before does not undo it; a second run has
// nothing to do; the old key can then be retired. Then the job's loop does
// the same by itself after the next rotation.
func TestReencryptSealedManifests(t *testing.T) {
	e := newEtcdEnv(t)
	rs := startSecrets(t)
	e.secrets, e.keys = rs.secrets, rs.keys
	e.cfg.ReencryptInterval = -1 // run by hand first
	s := e.start()
	ctx := context.Background()
	const marker = "reenc-MARKER-9c3e"
	for i := range 2 {
		id := fmt.Sprintf("re-%d", i)
		_, err := s.Install(ctx, &deployerv1.InstallRequest{ContextId: id, DeploymentId: id, Revision: 1,
			Apps: []*deployerv1.App{{Name: "a", Clusters: []*deployerv1.ClusterResources{{ClusterProvider: provider, Cluster: "nowhere",
				Resources: []*deployerv1.Resource{secret("s1", "ns", marker), secret("s2", "ns", marker), configMap("c", "ns", nil), secret("s3", "ns", marker)},
			}}}}})
		require.NoError(t, err)
		waitStatus(t, s, id, StatusInstantiateFailed, 10*time.Second)
	}
	old := rs.svc.Primary()
	for _, id := range sealedKeyIDs(t, e) {
		require.Equal(t, old, id)
	}
	stale, err := s.loadRecords(ctx, "re-0")
	require.NoError(t, err)

	primary := rs.rotate(t)
	st, err := s.reencrypt(ctx, true)
	require.NoError(t, err)
	require.Equal(t, reencrypt.Stats{Done: 6, Rewrapped: 6}, st)
	for _, rec := range stale {
		require.NoError(t, s.saveRecord(ctx, "re-0", rec), "a worker's save of the copy it read before the job")
	}
	ids := sealedKeyIDs(t, e)
	require.Len(t, ids, 6)
	for k, id := range ids {
		require.Equal(t, primary, id, k)
	}
	st, err = s.reencrypt(ctx, false)
	require.NoError(t, err)
	require.Equal(t, reencrypt.Stats{Done: 6, Skipped: 6}, st)

	require.NoError(t, secrets.Retire(ctx, rs.cfg, old))
	for k, v := range e.rawValues() {
		require.NotContains(t, string(v), marker, k)
		if !strings.Contains(k, "/res/") {
			continue
		}
		var rec record
		require.NoError(t, json.Unmarshal(v, &rec))
		for i := range rec.Resources {
			if r := &rec.Resources[i]; r.Sealed != nil {
				key := strings.TrimPrefix(k, e.prefix)
				require.Eventually(t, func() bool {
					un, err := rs.secrets.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: r.Sealed, AssociatedData: sealAAD(key, r)})
					return err == nil && strings.Contains(string(un.GetPlaintext()), marker)
				}, 5*time.Second, 50*time.Millisecond, "%s %s unseals after the old key is retired", k, r.Name)
			}
		}
	}
	require.Contains(t, e.logs.String(), "re-encryption of sealed manifests done")
	require.NoError(t, s.Close())

	// The loop: a deployer started with the job on follows the next rotation.
	e.cfg.ReencryptInterval = 200 * time.Millisecond
	e.start()
	next := rs.rotate(t)
	require.Eventually(t, func() bool {
		for _, id := range sealedKeyIDs(t, e) {
			if id != next {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond, "every sealed manifest on the new primary key")
	require.NotContains(t, e.logs.String(), marker)
}
