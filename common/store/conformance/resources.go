package conformance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/store"
)

// RunResources runs the store.Resources contract against stores made by
// newStore, which must return an isolated, empty store on every call.
func RunResources(t *testing.T, newStore func(t *testing.T) store.Resources) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Resources)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateExisting", testCreateExisting},
		{"CreateUnderMissingParent", testCreateUnderMissingParent},
		{"GetMissing", testGetMissing},
		{"List", testList},
		{"Update", testUpdate},
		{"UpdateFnError", testUpdateFnError},
		{"UpdateMissing", testUpdateMissing},
		{"UpdateCannotMove", testUpdateCannotMove},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"DeleteWithChildren", testDeleteWithChildren},
		{"DeleteReferenced", testDeleteReferenced},
		{"ReferencedBy", testReferencedBy},
		{"DeleteMissing", testDeleteMissing},
		{"CreateChildRacesDeleteParent", testCreateChildRacesDeleteParent},
		{"Ping", testPing},
		{"CanceledContext", testCanceledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t))
		})
	}
}

// rec builds a record with a small JSON body naming it.
func rec(key, parent, kind string, refs ...string) store.Record {
	return store.Record{
		Key:    key,
		Parent: parent,
		Kind:   kind,
		Refs:   refs,
		Body:   []byte(`{"metadata":{"name":` + strconv.Quote(key) + `}}`),
	}
}

func mustCreate(t *testing.T, s store.Resources, r store.Record) store.Record {
	t.Helper()
	got, err := s.Create(t.Context(), r)
	require.NoError(t, err, "create %q", r.Key)
	return got
}

func keys(recs []store.Record) []string {
	ks := make([]string, len(recs))
	for i, r := range recs {
		ks[i] = r.Key
	}
	return ks
}

func testCreateGetRoundTrip(t *testing.T, s store.Resources) {
	ctx := t.Context()
	file := []byte{0x1f, 0x8b, 0x00, 0xff, 0xfe, 'c', 'h', 'a', 'r', 't', 0x00}
	in := store.Record{
		Key:  "projects/p1",
		Kind: "project",
		Refs: []string{"secrets:projects/p1/kek", "projects/p0"},
		Body: []byte(`{"metadata":{"name":"p1","description":"ünïcødé \"quoted\" \\ <tag>"},"spec":{"n":[1,2.5,null,true]}}`),
		File: file,
	}
	created, err := s.Create(ctx, in)
	require.NoError(t, err)
	require.Positive(t, created.Version)
	require.Equal(t, in.Key, created.Key)

	got, err := s.Get(ctx, in.Key)
	require.NoError(t, err)
	require.Equal(t, in.Key, got.Key)
	require.Empty(t, got.Parent)
	require.Equal(t, in.Kind, got.Kind)
	require.Equal(t, in.Refs, got.Refs)
	require.Equal(t, in.Body, got.Body, "body bytes must round-trip exactly")
	require.Equal(t, file, got.File, "file bytes must round-trip exactly")
	require.Equal(t, created.Version, got.Version)

	child := rec("projects/p1/composite-apps/shop/v1", "projects/p1", "composite-app")
	_, err = s.Create(ctx, child)
	require.NoError(t, err)
	got, err = s.Get(ctx, child.Key)
	require.NoError(t, err)
	require.Equal(t, child.Parent, got.Parent)
	require.Equal(t, child.Body, got.Body)
	require.Empty(t, got.File)
	require.Empty(t, got.Refs)
}

func testCreateExisting(t *testing.T, s store.Resources) {
	first := mustCreate(t, s, rec("projects/p1", "", "project"))
	dup := rec("projects/p1", "", "project")
	dup.Body = []byte(`{"other":true}`)
	_, err := s.Create(t.Context(), dup)
	require.ErrorIs(t, err, store.ErrExists)

	got, err := s.Get(t.Context(), "projects/p1")
	require.NoError(t, err)
	require.Equal(t, first.Body, got.Body, "a refused create must not overwrite")
	require.Equal(t, first.Version, got.Version)
}

func testCreateUnderMissingParent(t *testing.T, s store.Resources) {
	_, err := s.Create(t.Context(), rec("projects/nope/apps/a", "projects/nope", "app"))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Get(t.Context(), "projects/nope/apps/a")
	require.ErrorIs(t, err, store.ErrNotFound, "a refused create must leave nothing behind")
}

func testGetMissing(t *testing.T, s store.Resources) {
	_, err := s.Get(t.Context(), "projects/missing")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testList(t *testing.T, s store.Resources) {
	ctx := t.Context()
	mustCreate(t, s, rec("projects/p2", "", "project"))
	mustCreate(t, s, rec("projects/p1", "", "project"))
	for _, k := range []string{"c", "a", "b"} {
		mustCreate(t, s, rec("projects/p1/apps/"+k, "projects/p1", "app"))
	}
	mustCreate(t, s, rec("projects/p1/profiles/a", "projects/p1", "profile"))
	mustCreate(t, s, rec("projects/p2/apps/a", "projects/p2", "app"))
	mustCreate(t, s, rec("projects/p1/apps/a/x/z", "projects/p1/apps/a", "app"))

	tests := []struct {
		parent, kind string
		want         []string
	}{
		{"projects/p1", "app", []string{"projects/p1/apps/a", "projects/p1/apps/b", "projects/p1/apps/c"}},
		{"projects/p1", "profile", []string{"projects/p1/profiles/a"}},
		{"projects/p2", "app", []string{"projects/p2/apps/a"}},
		{"", "project", []string{"projects/p1", "projects/p2"}},
		{"projects/p3", "app", nil},
		{"projects/p1", "nothing", nil},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, tt.parent, tt.kind)
		require.NoError(t, err, "list %q %q", tt.parent, tt.kind)
		require.Equal(t, tt.want, nilIfEmpty(keys(got)), "list %q %q", tt.parent, tt.kind)
		for _, r := range got {
			require.Equal(t, tt.parent, r.Parent)
			require.Equal(t, tt.kind, r.Kind)
			require.NotEmpty(t, r.Body)
			require.Positive(t, r.Version)
		}
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func testUpdate(t *testing.T, s store.Resources) {
	ctx := t.Context()
	created := mustCreate(t, s, rec("projects/p1", "", "project"))

	var seen store.Record
	updated, err := s.Update(ctx, "projects/p1", func(old store.Record) (store.Record, error) {
		seen = old
		old.Body = []byte(`{"v":2}`)
		old.Refs = []string{"projects/p0"}
		old.File = []byte{0, 1, 2}
		return old, nil
	})
	require.NoError(t, err)
	require.Equal(t, created.Body, seen.Body, "fn sees the stored record")
	require.Equal(t, created.Version, seen.Version)
	require.Greater(t, updated.Version, created.Version)
	require.Equal(t, []byte(`{"v":2}`), updated.Body)

	got, err := s.Get(ctx, "projects/p1")
	require.NoError(t, err)
	require.Equal(t, []byte(`{"v":2}`), got.Body)
	require.Equal(t, []string{"projects/p0"}, got.Refs)
	require.Equal(t, []byte{0, 1, 2}, got.File)
	require.Equal(t, updated.Version, got.Version)

	// A second update sees the first one, and can drop the file and refs.
	updated2, err := s.Update(ctx, "projects/p1", func(old store.Record) (store.Record, error) {
		require.Equal(t, []byte(`{"v":2}`), old.Body)
		old.Body = []byte(`{"v":3}`)
		old.Refs = nil
		old.File = nil
		return old, nil
	})
	require.NoError(t, err)
	require.Greater(t, updated2.Version, updated.Version)
	got, err = s.Get(ctx, "projects/p1")
	require.NoError(t, err)
	require.Equal(t, []byte(`{"v":3}`), got.Body)
	require.Empty(t, got.Refs)
	require.Empty(t, got.File)
}

var errAbort = errors.New("conformance: fn refuses")

func testUpdateFnError(t *testing.T, s store.Resources) {
	created := mustCreate(t, s, rec("projects/p1", "", "project"))
	_, err := s.Update(t.Context(), "projects/p1", func(old store.Record) (store.Record, error) {
		old.Body = []byte(`{"never":"written"}`)
		return old, errAbort
	})
	require.ErrorIs(t, err, errAbort)
	got, err := s.Get(t.Context(), "projects/p1")
	require.NoError(t, err)
	require.Equal(t, created.Body, got.Body)
	require.Equal(t, created.Version, got.Version)
}

func testUpdateMissing(t *testing.T, s store.Resources) {
	called := false
	_, err := s.Update(t.Context(), "projects/missing", func(old store.Record) (store.Record, error) {
		called = true
		return old, nil
	})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.False(t, called, "fn must not be called for a missing record")
}

func testUpdateCannotMove(t *testing.T, s store.Resources) {
	mustCreate(t, s, rec("projects/p1", "", "project"))
	created := mustCreate(t, s, rec("projects/p1/apps/a", "projects/p1", "app"))
	for name, change := range map[string]func(*store.Record){
		"key":    func(r *store.Record) { r.Key = "projects/p1/apps/b" },
		"parent": func(r *store.Record) { r.Parent = "" },
		"kind":   func(r *store.Record) { r.Kind = "profile" },
	} {
		_, err := s.Update(t.Context(), created.Key, func(old store.Record) (store.Record, error) {
			change(&old)
			return old, nil
		})
		require.Error(t, err, "changing the %s", name)
	}
	got, err := s.Get(t.Context(), created.Key)
	require.NoError(t, err)
	require.Equal(t, created.Version, got.Version)
	_, err = s.Get(t.Context(), "projects/p1/apps/b")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testConcurrentUpdates(t *testing.T, s store.Resources) {
	const workers, increments = 8, 25
	ctx := t.Context()
	counter := rec("counters/c", "", "counter")
	counter.Body = []byte("0")
	created := mustCreate(t, s, counter)

	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				_, err := s.Update(ctx, counter.Key, func(old store.Record) (store.Record, error) {
					n, err := strconv.Atoi(string(old.Body))
					if err != nil {
						return old, err
					}
					old.Body = []byte(strconv.Itoa(n + 1))
					return old, nil
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

	got, err := s.Get(ctx, counter.Key)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(workers*increments), string(got.Body), "no update may be lost")
	require.GreaterOrEqual(t, got.Version, created.Version+workers*increments)
}

func testDeleteWithChildren(t *testing.T, s store.Resources) {
	ctx := t.Context()
	mustCreate(t, s, rec("projects/p1", "", "project"))
	mustCreate(t, s, rec("projects/p1/apps/a", "projects/p1", "app"))

	require.ErrorIs(t, s.Delete(ctx, "projects/p1"), store.ErrHasChildren)
	_, err := s.Get(ctx, "projects/p1")
	require.NoError(t, err, "a refused delete keeps the object")
	// ... and leaves it usable: as a parent, and for updates.
	mustCreate(t, s, rec("projects/p1/apps/b", "projects/p1", "app"))
	_, err = s.Update(ctx, "projects/p1", func(r store.Record) (store.Record, error) { return r, nil })
	require.NoError(t, err)

	require.NoError(t, s.Delete(ctx, "projects/p1/apps/a"))
	require.ErrorIs(t, s.Delete(ctx, "projects/p1"), store.ErrHasChildren)
	require.NoError(t, s.Delete(ctx, "projects/p1/apps/b"))
	require.NoError(t, s.Delete(ctx, "projects/p1"))
	_, err = s.Get(ctx, "projects/p1")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testDeleteReferenced(t *testing.T, s store.Resources) {
	ctx := t.Context()
	mustCreate(t, s, rec("clusters/c1", "", "cluster"))
	mustCreate(t, s, rec("projects/p1", "", "project", "clusters/c1"))

	require.ErrorIs(t, s.Delete(ctx, "clusters/c1"), store.ErrReferenced)
	_, err := s.Get(ctx, "clusters/c1")
	require.NoError(t, err, "a refused delete keeps the object")

	// Dropping the reference allows the delete.
	_, err = s.Update(ctx, "projects/p1", func(r store.Record) (store.Record, error) {
		r.Refs = nil
		return r, nil
	})
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, "clusters/c1"))
	// The referrer itself was never blocked.
	require.NoError(t, s.Delete(ctx, "projects/p1"))
}

func testReferencedBy(t *testing.T, s store.Resources) {
	ctx := t.Context()
	mustCreate(t, s, rec("clusters/c1", "", "cluster"))
	mustCreate(t, s, rec("projects/p2", "", "project", "clusters/c1", "clusters/c2"))
	mustCreate(t, s, rec("projects/p1", "", "project", "clusters/c2", "clusters/c1"))
	mustCreate(t, s, rec("projects/p3", "", "project", "clusters/c2"))
	mustCreate(t, s, rec("projects/p0", "", "project"))

	got, err := s.ReferencedBy(ctx, "clusters/c1")
	require.NoError(t, err)
	require.Equal(t, []string{"projects/p1", "projects/p2"}, keys(got))
	require.Equal(t, []string{"clusters/c2", "clusters/c1"}, got[0].Refs)

	got, err = s.ReferencedBy(ctx, "clusters/c2")
	require.NoError(t, err)
	require.Equal(t, []string{"projects/p1", "projects/p2", "projects/p3"}, keys(got))

	got, err = s.ReferencedBy(ctx, "clusters/c9")
	require.NoError(t, err)
	require.Empty(t, got)
}

func testDeleteMissing(t *testing.T, s store.Resources) {
	ctx := t.Context()
	require.ErrorIs(t, s.Delete(ctx, "projects/missing"), store.ErrNotFound)
	mustCreate(t, s, rec("projects/p1", "", "project"))
	require.NoError(t, s.Delete(ctx, "projects/p1"))
	require.ErrorIs(t, s.Delete(ctx, "projects/p1"), store.ErrNotFound)
}

// testCreateChildRacesDeleteParent checks that a create under a parent and a
// delete of that parent, run at the same time, never leave an orphan.
func testCreateChildRacesDeleteParent(t *testing.T, s store.Resources) {
	const rounds = 30
	ctx := t.Context()
	outcomes := map[string]int{}
	for i := range rounds {
		parent := fmt.Sprintf("projects/race-%02d", i)
		child := parent + "/apps/a"
		mustCreate(t, s, rec(parent, "", "project"))

		var createErr, deleteErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			_, createErr = s.Create(ctx, rec(child, parent, "app"))
		})
		wg.Go(func() {
			<-start
			deleteErr = s.Delete(ctx, parent)
		})
		close(start)
		wg.Wait()

		if createErr != nil {
			require.ErrorIs(t, createErr, store.ErrNotFound, "round %d", i)
		}
		if deleteErr != nil {
			require.ErrorIs(t, deleteErr, store.ErrHasChildren, "round %d", i)
		}
		require.False(t, createErr == nil && deleteErr == nil, "round %d: both the create and the delete succeeded", i)

		_, parentErr := s.Get(ctx, parent)
		_, childErr := s.Get(ctx, child)
		if errors.Is(parentErr, store.ErrNotFound) {
			require.ErrorIs(t, childErr, store.ErrNotFound, "round %d: orphan %q", i, child)
		} else {
			require.NoError(t, parentErr)
		}
		if childErr == nil {
			require.NoError(t, createErr, "round %d: child exists although its create failed", i)
			require.NoError(t, s.Delete(ctx, child))
		} else {
			require.ErrorIs(t, childErr, store.ErrNotFound)
		}
		if parentErr == nil {
			require.NoError(t, s.Delete(ctx, parent), "round %d: the parent must be deletable afterwards", i)
		}
		outcomes[fmt.Sprintf("create=%v delete=%v", createErr == nil, deleteErr == nil)]++
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
}

func testPing(t *testing.T, s store.Resources) {
	require.NoError(t, s.Ping(t.Context()))
}

func testCanceledContext(t *testing.T, s store.Resources) {
	mustCreate(t, s, rec("projects/p1", "", "project"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Get(ctx, "projects/p1")
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Create(ctx, rec("projects/p2", "", "project"))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Get(t.Context(), "projects/p2")
	require.ErrorIs(t, err, store.ErrNotFound)
}
