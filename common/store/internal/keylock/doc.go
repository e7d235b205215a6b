// Package keylock is one mutex per key, created on demand and dropped when
// nobody holds or waits for it; the storage backends use it to serialize
// writes to one key inside a process.
package keylock
