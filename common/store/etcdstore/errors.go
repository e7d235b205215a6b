package etcdstore

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"edgeway.dev/common/store"
)

// wrap adds the operation and key to a client error and marks it
// store.ErrUnavailable when the cluster could not answer in time.
func wrap(op, key string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("etcdstore: %s %q: %w: %w", op, key, store.ErrUnavailable, err)
	}
	return fmt.Errorf("etcdstore: %s %q: %w", op, key, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, clientv3.ErrNoAvailableEndpoints) {
		return true
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable || ee.Code() == codes.DeadlineExceeded
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}
