package auth

import (
	"errors"
	"fmt"
)

var (
	// ErrUnauthenticated is matched by every error for a missing, malformed
	// or invalid token. The wrapped reason is for logs only.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrUnavailable is matched when a token cannot be checked because the
	// identity provider has not been discovered yet (it is down or not
	// started). The caller may retry.
	ErrUnavailable = errors.New("authentication unavailable")
)

// unauthenticated wraps reason so that the result matches both
// ErrUnauthenticated and reason.
func unauthenticated(reason error) error {
	return fmt.Errorf("%w: %w", ErrUnauthenticated, reason)
}

// rejectf is unauthenticated(fmt.Errorf(format, args...)).
func rejectf(format string, args ...any) error {
	return unauthenticated(fmt.Errorf(format, args...))
}
