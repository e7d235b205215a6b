package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPerKeyBuckets(t *testing.T) {
	l := New(1, 3)
	for i := 0; i < 3; i++ {
		ok, _ := l.Allow("a")
		require.True(t, ok, "burst of 3")
	}
	ok, wait := l.Allow("a")
	require.False(t, ok)
	require.Greater(t, wait, time.Duration(0))
	require.Equal(t, 1, RetryAfter(wait))
	ok, _ = l.Allow("b")
	require.True(t, ok, "another key has its own bucket")
	ok, _ = New(0, 1).Allow("x")
	require.True(t, ok, "rate 0 disables limiting")
}
