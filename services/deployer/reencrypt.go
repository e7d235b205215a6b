package deployer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"
	"strings"
	"time"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/store"
	"edgeway.dev/services/secrets/reencrypt"
)

// reencryptProgressEvery is how many sealed manifests pass between two
// progress lines.
const reencryptProgressEvery = 100

// reencryptLoop moves the sealed Secret manifests of every context onto the
// secrets service's primary key: at start, as soon as the primary key
// changes (asked every ReencryptCheck, or ReencryptInterval if shorter),
// and every ReencryptInterval to catch manifests sealed during a rotation.
// A run cut short (error, restart) is simply run again: manifests already
// on the primary key cost no call.
func (s *Service) reencryptLoop(ctx context.Context) {
	check := min(ReencryptCheck, s.cfg.ReencryptInterval)
	var lastPrimary uint32
	var lastRun time.Time
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		ks, err := s.deps.Keys.KeyStatus(ctx, &secretsv1.KeyStatusRequest{})
		switch {
		case err != nil:
			if ctx.Err() == nil {
				s.log.Debug("re-encryption: key status not available", "error", err)
			}
		case lastRun.IsZero() || ks.GetPrimaryKeyId() != lastPrimary || time.Since(lastRun) >= s.cfg.ReencryptInterval:
			changed := !lastRun.IsZero() && ks.GetPrimaryKeyId() != lastPrimary
			if _, err := s.reencrypt(ctx, changed); err != nil && ctx.Err() == nil {
				s.log.Error("re-encryption of sealed manifests stopped; retried at the next run", "error", err)
			} else if err == nil || errors.Is(err, reencrypt.ErrUnsealable) {
				lastPrimary, lastRun = ks.GetPrimaryKeyId(), time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reencrypt runs the re-encryption job once over every record. Progress
// (done/total) is logged at info level when the primary key changed, at
// debug level otherwise; the outcome at info level when anything moved or
// failed.
func (s *Service) reencrypt(ctx context.Context, loud bool) (reencrypt.Stats, error) {
	kvs, err := s.deps.KV.List(ctx, "res/")
	if err != nil {
		return reencrypt.Stats{}, err
	}
	total := 0
	for _, kv := range kvs {
		total += bytes.Count(kv.Value, []byte(`"sealed":`))
	}
	level := slog.LevelDebug
	if loud {
		level = slog.LevelInfo
	}
	job := &reencrypt.Job{
		Keys:    s.deps.Keys,
		Items:   s.sealedManifests(kvs),
		Total:   total,
		Rewrite: s.rewriteSealed,
		Progress: func(done, total int) {
			if done%reencryptProgressEvery == 0 || done == total {
				s.log.Log(ctx, level, "re-encryption of sealed manifests in progress", "done", done, "total", total)
			}
		},
	}
	st, err := job.Run(ctx)
	if st.Rewrapped > 0 || len(st.Failed) > 0 {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "re-encryption of sealed manifests done", "done", st.Done, "total", total,
		"rewrapped", st.Rewrapped, "skipped", st.Skipped, "failed", len(st.Failed))
	if errors.Is(err, reencrypt.ErrUnsealable) {
		s.log.Error("sealed manifests that cannot be unsealed are left as they are", "items", st.Failed)
	}
	return st, err
}

// sealedSeparator separates the record key and the resource identity in a
// reencrypt.Item's Key.
const sealedSeparator = "|"

// sealedManifests yields the sealed manifests of the records read.
func (s *Service) sealedManifests(kvs []store.KeyValue) iter.Seq2[reencrypt.Item, error] {
	return func(yield func(reencrypt.Item, error) bool) {
		for _, kv := range kvs {
			var rec record
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				s.log.Error("corrupt record skipped by re-encryption", "key", kv.Key, "error", err)
				continue
			}
			for i := range rec.Resources {
				res := &rec.Resources[i]
				if res.Sealed == nil {
					continue
				}
				it := reencrypt.Item{Key: kv.Key + sealedSeparator + res.identity(), AssociatedData: sealAAD(kv.Key, res), Ciphertext: res.Sealed}
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// rewriteSealed stores a rewrapped manifest if the record still holds the
// ciphertext the job read (compare-and-swap on the record); a record
// changed or deleted meanwhile is left alone.
func (s *Service) rewriteSealed(ctx context.Context, it reencrypt.Item, ciphertext []byte) error {
	key, identity, _ := strings.Cut(it.Key, sealedSeparator)
	err := s.deps.KV.Update(ctx, key, func(old []byte) ([]byte, error) {
		var rec record
		if err := json.Unmarshal(old, &rec); err != nil {
			return nil, err
		}
		changed := false
		for i := range rec.Resources {
			if res := &rec.Resources[i]; res.identity() == identity && bytes.Equal(res.Sealed, it.Ciphertext) {
				res.Sealed, changed = ciphertext, true
			}
		}
		if !changed {
			return old, nil
		}
		return json.Marshal(&rec)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
