package conformance

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/store"
)

// RunKV runs the store.KV contract against KVs made by newKV, which must
// return an isolated, empty KV on every call (e.g. a fresh key prefix on a
// shared client).
func RunKV(t *testing.T, newKV func(t *testing.T) store.KV) {
	tests := []struct {
		name string
		run  func(t *testing.T, kv store.KV)
	}{
		{"CreateGetRoundTrip", testKVCreateGet},
		{"CreateExisting", testKVCreateExisting},
		{"GetMissing", testKVGetMissing},
		{"Put", testKVPut},
		{"Update", testKVUpdate},
		{"ConcurrentUpdates", testKVConcurrentUpdates},
		{"Delete", testKVDelete},
		{"List", testKVList},
		{"DeletePrefix", testKVDeletePrefix},
		{"Ping", testKVPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newKV(t))
		})
	}
	t.Run("PrefixIsolation", func(t *testing.T) {
		testKVIsolation(t, newKV(t), newKV(t))
	})
}

func testKVCreateGet(t *testing.T, kv store.KV) {
	ctx := t.Context()
	value := []byte{'{', 0x00, 0xff, 0xfe, '}', '\n'}
	require.NoError(t, kv.Create(ctx, "apps/a/clusters/c1", value))
	got, err := kv.Get(ctx, "apps/a/clusters/c1")
	require.NoError(t, err)
	require.Equal(t, "apps/a/clusters/c1", got.Key, "keys are relative to the prefix")
	require.Equal(t, value, got.Value, "value bytes must round-trip exactly")
	require.Positive(t, got.Revision)
}

func testKVCreateExisting(t *testing.T, kv store.KV) {
	ctx := t.Context()
	require.NoError(t, kv.Create(ctx, "k", []byte("first")))
	require.ErrorIs(t, kv.Create(ctx, "k", []byte("second")), store.ErrExists)
	got, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("first"), got.Value)
}

func testKVGetMissing(t *testing.T, kv store.KV) {
	_, err := kv.Get(t.Context(), "missing")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testKVPut(t *testing.T, kv store.KV) {
	ctx := t.Context()
	require.NoError(t, kv.Put(ctx, "k", []byte("v1")))
	first, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), first.Value)

	require.NoError(t, kv.Put(ctx, "k", []byte("v2")))
	second, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), second.Value)
	require.Greater(t, second.Revision, first.Revision)
}

func testKVUpdate(t *testing.T, kv store.KV) {
	ctx := t.Context()
	require.NoError(t, kv.Create(ctx, "k", []byte("v1")))
	before, err := kv.Get(ctx, "k")
	require.NoError(t, err)

	require.NoError(t, kv.Update(ctx, "k", func(old []byte) ([]byte, error) {
		require.Equal(t, []byte("v1"), old, "fn sees the stored value")
		return []byte("v2"), nil
	}))
	after, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), after.Value)
	require.Greater(t, after.Revision, before.Revision)

	// An error from fn aborts the update and is returned.
	err = kv.Update(ctx, "k", func([]byte) ([]byte, error) { return []byte("v3"), errAbort })
	require.ErrorIs(t, err, errAbort)
	got, err := kv.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), got.Value)
	require.Equal(t, after.Revision, got.Revision)

	called := false
	err = kv.Update(ctx, "missing", func(old []byte) ([]byte, error) {
		called = true
		return old, nil
	})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.False(t, called, "fn must not be called for a missing key")
	_, err = kv.Get(ctx, "missing")
	require.ErrorIs(t, err, store.ErrNotFound, "Update must not create")
}

func testKVConcurrentUpdates(t *testing.T, kv store.KV) {
	const workers, increments = 8, 25
	ctx := t.Context()
	require.NoError(t, kv.Create(ctx, "counter", []byte("0")))

	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				err := kv.Update(ctx, "counter", func(old []byte) ([]byte, error) {
					n, err := strconv.Atoi(string(old))
					if err != nil {
						return nil, err
					}
					return []byte(strconv.Itoa(n + 1)), nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := kv.Get(ctx, "counter")
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(workers*increments), string(got.Value), "no update may be lost")
}

func testKVDelete(t *testing.T, kv store.KV) {
	ctx := t.Context()
	require.NoError(t, kv.Put(ctx, "k", []byte("v")))
	require.NoError(t, kv.Put(ctx, "k2", []byte("v")))
	require.NoError(t, kv.Delete(ctx, "k"))
	_, err := kv.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, kv.Delete(ctx, "k"), store.ErrNotFound)
	_, err = kv.Get(ctx, "k2")
	require.NoError(t, err, "Delete removes only its key, not keys it prefixes")
	// The key can be created again.
	require.NoError(t, kv.Create(ctx, "k", []byte("again")))
}

func kvKeys(kvs []store.KeyValue) []string {
	ks := make([]string, len(kvs))
	for i, kv := range kvs {
		ks[i] = kv.Key
	}
	return ks
}

func testKVList(t *testing.T, kv store.KV) {
	ctx := t.Context()
	for _, k := range []string{"b/2", "a/3", "a/1", "ab", "a/2", "b/1"} {
		require.NoError(t, kv.Put(ctx, k, []byte("value of "+k)))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/1", "a/2", "a/3"}},
		{"a", []string{"a/1", "a/2", "a/3", "ab"}},
		{"b/", []string{"b/1", "b/2"}},
		{"", []string{"a/1", "a/2", "a/3", "ab", "b/1", "b/2"}},
		{"c/", nil},
	}
	for _, tt := range tests {
		got, err := kv.List(ctx, tt.prefix)
		require.NoError(t, err, "list %q", tt.prefix)
		require.Equal(t, tt.want, nilIfEmpty(kvKeys(got)), "list %q", tt.prefix)
		for _, e := range got {
			require.Equal(t, []byte("value of "+e.Key), e.Value)
			require.Positive(t, e.Revision)
		}
	}
}

func testKVDeletePrefix(t *testing.T, kv store.KV) {
	ctx := t.Context()
	for _, k := range []string{"d1/a", "d1/b/c", "d10/a", "d2/a"} {
		require.NoError(t, kv.Put(ctx, k, []byte("v")))
	}
	require.NoError(t, kv.DeletePrefix(ctx, "d1/"))
	got, err := kv.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"d10/a", "d2/a"}, kvKeys(got))

	require.NoError(t, kv.DeletePrefix(ctx, "nothing/"), "deleting an empty prefix is not an error")
	require.NoError(t, kv.DeletePrefix(ctx, ""))
	got, err = kv.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, got)
}

func testKVPing(t *testing.T, kv store.KV) {
	require.NoError(t, kv.Ping(t.Context()))
}

// testKVIsolation checks that two KVs from newKV do not see each other.
func testKVIsolation(t *testing.T, kv1, kv2 store.KV) {
	ctx := t.Context()
	require.NoError(t, kv1.Put(ctx, "shared/key", []byte("one")))
	require.NoError(t, kv2.Put(ctx, "shared/key", []byte("two")))
	require.NoError(t, kv1.Put(ctx, "only/one", []byte("one")))

	got, err := kv1.Get(ctx, "shared/key")
	require.NoError(t, err)
	require.Equal(t, []byte("one"), got.Value)
	got, err = kv2.Get(ctx, "shared/key")
	require.NoError(t, err)
	require.Equal(t, []byte("two"), got.Value)
	_, err = kv2.Get(ctx, "only/one")
	require.ErrorIs(t, err, store.ErrNotFound)

	list, err := kv2.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"shared/key"}, kvKeys(list))

	require.NoError(t, kv2.Create(ctx, "only/one", []byte("two")), "a key of another KV does not exist here")
	require.NoError(t, kv2.DeletePrefix(ctx, ""))
	list, err = kv1.List(ctx, "")
	require.NoError(t, err)
	require.Equal(t, []string{"only/one", "shared/key"}, kvKeys(list), "DeletePrefix on one KV leaves the other alone")
}
