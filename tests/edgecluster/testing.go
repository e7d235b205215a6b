package edgecluster

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// EnvSkip names the environment variable that, set to 1, makes StartT skip
// the test instead of running kube-apiservers.
const EnvSkip = "EDGEWAY_SKIP_KUBE"

// StartT starts a fleet for a test and stops it in t.Cleanup, also when the
// test fails or panics. opts.Dir defaults to t.TempDir() and opts.Log to the
// test's log. When the test has failed, the tail of every apiserver.log is
// logged. With EDGEWAY_SKIP_KUBE=1 the test is skipped.
func StartT(t testing.TB, opts Options) *Fleet {
	t.Helper()
	if os.Getenv(EnvSkip) == "1" {
		t.Skip(EnvSkip + "=1: skipping the test that needs real kube-apiservers")
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	if opts.Log == nil {
		sink := &testSink{t: t}
		t.Cleanup(sink.stop) // runs last, after the fleet's Close has logged
		opts.Log = slog.New(&testHandler{sink: sink})
	}
	ctx := context.Background()
	if d, ok := t.(interface{ Context() context.Context }); ok {
		ctx = d.Context()
	}
	f, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("edgecluster: start fleet: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range f.Clusters() {
				tail, _ := f.LogTail(c.Name)
				t.Logf("--- tail of %s ---\n%s", c.LogPath, tail)
			}
		}
		f.Close()
	})
	return f
}

// testHandler is a slog.Handler that writes to t.Log until the test ends.
type testHandler struct {
	sink  *testSink
	attrs []slog.Attr
}

type testSink struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (s *testSink) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
}

// Enabled drops debug messages, such as those of etcd shutting down.
func (h *testHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *testHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	if !h.sink.done {
		h.sink.t.Log(b.String())
	}
	return nil
}

func (h *testHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &testHandler{sink: h.sink, attrs: append(slices.Clip(h.attrs), attrs...)}
}

func (h *testHandler) WithGroup(string) slog.Handler { return h }
