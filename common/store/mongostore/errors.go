package mongostore

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"edgeway.dev/common/store"
)

// wrap translates a driver error of operation op on key into the store's
// sentinel errors, keeping the driver error in the chain where it helps.
func wrap(op, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("mongostore: %s %q: %w", op, key, store.ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("mongostore: %s %q: %w", op, key, store.ErrExists)
	case unavailable(err):
		return fmt.Errorf("mongostore: %s %q: %w: %w", op, key, store.ErrUnavailable, err)
	default:
		return fmt.Errorf("mongostore: %s %q: %w", op, key, err)
	}
}

// unavailable reports whether err means the server could not be reached in
// time (as opposed to the caller cancelling, or the server refusing).
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var sse topology.ServerSelectionError
	return errors.As(err, &sse) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		mongo.IsNetworkError(err) ||
		mongo.IsTimeout(err)
}
