package deployer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
)

// worker is the goroutine working on one context in this process.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startWorker runs the context's current operation in the background,
// unless a worker for it already runs here or the service is closing.
func (s *Service) startWorker(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if w, ok := s.workers[id]; ok {
		select {
		case <-w.done:
		default:
			return
		}
	}
	ctx, cancel := context.WithCancel(s.ctx)
	w := &worker{cancel: cancel, done: make(chan struct{})}
	s.workers[id] = w
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(w.done)
		defer cancel()
		s.run(ctx, id)
		s.mu.Lock()
		if s.workers[id] == w {
			delete(s.workers, id)
		}
		s.mu.Unlock()
	}()
}

// stopWorker cancels the context's worker in this process, if any, and
// waits for it to end (or for ctx).
func (s *Service) stopWorker(ctx context.Context, id string) error {
	s.mu.Lock()
	w := s.workers[id]
	s.mu.Unlock()
	if w == nil {
		return nil
	}
	w.cancel()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resume starts the workers of the contexts left in progress by a previous
// process (crash, restart). Server-side apply is idempotent, so redoing
// the work already done creates nothing twice.
func (s *Service) resume(ctx context.Context) {
	for failures := 1; ; failures++ {
		kvs, err := s.deps.KV.List(ctx, "meta/")
		if err == nil {
			n := 0
			for _, kv := range kvs {
				var m meta
				if err := json.Unmarshal(kv.Value, &m); err != nil {
					s.log.Error("corrupt context meta", "key", kv.Key, "error", err)
					continue
				}
				if m.active() {
					s.log.Info("resuming context", "context_id", m.ContextID, "status", m.Status)
					s.startWorker(strings.TrimPrefix(kv.Key, "meta/"))
					n++
				}
			}
			s.log.Debug("resume done", "contexts", len(kvs), "resumed", n)
			return
		}
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return
		}
		s.log.Warn("cannot list contexts to resume; retrying", "error", err)
		if sleep(ctx, backoff(s.cfg.RetryBase, s.cfg.RetryMax, failures)) != nil {
			return
		}
	}
}

// run carries out the context's current operation.
func (s *Service) run(ctx context.Context, id string) {
	log := s.log.With("context_id", id)
	m, err := s.getMeta(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("cannot read context", "error", err)
		}
		return
	}
	if !m.active() {
		return
	}
	recs, err := s.loadRecords(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("cannot read context records", "error", err)
		}
		return
	}
	r := newRun(s, m, recs, log)
	switch m.Op {
	case opApply:
		r.apply(ctx)
	case opTerminate:
		r.terminate(ctx)
	default:
		log.Error("unknown operation", "op", m.Op)
	}
}

// finish records the outcome of the operation, unless the context was
// stopped, superseded or given another operation meanwhile.
func (s *Service) finish(ctx context.Context, m *meta, ok bool, log *slog.Logger) {
	want := m.doneStatus(ok)
	for failures := 1; ; failures++ {
		_, err := s.updateMeta(ctx, m.ContextID, func(cur *meta) (bool, error) {
			if cur.Op != m.Op || !cur.active() {
				return false, nil
			}
			cur.Status = want
			return true, nil
		})
		if err == nil {
			log.Info("context done", "status", want)
			return
		}
		if ctx.Err() != nil || failures >= 5 {
			log.Error("cannot record the context's outcome; it is redone on resume", "status", want, "error", err)
			return
		}
		if sleep(ctx, backoff(s.cfg.RetryBase, s.cfg.RetryMax, failures)) != nil {
			return
		}
	}
}
