package secrets

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

const canary = "CANARY-5e1f0c2d-at-rest"

const kubeconfigAAD = "clusterregistry/cluster-providers/p1/clusters/c1#kubeconfig"

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// plaintexts of the barrier contract, each holding the canary.
func plaintexts() map[string][]byte {
	return map[string][]byte{
		"kubeconfig":      []byte("apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: " + canary + "\n"),
		"secret manifest": []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"stringData":{"password":"` + canary + `"}}`),
		"binary":          append(randomBytes(100), []byte(canary)...),
		"canary only":     []byte(canary),
		"large":           append(bytes.Repeat([]byte("A"), 64<<10), []byte(canary)...),
	}
}

// TestBarrierContract is SECURITY.md's barrier contract, with real tink.
func TestBarrierContract(t *testing.T) {
	e := newEnv(t, devConfig(t))
	for name, plain := range plaintexts() {
		t.Run(name, func(t *testing.T) {
			ct := e.seal(t, plain, kubeconfigAAD)

			// Stored bytes ≠ plaintext, and no piece of it shows.
			require.NotEqual(t, plain, ct)
			require.False(t, bytes.Contains(ct, []byte(canary)), "canary in stored bytes")
			if len(plain) <= 4096 {
				for i := 0; i+8 <= len(plain); i++ {
					require.False(t, bytes.Contains(ct, plain[i:i+8]), "plaintext substring at %d in stored bytes", i)
				}
			}
			require.Equal(t, e.svc.Primary(), keyIDOf(t, ct), "sealed with the primary key")

			got, err := e.unseal(ct, kubeconfigAAD)
			require.NoError(t, err)
			require.Equal(t, plain, got)

			// Same plaintext twice → different ciphertexts (random nonces).
			require.NotEqual(t, ct, e.seal(t, plain, kubeconfigAAD))

			// One flipped byte anywhere → error. (Every byte for small
			// values, a spread of positions for the large one.)
			step := max(1, len(ct)/512)
			for i := 0; i < len(ct); i += step {
				bad := bytes.Clone(ct)
				bad[i] ^= 0x01
				requireRefused(t, e, bad, kubeconfigAAD, fmt.Sprintf("byte %d flipped", i))
			}
			requireRefused(t, e, ct[:len(ct)-1], kubeconfigAAD, "truncated")
			requireRefused(t, e, append(bytes.Clone(ct), 0), kubeconfigAAD, "extended")
			requireRefused(t, e, ct[:5], kubeconfigAAD, "prefix only")

			// Moved to another record or field → error.
			for _, aad := range []string{
				"clusterregistry/cluster-providers/p1/clusters/c2#kubeconfig",
				"clusterregistry/cluster-providers/p2/clusters/c1#kubeconfig",
				"clusterregistry/cluster-providers/p1/clusters/c1#token",
				"deployer/contexts/x#manifest",
				kubeconfigAAD + " ",
			} {
				requireRefused(t, e, ct, aad, "associated data "+aad)
			}
			_, err = e.unseal(ct, "")
			require.Equal(t, codes.InvalidArgument, status.Code(err), "empty associated data")
		})
	}
	require.NotContains(t, e.logs.String(), canary, "a value reached the log")
}

// requireRefused checks that ct does not unseal for aad: an
// InvalidArgument error and no plaintext, never the stored bytes.
func requireRefused(t *testing.T, e *env, ct []byte, aad, why string) {
	t.Helper()
	resp, err := e.secrets.Unseal(context.Background(), &secretsv1.UnsealRequest{Ciphertext: ct, AssociatedData: aad})
	require.Equal(t, codes.InvalidArgument, status.Code(err), why)
	require.Nil(t, resp, why)
	rw, err := e.keys.Rewrap(context.Background(), &secretsv1.RewrapRequest{Ciphertext: ct, AssociatedData: aad})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "rewrap: "+why)
	require.Nil(t, rw, "rewrap: "+why)
}

func TestSealRequiresAssociatedData(t *testing.T) {
	e := newEnv(t, devConfig(t))
	_, err := e.secrets.Seal(context.Background(), &secretsv1.SealRequest{Plaintext: []byte("x")})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

// TestLegacyPlaceholderRefused: values of the "plain0" pass-through are
// not accepted, even for their own associated data.
func TestLegacyPlaceholderRefused(t *testing.T) {
	e := newEnv(t, devConfig(t))
	legacy := []byte(legacyFormat + kubeconfigAAD + "\x00" + canary)
	requireRefused(t, e, legacy, kubeconfigAAD, "legacy plain0 value")
	for name, ct := range map[string][]byte{"empty": nil, "raw plaintext": []byte(canary), "raw AES-GCM (no prefix)": randomBytes(60)} {
		requireRefused(t, e, ct, kubeconfigAAD, name)
	}
	require.Contains(t, e.logs.String(), "legacy plain0 value")
	require.NotContains(t, e.logs.String(), canary)
}

// TestWrongKeyset: a value sealed under another keyset does not unseal,
// neither under its own key id nor relabelled with ours.
func TestWrongKeyset(t *testing.T) {
	a, b := newEnv(t, devConfig(t)), newEnv(t, devConfig(t))
	ct := a.seal(t, []byte(canary), kubeconfigAAD)
	requireRefused(t, b, ct, kubeconfigAAD, "other keyset")

	relabelled := bytes.Clone(ct)
	p := b.svc.Primary()
	relabelled[1], relabelled[2], relabelled[3], relabelled[4] = byte(p>>24), byte(p>>16), byte(p>>8), byte(p)
	requireRefused(t, b, relabelled, kubeconfigAAD, "other keyset's value under our key id")
	require.NotContains(t, b.logs.String(), canary)
}

func TestPolicy(t *testing.T) {
	e := newEnv(t, devConfig(t))
	p := e.svc.Policy()
	sealers := []string{"orchestrator", "clusterregistry", "deployer"}
	for method, want := range map[string][]string{
		secretsv1.Secrets_Seal_FullMethodName:   sealers,
		secretsv1.Secrets_Unseal_FullMethodName: {"deployer"},
		secretsv1.Keys_KeyStatus_FullMethodName: sealers,
		secretsv1.Keys_Rewrap_FullMethodName:    sealers,
		// Project secrets: names to the orchestrator, sealed values to
		// the deployer.
		secretsv1.ProjectSecrets_ListProjectSecrets_FullMethodName: {"orchestrator"},
		secretsv1.ProjectSecrets_GetProjectSecret_FullMethodName:   {"deployer"},
	} {
		require.ElementsMatch(t, want, p[method], method)
	}
	require.Len(t, p, 6, "no other method is open")
}
