package orchestrator

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/store"
)

// memStore is the part of store.Resources the RBAC reads (Get, List), in
// memory.
type memStore struct {
	store.Resources
	mu   sync.Mutex
	recs map[string]store.Record
}

func (m *memStore) put(rec store.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]store.Record{}
	}
	m.recs[rec.Key] = rec
}

func (m *memStore) Get(_ context.Context, key string) (store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[key]
	if !ok {
		return store.Record{}, store.ErrNotFound
	}
	return r, nil
}

func (m *memStore) List(_ context.Context, parent, kind string) ([]store.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Record
	for _, r := range m.recs {
		if r.Parent == parent && r.Kind == kind {
			out = append(out, r)
		}
	}
	return out, nil
}

func binding(t *testing.T, project, name, kind, subject, role string) store.Record {
	t.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"name": name},
		"spec": map[string]any{"subject": map[string]any{"kind": kind, "name": subject}, "role": role}})
	require.NoError(t, err)
	return store.Record{Key: projectKey(project) + "/role-bindings/" + name, Parent: projectKey(project), Kind: "roleBinding", Body: b}
}

func newAccessService(t *testing.T) *Service {
	t.Helper()
	st := &memStore{}
	st.put(store.Record{Key: projectKey("p1"), Kind: "project", Body: []byte(`{"metadata":{"name":"p1"}}`)})
	st.put(binding(t, "p1", "o", "user", "olga", RoleOwner))
	st.put(binding(t, "p1", "d", "client", "ci", RoleDeployer))
	st.put(binding(t, "p1", "v", "group", "auditors", RoleViewer))
	return &Service{deps: Deps{Store: st, Log: slog.New(slog.DiscardHandler),
		Auth: auth.NewVerifier(auth.Config{Issuer: "https://idp.invalid", ClientID: "edgeway"}, nil)},
		cache: bindingCache{entries: map[string]cacheEntry{}}}
}

// TestAuthorizeProjectSecrets: the orchestrator's answer to the secrets
// service: any role reads secret names, only owners write, a project
// without a role for the caller (or that does not exist, for everyone) is
// a 404.
func TestAuthorizeProjectSecrets(t *testing.T) {
	s := newAccessService(t)
	owner := &auth.Identity{Username: "olga"}
	deployer := &auth.Identity{ClientID: "ci"}
	viewer := &auth.Identity{Username: "vic", Groups: []string{"auditors"}}
	stranger := &auth.Identity{Username: "mallory"}
	admin := &auth.Identity{Username: "root", Admin: true}
	const coll, item = "/v2/projects/p1/secrets", "/v2/projects/p1/secrets/db"
	for _, tc := range []struct {
		who           string
		id            *auth.Identity
		project, path string
		method        string
		status        int
	}{
		{"owner reads", owner, "p1", coll, http.MethodGet, 200},
		{"owner creates", owner, "p1", coll, http.MethodPost, 200},
		{"owner replaces", owner, "p1", item, http.MethodPut, 200},
		{"owner deletes", owner, "p1", item, http.MethodDelete, 200},
		{"deployer reads names", deployer, "p1", item, http.MethodGet, 200},
		{"deployer creates", deployer, "p1", coll, http.MethodPost, 403},
		{"deployer replaces", deployer, "p1", item, http.MethodPut, 403},
		{"deployer deletes", deployer, "p1", item, http.MethodDelete, 403},
		{"viewer lists names", viewer, "p1", coll, http.MethodGet, 200},
		{"viewer creates", viewer, "p1", coll, http.MethodPost, 403},
		{"viewer replaces", viewer, "p1", item, http.MethodPut, 403},
		{"stranger reads", stranger, "p1", coll, http.MethodGet, 404},
		{"stranger creates", stranger, "p1", coll, http.MethodPost, 404},
		{"admin writes", admin, "p1", coll, http.MethodPost, 200},
		{"admin, no such project", admin, "p9", "/v2/projects/p9/secrets", http.MethodGet, 404},
		{"owner, no such project", owner, "p9", "/v2/projects/p9/secrets", http.MethodPost, 404},
	} {
		t.Run(tc.who, func(t *testing.T) {
			ctx := auth.WithIdentity(context.Background(), tc.id)
			resp, err := s.authorizeCall(ctx, &orchestratorv1.AuthorizeRequest{Project: tc.project, Method: tc.method, Path: tc.path})
			require.NoError(t, err)
			require.EqualValues(t, tc.status, resp.GetStatus())
			require.Equal(t, tc.status == 200, resp.GetAllowed())
			if tc.status == 404 {
				require.Equal(t, "project "+tc.project+" not found", resp.GetMessage(), "the same answer whether the project exists or not")
			}
		})
	}

	ctx := auth.WithIdentity(context.Background(), owner)
	for _, bad := range []*orchestratorv1.AuthorizeRequest{
		{Project: "p1", Method: http.MethodGet, Path: "/v2/projects/p2/secrets"},
		{Project: "p1", Method: http.MethodGet, Path: "/v2/cluster-providers"},
		{Project: "p 1", Method: http.MethodGet, Path: "/v2/projects/p 1/secrets"},
		{Project: "p1", Method: "TRACE", Path: coll},
	} {
		_, err := s.authorizeCall(ctx, bad)
		require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", bad)
	}
	// The RPC itself verifies the forwarded token: none is a refusal.
	_, err := s.Authorize(context.Background(), &orchestratorv1.AuthorizeRequest{Project: "p1", Method: http.MethodGet, Path: coll})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	require.Equal(t, []string{"secrets"}, s.Policy()[orchestratorv1.Orchestrator_Authorize_FullMethodName])
}

// fakeSecrets lists project secrets by name.
type fakeSecrets struct {
	secretsv1.ProjectSecretsClient
	names []string
	calls int
	err   error
}

func (f *fakeSecrets) ListProjectSecrets(_ context.Context, req *secretsv1.ListProjectSecretsRequest, _ ...grpc.CallOption) (*secretsv1.ListProjectSecretsResponse, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	out := &secretsv1.ListProjectSecretsResponse{}
	for _, n := range f.names {
		out.Secrets = append(out.Secrets, &secretsv1.ProjectSecretInfo{Name: n, Keys: []string{"k"}})
	}
	return out, nil
}

// TestProjectDeletableWithSecrets: a project that has secrets is a 409;
// without the secrets service, the delete fails closed.
func TestProjectDeletableWithSecrets(t *testing.T) {
	s := newAccessService(t)
	fs := &fakeSecrets{names: []string{"db"}}
	s.deps.Secrets = fs
	err := s.projectDeletable(context.Background(), projectKey("p1"), map[string]string{"project": "p1"})
	require.Error(t, err)
	require.Contains(t, err.Error(), "has 1 secrets")
	fs.err = status.Error(codes.Unavailable, "down")
	require.Error(t, s.projectDeletable(context.Background(), projectKey("p1"), map[string]string{"project": "p1"}))
	require.NotEmpty(t, s.deps.Store.(*memStore).recs[projectKey("p1")+"/role-bindings/o"].Key, "bindings kept when the delete is refused")
}
