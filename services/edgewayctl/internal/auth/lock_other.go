//go:build !unix

package auth

// lockFile does not lock where flock(2) is missing: concurrent refreshes of
// one session may then race, and the loser logs in again.
func lockFile(string) (func(), error) { return func() {}, nil }
