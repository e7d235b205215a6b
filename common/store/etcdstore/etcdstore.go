package etcdstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"edgeway.dev/common/store"
	"edgeway.dev/common/store/internal/keylock"
)

// keyLocks serializes the writes to one key inside the process (see the
// package documentation for why).
var keyLocks = keylock.New()

// maxAttempts bounds the compare-and-swap loop of Update.
const maxAttempts = 16

// Store implements store.KV under one key prefix.
type Store struct {
	cli    *clientv3.Client
	prefix string
}

var _ store.KV = (*Store)(nil)

// New returns a Store keeping its entries under prefix (used verbatim).
func New(cli *clientv3.Client, prefix string) *Store {
	return &Store{cli: cli, prefix: prefix}
}

// Get implements store.KV.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	resp, err := s.cli.Get(ctx, s.prefix+key)
	if err != nil {
		return store.KeyValue{}, wrap("get", key, err)
	}
	if len(resp.Kvs) == 0 {
		return store.KeyValue{}, fmt.Errorf("etcdstore: get %q: %w", key, store.ErrNotFound)
	}
	kv := resp.Kvs[0]
	return store.KeyValue{Key: key, Value: kv.Value, Revision: kv.ModRevision}, nil
}

// Create implements store.KV.
func (s *Store) Create(ctx context.Context, key string, value []byte) error {
	k := s.prefix + key
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, string(value))).
		Commit()
	if err != nil {
		return wrap("create", key, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcdstore: create %q: %w", key, store.ErrExists)
	}
	return nil
}

// Put implements store.KV.
func (s *Store) Put(ctx context.Context, key string, value []byte) error {
	if _, err := s.cli.Put(ctx, s.prefix+key, string(value)); err != nil {
		return wrap("put", key, err)
	}
	return nil
}

// Update implements store.KV.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	k := s.prefix + key
	unlock, err := keyLocks.Lock(ctx, k)
	if err != nil {
		return fmt.Errorf("etcdstore: update %q: %w", key, err)
	}
	defer unlock()

	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return fmt.Errorf("etcdstore: update %q: %w", key, err)
			}
		}
		cur, err := s.Get(ctx, key)
		if err != nil {
			return err
		}
		next, err := fn(cur.Value)
		if err != nil {
			return err
		}
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", cur.Revision)).
			Then(clientv3.OpPut(k, string(next))).
			Commit()
		if err != nil {
			return wrap("update", key, err)
		}
		if resp.Succeeded {
			return nil
		}
		// Written or deleted in between: read again.
	}
	return fmt.Errorf("etcdstore: update %q: %d attempts: %w", key, maxAttempts, store.ErrConflict)
}

// backoff waits a random time of up to 1 ms doubled with every attempt,
// capped at 64 ms ("full jitter").
func backoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(rand.N(time.Millisecond << min(attempt, 6)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, key string) error {
	resp, err := s.cli.Delete(ctx, s.prefix+key)
	if err != nil {
		return wrap("delete", key, err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("etcdstore: delete %q: %w", key, store.ErrNotFound)
	}
	return nil
}

// List implements store.KV.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KeyValue, error) {
	resp, err := s.cli.Get(ctx, s.prefix+prefix,
		clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, wrap("list", prefix, err)
	}
	kvs := make([]store.KeyValue, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = store.KeyValue{
			Key:      string(kv.Key[len(s.prefix):]),
			Value:    kv.Value,
			Revision: kv.ModRevision,
		}
	}
	return kvs, nil
}

// DeletePrefix implements store.KV.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if _, err := s.cli.Delete(ctx, s.prefix+prefix, clientv3.WithPrefix()); err != nil {
		return wrap("delete prefix", prefix, err)
	}
	return nil
}

// Ping implements store.KV with a linearizable read, which needs a leader.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.cli.Get(ctx, s.prefix, clientv3.WithCountOnly()); err != nil {
		return wrap("ping", s.prefix, err)
	}
	return nil
}
