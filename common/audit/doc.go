// Package audit is Edgeway's tamper-evident audit log (requirement S6): who
// did what, in which project, with which result and request id — for every
// mutation and every denied request. Secret values are never recorded: no
// bodies, no tokens, no query strings; only the route path.
//
// # Storage
//
// Each writing service has its own MongoDB collection, "audit_<service>".
// A record's _id is its sequence number as a zero-padded decimal string
// (FerretDB pushes only _id equality down to SQLite), so the records sort in
// sequence order and an append is a single InsertOne of the next sequence
// number: two writers can never both claim one (the loser gets a duplicate
// key error, reloads the head and retries). Appends within a process are
// serialized.
//
// Records form an append-only hash chain:
//
//	Hash = hex(SHA-256(Prev || canonical JSON of the record without Hash))
//
// where Prev is the previous record's Hash ("" for sequence 1) and the
// canonical JSON is the fixed-order encoding produced by canonicalJSON.
// Times are kept to the millisecond, the precision of a BSON datetime.
//
// # Checkpoints
//
// Every Options.Every records (default 100), every Options.Interval (default
// 10 s) if anything new was appended, and on Close, the Log signs a
// checkpoint {stream, seq, hash, time} with an Ed25519 key and hands it to a
// Sink outside the database — by default one JSON line appended to
// <dir>/checkpoints-<service>.jsonl. The private key is
// <keys-dir>/audit-ed25519.key (mode 0600, created on first use) and the
// public key is written beside it as audit-ed25519.pub. Neither lives in the
// database, so someone who can write the database cannot forge checkpoints.
//
// # Verification
//
// Verify walks a collection in sequence order and recomputes every hash and
// link, checks every checkpoint's signature, that the record at each
// checkpoint's sequence has the checkpointed hash, and that the log is not
// shorter than its last checkpoint. It detects an edited record (any field),
// a record deleted from the middle, a truncated tail (when a checkpoint
// covers it), reordered records, and records forged with a recomputed chain
// by someone without the signing key (when a later checkpoint covers them).
//
// What the design cannot detect: records appended or deleted after the last
// checkpoint, until the next checkpoint is written. In particular, someone
// with write access to the database can append correctly chained records at
// the tail; the Log would then chain onto them after a duplicate key, as it
// does for a second legitimate writer. Every such event is logged at warning
// level ("audit sequence taken by another writer"); with one writer per
// service, that warning is an alarm.
//
// # HTTP
//
// Middleware records an "attempt" before every POST, PUT, PATCH and DELETE
// and refuses the request with 503 if that record cannot be written (the
// handler is not called), then records the outcome (the status code).
// Log.Denied records authentication and authorization failures.
//
// List serves /v2/audit. FerretDB reads the whole collection for it (the
// filters are not on _id), which is acceptable for an administrative query.
package audit
