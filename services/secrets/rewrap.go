package secrets

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/store"
	"edgeway.dev/services/secrets/reencrypt"
)

// localKeys is the service's own Keys server as a reencrypt.Client: the
// job over the project secrets runs in process, without a connection.
type localKeys struct{ ks *keysServer }

func (l localKeys) KeyStatus(ctx context.Context, in *secretsv1.KeyStatusRequest, _ ...grpc.CallOption) (*secretsv1.KeyStatusResponse, error) {
	return l.ks.KeyStatus(ctx, in)
}

func (l localKeys) Rewrap(ctx context.Context, in *secretsv1.RewrapRequest, _ ...grpc.CallOption) (*secretsv1.RewrapResponse, error) {
	return l.ks.Rewrap(ctx, in)
}

// progressEvery is how many items pass between two progress lines.
const progressEvery = 100

// reencryptLoop moves the project secrets onto the primary key: at start,
// whenever the primary key changes (checked every ReencryptCheck, or
// ReencryptInterval if shorter), and
// every ReencryptInterval to catch values sealed during a rotation. A run
// interrupted by an error or a restart is simply run again: values already
// on the primary key cost no call.
func (s *Service) reencryptLoop(ctx context.Context) {
	var lastPrimary uint32
	var lastRun time.Time
	t := time.NewTicker(min(ReencryptCheck, s.cfg.ReencryptInterval))
	defer t.Stop()
	for {
		primary := s.ring.get(ctx).primary
		if lastRun.IsZero() || primary != lastPrimary || time.Since(lastRun) >= s.cfg.ReencryptInterval {
			changed := !lastRun.IsZero() && primary != lastPrimary
			if _, err := s.reencryptProjectSecrets(ctx, changed); err != nil && ctx.Err() == nil {
				s.log.Error("re-encryption of project secrets stopped; retried at the next run", "error", err)
			}
			lastPrimary, lastRun = primary, time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reencryptProjectSecrets runs the re-encryption job once over every
// stored project secret. Progress goes to the log at info level when the
// primary key changed (loud), at debug level otherwise.
func (s *Service) reencryptProjectSecrets(ctx context.Context, loud bool) (reencrypt.Stats, error) {
	ps := s.projects
	items, err := ps.sealedItems(ctx)
	if err != nil {
		return reencrypt.Stats{}, err
	}
	level := slog.LevelDebug
	if loud {
		level = slog.LevelInfo
	}
	primary := s.ring.get(ctx).primary
	st, err := reencrypt.Run(ctx, localKeys{ks: &s.keys}, items, ps.rewrite, func(done, total int) {
		if done%progressEvery == 0 || done == total {
			s.log.Log(ctx, level, "re-encryption of project secrets in progress", "done", done, "total", total)
		}
	})
	if st.Rewrapped > 0 || len(st.Failed) > 0 {
		level = slog.LevelInfo
	}
	s.log.Log(ctx, level, "re-encryption of project secrets done", "done", st.Done, "total", len(items),
		"rewrapped", st.Rewrapped, "skipped", st.Skipped, "failed", len(st.Failed), "primary_key_id", primary)
	if errors.Is(err, reencrypt.ErrUnsealable) {
		s.log.Error("project secrets that cannot be unsealed are left as they are", "keys", st.Failed)
	}
	return st, err
}

// sealedItems reads every project secret's sealed values: the anchors,
// then the secrets under each.
func (ps *projectSecrets) sealedItems(ctx context.Context) ([]reencrypt.Item, error) {
	anchors, err := ps.store.List(ctx, "", anchorKind)
	if err != nil {
		return nil, err
	}
	var out []reencrypt.Item
	for _, a := range anchors {
		recs, err := ps.store.List(ctx, a.Key, secretKind)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out = append(out, reencrypt.Item{Key: r.Key, AssociatedData: SecretAAD(r.Key), Ciphertext: r.File})
		}
	}
	return out, nil
}

// rewrite stores a rewrapped value if the record still holds the value the
// job read (compare-and-swap); a record written or deleted meanwhile is
// left alone.
func (ps *projectSecrets) rewrite(ctx context.Context, it reencrypt.Item, ciphertext []byte) error {
	_, err := ps.store.Update(ctx, it.Key, func(old store.Record) (store.Record, error) {
		if bytes.Equal(old.File, it.Ciphertext) {
			old.File = ciphertext
		}
		return old, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
