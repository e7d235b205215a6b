package secrets

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/services/secrets/reencrypt"
)

// records stands in for an owner's collection of sealed values, with a
// compare-and-swap rewrite.
type records struct {
	mu       sync.Mutex
	keys     []string
	aad      map[string]string
	ct       map[string][]byte
	rewrites map[string]int
}

func newRecords(t *testing.T, e *env, n int) *records {
	r := &records{aad: map[string]string{}, ct: map[string][]byte{}, rewrites: map[string]int{}}
	for i := range n {
		k := fmt.Sprintf("cluster-providers/p/clusters/c%04d", i)
		r.keys = append(r.keys, k)
		r.aad[k] = "clusterregistry/" + k + "#kubeconfig"
		r.ct[k] = e.seal(t, fmt.Appendf(nil, "%s-%d", canary, i), r.aad[k])
	}
	return r
}

// items reads the records one at a time, as a database cursor would.
func (r *records) items() iter.Seq2[reencrypt.Item, error] {
	return func(yield func(reencrypt.Item, error) bool) {
		for _, k := range r.keys {
			r.mu.Lock()
			it := reencrypt.Item{Key: k, AssociatedData: r.aad[k], Ciphertext: slices.Clone(r.ct[k])}
			r.mu.Unlock()
			if !yield(it, nil) {
				return
			}
		}
	}
}

func (r *records) rewrite(_ context.Context, it reencrypt.Item, ct []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.ct[it.Key], it.Ciphertext) {
		return nil // changed since read: leave it
	}
	r.ct[it.Key] = ct
	r.rewrites[it.Key]++
	return nil
}

func (r *records) onKey(t *testing.T, id uint32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ct := range r.ct {
		if keyIDOf(t, ct) == id {
			n++
		}
	}
	return n
}

// countingKeys counts Rewrap calls.
type countingKeys struct {
	secretsv1.KeysClient
	rewraps atomic.Int64
}

func (c *countingKeys) Rewrap(ctx context.Context, in *secretsv1.RewrapRequest, opts ...grpc.CallOption) (*secretsv1.RewrapResponse, error) {
	c.rewraps.Add(1)
	return c.KeysClient.Rewrap(ctx, in, opts...)
}

func rotateAndWait(t *testing.T, e *env) uint32 {
	t.Helper()
	id, err := Rotate(context.Background(), e.cfg)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return e.svc.Primary() == id }, 5*time.Second, 10*time.Millisecond)
	return id
}

// TestReencryptResumable: 1,000 values move to the new primary key; a job
// cancelled halfway and run again redoes nothing, and a third run finds
// nothing to do.
func TestReencryptResumable(t *testing.T) {
	t.Parallel()
	const n = 1000
	e := newEnv(t, devConfig(t))
	old := e.svc.Primary()
	recs := newRecords(t, e, n)
	require.Equal(t, n, recs.onKey(t, old))
	primary := rotateAndWait(t, e)
	client := &countingKeys{KeysClient: e.keys}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	job := &reencrypt.Job{Keys: client, Items: recs.items(), Total: n, Rewrite: recs.rewrite,
		Progress: func(done, total int) {
			require.Equal(t, n, total)
			if done == n/2 {
				cancel()
			}
		}}
	st, err := job.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, reencrypt.Stats{Done: n / 2, Rewrapped: n / 2}, st)
	require.Equal(t, n/2, recs.onKey(t, old), "half left on the old key")

	job.Progress = nil
	st, err = job.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, reencrypt.Stats{Done: n, Rewrapped: n / 2, Skipped: n / 2}, st)
	require.Equal(t, 0, recs.onKey(t, old), "0 values left on the old key")
	require.Equal(t, n, recs.onKey(t, primary))
	require.EqualValues(t, n, client.rewraps.Load(), "each value rewrapped once over both runs")
	require.Len(t, recs.rewrites, n)
	for k, c := range recs.rewrites {
		require.Equal(t, 1, c, "rewritten twice: %s", k)
	}

	st, err = reencrypt.Run(context.Background(), client, collect(t, recs.items()), recs.rewrite, nil)
	require.NoError(t, err)
	require.Equal(t, reencrypt.Stats{Done: n, Skipped: n}, st, "nothing left to do")
	require.EqualValues(t, n, client.rewraps.Load(), "no call for values on the primary key")

	// Everything still unseals to its plaintext, old key retired.
	require.NoError(t, Retire(context.Background(), e.cfg, old))
	require.Eventually(t, func() bool { return len(e.svc.ring.get(context.Background()).infos) == 1 }, 5*time.Second, 10*time.Millisecond)
	for i, k := range recs.keys {
		got, err := e.unseal(recs.ct[k], recs.aad[k])
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("%s-%d", canary, i), string(got))
	}
	require.NotContains(t, e.logs.String(), canary)
}

// TestReencryptThenRetire: values not rewrapped before the old key is
// retired fail with an error (never plaintext, never the stored bytes);
// the job reports them and goes on.
func TestReencryptThenRetire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, devConfig(t))
	old := e.svc.Primary()
	recs := newRecords(t, e, 20)
	primary := rotateAndWait(t, e)

	half := collect(t, recs.items())[:10]
	st, err := reencrypt.Run(ctx, e.keys, half, recs.rewrite, nil)
	require.NoError(t, err)
	require.Equal(t, 10, st.Rewrapped)
	require.NoError(t, Retire(ctx, e.cfg, old))
	require.Eventually(t, func() bool { return len(e.svc.ring.get(ctx).infos) == 1 }, 5*time.Second, 10*time.Millisecond)

	for i, k := range recs.keys {
		if i < 10 {
			require.Equal(t, primary, keyIDOf(t, recs.ct[k]))
			got, err := e.unseal(recs.ct[k], recs.aad[k])
			require.NoError(t, err)
			require.Equal(t, fmt.Sprintf("%s-%d", canary, i), string(got))
			continue
		}
		requireRefused(t, e, recs.ct[k], recs.aad[k], "value left on the retired key")
	}

	st, err = reencrypt.Run(ctx, e.keys, collect(t, recs.items()), recs.rewrite, nil)
	require.ErrorIs(t, err, reencrypt.ErrUnsealable)
	require.Equal(t, 20, st.Done)
	require.Equal(t, 10, st.Skipped)
	require.Equal(t, recs.keys[10:], st.Failed)
	require.NotContains(t, e.logs.String(), canary)
}

// TestReencryptStopsOnOtherErrors: an unreachable service or a failing
// rewrite stops the job; a failing item source too.
func TestReencryptStopsOnOtherErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, devConfig(t))
	recs := newRecords(t, e, 3)
	rotateAndWait(t, e)

	boom := errors.New("store unavailable")
	_, err := reencrypt.Run(ctx, e.keys, collect(t, recs.items()), func(context.Context, reencrypt.Item, []byte) error { return boom }, nil)
	require.ErrorIs(t, err, boom)

	items := func(yield func(reencrypt.Item, error) bool) { yield(reencrypt.Item{}, boom) }
	_, err = (&reencrypt.Job{Keys: e.keys, Items: items, Rewrite: recs.rewrite}).Run(ctx)
	require.ErrorIs(t, err, boom)

	_, err = (&reencrypt.Job{Keys: e.keys}).Run(ctx)
	require.Error(t, err)
}

func collect(t *testing.T, seq iter.Seq2[reencrypt.Item, error]) []reencrypt.Item {
	var out []reencrypt.Item
	for it, err := range seq {
		require.NoError(t, err)
		out = append(out, it)
	}
	return out
}
