package mongostore_test

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
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store"
	"edgeway.dev/common/store/conformance"
	"edgeway.dev/common/store/mongostore"
)

// ferret is the embedded FerretDB shared by the tests of this package.
var ferret *mongo.Client

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mongostore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fdb, err := devstores.StartMongo(ctx, dir, "127.0.0.1:0", log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fdb.Stop()
	ferret, err = devstores.Connect(ctx, fdb.URI())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = ferret.Disconnect(context.Background()) }()
	return m.Run()
}

var collections atomic.Int64

// newStore returns a Store on a fresh collection of db.
func newStore(t *testing.T, db *mongo.Database) *mongostore.Store {
	t.Helper()
	s, err := mongostore.New(t.Context(), db, fmt.Sprintf("c%03d", collections.Add(1)))
	require.NoError(t, err)
	return s
}

func TestConformanceFerretDB(t *testing.T) {
	db := ferret.Database("conformance")
	conformance.RunResources(t, func(t *testing.T) store.Resources { return newStore(t, db) })
}

func TestConformanceMongoDB(t *testing.T) {
	uri := os.Getenv("EDGEWAY_TEST_MONGO_URI")
	if uri == "" {
		t.Skip("EDGEWAY_TEST_MONGO_URI is not set")
	}
	cli, err := devstores.Connect(t.Context(), uri)
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Disconnect(context.Background()) })
	db := cli.Database("edgeway_test_" + strings.ToLower(rand.Text()[:8]))
	t.Cleanup(func() { _ = db.Drop(context.Background()) })
	conformance.RunResources(t, func(t *testing.T) store.Resources { return newStore(t, db) })
}

// TestNewTwice opens a Store twice on one collection, as every restart does.
func TestNewTwice(t *testing.T) {
	db := ferret.Database("twice")
	for range 2 {
		s, err := mongostore.New(t.Context(), db, "resources")
		require.NoError(t, err)
		require.NoError(t, s.Ping(t.Context()))
	}
}

// TestDocumentShape checks the stored form: string _id, JSON body as a
// string, file as binary, version as int64.
func TestDocumentShape(t *testing.T) {
	ctx := t.Context()
	db := ferret.Database("shape")
	s := newStore(t, db)
	_, err := s.Create(ctx, store.Record{
		Key: "projects/p1", Kind: "project", Refs: []string{"x"},
		Body: []byte(`{"a":1}`), File: []byte{0, 1},
	})
	require.NoError(t, err)

	coll := db.Collection(fmt.Sprintf("c%03d", collections.Load()))
	var raw bson.Raw
	require.NoError(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: "projects/p1"}}).Decode(&raw))
	require.Equal(t, bson.TypeString, raw.Lookup("_id").Type)
	require.Equal(t, `{"a":1}`, raw.Lookup("body").StringValue())
	_, file := raw.Lookup("file").Binary()
	require.Equal(t, []byte{0, 1}, file)
	require.Equal(t, int64(1), raw.Lookup("version").Int64())
	require.Equal(t, "project", raw.Lookup("kind").StringValue())
	require.Empty(t, raw.Lookup("deleting").Value, "no delete mark at rest")

	_, err = s.Create(ctx, store.Record{Key: "projects/p2", Kind: "project", Body: []byte{0xff}})
	require.Error(t, err, "a body that is not UTF-8 text is refused")
}

// TestDeleteMarks plays another process's Delete by writing the mark
// directly: a live mark blocks Create under the object and other Deletes, an
// expired one (left by a crashed process) does not.
func TestDeleteMarks(t *testing.T) {
	ctx := t.Context()
	db := ferret.Database("marks")
	s := newStore(t, db)
	coll := db.Collection(fmt.Sprintf("c%03d", collections.Load()))
	_, err := s.Create(ctx, store.Record{Key: "projects/p1", Kind: "project"})
	require.NoError(t, err)

	mark := func(until time.Time) {
		t.Helper()
		_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "projects/p1"}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "deleting", Value: "other-process"},
				{Key: "deletingUntil", Value: bson.NewDateTimeFromTime(until)},
			}}})
		require.NoError(t, err)
	}

	mark(time.Now().Add(time.Minute))
	_, err = s.Create(ctx, store.Record{Key: "projects/p1/apps/a", Parent: "projects/p1", Kind: "app"})
	require.ErrorIs(t, err, store.ErrNotFound, "no create under an object being deleted")
	require.ErrorIs(t, s.Delete(ctx, "projects/p1"), store.ErrConflict)
	_, err = s.Get(ctx, "projects/p1")
	require.NoError(t, err, "the object stays readable while marked")
	_, err = s.Update(ctx, "projects/p1", func(r store.Record) (store.Record, error) { return r, nil })
	require.NoError(t, err, "and updatable")

	mark(time.Now().Add(-time.Second))
	_, err = s.Create(ctx, store.Record{Key: "projects/p1/apps/a", Parent: "projects/p1", Kind: "app"})
	require.NoError(t, err, "an expired mark does not block")
	require.ErrorIs(t, s.Delete(ctx, "projects/p1"), store.ErrHasChildren)
	var raw bson.Raw
	require.NoError(t, coll.FindOne(ctx, bson.D{{Key: "_id", Value: "projects/p1"}}).Decode(&raw))
	require.Empty(t, raw.Lookup("deleting").Value, "a refused Delete clears its mark")
	require.NoError(t, s.Delete(ctx, "projects/p1/apps/a"))
	require.NoError(t, s.Delete(ctx, "projects/p1"))
}

// TestUnavailable checks that an unreachable server is store.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	cli, err := mongo.Connect(options.Client().
		ApplyURI("mongodb://" + addr + "/").
		SetServerSelectionTimeout(200 * time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Disconnect(context.Background()) })

	_, err = mongostore.New(t.Context(), cli.Database("x"), "c")
	require.ErrorIs(t, err, store.ErrUnavailable)

	s, err := mongostore.New(t.Context(), ferret.Database("unavailable"), "c")
	require.NoError(t, err)
	require.NoError(t, s.Ping(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err = s.Get(ctx, "k")
	require.ErrorIs(t, err, store.ErrUnavailable, "an expired deadline counts as unavailable")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
