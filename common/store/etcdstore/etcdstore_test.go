package etcdstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store"
	"edgeway.dev/common/store/conformance"
	"edgeway.dev/common/store/etcdstore"
)

// embedded is a client of the embedded etcd shared by the tests of this package.
var embedded *clientv3.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "etcdstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	e, err := devstores.StartEtcd(dir, "127.0.0.1:0", slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Stop()
	embedded, err = devstores.ConnectEtcd(e.Endpoints())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer embedded.Close()
	return m.Run()
}

var prefixes atomic.Int64

// factory returns KVs on cli, each under a fresh prefix below root.
func factory(cli *clientv3.Client, root string) func(t *testing.T) store.KV {
	return func(t *testing.T) store.KV {
		return etcdstore.New(cli, fmt.Sprintf("%s%03d/", root, prefixes.Add(1)))
	}
}

func TestConformanceEmbedded(t *testing.T) {
	conformance.RunKV(t, factory(embedded, "/conformance/"))
}

func TestConformanceExternal(t *testing.T) {
	endpoints := os.Getenv("EDGEWAY_TEST_ETCD_ENDPOINTS")
	if endpoints == "" {
		t.Skip("EDGEWAY_TEST_ETCD_ENDPOINTS is not set")
	}
	cli, err := devstores.ConnectEtcd(strings.Split(endpoints, ","))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	root := "/edgeway-test-" + strings.ToLower(rand.Text()[:8]) + "/"
	t.Cleanup(func() { _, _ = cli.Delete(context.Background(), root, clientv3.WithPrefix()) })
	conformance.RunKV(t, factory(cli, root))
}

// TestPrefixVerbatim documents that the prefix is used as given: the keys
// land at prefix+key in etcd.
func TestPrefixVerbatim(t *testing.T) {
	ctx := t.Context()
	kv := etcdstore.New(embedded, "/verbatim/deployer/")
	require.NoError(t, kv.Put(ctx, "ctx/1", []byte("v")))
	resp, err := embedded.Get(ctx, "/verbatim/deployer/ctx/1")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, []byte("v"), resp.Kvs[0].Value)
}

// TestUnavailable checks that an unreachable cluster is store.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	cli, err := devstores.ConnectEtcd([]string{"http://" + addr})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	kv := etcdstore.New(cli, "/unavailable/")

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = kv.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrUnavailable)
	require.ErrorIs(t, kv.Ping(ctx), store.ErrUnavailable)

	// A caller that gives up is not told the store is unavailable.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	err = etcdstore.New(embedded, "/unavailable/").Put(ctx, "k", nil)
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, store.ErrUnavailable)
}
