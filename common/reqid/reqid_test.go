package reqid_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/reqid"
)

func TestNew(t *testing.T) {
	a, b := reqid.New(), reqid.New()
	require.Len(t, a, 32)
	require.True(t, reqid.Valid(a))
	require.NotEqual(t, a, b)
}

func TestWithFrom(t *testing.T) {
	ctx := context.Background()
	require.Empty(t, reqid.From(ctx))
	ctx = reqid.With(ctx, "abc")
	require.Equal(t, "abc", reqid.From(ctx))
}

func TestValid(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc", true},
		{"A-b_c.9", true},
		{strings.Repeat("a", 64), true},
		{"", false},
		{strings.Repeat("a", 65), false},
		{"a b", false},
		{"a\nb", false},
		{"a\"b", false},
		{"a=b", false},
		{"é", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, reqid.Valid(tt.id), "%q", tt.id)
	}
}
