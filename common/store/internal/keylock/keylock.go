package keylock

import (
	"context"
	"sync"
)

// Keyed is one mutex per key, created on demand and dropped when
// nobody holds or waits for it. Waiting gives up when the context ends.
// Keys are exact (not hashed into stripes), so holding the lock of one key
// never blocks an operation on another.
type Keyed struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	held  chan struct{} // capacity 1: full while held
	users int           // holders and waiters; guarded by Keyed.mu
}

// New returns an empty set of key locks.
func New() *Keyed {
	return &Keyed{locks: map[string]*keyLock{}}
}

// Lock acquires the lock of key, or returns ctx.Err(). The returned function
// releases it.
func (l *Keyed) Lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	k := l.locks[key]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1)}
		l.locks[key] = k
	}
	k.users++
	l.mu.Unlock()

	select {
	case k.held <- struct{}{}:
		return func() {
			<-k.held
			l.release(key, k)
		}, nil
	case <-ctx.Done():
		l.release(key, k)
		return nil, ctx.Err()
	}
}

func (l *Keyed) release(key string, k *keyLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k.users--
	if k.users == 0 {
		delete(l.locks, key)
	}
}
