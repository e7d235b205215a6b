//go:build !unix

package tlsx

import "sync"

var dirLock sync.Mutex

// lockDir serializes callers within this process only; files are still
// written via rename, so other processes never read half-written files.
func lockDir(string) (func(), error) {
	dirLock.Lock()
	return dirLock.Unlock, nil
}
