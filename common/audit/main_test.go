package audit

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"edgeway.dev/common/devstores"
)

// ferret is the embedded FerretDB shared by the tests; uri is its address.
var (
	ferret *mongo.Client
	uri    string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "audit-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	fdb, err := devstores.StartMongo(ctx, dir, "127.0.0.1:0", log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer fdb.Stop()
	uri = fdb.URI()
	ferret, err = devstores.Connect(ctx, uri)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = ferret.Disconnect(context.Background()) }()
	return m.Run()
}

var streams atomic.Int64

// env is one test's audit stream: a fresh service name, its directories.
type env struct {
	db      *mongo.Database
	service string
	cpDir   string
	keyDir  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	return &env{
		db:      ferret.Database("audit"),
		service: fmt.Sprintf("svc%03d", streams.Add(1)),
		cpDir:   filepath.Join(dir, "audit"),
		keyDir:  filepath.Join(dir, "keys"),
	}
}

func (e *env) opts(every int) Options {
	return Options{CheckpointDir: e.cpDir, KeyDir: e.keyDir, Every: every, Interval: time.Hour,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
}

func (e *env) open(t testing.TB, every int) *Log {
	t.Helper()
	l, err := Open(t.Context(), e.db, e.service, e.opts(every))
	require.NoError(t, err)
	return l
}

func (e *env) cpFile() string  { return CheckpointFile(e.cpDir, e.service) }
func (e *env) pubFile() string { return filepath.Join(e.keyDir, PublicKeyFile) }
func (e *env) coll() *mongo.Collection {
	return e.db.Collection(CollectionName(e.service))
}

func (e *env) verify(t testing.TB) Report {
	t.Helper()
	rep, err := Verify(t.Context(), e.db, e.service, e.cpFile(), e.pubFile())
	require.NoError(t, err)
	return rep
}

// appendN appends n records with distinct subjects.
func appendN(t testing.TB, l *Log, n int) {
	t.Helper()
	for i := range n {
		require.NoError(t, l.Append(t.Context(), Record{
			Subject: fmt.Sprintf("user%d", i), Project: "p1", Method: "POST",
			Path: "/v2/projects/p1/apps", Outcome: OutcomeAttempt, RequestID: fmt.Sprintf("req%d", i),
		}))
	}
}
