package devstores

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// orDiscard returns log, or a logger that drops everything when log is nil.
func orDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// minLevel is a slog.Handler that drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// ferretLogs is the slog.Handler given to FerretDB: records at warning level
// and above, except the wire dumps of failed commands. FerretDB logs every
// response with ok: 0 (including the endSessions it does not implement, sent by
// every client on Disconnect) as a multi-line dump at warning level; the client
// gets the same error anyway.
type ferretLogs struct {
	minLevel
}

func newFerretLogs(h slog.Handler) ferretLogs {
	return ferretLogs{minLevel{Handler: h, min: slog.LevelWarn}}
}

func (h ferretLogs) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError &&
		(strings.HasPrefix(r.Message, "Response header:") || strings.HasPrefix(r.Message, "Response message:")) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h ferretLogs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ferretLogs{minLevel{h.Handler.WithAttrs(attrs), h.min}}
}

func (h ferretLogs) WithGroup(name string) slog.Handler {
	return ferretLogs{minLevel{h.Handler.WithGroup(name), h.min}}
}

// newZapLogger returns a zap.Logger (what etcd logs to) that forwards the
// entries at min and above to log. Once stopping is set, they are forwarded
// at debug level: a server that is being closed reports every listener it
// loses as an error.
func newZapLogger(log *slog.Logger, min zapcore.Level, stopping *atomic.Bool) *zap.Logger {
	return zap.New(&slogCore{h: log.Handler(), min: min, stopping: stopping})
}

// slogCore is a zapcore.Core writing to a slog.Handler.
type slogCore struct {
	h        slog.Handler
	min      zapcore.Level
	stopping *atomic.Bool
	attrs    []slog.Attr
}

func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.min }

func (c *slogCore) With(fields []zapcore.Field) zapcore.Core {
	return &slogCore{h: c.h, min: c.min, stopping: c.stopping, attrs: append(slices.Clip(c.attrs), fieldsToAttrs(fields)...)}
}

func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *slogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	level := slog.LevelError
	switch {
	case e.Level < zapcore.InfoLevel:
		level = slog.LevelDebug
	case e.Level < zapcore.WarnLevel:
		level = slog.LevelInfo
	case e.Level < zapcore.ErrorLevel:
		level = slog.LevelWarn
	}
	if c.stopping.Load() {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	if !c.h.Enabled(ctx, level) {
		return nil
	}
	r := slog.NewRecord(e.Time, level, e.Message, 0)
	if e.LoggerName != "" {
		r.AddAttrs(slog.String("logger", e.LoggerName))
	}
	r.AddAttrs(c.attrs...)
	r.AddAttrs(fieldsToAttrs(fields)...)
	return c.h.Handle(ctx, r)
}

func (c *slogCore) Sync() error { return nil }

func fieldsToAttrs(fields []zapcore.Field) []slog.Attr {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	attrs := make([]slog.Attr, 0, len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		attrs = append(attrs, slog.Any(k, enc.Fields[k]))
	}
	return attrs
}
