package devstores_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store"
	"edgeway.dev/common/store/etcdstore"
	"edgeway.dev/common/store/mongostore"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// TestMongoKeepsDataAcrossRestart writes through mongostore, stops FerretDB,
// starts it again on the same directory (on another port) and reads back.
func TestMongoKeepsDataAcrossRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	want := store.Record{
		Key: "projects/p1", Kind: "project",
		Body: []byte(`{"metadata":{"name":"p1"}}`), File: []byte{0, 1, 2, 0xff},
	}

	withStore := func(fn func(s *mongostore.Store)) {
		t.Helper()
		m, err := devstores.StartMongo(ctx, dir, "127.0.0.1:0", testLogger(t))
		require.NoError(t, err)
		defer m.Stop()
		require.True(t, strings.HasPrefix(m.URI(), "mongodb://127.0.0.1:"), m.URI())
		require.NotEqual(t, "mongodb://127.0.0.1:0/", m.URI())
		cli, err := devstores.Connect(ctx, m.URI())
		require.NoError(t, err)
		defer func() { require.NoError(t, cli.Disconnect(context.Background())) }()
		s, err := mongostore.New(ctx, cli.Database("edgeway"), "orchestrator")
		require.NoError(t, err)
		fn(s)
	}

	withStore(func(s *mongostore.Store) {
		_, err := s.Create(ctx, want)
		require.NoError(t, err)
	})
	withStore(func(s *mongostore.Store) {
		got, err := s.Get(ctx, want.Key)
		require.NoError(t, err)
		require.Equal(t, want.Body, got.Body)
		require.Equal(t, want.File, got.File)
	})
}

// TestEtcdKeepsDataAcrossRestart does the same with etcd and etcdstore.
func TestEtcdKeepsDataAcrossRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()

	withKV := func(fn func(kv *etcdstore.Store)) {
		t.Helper()
		e, err := devstores.StartEtcd(dir, "127.0.0.1:0", testLogger(t))
		require.NoError(t, err)
		defer e.Stop()
		require.Len(t, e.Endpoints(), 1)
		require.True(t, strings.HasPrefix(e.Endpoints()[0], "http://127.0.0.1:"), e.Endpoints())
		cli, err := devstores.ConnectEtcd(e.Endpoints())
		require.NoError(t, err)
		defer func() { require.NoError(t, cli.Close()) }()
		fn(etcdstore.New(cli, "/edgeway/deployer/"))
	}

	withKV(func(kv *etcdstore.Store) {
		require.NoError(t, kv.Create(ctx, "contexts/1", []byte("state")))
	})
	withKV(func(kv *etcdstore.Store) {
		got, err := kv.Get(ctx, "contexts/1")
		require.NoError(t, err)
		require.Equal(t, []byte("state"), got.Value)
	})
}

// TestLoopbackOnly checks that the unauthenticated stores refuse to listen
// on anything but loopback.
func TestLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0", "nonsense"} {
		_, err := devstores.StartMongo(t.Context(), t.TempDir(), addr, nil)
		require.Error(t, err, addr)
		_, err = devstores.StartEtcd(t.TempDir(), addr, nil)
		require.Error(t, err, addr)
	}
}

func TestConnectUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := devstores.Connect(ctx, "mongodb://127.0.0.1:1/")
	require.ErrorIs(t, err, store.ErrUnavailable)
}
