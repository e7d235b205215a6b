package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Problem is an RFC 9457 problem document as Edgeway renders errors.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"requestId"`
}

// Error is an answer of 400 or more.
type Error struct {
	Method  string
	Path    string
	Status  int
	Problem Problem
	// Text is the body of an answer that was not a problem document, cut short.
	Text string
}

func newError(method, path string, r *Response) *Error {
	e := &Error{Method: method, Path: path, Status: r.Status}
	if err := json.Unmarshal(r.Body, &e.Problem); err != nil || (e.Problem.Title == "" && e.Problem.Detail == "") {
		e.Problem = Problem{}
		t := strings.TrimSpace(string(r.Body))
		if len(t) > 300 {
			t = t[:300] + "…"
		}
		e.Text = t
	}
	if e.Problem.RequestID == "" {
		e.Problem.RequestID = r.Header.Get("X-Request-Id")
	}
	return e
}

// Error renders "POST /v2/projects: 409 Conflict: project p1 already exists
// (request id …)".
func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Method, e.Path, e.Short())
}

// Short renders the status and the server's detail without the request.
func (e *Error) Short() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	switch {
	case e.Problem.Detail != "":
		b.WriteString(": " + e.Problem.Detail)
	case e.Problem.Title != "" && e.Problem.Title != http.StatusText(e.Status):
		b.WriteString(": " + e.Problem.Title)
	case e.Text != "":
		b.WriteString(": " + e.Text)
	}
	if e.Problem.RequestID != "" {
		b.WriteString(" (request id " + e.Problem.RequestID + ")")
	}
	return b.String()
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// DetailOf returns the problem detail of an *Error in err's chain.
func DetailOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Problem.Detail
	}
	return ""
}
