//go:build !unix

package devidp

import "errors"

// lockFile is only implemented with flock(2); the dev identity provider
// runs on Unix-like systems.
func lockFile(string) (func(), error) {
	return nil, errors.New("devidp: file locking is not supported on this platform")
}
