// Package mongostore implements store.Resources on MongoDB (mongo-driver v2),
// and on FerretDB, which speaks the same wire protocol and is the embedded
// default of `edgeway serve --dev`.
//
// One Store owns one collection. Every record is one document whose string
// _id is the record's canonical key, so single objects are always read by _id
// (the only filter FerretDB's SQLite handler pushes down to SQLite):
//
//	{_id: Key, parent, kind, refs: [...], body: "<JSON>", file: <binary>, version: int64}
//
// plus, while a Delete is in progress, deleting (a random token) and
// deletingUntil (the mark's expiry).
//
// # Concurrency
//
// Update is a compare-and-swap on version (findOneAndUpdate filtered on _id
// and version), retried a bounded number of times before store.ErrConflict.
//
// Create and Delete cooperate so that a record is never left under a deleted
// parent. Delete first marks the object (a compare-and-swap that fails while
// another live mark exists), then looks for children and referrers, and
// either clears its mark (store.ErrHasChildren, store.ErrReferenced) or
// deletes the object. Create checks the parent, inserts, and re-reads the
// parent: if the parent is gone or marked, it deletes what it inserted and
// returns store.ErrNotFound. Whichever order the steps interleave in, one of
// the two operations fails. A mark left behind by a crashed process expires
// after a minute (deleteLease); a Delete that takes longer than that is no
// longer protected.
//
// FerretDB v1 does not execute findOneAndUpdate (or a filtered delete) as one
// atomic step: it reads the matching document, applies the update in Go and
// replaces the document by _id, so two concurrent writers of one document can
// both "win" a compare-and-swap. The Store therefore also serializes, inside
// the process, all writes to one key (a lock shared by every Store of the
// process, keyed by database, collection and key; an Update's fn runs under
// it, so fn must not write the same key). Atomicity between several
// processes writing the same key relies on the backend: it holds on MongoDB,
// it does not on FerretDB — which is why FerretDB is only the single-process
// dev and test default.
//
// Refs are not checked on Create or Update: they may name objects of other
// services. Only Delete looks at them.
//
// Errors wrap the store sentinels with %w: a missing document is
// store.ErrNotFound, a duplicate _id store.ErrExists, and network, server
// selection and timeout errors store.ErrUnavailable (the driver error is
// wrapped too).
package mongostore
