package httpx

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"edgeway.dev/common/reqid"
)

// Metrics are the request metrics of one listener.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers request metrics labelled with component on reg.
func NewMetrics(reg prometheus.Registerer, component string) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "edgeway_http_requests_total",
			Help:        "HTTP requests served, by route template, method and status code.",
			ConstLabels: prometheus.Labels{"component": component},
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "edgeway_http_request_duration_seconds",
			Help:        "HTTP request latency, by route template and method.",
			ConstLabels: prometheus.Labels{"component": component},
			Buckets:     prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type routeKey struct{}

// SetRoute records the matched route template of the request for the access
// log and metrics (a template, never the raw path, so label cardinality stays
// bounded). Routers call it once they matched.
func SetRoute(r *http.Request, template string) {
	if p, ok := r.Context().Value(routeKey{}).(*string); ok {
		*p = template
	}
}

// Observe wraps h with request ids, an access log line and metrics. An
// incoming X-Request-Id is kept when it is well-formed; otherwise a new one
// is made. The id is echoed in the answer.
func Observe(h http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(reqid.Header)
		if !reqid.Valid(id) {
			id = reqid.New()
		}
		r.Header.Set(reqid.Header, id)
		route := "unmatched"
		ctx := reqid.With(context.WithValue(r.Context(), routeKey{}, &route), id)
		r = r.WithContext(ctx)
		w.Header().Set(reqid.Header, id)
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		rt := route
		if m != nil {
			m.requests.WithLabelValues(rt, r.Method, strconv.Itoa(sw.status)).Inc()
			m.duration.WithLabelValues(rt, r.Method).Observe(d.Seconds())
		}
		log.InfoContext(ctx, "http request",
			"request_id", id, "method", r.Method, "route", rt, "status", sw.status,
			"bytes", sw.bytes, "duration_ms", float64(d.Microseconds())/1000)
	})
}
