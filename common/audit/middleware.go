package audit

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"edgeway.dev/common/httpx"
	"edgeway.dev/common/reqid"
)

// Time limits of the records written for HTTP requests.
const (
	// attemptTimeout bounds the wait for an attempt record (the request
	// fails with 503 when it runs out).
	attemptTimeout = 5 * time.Second
	// outcomeTimeout bounds the wait for an outcome record, which is
	// written even if the client has gone.
	outcomeTimeout = 5 * time.Second
	// deniedTimeout is short: denied requests can come in floods, and must
	// not hold up the records of real mutations for long.
	deniedTimeout = time.Second
)

// mutating reports whether requests with method change state.
func mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// Middleware records every mutating request (POST, PUT, PATCH, DELETE):
// an "attempt" record before the handler runs, and the status code after.
// If the attempt cannot be recorded, the request is answered 503
// (problem+json) and the handler is not called. Other methods pass through
// unrecorded.
//
// identity returns the authenticated subject and client of a request and
// project the project it concerns; either may be nil. service fills
// Record.Service. Install it after authentication (so identity is known) and
// after httpx.Observe (so the request id is set).
func Middleware(l *Log, service string, identity func(*http.Request) (subject, client string),
	project func(*http.Request) string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !mutating(r.Method) {
				next.ServeHTTP(w, r)
				return
			}
			rec := requestRecord(r, service)
			if identity != nil {
				rec.Subject, rec.Client = identity(r)
			}
			if project != nil {
				rec.Project = project(r)
			}
			rec.Outcome = OutcomeAttempt
			ctx, cancel := context.WithTimeout(r.Context(), attemptTimeout)
			err := l.Append(ctx, rec)
			cancel()
			if err != nil {
				l.log.ErrorContext(r.Context(), "audit record failed, request refused",
					slog.String("request_id", rec.RequestID), slog.Any("error", err))
				httpx.WriteProblem(w, r, http.StatusServiceUnavailable, "service temporarily unavailable")
				return
			}

			sw := &statusWriter{ResponseWriter: w}
			defer func() {
				p := recover()
				out := rec
				out.Time = time.Time{}
				switch {
				case p != nil:
					out.Outcome, out.Status = OutcomePanic, http.StatusInternalServerError
				case sw.status == 0:
					out.Outcome, out.Status = strconv.Itoa(http.StatusOK), http.StatusOK
				default:
					out.Outcome, out.Status = strconv.Itoa(sw.status), sw.status
				}
				l.appendDetached(r, out, outcomeTimeout)
				if p != nil {
					panic(p)
				}
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// Denied records an authentication or authorization failure (any method):
// Outcome "denied:<status>". It is meant for the failure hook of the auth
// middleware; subject is "" when the caller is not authenticated. A failure
// to record is logged: the request is refused anyway.
func (l *Log) Denied(r *http.Request, status int, subject string) {
	rec := requestRecord(r, l.service)
	rec.Subject = subject
	rec.Outcome, rec.Status = deniedPrefix+strconv.Itoa(status), status
	l.appendDetached(r, rec, deniedTimeout)
}

// requestRecord returns the fields of a record that come from r: method,
// path (never the query) and request id.
func requestRecord(r *http.Request, service string) Record {
	id := reqid.From(r.Context())
	if id == "" {
		if h := r.Header.Get(reqid.Header); reqid.Valid(h) {
			id = h
		}
	}
	return Record{Method: r.Method, Path: r.URL.Path, RequestID: id, Service: service}
}

// appendDetached appends rec with a context that survives the client
// leaving, and logs a failure.
func (l *Log) appendDetached(r *http.Request, rec Record, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), timeout)
	defer cancel()
	if err := l.Append(ctx, rec); err != nil {
		l.log.ErrorContext(r.Context(), "audit record failed",
			slog.String("request_id", rec.RequestID), slog.String("outcome", rec.Outcome), slog.Any("error", err))
	}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.status == 0 {
			w.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
