package mongostore

import (
	"context"
	"hash/fnv"
)

// keyLocks serializes writes to one document inside the process; see the
// package documentation for why. It is striped: unrelated keys may share a
// stripe, which only costs some parallelism, since no operation ever holds
// more than one stripe at a time (so stripes cannot deadlock).
var keyLocks = newStripedLock(1024)

type stripedLock struct {
	stripes []chan struct{}
}

func newStripedLock(n int) *stripedLock {
	l := &stripedLock{stripes: make([]chan struct{}, n)}
	for i := range l.stripes {
		l.stripes[i] = make(chan struct{}, 1)
	}
	return l
}

// lock acquires the stripe of id, giving up when ctx ends. The returned
// function releases it.
func (l *stripedLock) lock(ctx context.Context, id string) (func(), error) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	s := l.stripes[h.Sum64()%uint64(len(l.stripes))]
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
