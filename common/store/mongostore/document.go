package mongostore

import (
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"edgeway.dev/common/store"
)

// document is the stored form of a store.Record.
type document struct {
	ID      string   `bson:"_id"`
	Parent  string   `bson:"parent"`
	Kind    string   `bson:"kind"`
	Refs    []string `bson:"refs"`           // never nil, so {refs: x} queries see an array
	Body    string   `bson:"body"`           // JSON text, readable in a mongo shell
	File    []byte   `bson:"file,omitempty"` // binary, absent when empty
	Version int64    `bson:"version"`

	// Set by Delete while it checks for children and referrers.
	Deleting      string        `bson:"deleting,omitempty"`
	DeletingUntil bson.DateTime `bson:"deletingUntil,omitempty"`
}

// Field names used in filters and updates.
const (
	fieldID            = "_id"
	fieldParent        = "parent"
	fieldKind          = "kind"
	fieldRefs          = "refs"
	fieldBody          = "body"
	fieldFile          = "file"
	fieldVersion       = "version"
	fieldDeleting      = "deleting"
	fieldDeletingUntil = "deletingUntil"
)

func toDocument(rec store.Record, version int64) (document, error) {
	if !utf8.Valid(rec.Body) {
		return document{}, fmt.Errorf("mongostore: %q: body is not valid UTF-8 text", rec.Key)
	}
	refs := slices.Clone(rec.Refs)
	if refs == nil {
		refs = []string{}
	}
	var file []byte
	if len(rec.File) > 0 {
		file = rec.File
	}
	return document{
		ID:      rec.Key,
		Parent:  rec.Parent,
		Kind:    rec.Kind,
		Refs:    refs,
		Body:    string(rec.Body),
		File:    file,
		Version: version,
	}, nil
}

// record returns d without the internal fields. Empty Refs, Body and File
// come back as nil.
func (d *document) record() store.Record {
	rec := store.Record{
		Key:     d.ID,
		Parent:  d.Parent,
		Kind:    d.Kind,
		Version: d.Version,
	}
	if len(d.Refs) > 0 {
		rec.Refs = d.Refs
	}
	if d.Body != "" {
		rec.Body = []byte(d.Body)
	}
	if len(d.File) > 0 {
		rec.File = d.File
	}
	return rec
}

// markedForDeletion reports whether a Delete holds a live mark on d.
func (d *document) markedForDeletion(now time.Time) bool {
	return d.Deleting != "" && d.DeletingUntil.Time().After(now)
}
