package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

const (
	// Header is the HTTP header that carries the request id.
	Header = "X-Request-Id"
	// MetadataKey is the gRPC metadata key that carries the request id.
	MetadataKey = "x-request-id"
	// MaxLen is the longest request id Valid accepts.
	MaxLen = 64
)

type ctxKey struct{}

// New returns a fresh random request id: 16 random bytes, hex-encoded
// (32 characters).
func New() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// With returns a copy of ctx that carries id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the request id carried by ctx, or "" if there is none.
func From(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Valid reports whether id is acceptable as a request id supplied by a
// client: 1 to MaxLen characters from [A-Za-z0-9._-].
func Valid(id string) bool {
	if len(id) == 0 || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
