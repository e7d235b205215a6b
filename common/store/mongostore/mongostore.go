package mongostore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"edgeway.dev/common/store"
	"edgeway.dev/common/store/internal/keylock"
)

// keyLocks serializes the writes to one key inside the process (see the
// package documentation for why).
var keyLocks = keylock.New()

const (
	// maxAttempts bounds the compare-and-swap loop of Update.
	maxAttempts = 16
	// deleteLease is how long a Delete's mark protects the object; a mark
	// older than that is considered left behind by a crashed process.
	deleteLease = time.Minute
	// cleanupTimeout bounds the undo steps (removing a record created under
	// a vanished parent, clearing a delete mark), which run even when the
	// caller's context has ended.
	cleanupTimeout = 10 * time.Second
)

// Store implements store.Resources on one MongoDB collection.
type Store struct {
	coll   *mongo.Collection
	lockNS string // prefix of the in-process write locks: "<db>.<collection>\x00"
}

var _ store.Resources = (*Store)(nil)

// New returns a Store on db.collection and creates its secondary indexes
// (parent+kind and refs, non-unique) if they are missing.
func New(ctx context.Context, db *mongo.Database, collection string) (*Store, error) {
	if collection == "" {
		return nil, errors.New("mongostore: empty collection name")
	}
	coll := db.Collection(collection)
	// One createIndexes call per index: FerretDB v1.24 panics (and drops the
	// connection) when a single call names several indexes that all exist
	// already, i.e. on every restart.
	for _, idx := range []mongo.IndexModel{
		{
			Keys:    bson.D{{Key: fieldParent, Value: 1}, {Key: fieldKind, Value: 1}},
			Options: options.Index().SetName("parent_kind"),
		},
		{
			Keys:    bson.D{{Key: fieldRefs, Value: 1}},
			Options: options.Index().SetName("refs"),
		},
	} {
		if _, err := coll.Indexes().CreateOne(ctx, idx); err != nil {
			return nil, wrap("create indexes on", db.Name()+"."+collection, err)
		}
	}
	return &Store{coll: coll, lockNS: db.Name() + "." + collection + "\x00"}, nil
}

// lock serializes the writes to key inside the process.
func (s *Store) lock(ctx context.Context, op, key string) (func(), error) {
	unlock, err := keyLocks.Lock(ctx, s.lockNS+key)
	if err != nil {
		return nil, fmt.Errorf("mongostore: %s %q: %w", op, key, err)
	}
	return unlock, nil
}

// Create implements store.Resources.
func (s *Store) Create(ctx context.Context, rec store.Record) (store.Record, error) {
	if rec.Key == "" || rec.Key == rec.Parent {
		return store.Record{}, fmt.Errorf("mongostore: create: invalid key %q (parent %q)", rec.Key, rec.Parent)
	}
	doc, err := toDocument(rec, 1)
	if err != nil {
		return store.Record{}, err
	}
	if rec.Parent != "" {
		if err := s.checkParent(ctx, rec.Parent); err != nil {
			return store.Record{}, err
		}
	}

	unlock, err := s.lock(ctx, "create", rec.Key)
	if err != nil {
		return store.Record{}, err
	}
	defer unlock()

	_, err = s.coll.InsertOne(ctx, doc)
	if rec.Parent == "" || mongo.IsDuplicateKeyError(err) {
		if err != nil {
			return store.Record{}, wrap("create", rec.Key, err)
		}
		return doc.record(), nil
	}

	// Read the parent again: a Delete may have marked or removed it after
	// the first check without seeing the new record. This and the undo run
	// even if ctx has ended (the insert may have happened all the same), so
	// that no record stays under a parent that is going away.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	perr := s.checkParent(cctx, rec.Parent)
	if err == nil && perr == nil {
		return doc.record(), nil
	}
	// Remove the record if it was inserted, or if the parent is gone (then
	// the record is an orphan, whoever inserted it).
	if perr != nil && (err == nil || errors.Is(perr, store.ErrNotFound)) {
		if _, derr := s.coll.DeleteOne(cctx, bson.D{{Key: fieldID, Value: rec.Key}}); derr != nil {
			perr = errors.Join(perr, wrap("remove record created under vanished parent", rec.Key, derr))
		}
	}
	if err != nil {
		return store.Record{}, wrap("create", rec.Key, err)
	}
	return store.Record{}, perr
}

// checkParent returns nil when parent exists and no Delete holds a live mark
// on it, and an error wrapping store.ErrNotFound otherwise.
func (s *Store) checkParent(ctx context.Context, parent string) error {
	var doc document
	err := s.coll.FindOne(ctx, bson.D{{Key: fieldID, Value: parent}},
		options.FindOne().SetProjection(bson.D{
			{Key: fieldDeleting, Value: 1}, {Key: fieldDeletingUntil, Value: 1},
		})).Decode(&doc)
	if err != nil {
		return wrap("get parent", parent, err)
	}
	if doc.markedForDeletion(time.Now()) {
		return fmt.Errorf("mongostore: parent %q is being deleted: %w", parent, store.ErrNotFound)
	}
	return nil
}

// Get implements store.Resources.
func (s *Store) Get(ctx context.Context, key string) (store.Record, error) {
	doc, err := s.get(ctx, key)
	if err != nil {
		return store.Record{}, err
	}
	return doc.record(), nil
}

func (s *Store) get(ctx context.Context, key string) (document, error) {
	var doc document
	if err := s.coll.FindOne(ctx, bson.D{{Key: fieldID, Value: key}}).Decode(&doc); err != nil {
		return document{}, wrap("get", key, err)
	}
	return doc, nil
}

// List implements store.Resources.
func (s *Store) List(ctx context.Context, parent, kind string) ([]store.Record, error) {
	return s.find(ctx, "list "+kind+" under", parent,
		bson.D{{Key: fieldParent, Value: parent}, {Key: fieldKind, Value: kind}})
}

// ReferencedBy implements store.Resources.
func (s *Store) ReferencedBy(ctx context.Context, ref string) ([]store.Record, error) {
	return s.find(ctx, "list referrers of", ref, bson.D{{Key: fieldRefs, Value: ref}})
}

func (s *Store) find(ctx context.Context, op, key string, filter bson.D) ([]store.Record, error) {
	cur, err := s.coll.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: fieldID, Value: 1}}))
	if err != nil {
		return nil, wrap(op, key, err)
	}
	var docs []document
	if err := cur.All(ctx, &docs); err != nil {
		return nil, wrap(op, key, err)
	}
	recs := make([]store.Record, len(docs))
	for i := range docs {
		recs[i] = docs[i].record()
	}
	return recs, nil
}

// Update implements store.Resources.
func (s *Store) Update(ctx context.Context, key string, fn func(store.Record) (store.Record, error)) (store.Record, error) {
	unlock, err := s.lock(ctx, "update", key)
	if err != nil {
		return store.Record{}, err
	}
	defer unlock()

	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return store.Record{}, fmt.Errorf("mongostore: update %q: %w", key, err)
			}
		}
		cur, err := s.get(ctx, key)
		if err != nil {
			return store.Record{}, err
		}
		old := cur.record()
		next, err := fn(old)
		if err != nil {
			return store.Record{}, err
		}
		if next.Key != old.Key || next.Parent != old.Parent || next.Kind != old.Kind {
			return store.Record{}, fmt.Errorf("mongostore: update %q: key, parent and kind cannot change", key)
		}
		doc, err := toDocument(next, cur.Version+1)
		if err != nil {
			return store.Record{}, err
		}
		set := bson.D{
			{Key: fieldRefs, Value: doc.Refs},
			{Key: fieldBody, Value: doc.Body},
			{Key: fieldVersion, Value: doc.Version},
		}
		update := bson.D{}
		if doc.File != nil {
			set = append(set, bson.E{Key: fieldFile, Value: doc.File})
		} else {
			update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: fieldFile, Value: ""}}})
		}
		update = append(update, bson.E{Key: "$set", Value: set})
		res, err := s.coll.UpdateOne(ctx,
			bson.D{{Key: fieldID, Value: key}, {Key: fieldVersion, Value: cur.Version}}, update)
		if err != nil {
			return store.Record{}, wrap("update", key, err)
		}
		if res.MatchedCount == 1 {
			return doc.record(), nil
		}
		// Someone else wrote (or deleted) in between: read again.
	}
	return store.Record{}, fmt.Errorf("mongostore: update %q: %d attempts: %w", key, maxAttempts, store.ErrConflict)
}

// backoff waits a random time of up to 1 ms doubled with every attempt,
// capped at 64 ms ("full jitter").
func backoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(mrand.N(time.Millisecond << min(attempt, 6)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Delete implements store.Resources.
func (s *Store) Delete(ctx context.Context, key string) error {
	unlock, err := s.lock(ctx, "delete", key)
	if err != nil {
		return err
	}
	defer unlock()

	// Mark the object, so that Create refuses it as a parent from now on.
	token := rand.Text()
	now := time.Now()
	res, err := s.coll.UpdateOne(ctx,
		bson.D{
			{Key: fieldID, Value: key},
			{Key: "$or", Value: bson.A{
				bson.D{{Key: fieldDeleting, Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: fieldDeletingUntil, Value: bson.D{{Key: "$lt", Value: bson.NewDateTimeFromTime(now)}}}},
			}},
		},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: fieldDeleting, Value: token},
			{Key: fieldDeletingUntil, Value: bson.NewDateTimeFromTime(now.Add(deleteLease))},
		}}})
	if err != nil {
		return wrap("delete", key, err)
	}
	if res.MatchedCount == 0 {
		if _, err := s.get(ctx, key); err != nil {
			return err // store.ErrNotFound, typically
		}
		return fmt.Errorf("mongostore: delete %q: being deleted concurrently: %w", key, store.ErrConflict)
	}

	// With the mark in place, no new child can appear and stay: look for
	// the existing ones, then for referrers.
	for _, check := range []struct {
		field    string
		sentinel error
	}{
		{fieldParent, store.ErrHasChildren},
		{fieldRefs, store.ErrReferenced},
	} {
		var other document
		err := s.coll.FindOne(ctx, bson.D{{Key: check.field, Value: key}},
			options.FindOne().SetProjection(bson.D{{Key: fieldID, Value: 1}})).Decode(&other)
		switch {
		case err == nil:
			return errors.Join(
				fmt.Errorf("mongostore: delete %q: %w (e.g. %q)", key, check.sentinel, other.ID),
				s.unmark(ctx, key, token))
		case !errors.Is(err, mongo.ErrNoDocuments):
			return errors.Join(wrap("delete", key, err), s.unmark(ctx, key, token))
		}
	}

	dres, err := s.coll.DeleteOne(ctx, bson.D{{Key: fieldID, Value: key}, {Key: fieldDeleting, Value: token}})
	if err != nil {
		return errors.Join(wrap("delete", key, err), s.unmark(ctx, key, token))
	}
	if dres.DeletedCount == 0 {
		// Our mark expired and another Delete took over (or finished).
		return fmt.Errorf("mongostore: delete %q: mark lost to a concurrent delete: %w", key, store.ErrConflict)
	}
	return nil
}

// unmark clears the delete mark set with token, even when ctx has ended.
func (s *Store) unmark(ctx context.Context, key, token string) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, err := s.coll.UpdateOne(cctx,
		bson.D{{Key: fieldID, Value: key}, {Key: fieldDeleting, Value: token}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: fieldDeleting, Value: ""}, {Key: fieldDeletingUntil, Value: ""}}}})
	if err != nil {
		return wrap("clear delete mark of", key, err)
	}
	return nil
}

// Ping implements store.Resources.
func (s *Store) Ping(ctx context.Context) error {
	err := s.coll.Database().RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err()
	return wrap("ping", s.coll.Database().Name(), err)
}
