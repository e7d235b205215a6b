package keylock

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeyedLock(t *testing.T) {
	l := New()
	unlockA, err := l.Lock(t.Context(), "a")
	require.NoError(t, err)

	// Another key is independent.
	unlockB, err := l.Lock(t.Context(), "b")
	require.NoError(t, err)
	unlockB()

	// The same key waits, and gives up with its context.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = l.Lock(ctx, "a")
	require.ErrorIs(t, err, context.Canceled)

	unlockA()
	unlockA2, err := l.Lock(t.Context(), "a")
	require.NoError(t, err, "released keys can be taken again")
	unlockA2()
	require.Empty(t, l.locks, "unused keys are forgotten")
}
