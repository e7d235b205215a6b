package store

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StoreMetrics are the metrics of store calls, shared by every decorated
// store of a process.
type StoreMetrics struct {
	calls *prometheus.HistogramVec
}

// NewStoreMetrics registers store-call metrics on reg.
func NewStoreMetrics(reg prometheus.Registerer) *StoreMetrics {
	m := &StoreMetrics{calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgeway_store_call_duration_seconds",
		Help:    "Latency of storage calls, by service, backend, operation and result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"service", "backend", "op", "result"})}
	reg.MustRegister(m.calls)
	return m
}

func (m *StoreMetrics) observe(service, backend, op string, start time.Time, err error) {
	m.calls.WithLabelValues(service, backend, op, result(err)).Observe(time.Since(start).Seconds())
}

// result classifies an error into a bounded label value.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrExists):
		return "exists"
	case errors.Is(err, ErrConflict), errors.Is(err, ErrHasChildren), errors.Is(err, ErrReferenced):
		return "conflict"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// InstrumentResources wraps r so every call is measured.
func InstrumentResources(r Resources, m *StoreMetrics, service string) Resources {
	return &instrumentedResources{r: r, m: m, service: service}
}

type instrumentedResources struct {
	r       Resources
	m       *StoreMetrics
	service string
}

func (i *instrumentedResources) done(op string, start time.Time, err error) {
	i.m.observe(i.service, "mongodb", op, start, err)
}

func (i *instrumentedResources) Create(ctx context.Context, rec Record) (out Record, err error) {
	defer func(t time.Time) { i.done("create", t, err) }(time.Now())
	return i.r.Create(ctx, rec)
}

func (i *instrumentedResources) Get(ctx context.Context, key string) (out Record, err error) {
	defer func(t time.Time) { i.done("get", t, err) }(time.Now())
	return i.r.Get(ctx, key)
}

func (i *instrumentedResources) List(ctx context.Context, parent, kind string) (out []Record, err error) {
	defer func(t time.Time) { i.done("list", t, err) }(time.Now())
	return i.r.List(ctx, parent, kind)
}

func (i *instrumentedResources) ReferencedBy(ctx context.Context, ref string) (out []Record, err error) {
	defer func(t time.Time) { i.done("referenced_by", t, err) }(time.Now())
	return i.r.ReferencedBy(ctx, ref)
}

func (i *instrumentedResources) Update(ctx context.Context, key string, fn func(Record) (Record, error)) (out Record, err error) {
	defer func(t time.Time) { i.done("update", t, err) }(time.Now())
	return i.r.Update(ctx, key, fn)
}

func (i *instrumentedResources) Delete(ctx context.Context, key string) (err error) {
	defer func(t time.Time) { i.done("delete", t, err) }(time.Now())
	return i.r.Delete(ctx, key)
}

func (i *instrumentedResources) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { i.done("ping", t, err) }(time.Now())
	return i.r.Ping(ctx)
}

// InstrumentKV wraps kv so every call is measured.
func InstrumentKV(kv KV, m *StoreMetrics, service string) KV {
	return &instrumentedKV{kv: kv, m: m, service: service}
}

type instrumentedKV struct {
	kv      KV
	m       *StoreMetrics
	service string
}

func (i *instrumentedKV) done(op string, start time.Time, err error) {
	i.m.observe(i.service, "etcd", op, start, err)
}

func (i *instrumentedKV) Get(ctx context.Context, key string) (out KeyValue, err error) {
	defer func(t time.Time) { i.done("get", t, err) }(time.Now())
	return i.kv.Get(ctx, key)
}

func (i *instrumentedKV) Create(ctx context.Context, key string, value []byte) (err error) {
	defer func(t time.Time) { i.done("create", t, err) }(time.Now())
	return i.kv.Create(ctx, key, value)
}

func (i *instrumentedKV) Put(ctx context.Context, key string, value []byte) (err error) {
	defer func(t time.Time) { i.done("put", t, err) }(time.Now())
	return i.kv.Put(ctx, key, value)
}

func (i *instrumentedKV) Update(ctx context.Context, key string, fn func([]byte) ([]byte, error)) (err error) {
	defer func(t time.Time) { i.done("update", t, err) }(time.Now())
	return i.kv.Update(ctx, key, fn)
}

func (i *instrumentedKV) Delete(ctx context.Context, key string) (err error) {
	defer func(t time.Time) { i.done("delete", t, err) }(time.Now())
	return i.kv.Delete(ctx, key)
}

func (i *instrumentedKV) List(ctx context.Context, prefix string) (out []KeyValue, err error) {
	defer func(t time.Time) { i.done("list", t, err) }(time.Now())
	return i.kv.List(ctx, prefix)
}

func (i *instrumentedKV) DeletePrefix(ctx context.Context, prefix string) (err error) {
	defer func(t time.Time) { i.done("delete_prefix", t, err) }(time.Now())
	return i.kv.DeletePrefix(ctx, prefix)
}

func (i *instrumentedKV) Ping(ctx context.Context) (err error) {
	defer func(t time.Time) { i.done("ping", t, err) }(time.Now())
	return i.kv.Ping(ctx)
}
