package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/api-spec/openapi"
	"edgeway.dev/common/audit"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store/mongostore"
)

// The project secrets' tests run against an embedded FerretDB, started on
// first use and shared; each test has its own database.
var ferret struct {
	once sync.Once
	err  error
	dir  string
	m    *devstores.Mongo
	cli  *mongo.Client
}

var databases atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if ferret.cli != nil {
		_ = ferret.cli.Disconnect(context.Background())
	}
	if ferret.m != nil {
		ferret.m.Stop()
	}
	if ferret.dir != "" {
		_ = os.RemoveAll(ferret.dir)
	}
	os.Exit(code)
}

func ferretDB(t *testing.T) *mongo.Database {
	t.Helper()
	ferret.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if ferret.dir, ferret.err = os.MkdirTemp("", "secrets-test-"); ferret.err != nil {
			return
		}
		if ferret.m, ferret.err = devstores.StartMongo(ctx, ferret.dir, "127.0.0.1:0", nil); ferret.err != nil {
			return
		}
		ferret.cli, ferret.err = devstores.Connect(ctx, ferret.m.URI())
	})
	require.NoError(t, ferret.err)
	return ferret.cli.Database(fmt.Sprintf("secrets_test_%d", databases.Add(1)))
}

// fakeOrchestrator answers Authorize from a table of principal → project →
// role, with the orchestrator's rules for secrets: any role reads, only
// owners write, no role is a 404. It checks that the user's token is
// forwarded.
type fakeOrchestrator struct {
	orchestratorv1.OrchestratorClient
	roles map[string]string // project → role of the test's caller
	calls atomic.Int64
	down  bool
}

func (f *fakeOrchestrator) Authorize(ctx context.Context, req *orchestratorv1.AuthorizeRequest, _ ...grpc.CallOption) (*orchestratorv1.AuthorizeResponse, error) {
	f.calls.Add(1)
	if f.down {
		return nil, status.Error(codes.Unavailable, "orchestrator unavailable")
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	if got := md.Get(auth.MetadataKey); len(got) != 1 || got[0] != "Bearer "+testToken {
		return nil, status.Error(codes.Unauthenticated, "authentication required")
	}
	if !strings.HasPrefix(req.GetPath(), "/v2/projects/"+req.GetProject()+"/") {
		return nil, status.Error(codes.InvalidArgument, "path is not under the project")
	}
	role := f.roles[req.GetProject()]
	switch {
	case role == "":
		return &orchestratorv1.AuthorizeResponse{Status: http.StatusNotFound, Message: "project " + req.GetProject() + " not found"}, nil
	case role != "owner" && req.GetMethod() != http.MethodGet:
		return &orchestratorv1.AuthorizeResponse{Status: http.StatusForbidden, Message: "role " + role + " may not " + req.GetMethod() + " this resource"}, nil
	}
	return &orchestratorv1.AuthorizeResponse{Allowed: true, Status: http.StatusOK, Role: role}, nil
}

const testToken = "test-token"

// projectEnv is a secrets service with project secrets on FerretDB.
type projectEnv struct {
	*env
	db    *mongo.Database
	orch  *fakeOrchestrator
	audit *audit.Log
	api   http.Handler // the routes, for authenticated requests
}

func newProjectEnv(t *testing.T) *projectEnv {
	t.Helper()
	ctx := context.Background()
	db := ferretDB(t)
	st, err := mongostore.New(ctx, db, Name)
	require.NoError(t, err)
	contract, err := openapi.Load()
	require.NoError(t, err)
	dir := t.TempDir()
	al, err := audit.Open(ctx, db, Name, audit.Options{CheckpointDir: filepath.Join(dir, "audit"), KeyDir: filepath.Join(dir, "audit-keys")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	orch := &fakeOrchestrator{roles: map[string]string{"p1": "owner", "p2": "viewer"}}
	logs := &logBuffer{}
	cfg := devConfig(t)
	cfg.ReencryptInterval = time.Hour // the tests run the job themselves
	s, err := New(cfg, Deps{
		Log:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Store: st, Contract: contract, Orchestrator: orch, Audit: al,
		Auth: auth.NewVerifier(auth.Config{Issuer: "https://idp.invalid", ClientID: "edgeway"}, nil),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	e := &env{cfg: cfg, svc: s, logs: logs}
	return &projectEnv{env: e, db: db, orch: orch, audit: al, api: s.projects.routes()}
}

// do sends an authenticated request to the routes.
func (e *projectEnv) do(t *testing.T, method, path string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	id := &auth.Identity{Subject: "u1", Username: "alice", ClientID: "edgeway", Token: testToken}
	r = r.WithContext(auth.WithIdentity(r.Context(), id))
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w
}

// rawDocuments returns every raw document of the database.
func (e *projectEnv) rawDocuments(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	colls, err := e.db.ListCollectionNames(ctx, bson.D{})
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, c := range colls {
		cur, err := e.db.Collection(c).Find(ctx, bson.D{})
		require.NoError(t, err)
		for cur.Next(ctx) {
			out[fmt.Sprintf("%s/%v", c, cur.Current.Lookup("_id"))] = bytes.Clone(cur.Current)
		}
		require.NoError(t, cur.Close(ctx))
	}
	return out
}

func secretBody(name string, data map[string]string) map[string]any {
	if data == nil {
		data = map[string]string{}
	}
	return map[string]any{"metadata": map[string]any{"name": name, "description": "db"}, "spec": map[string]any{"data": data}}
}

// TestProjectSecretsWriteOnly: values go in, never come out of the REST
// routes, are stored sealed for their record, and only the deployer's
// path (GetProjectSecret, then Unseal) gets them back.
func TestProjectSecretsWriteOnly(t *testing.T) {
	e := newProjectEnv(t)
	ctx := context.Background()
	const coll = "/v2/projects/p1/secrets"

	w := e.do(t, http.MethodPost, coll, secretBody("db", map[string]string{"password": canary, "user": "shop"}))
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.JSONEq(t, `{"metadata":{"name":"db","description":"db"},"spec":{"keys":["password","user"]}}`, w.Body.String())
	require.Equal(t, http.StatusConflict, e.do(t, http.MethodPost, coll, secretBody("db", nil)).Code)

	for _, p := range []string{coll, coll + "/db"} {
		w := e.do(t, http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, w.Code)
		require.NotContains(t, w.Body.String(), canary)
		require.Contains(t, w.Body.String(), `"keys":["password","user"]`)
	}
	w = e.do(t, http.MethodPut, coll+"/db", secretBody("db", map[string]string{"password": canary + "-2"}))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.JSONEq(t, `{"metadata":{"name":"db","description":"db"},"spec":{"keys":["password"]}}`, w.Body.String())

	// At rest: sealed, with the key names in clear.
	docs := e.rawDocuments(t)
	require.NotEmpty(t, docs)
	for where, raw := range docs {
		require.NotContains(t, string(raw), canary, where)
	}
	require.Contains(t, string(docs[`secrets/"projects/p1/secrets/db"`]), "password")

	// The deployer's path.
	ps := &projectServer{s: e.svc}
	list, err := ps.ListProjectSecrets(ctx, &secretsv1.ListProjectSecretsRequest{Project: "p1"})
	require.NoError(t, err)
	require.Len(t, list.GetSecrets(), 1)
	require.Equal(t, "db", list.GetSecrets()[0].GetName())
	require.Equal(t, []string{"password"}, list.GetSecrets()[0].GetKeys())
	got, err := ps.GetProjectSecret(ctx, &secretsv1.GetProjectSecretRequest{Key: "projects/p1/secrets/db"})
	require.NoError(t, err)
	require.Equal(t, "secrets/projects/p1/secrets/db#data", got.GetAssociatedData())
	require.NotContains(t, string(got.GetSealed()), canary)
	require.Equal(t, e.svc.Primary(), keyIDOf(t, got.GetSealed()))
	un, err := e.svc.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: got.GetSealed(), AssociatedData: got.GetAssociatedData()})
	require.NoError(t, err)
	require.JSONEq(t, `{"password":"`+canary+`-2"}`, string(un.GetPlaintext()))
	// Bound to its record: the same bytes do not open as another secret.
	_, err = e.svc.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: got.GetSealed(), AssociatedData: SecretAAD("projects/p2/secrets/db")})
	require.Equal(t, codes.InvalidArgument, status.Code(err))

	_, err = ps.GetProjectSecret(ctx, &secretsv1.GetProjectSecretRequest{Key: "projects/p1/secrets/nope"})
	require.Equal(t, codes.NotFound, status.Code(err))
	for _, bad := range []string{"", "projects/p1", "projects/p1/apps/db", "projects/../secrets/db", "projects/p1/secrets/db/x"} {
		_, err = ps.GetProjectSecret(ctx, &secretsv1.GetProjectSecretRequest{Key: bad})
		require.Equal(t, codes.InvalidArgument, status.Code(err), bad)
	}

	require.Equal(t, http.StatusNoContent, e.do(t, http.MethodDelete, coll+"/db", nil).Code)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodGet, coll+"/db", nil).Code)
	require.Equal(t, http.StatusNotFound, e.do(t, http.MethodDelete, coll+"/db", nil).Code)
	w = e.do(t, http.MethodGet, coll, nil)
	require.Equal(t, "[]", strings.TrimSpace(w.Body.String()))
	require.NotContains(t, e.logs.String(), canary)
}

// TestProjectSecretsAuthorization: every route asks the orchestrator with
// the caller's token; a project without a role is 404, a viewer reads key
// names and writes nothing, and a refusal stores nothing.
func TestProjectSecretsAuthorization(t *testing.T) {
	e := newProjectEnv(t)
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v2/projects/p1/secrets", secretBody("db", map[string]string{"k": "v"})).Code)
	e.orch.roles["p2"] = "owner"
	require.Equal(t, http.StatusCreated, e.do(t, http.MethodPost, "/v2/projects/p2/secrets", secretBody("db", map[string]string{"k": "v"})).Code)
	e.orch.roles["p2"] = "viewer"

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/v2/projects/p3/secrets", http.StatusNotFound},
		{http.MethodGet, "/v2/projects/p3/secrets/db", http.StatusNotFound},
		{http.MethodPost, "/v2/projects/p3/secrets", http.StatusNotFound},
		{http.MethodPut, "/v2/projects/p3/secrets/db", http.StatusNotFound},
		{http.MethodDelete, "/v2/projects/p3/secrets/db", http.StatusNotFound},
		{http.MethodGet, "/v2/projects/p2/secrets", http.StatusOK},
		{http.MethodGet, "/v2/projects/p2/secrets/db", http.StatusOK},
		{http.MethodPost, "/v2/projects/p2/secrets", http.StatusForbidden},
		{http.MethodPut, "/v2/projects/p2/secrets/db", http.StatusForbidden},
		{http.MethodDelete, "/v2/projects/p2/secrets/db", http.StatusForbidden},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.method == http.MethodPost || tc.method == http.MethodPut {
				body = secretBody("db", map[string]string{"k": "changed"})
			}
			w := e.do(t, tc.method, tc.path, body)
			require.Equal(t, tc.want, w.Code, w.Body.String())
		})
	}
	// Nothing changed in p2.
	w := e.do(t, http.MethodGet, "/v2/projects/p2/secrets/db", nil)
	require.Equal(t, http.StatusOK, w.Code)

	// The refusals are in the audit stream.
	recs, err := e.audit.List(context.Background(), audit.Filter{Outcome: "denied:403"})
	require.NoError(t, err)
	require.Len(t, recs, 3)
	require.Equal(t, "user:alice", recs[0].Subject)
	recs, err = e.audit.List(context.Background(), audit.Filter{Outcome: "denied:404"})
	require.NoError(t, err)
	require.Len(t, recs, 5)

	// Without the orchestrator nothing is answered: 503, fail closed.
	e.orch.down = true
	require.Equal(t, http.StatusServiceUnavailable, e.do(t, http.MethodGet, "/v2/projects/p1/secrets", nil).Code)
	e.orch.down = false

	// The whole handler: no token, 401 before anything else.
	r := httptest.NewRequest(http.MethodGet, "/v2/projects/p1/secrets", nil)
	rw := httptest.NewRecorder()
	calls := e.orch.calls.Load()
	e.svc.REST().ServeHTTP(rw, r)
	require.Equal(t, http.StatusUnauthorized, rw.Code)
	require.Equal(t, calls, e.orch.calls.Load(), "no token, no authorization call")
}

// TestProjectSecretsBodies: the contract's schema, Secret key names, media
// type and size.
func TestProjectSecretsBodies(t *testing.T) {
	e := newProjectEnv(t)
	const coll = "/v2/projects/p1/secrets"
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"no spec", map[string]any{"metadata": map[string]any{"name": "a"}}, http.StatusCreated},
		{"bad key", secretBody("b", map[string]string{"not a key": "v"}), http.StatusBadRequest},
		{"dot key", secretBody("b", map[string]string{"..": "v"}), http.StatusBadRequest},
		{"keys in a write", map[string]any{"metadata": map[string]any{"name": "b"}, "spec": map[string]any{"keys": []string{"a"}}}, http.StatusBadRequest},
		{"number value", map[string]any{"metadata": map[string]any{"name": "b"}, "spec": map[string]any{"data": map[string]any{"port": 5432}}}, http.StatusUnprocessableEntity},
		{"bad name", secretBody("-b", nil), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := e.do(t, http.MethodPost, coll, tc.body)
			require.Equal(t, tc.want, w.Code, w.Body.String())
		})
	}
	w := e.do(t, http.MethodPut, coll+"/a", secretBody("other", nil))
	require.Equal(t, http.StatusBadRequest, w.Code)
	w = e.do(t, http.MethodPut, coll+"/missing", secretBody("missing", nil))
	require.Equal(t, http.StatusNotFound, w.Code)

	r := httptest.NewRequest(http.MethodPost, coll, strings.NewReader(`{"metadata":{"name":"x"}}`))
	r.Header.Set("Content-Type", "text/plain")
	r = r.WithContext(auth.WithIdentity(r.Context(), &auth.Identity{Username: "alice", Token: testToken}))
	rw := httptest.NewRecorder()
	e.api.ServeHTTP(rw, r)
	require.Equal(t, http.StatusUnsupportedMediaType, rw.Code)

	big := secretBody("big", map[string]string{"v": strings.Repeat("x", int(e.cfg.withDefaults().MaxBodyBytes))})
	require.Equal(t, http.StatusRequestEntityTooLarge, e.do(t, http.MethodPost, coll, big).Code)
}

// TestProjectSecretsReencrypt: after a rotation the job moves every project
// secret to the new primary key, once; a second run finds nothing to do;
// the old key can then be retired and every secret still opens.
func TestProjectSecretsReencrypt(t *testing.T) {
	e := newProjectEnv(t)
	ctx := context.Background()
	const n = 12
	for i := range n {
		p := "p1"
		if i%2 == 1 {
			p = "p2"
		}
		e.orch.roles[p] = "owner"
		w := e.do(t, http.MethodPost, "/v2/projects/"+p+"/secrets", secretBody(fmt.Sprintf("s%02d", i), map[string]string{"v": fmt.Sprintf("%s-%d", canary, i)}))
		require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	}
	old := e.svc.Primary()
	primary := rotateAndWait(t, e.env)

	st, err := e.svc.reencryptProjectSecrets(ctx, true)
	require.NoError(t, err)
	require.Equal(t, n, st.Done)
	require.Equal(t, n, st.Rewrapped)
	st, err = e.svc.reencryptProjectSecrets(ctx, false)
	require.NoError(t, err)
	require.Equal(t, n, st.Skipped, "nothing left on the old key")

	require.NoError(t, Retire(ctx, e.cfg, old))
	require.Eventually(t, func() bool { return len(e.svc.ring.get(ctx).infos) == 1 }, 5*time.Second, 10*time.Millisecond)
	ps := &projectServer{s: e.svc}
	for i := range n {
		p := "p1"
		if i%2 == 1 {
			p = "p2"
		}
		got, err := ps.GetProjectSecret(ctx, &secretsv1.GetProjectSecretRequest{Key: SecretKey(p, fmt.Sprintf("s%02d", i))})
		require.NoError(t, err)
		require.Equal(t, primary, keyIDOf(t, got.GetSealed()))
		un, err := e.svc.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: got.GetSealed(), AssociatedData: got.GetAssociatedData()})
		require.NoError(t, err)
		require.JSONEq(t, fmt.Sprintf(`{"v":"%s-%d"}`, canary, i), string(un.GetPlaintext()))
	}
	require.Contains(t, e.logs.String(), "re-encryption of project secrets done")
	require.NotContains(t, e.logs.String(), canary)
}

// TestProjectSecretsPolicy: names go to the orchestrator, sealed values to
// the deployer only.
func TestProjectSecretsPolicy(t *testing.T) {
	p := (&Service{}).Policy()
	require.Equal(t, []string{"orchestrator"}, p[secretsv1.ProjectSecrets_ListProjectSecrets_FullMethodName])
	require.Equal(t, []string{"deployer"}, p[secretsv1.ProjectSecrets_GetProjectSecret_FullMethodName])
	require.Equal(t, []string{"deployer"}, p[secretsv1.Secrets_Unseal_FullMethodName])

	// Without a store the RPCs say so.
	e := newEnv(t, devConfig(t))
	_, err := (&projectServer{s: e.svc}).ListProjectSecrets(context.Background(), &secretsv1.ListProjectSecretsRequest{Project: "p1"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Nil(t, e.svc.REST())
}
