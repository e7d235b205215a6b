// Package store defines the storage contracts every Edgeway service builds on:
// Resources (API objects in MongoDB, one collection per service) and KV
// (runtime state in etcd, one key prefix per service), with sentinel errors
// and compare-and-swap updates. Backends live in sub-packages (mongostore,
// etcdstore); every backend runs the conformance suite in store/conformance.
package store
