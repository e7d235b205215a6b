package audit

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Limits of Filter.Limit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// Filter selects records for List. Zero fields do not filter.
type Filter struct {
	Since, Until time.Time // Since ≤ Time < Until
	Subject      string    // exact match
	Project      string    // exact match
	Outcome      string    // exact match, e.g. "attempt", "201", "denied:403"
	// Limit is the most records returned (default 100, at most 1000).
	Limit int
}

// List returns the records of the stream that match f, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Record, error) {
	return list(ctx, l.coll, f)
}

// ListStream reads the records of another service's stream that match f,
// newest first, without opening it for writing (the /v2/audit reader).
func ListStream(ctx context.Context, db *mongo.Database, service string, f Filter) ([]Record, error) {
	return list(ctx, db.Collection(CollectionName(service)), f)
}

func list(ctx context.Context, coll *mongo.Collection, f Filter) ([]Record, error) {
	q := bson.D{}
	tr := bson.D{}
	if !f.Since.IsZero() {
		tr = append(tr, bson.E{Key: "$gte", Value: f.Since.UTC()})
	}
	if !f.Until.IsZero() {
		tr = append(tr, bson.E{Key: "$lt", Value: f.Until.UTC()})
	}
	if len(tr) > 0 {
		q = append(q, bson.E{Key: fieldTime, Value: tr})
	}
	for _, e := range []struct{ field, value string }{
		{fieldSubject, f.Subject}, {fieldProject, f.Project}, {fieldOutcome, f.Outcome},
	} {
		if e.value != "" {
			q = append(q, bson.E{Key: e.field, Value: e.value})
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)

	cur, err := coll.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: fieldID, Value: -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, dbError("list", err)
	}
	var docs []document
	if err := cur.All(ctx, &docs); err != nil {
		return nil, dbError("list", err)
	}
	out := make([]Record, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.record())
	}
	return out, nil
}
