package devstores

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// startTimeout bounds how long StartMongo waits for FerretDB to answer when
// ctx has no earlier deadline.
const startTimeout = 60 * time.Second

// Mongo is an in-process FerretDB serving the MongoDB wire protocol on
// loopback, with its data in SQLite files (one per database) in a directory.
type Mongo struct {
	uri      string
	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// StartMongo runs FerretDB with its data in dir (created if missing),
// listening on listenAddr, a loopback "host:port" (port 0 picks a free one),
// and returns once it answers a ping (ctx bounds that wait, 60 s at most; it
// does not bound FerretDB's life, Stop does). FerretDB logs to log at warning level
// and above, less the wire dumps of failed commands; log may be nil.
//
// Clients should disconnect before Stop: FerretDB gives connected clients up
// to 3 seconds to leave before it closes their connections.
func StartMongo(ctx context.Context, dir, listenAddr string, log *slog.Logger) (*Mongo, error) {
	if _, _, err := splitLoopback(listenAddr); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("devstores: mongo data directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("devstores: mongo data directory: %w", err)
	}
	log = orDiscard(log).With(slog.String("component", "ferretdb"))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:    slog.New(newFerretLogs(log.Handler())),
		Handler:   "sqlite",
		SQLiteURL: (&url.URL{Scheme: "file", Path: abs + "/"}).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("devstores: start FerretDB: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	m := &Mongo{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		if err := f.Run(runCtx); err != nil {
			log.Error("FerretDB stopped", slog.Any("error", err))
		}
	}()

	// The listener is open once New returns, so the real address (port 0
	// replaced) is known.
	m.uri = f.MongoDBURI()

	if err := m.waitReady(ctx); err != nil {
		m.Stop()
		return nil, err
	}
	log.Debug("FerretDB ready", slog.String("uri", m.uri), slog.String("dir", abs))
	return m, nil
}

// waitReady pings FerretDB until it answers, it exits, or ctx ends.
func (m *Mongo) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	cli, err := mongo.Connect(clientOptions(m.uri))
	if err != nil {
		return fmt.Errorf("devstores: FerretDB client: %w", err)
	}
	defer func() { _ = cli.Disconnect(context.WithoutCancel(ctx)) }()

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := cli.Ping(pctx, nil)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-m.done:
			return fmt.Errorf("devstores: FerretDB exited during start: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("devstores: FerretDB does not answer: %w", err)
		case <-tick.C:
		}
	}
}

// URI returns the connection string, e.g. "mongodb://127.0.0.1:27017/".
func (m *Mongo) URI() string { return m.uri }

// Stop stops FerretDB and waits until it has closed its connections and files.
// It may be called more than once.
func (m *Mongo) Stop() {
	m.stopOnce.Do(func() {
		m.cancel()
		<-m.done
	})
}
