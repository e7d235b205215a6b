// Package conformance is the test suite every storage backend runs: RunResources
// for store.Resources implementations and RunKV for store.KV ones. A backend's
// own test calls them with a constructor that returns an isolated, empty store
// on every call (a fresh collection or key prefix).
package conformance
