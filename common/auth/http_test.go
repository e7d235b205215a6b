package auth

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"edgeway.dev/common/httpx"
	"edgeway.dev/common/reqid"
)

func TestMiddleware(t *testing.T) {
	p := newIdP(t)
	v, _ := newTestVerifier(t, p.config())
	good := p.token(t, nil)
	expired := p.token(t, map[string]any{"exp": int64(1), "iat": int64(1)})

	cases := []struct {
		name        string
		header      []string // Authorization header values
		query       string
		wantStatus  int
		wantWWW     string
		wantUser    string
		wantFailure bool
	}{
		{name: "good token", header: []string{"Bearer " + good}, wantStatus: http.StatusOK, wantUser: "user:alice"},
		{name: "scheme is case-insensitive", header: []string{"bearer " + good}, wantStatus: http.StatusOK, wantUser: "user:alice"},
		{name: "no token", wantStatus: 401, wantWWW: `Bearer realm="edgeway"`, wantFailure: true},
		{name: "token in query string only", query: "?access_token=" + good, wantStatus: 401, wantWWW: `Bearer realm="edgeway"`, wantFailure: true},
		{name: "expired token", header: []string{"Bearer " + expired}, wantStatus: 401, wantWWW: `Bearer realm="edgeway", error="invalid_token"`, wantFailure: true},
		{name: "empty bearer", header: []string{"Bearer "}, wantStatus: 401, wantWWW: `Bearer realm="edgeway", error="invalid_token"`, wantFailure: true},
		{name: "basic credentials", header: []string{"Basic YWxpY2U6c2VjcmV0"}, wantStatus: 401, wantWWW: `Bearer realm="edgeway"`, wantFailure: true},
		{name: "two authorization headers", header: []string{"Bearer " + good, "Bearer " + good}, wantStatus: 401, wantWWW: `Bearer realm="edgeway", error="invalid_token"`, wantFailure: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var failures []error
			mw := Middleware(v, log, OnFailure(func(r *http.Request, reason error) {
				require.Equal(t, "/v2/projects", r.URL.Path)
				failures = append(failures, reason)
			}))
			var gotUser string
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id, ok := FromContext(r.Context())
				require.True(t, ok)
				gotUser = id.Principal()
				require.Equal(t, good, id.Token)
				w.WriteHeader(http.StatusOK)
			}))
			req := httptest.NewRequest(http.MethodGet, "/v2/projects"+tc.query, nil)
			req = req.WithContext(reqid.With(req.Context(), "req-1"))
			for _, hv := range tc.header {
				req.Header.Add("Authorization", hv)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			require.Equal(t, tc.wantStatus, rec.Code)
			require.Equal(t, tc.wantUser, gotUser)
			require.Equal(t, tc.wantWWW, rec.Header().Get("WWW-Authenticate"))
			require.Equal(t, tc.wantFailure, len(failures) == 1)
			if !tc.wantFailure {
				return
			}
			require.ErrorIs(t, failures[0], ErrUnauthenticated)
			require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
			var prob httpx.Problem
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &prob))
			require.Equal(t, httpx.Problem{Type: "about:blank", Title: "Unauthorized", Status: 401,
				Detail: "authentication required", Instance: "/v2/projects", RequestID: "req-1"}, prob)
			require.NotContains(t, rec.Body.String(), failures[0].Error()[len("unauthenticated: "):],
				"the reason is not sent")
			require.Contains(t, logs.String(), `"request_id":"req-1"`, "the reason is logged with the request id")
			require.NotContains(t, logs.String(), good)
			require.NotContains(t, logs.String(), expired)
		})
	}
}

// TestMiddlewareIdPDown: with a token but no reachable issuer the answer is
// 503, not 401 — the token was not judged.
func TestMiddlewareIdPDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	fake := &testIdP{issuer: "https://" + addr}
	v, _ := newTestVerifier(t, Config{Issuer: fake.issuer, ClientID: testClientID, HTTPClient: devClient()})
	h := Middleware(v, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Fatal("handler reached")
	}))

	req := httptest.NewRequest(http.MethodGet, "/v2/projects", nil)
	req.Header.Set("Authorization", "Bearer "+fake.token(t, nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Empty(t, rec.Header().Get("WWW-Authenticate"))
	require.Contains(t, rec.Body.String(), "authentication temporarily unavailable")

	// Without a token the answer is still 401: no discovery is needed.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v2/projects", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}
