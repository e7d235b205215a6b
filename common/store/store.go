package store

import (
	"context"
	"errors"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
// They are translated to HTTP statuses and gRPC codes once, at the edge.
var (
	// ErrNotFound: the object (or, for Create, its parent) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: an object with the same key already exists.
	ErrExists = errors.New("already exists")
	// ErrConflict: a compare-and-swap lost too many times in a row, or the
	// object is being deleted concurrently.
	ErrConflict = errors.New("conflict")
	// ErrHasChildren: Delete refused because child objects still exist.
	ErrHasChildren = errors.New("has children")
	// ErrReferenced: Delete refused because other objects reference this one.
	ErrReferenced = errors.New("referenced")
	// ErrUnavailable: the backend cannot be reached.
	ErrUnavailable = errors.New("store unavailable")
)

// Record is one API object as stored. Key is the canonical resource path
// without the /v2 prefix and without a leading slash, e.g.
// "projects/p1/composite-apps/shop/v1/apps/web"; it is the document _id.
type Record struct {
	Key    string // canonical path, unique within the collection
	Parent string // Key of the parent object, "" for top-level objects
	Kind   string // resource family, e.g. "app"
	// Refs lists keys of objects this one references (same collection, or
	// another service's object prefixed with "<service>:"). Delete of a
	// referenced key fails with ErrReferenced.
	Refs    []string
	Body    []byte // the JSON document as accepted by the API
	File    []byte // optional attached file (chart, profile, sealed kubeconfig)
	Version int64  // incremented by every successful write; set by the store
}

// Resources stores the API objects of one service.
//
// Create inserts rec; it fails with ErrExists when the key is taken and with
// ErrNotFound when rec.Parent is non-empty and the parent does not exist (or
// is being deleted). Creating under a parent while the parent is deleted
// concurrently never leaves an orphan: either the create or the delete fails.
//
// Update reads the current record, calls fn, and writes the result only if
// nobody wrote in between (compare-and-swap on Version), retrying fn a
// bounded number of times. fn must not change Key, Parent or Kind.
//
// Delete removes the object; it fails with ErrHasChildren when any record
// has it as Parent and with ErrReferenced when any record lists it in Refs.
type Resources interface {
	Create(ctx context.Context, rec Record) (Record, error)
	Get(ctx context.Context, key string) (Record, error)
	// List returns the records with the given parent and kind, ordered by key.
	List(ctx context.Context, parent, kind string) ([]Record, error)
	// ReferencedBy returns the records whose Refs contain ref, ordered by key.
	ReferencedBy(ctx context.Context, ref string) ([]Record, error)
	Update(ctx context.Context, key string, fn func(Record) (Record, error)) (Record, error)
	Delete(ctx context.Context, key string) error
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
}

// KeyValue is one etcd entry as seen by KV.
type KeyValue struct {
	Key      string // relative to the KV's prefix
	Value    []byte
	Revision int64 // etcd ModRevision
}

// KV stores runtime state under one key prefix. Keys given and returned are
// relative to that prefix.
type KV interface {
	Get(ctx context.Context, key string) (KeyValue, error) // ErrNotFound
	// Create writes key only if it does not exist (ErrExists otherwise).
	Create(ctx context.Context, key string, value []byte) error
	// Put writes key unconditionally.
	Put(ctx context.Context, key string, value []byte) error
	// Update is compare-and-swap on the key's ModRevision, retrying fn a
	// bounded number of times; ErrNotFound if the key does not exist.
	Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error
	Delete(ctx context.Context, key string) error // ErrNotFound
	// List returns every entry whose key starts with prefix, ordered by key.
	List(ctx context.Context, prefix string) ([]KeyValue, error)
	// DeletePrefix removes every entry whose key starts with prefix.
	DeletePrefix(ctx context.Context, prefix string) error
	Ping(ctx context.Context) error
}
