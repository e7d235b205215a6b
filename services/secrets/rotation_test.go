package secrets

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

// TestRotationPickedUpWithoutRestart: the running service sees a keyset
// rotated by the key commands within the reload interval.
func TestRotationPickedUpWithoutRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, devConfig(t))
	old := e.svc.Primary()
	before := e.seal(t, []byte(canary), kubeconfigAAD)
	require.Equal(t, old, keyIDOf(t, before))

	id, err := Rotate(ctx, e.cfg)
	require.NoError(t, err)
	require.NotEqual(t, old, id)
	require.Eventually(t, func() bool { return e.svc.Primary() == id }, 5*time.Second, 20*time.Millisecond)

	after := e.seal(t, []byte(canary), kubeconfigAAD)
	require.Equal(t, id, keyIDOf(t, after), "new seals use the new key")
	for _, ct := range [][]byte{before, after} {
		got, err := e.unseal(ct, kubeconfigAAD)
		require.NoError(t, err, "old and new values unseal")
		require.Equal(t, canary, string(got))
	}

	st, err := e.keys.KeyStatus(ctx, &secretsv1.KeyStatusRequest{})
	require.NoError(t, err)
	require.Equal(t, id, st.GetPrimaryKeyId())
	require.Len(t, st.GetKeys(), 2)
	infos, err := Status(ctx, e.cfg)
	require.NoError(t, err)
	require.ElementsMatch(t, []KeyInfo{{ID: old, Status: "ENABLED"}, {ID: id, Primary: true, Status: "ENABLED"}}, infos)
	require.Contains(t, e.logs.String(), "keyset reloaded")
}

func TestRetire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, devConfig(t))
	old := e.svc.Primary()
	require.ErrorIs(t, Retire(ctx, e.cfg, old), ErrPrimaryKey, "the primary key stays")
	require.ErrorIs(t, Retire(ctx, e.cfg, old+1), ErrUnknownKeyID)

	kept := e.seal(t, []byte(canary+"-kept"), kubeconfigAAD)
	lost := e.seal(t, []byte(canary+"-lost"), "deployer/x#manifest")
	id, err := Rotate(ctx, e.cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.svc.Primary() == id }, 5*time.Second, 20*time.Millisecond)
	rw, err := e.keys.Rewrap(ctx, &secretsv1.RewrapRequest{Ciphertext: kept, AssociatedData: kubeconfigAAD})
	require.NoError(t, err)
	require.True(t, rw.GetRewrapped())
	require.Equal(t, id, rw.GetKeyId())
	require.Equal(t, id, keyIDOf(t, rw.GetCiphertext()))

	require.NoError(t, Retire(ctx, e.cfg, old))
	require.Eventually(t, func() bool {
		st, err := e.keys.KeyStatus(ctx, &secretsv1.KeyStatusRequest{})
		return err == nil && len(st.GetKeys()) == 1
	}, 5*time.Second, 20*time.Millisecond)

	got, err := e.unseal(rw.GetCiphertext(), kubeconfigAAD)
	require.NoError(t, err, "rewrapped values still unseal")
	require.Equal(t, canary+"-kept", string(got))
	requireRefused(t, e, lost, "deployer/x#manifest", "sealed with the retired key")
	requireRefused(t, e, kept, kubeconfigAAD, "the pre-rewrap copy is gone with its key")
	require.NotContains(t, e.logs.String(), canary)
}

// TestBrokenKeysetKeepsOldKeys: a keyset file that cannot be loaded
// while running keeps the current keys, logs an error, and is picked up
// once repaired.
func TestBrokenKeysetKeepsOldKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, devConfig(t))
	e.svc.ring.interval = 10 * time.Millisecond
	path := DefaultKeysetFile(e.cfg.DataDir)
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	primary := e.svc.Primary()
	ct := e.seal(t, []byte(canary), kubeconfigAAD)

	aes128, err := keyset.NewHandle(aead.AES128GCMKeyTemplate())
	require.NoError(t, err)
	var weak bytes.Buffer
	require.NoError(t, insecurecleartextkeyset.Write(aes128, keyset.NewJSONWriter(&weak)))

	for i, bad := range [][]byte{[]byte("{broken"), weak.Bytes()} {
		require.NoError(t, writeFileAtomic(path, bad, false))
		require.Eventually(t, func() bool {
			e.svc.ring.get(ctx)
			return bytes.Count([]byte(e.logs.String()), []byte("new keyset cannot be loaded")) == i+1
		}, 5*time.Second, 10*time.Millisecond)
		require.Equal(t, primary, e.svc.Primary())
		got, err := e.unseal(ct, kubeconfigAAD)
		require.NoError(t, err)
		require.Equal(t, canary, string(got))
		require.Equal(t, primary, keyIDOf(t, e.seal(t, []byte("x"), kubeconfigAAD)))
	}
	require.Contains(t, e.logs.String(), "is not AES-256-GCM", "a weaker key type is refused")

	require.NoError(t, writeFileAtomic(path, good, false))
	id, err := Rotate(ctx, e.cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.svc.Primary() == id }, 5*time.Second, 10*time.Millisecond)
}

// TestConcurrentSealUnsealDuringRotations: 4 goroutines × 2000 seal and
// unseal round trips (and unseals of older values) while the keyset is
// rotated 3 times: 0 failures, and every key was used.
func TestConcurrentSealUnsealDuringRotations(t *testing.T) {
	t.Parallel()
	const (
		workers   = 4
		ops       = 2000
		rotations = 3
	)
	ctx := context.Background()
	e := newEnv(t, devConfig(t))
	e.svc.ring.interval = 10 * time.Millisecond // before any concurrent use

	var (
		done     atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		seenMu   sync.Mutex
		seen     = map[uint32]bool{}
		poolMu   sync.Mutex
		pool     []sealedValue
	)
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	picked := make([]chan struct{}, rotations)
	for i := range picked {
		picked[i] = make(chan struct{})
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // rotate at 1000, 3000, 5000 operations overall
		defer wg.Done()
		for r := range rotations {
			for done.Load() < int64((2*r+1)*1000) {
				time.Sleep(time.Millisecond)
			}
			id, err := Rotate(ctx, e.cfg)
			if err != nil {
				fail(err)
				close(picked[r])
				continue
			}
			for e.svc.Primary() != id {
				time.Sleep(time.Millisecond)
			}
			close(picked[r])
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops {
				// Workers never outrun a rotation by much: at 700, 1200 and
				// 1700 operations each waits until rotation k is live.
				if k := (i - 200) / 500; i >= 700 && (i-200)%500 == 0 && k <= rotations {
					<-picked[k-1]
				}
				plain := fmt.Appendf(nil, "%s-%d-%d", canary, w, i)
				aad := fmt.Sprintf("test/w%d/%d#value", w, i)
				resp, err := e.secrets.Seal(ctx, &secretsv1.SealRequest{Plaintext: plain, AssociatedData: aad})
				if err != nil {
					fail(err)
					continue
				}
				id, _ := KeyID(resp.GetCiphertext())
				seenMu.Lock()
				seen[id] = true
				seenMu.Unlock()
				got, err := e.unseal(resp.GetCiphertext(), aad)
				if err != nil || !bytes.Equal(got, plain) {
					fail(fmt.Errorf("round trip %d/%d: %v", w, i, err))
				}
				poolMu.Lock()
				if i%10 == 0 {
					pool = append(pool, sealedValue{resp.GetCiphertext(), plain, aad})
				}
				old := pool[(i*7919+w)%len(pool)]
				poolMu.Unlock()
				if got, err := e.unseal(old.ct, old.aad); err != nil || !bytes.Equal(got, old.plain) {
					fail(fmt.Errorf("older value: %v", err))
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d failures, first: %v", failures.Load(), firstErr.Load())
	}
	require.EqualValues(t, workers*ops, done.Load())
	require.Len(t, seen, rotations+1, "values were sealed under every key")
	require.NotContains(t, e.logs.String(), "unseal refused")
}

type sealedValue struct {
	ct, plain []byte
	aad       string
}

func TestUnsealRefusalIsInvalidArgument(t *testing.T) {
	e := newEnv(t, devConfig(t))
	_, err := e.keys.Rewrap(context.Background(), &secretsv1.RewrapRequest{Ciphertext: []byte("x"), AssociatedData: ""})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}
