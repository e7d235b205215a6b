package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"edgeway.dev/common/store"
)

// Defaults of Options.
const (
	DefaultEvery    = 100
	DefaultInterval = 10 * time.Second
)

// maxAppendTries bounds the retries of an append that keeps losing its
// sequence number to other writers.
const maxAppendTries = 16

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: log closed")

// Options configure a Log.
type Options struct {
	// CheckpointDir holds checkpoints-<service>.jsonl (<data-dir>/audit in
	// dev). Required unless Sink is set.
	CheckpointDir string
	// KeyDir holds the checkpoint signing key (audit-ed25519.key, created on
	// first use) and its public half. Required.
	KeyDir string
	// Every is the number of records between checkpoints (default 100).
	Every int
	// Interval is the longest time a new record waits for a checkpoint
	// (default 10 s).
	Interval time.Duration
	// Log receives the package's own errors and warnings; nil discards them.
	Log *slog.Logger
	// Sink, if set, replaces the checkpoint file (e.g. a WORM store in
	// production). The Log closes it.
	Sink Sink
}

// Log appends records to one service's audit stream.
type Log struct {
	service string
	coll    *mongo.Collection
	key     ed25519.PrivateKey
	sink    Sink
	every   int64
	log     *slog.Logger

	// sem serializes appends, checkpoints and Close. A channel rather than a
	// mutex so that waiting for it respects the caller's context.
	sem chan struct{}
	// Guarded by sem:
	head   int64  // sequence number of the last record
	hash   string // its hash
	cpSeq  int64  // sequence number of the last checkpoint written
	closed bool

	stop     chan struct{} // closed by Close: ends the ticker goroutine
	done     chan struct{} // closed when the ticker goroutine has ended
	stopOnce sync.Once
}

var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// CollectionName returns the audit collection of service.
func CollectionName(service string) string { return "audit_" + service }

// Open opens the audit stream of service in db: collection audit_<service>.
// It loads the signing key (creating it on first use) and the head of the
// stream, and starts the interval checkpoints. service must match
// [a-z0-9][a-z0-9_-]{0,62}, since it names a collection and a file.
func Open(ctx context.Context, db *mongo.Database, service string, opts Options) (*Log, error) {
	if !serviceName.MatchString(service) {
		return nil, fmt.Errorf("audit: invalid service name %q", service)
	}
	if opts.Every <= 0 {
		opts.Every = DefaultEvery
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Sink == nil && opts.CheckpointDir == "" {
		return nil, errors.New("audit: no checkpoint directory")
	}
	key, err := LoadOrCreateKey(opts.KeyDir)
	if err != nil {
		return nil, err
	}
	l := &Log{
		service: service,
		coll:    db.Collection(CollectionName(service)),
		key:     key,
		every:   int64(opts.Every),
		log:     opts.Log.With(slog.String("component", "audit"), slog.String("stream", service)),
		sem:     make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := l.loadHead(ctx); err != nil {
		return nil, err
	}
	// Whatever is in the stream already was written (and checkpointed, or
	// not) by an earlier process; the next checkpoint covers it.
	l.cpSeq = l.head
	l.sink = opts.Sink
	if l.sink == nil {
		if l.sink, err = NewFileSink(opts.CheckpointDir, service); err != nil {
			return nil, err
		}
	}
	go l.tick(opts.Interval)
	return l, nil
}

// Service returns the stream's service name.
func (l *Log) Service() string { return l.service }

// loadHead reads the last record of the stream. FerretDB reads the whole
// collection for it, which is fine once per Open.
func (l *Log) loadHead(ctx context.Context) error {
	var d document
	err := l.coll.FindOne(ctx, bson.D{}, options.FindOne().SetSort(bson.D{{Key: fieldID, Value: -1}})).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		l.head, l.hash = 0, ""
		return nil
	case err != nil:
		return dbError("load head", err)
	}
	seq, ok := parseID(d.ID)
	if !ok {
		return fmt.Errorf("audit: stream %s: malformed record id %q", l.service, d.ID)
	}
	l.head, l.hash = seq, d.Hash
	return nil
}

// advanceHead follows the stream past l.head by _id lookups (the only
// lookups FerretDB pushes down) after another writer took a sequence number.
func (l *Log) advanceHead(ctx context.Context) error {
	for {
		var d document
		err := l.coll.FindOne(ctx, bson.D{{Key: fieldID, Value: docID(l.head + 1)}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil {
			return dbError("reload head", err)
		}
		l.head, l.hash = l.head+1, d.Hash
	}
}

// dbError wraps a driver error, marking with store.ErrUnavailable the ones
// that mean the database could not be reached in time.
func dbError(op string, err error) error {
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) || errors.Is(err, mongo.ErrClientDisconnected) ||
		mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		return fmt.Errorf("audit: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("audit: %s: %w", op, err)
}

// lock acquires sem or fails when ctx ends first.
func (l *Log) lock(ctx context.Context) error {
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: wait for the log: %w: %w", store.ErrUnavailable, ctx.Err())
	}
}

func (l *Log) unlock() { <-l.sem }

// Append writes r as the next record of the stream. It sets Seq, Prev and
// Hash, Time if zero, and Service if empty; strings are cut to valid UTF-8
// of at most 1 KiB. It returns only once the record is stored; errors wrap
// store.ErrUnavailable when the database could not take it.
func (l *Log) Append(ctx context.Context, r Record) error {
	if err := l.lock(ctx); err != nil {
		return err
	}
	defer l.unlock()
	if l.closed {
		return ErrClosed
	}
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if r.Service == "" {
		r.Service = l.service
	}
	normalize(&r)
	for range maxAppendTries {
		r.Seq, r.Prev = l.head+1, l.hash
		r.Hash = computeHash(r)
		_, err := l.coll.InsertOne(ctx, toDocument(r))
		if err == nil {
			l.head, l.hash = r.Seq, r.Hash
			if l.head-l.cpSeq >= l.every {
				_ = l.checkpoint(ctx)
			}
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			// The insert may still have happened; if so, the next append
			// finds it as a duplicate and chains onto it.
			return dbError("append", err)
		}
		l.log.WarnContext(ctx, "audit sequence taken by another writer", slog.Int64("seq", r.Seq))
		if err := l.advanceHead(ctx); err != nil {
			return err
		}
	}
	return fmt.Errorf("audit: append: sequence contended %d times: %w", maxAppendTries, store.ErrConflict)
}

// checkpoint signs the head and hands it to the sink if it is newer than the
// last checkpoint. A failure is logged and retried at the next occasion: the
// records themselves are stored. Callers hold sem.
func (l *Log) checkpoint(ctx context.Context) error {
	if l.head <= l.cpSeq {
		return nil
	}
	c := signCheckpoint(l.key, Checkpoint{Stream: l.service, Seq: l.head, Hash: l.hash, Time: time.Now().UTC()})
	if err := l.sink.Put(context.WithoutCancel(ctx), c); err != nil {
		l.log.ErrorContext(ctx, "audit checkpoint failed", slog.Int64("seq", c.Seq), slog.Any("error", err))
		return err
	}
	l.cpSeq = l.head
	return nil
}

// tick writes a checkpoint every interval if records were appended since
// the last one.
func (l *Log) tick(interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		select {
		case <-l.stop:
			return
		case l.sem <- struct{}{}:
		}
		if !l.closed {
			_ = l.checkpoint(context.Background())
		}
		l.unlock()
	}
}

// Close writes a last checkpoint if records were appended since the last
// one, and closes the sink. It does not disconnect the database client.
// Later Appends fail with ErrClosed; Close may be called more than once.
func (l *Log) Close(ctx context.Context) error {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	if err := l.lock(ctx); err != nil {
		return err
	}
	defer l.unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	return errors.Join(l.checkpoint(ctx), l.sink.Close())
}
