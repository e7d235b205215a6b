// Package etcdstore implements store.KV on etcd (go.etcd.io/etcd/client/v3).
//
// A Store keeps its entries under one key prefix, used verbatim: end it with
// "/" (e.g. "/edgeway/deployer/") so that it is not a prefix of another
// Store's prefix. Keys given to and returned by the Store are relative to it.
//
// Create is a transaction guarded by CreateRevision == 0; Update reads the key
// and writes it back in a transaction guarded by its ModRevision, retrying a
// bounded number of times before store.ErrConflict; Updates of one key from
// one process are also queued in the process, so that only writers of other
// processes (or Put, Delete) cause retries. Errors wrap the store
// sentinels with %w; an unreachable cluster, a lost leader or an expired
// deadline is store.ErrUnavailable (the client error is wrapped too).
package etcdstore
