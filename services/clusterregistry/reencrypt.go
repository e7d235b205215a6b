package clusterregistry

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"time"

	"edgeway.dev/common/store"
	"edgeway.dev/services/secrets/reencrypt"
)

// RunReencryption moves every stored kubeconfig to the secrets service's
// primary key (after `edgeway keys rotate`), now and every interval, until
// ctx ends. Each pass is
// idempotent (values on the primary key are skipped) and resumable (a pass
// cut short is finished by the next).
func (s *Service) RunReencryption(ctx context.Context, interval time.Duration) {
	if s.deps.Keys == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.reencryptOnce(ctx); err != nil && ctx.Err() == nil {
			s.deps.Log.Warn("kubeconfig re-encryption pass failed; retrying later", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) reencryptOnce(ctx context.Context) error {
	job := reencrypt.Job{
		Keys:  s.deps.Keys,
		Items: s.kubeconfigs(ctx),
		Rewrite: func(ctx context.Context, it reencrypt.Item, ciphertext []byte) error {
			_, err := s.deps.Store.Update(ctx, it.Key, func(r store.Record) (store.Record, error) {
				if bytes.Equal(r.File, it.Ciphertext) {
					r.File = ciphertext
				}
				return r, nil // changed meanwhile: sealed anew, leave it
			})
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		},
		Progress: func(done, total int) {
			if done == total || done%100 == 0 {
				s.deps.Log.Info("kubeconfig re-encryption", "done", done, "total", total)
			}
		},
	}
	st, err := job.Run(ctx)
	if st.Rewrapped > 0 {
		s.deps.Log.Info("kubeconfigs moved to the primary key", "rewrapped", st.Rewrapped, "skipped", st.Skipped)
	}
	return err
}

// kubeconfigs iterates the sealed kubeconfig of every cluster.
func (s *Service) kubeconfigs(ctx context.Context) iter.Seq2[reencrypt.Item, error] {
	return func(yield func(reencrypt.Item, error) bool) {
		providers, err := s.deps.Store.List(ctx, "", "clusterProvider")
		if err != nil {
			yield(reencrypt.Item{}, err)
			return
		}
		for _, p := range providers {
			clusters, err := s.deps.Store.List(ctx, p.Key, "cluster")
			if err != nil {
				yield(reencrypt.Item{}, err)
				return
			}
			for _, c := range clusters {
				if !yield(reencrypt.Item{Key: c.Key, AssociatedData: kubeconfigAAD(c.Key), Ciphertext: c.File}, nil) {
					return
				}
			}
		}
	}
}
