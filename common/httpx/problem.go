package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"edgeway.dev/common/reqid"
	"edgeway.dev/common/store"
)

// Error is an error with an HTTP status and a short message meant for the
// user. Handlers return it for problems they detect at the boundary.
type Error struct {
	Status int
	Msg    string
	Err    error // optional cause, logged but never shown
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status and message.
func Errorf(status int, msg string) *Error { return &Error{Status: status, Msg: msg} }

// Problem is the RFC 9457 body of every error answer.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// sentinel maps storage sentinels to statuses: the single translation table.
var sentinel = []struct {
	err    error
	status int
}{
	{store.ErrNotFound, http.StatusNotFound},
	{store.ErrExists, http.StatusConflict},
	{store.ErrConflict, http.StatusConflict},
	{store.ErrHasChildren, http.StatusConflict},
	{store.ErrReferenced, http.StatusConflict},
	{store.ErrUnavailable, http.StatusServiceUnavailable},
	{context.DeadlineExceeded, http.StatusServiceUnavailable},
}

// StatusOf returns the HTTP status for err and the message safe to show.
func StatusOf(err error) (int, string) {
	var he *Error
	if errors.As(err, &he) {
		return he.Status, he.Msg
	}
	for _, s := range sentinel {
		if errors.Is(err, s.err) {
			if s.status == http.StatusServiceUnavailable {
				return s.status, "service temporarily unavailable"
			}
			return s.status, err.Error()
		}
	}
	return http.StatusInternalServerError, "internal error"
}

// WriteError renders err as application/problem+json and logs it.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status, msg := StatusOf(err)
	id := reqid.From(r.Context())
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "request_id", id, "status", status, "error", err)
	} else {
		log.DebugContext(r.Context(), "request refused", "request_id", id, "status", status, "error", err)
	}
	WriteProblem(w, r, status, msg)
}

// WriteProblem writes a problem+json answer with the given status and detail.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	p := Problem{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Instance:  r.URL.Path,
		RequestID: reqid.From(r.Context()),
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteRawJSON writes already-encoded JSON with the given status.
func WriteRawJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
