package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"edgeway.dev/common/devstores"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/reqid"
)

func identity(r *http.Request) (string, string) { return r.Header.Get("X-Test-Subject"), "edgewayctl" }
func project(r *http.Request) string            { return r.PathValue("project") }

// serve wraps h with the middleware behind a mux that sets the project path
// value, as the services' routers do.
func serve(l *Log, h http.HandlerFunc) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v2/projects/{project}/", Middleware(l, "orchestrator", identity, project)(h))
	return mux
}

func request(method, target string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Header.Set("X-Test-Subject", "alice")
	r.Header.Set("Authorization", "Bearer secret-token")
	return r.WithContext(reqid.With(r.Context(), "req-1"))
}

func TestMiddlewareRecordsMutations(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 100)
	called := 0
	h := serve(l, func(w http.ResponseWriter, r *http.Request) {
		called++
		// The attempt is on record before the handler runs.
		rs, err := l.List(r.Context(), Filter{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, OutcomeAttempt, rs[0].Outcome)
		require.Equal(t, r.Method, rs[0].Method)
		w.WriteHeader(http.StatusCreated)
	})

	w := httptest.NewRecorder()
	h.ServeHTTP(w, request(http.MethodPost, "/v2/projects/p1/apps?token=secret-in-query"))
	require.Equal(t, http.StatusCreated, w.Code)
	require.Equal(t, 1, called)

	rs, err := l.List(t.Context(), Filter{})
	require.NoError(t, err)
	require.Len(t, rs, 2)
	for i, want := range []struct {
		outcome string
		status  int
	}{{"201", 201}, {"attempt", 0}} {
		r := rs[i]
		require.Equal(t, want.outcome, r.Outcome)
		require.Equal(t, want.status, r.Status)
		require.Equal(t, "alice", r.Subject)
		require.Equal(t, "edgewayctl", r.Client)
		require.Equal(t, "p1", r.Project)
		require.Equal(t, "POST", r.Method)
		require.Equal(t, "/v2/projects/p1/apps", r.Path)
		require.Equal(t, "req-1", r.RequestID)
		require.Equal(t, "orchestrator", r.Service)
	}

	// No secret reaches the database.
	cur, err := e.coll().Find(t.Context(), bson.D{})
	require.NoError(t, err)
	for cur.Next(t.Context()) {
		require.NotContains(t, cur.Current.String(), "secret")
	}
	require.NoError(t, cur.Err())

	for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request(m, "/v2/projects/p1/apps/a"))
		require.Equal(t, http.StatusCreated, w.Code)
	}
	require.NoError(t, l.Close(t.Context()))
	rep := e.verify(t)
	require.True(t, rep.OK(), rep.Reason)
	require.Equal(t, 8, rep.Records)
}

func TestMiddlewareSkipsReads(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 100)
	defer l.Close(t.Context())
	called := 0
	h := serve(l, func(w http.ResponseWriter, r *http.Request) { called++ })
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, request(m, "/v2/projects/p1/apps"))
		require.Equal(t, http.StatusOK, w.Code)
	}
	require.Equal(t, 3, called)
	n, err := e.coll().CountDocuments(t.Context(), bson.D{})
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestMiddlewareFailsClosed(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env) (*Log, context.Context)
	}{
		{"client disconnected", func(t *testing.T, e *env) (*Log, context.Context) {
			cli, err := devstores.Connect(t.Context(), uri)
			require.NoError(t, err)
			l, err := Open(t.Context(), cli.Database(e.db.Name()), e.service, e.opts(100))
			require.NoError(t, err)
			require.NoError(t, cli.Disconnect(t.Context()))
			return l, t.Context()
		}},
		{"request context cancelled", func(t *testing.T, e *env) (*Log, context.Context) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return e.open(t, 100), ctx
		}},
		{"log closed", func(t *testing.T, e *env) (*Log, context.Context) {
			l := e.open(t, 100)
			require.NoError(t, l.Close(t.Context()))
			return l, t.Context()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			l, ctx := tt.setup(t, e)
			called := false
			h := serve(l, func(w http.ResponseWriter, r *http.Request) { called = true })

			w := httptest.NewRecorder()
			h.ServeHTTP(w, request(http.MethodPost, "/v2/projects/p1/apps").WithContext(reqid.With(ctx, "req-2")))
			require.Equal(t, http.StatusServiceUnavailable, w.Code)
			require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
			var p httpx.Problem
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p))
			require.Equal(t, http.StatusServiceUnavailable, p.Status)
			require.Equal(t, "req-2", p.RequestID)
			require.False(t, called, "the handler ran without an audit record")

			n, err := e.coll().CountDocuments(t.Context(), bson.D{})
			require.NoError(t, err)
			require.Zero(t, n)
			_ = l.Close(t.Context())
		})
	}
}

func TestMiddlewareRecordsPanics(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 100)
	defer l.Close(t.Context())
	h := serve(l, func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	require.PanicsWithValue(t, "boom", func() {
		h.ServeHTTP(httptest.NewRecorder(), request(http.MethodDelete, "/v2/projects/p1/apps/a"))
	})
	rs, err := l.List(t.Context(), Filter{})
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, OutcomePanic, rs[0].Outcome)
	require.Equal(t, http.StatusInternalServerError, rs[0].Status)
}

func TestDenied(t *testing.T) {
	e := newEnv(t)
	l := e.open(t, 100)
	l.Denied(request(http.MethodGet, "/v2/projects/p9/apps?x=1"), http.StatusUnauthorized, "")
	l.Denied(request(http.MethodDelete, "/v2/projects/p9"), http.StatusForbidden, "bob")
	rs, err := l.List(t.Context(), Filter{})
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, "denied:403", rs[0].Outcome)
	require.Equal(t, http.StatusForbidden, rs[0].Status)
	require.Equal(t, "bob", rs[0].Subject)
	require.Equal(t, "DELETE", rs[0].Method)
	require.Equal(t, "denied:401", rs[1].Outcome)
	require.Equal(t, "", rs[1].Subject)
	require.Equal(t, "/v2/projects/p9/apps", rs[1].Path)
	require.Equal(t, "req-1", rs[1].RequestID)
	require.Equal(t, e.service, rs[1].Service)
	require.NoError(t, l.Close(t.Context()))
	require.True(t, e.verify(t).OK())
}
