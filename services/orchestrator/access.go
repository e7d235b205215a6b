package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/audit"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/rest"
	"edgeway.dev/common/store"
)

// Project roles.
const (
	RoleOwner    = "owner"
	RoleDeployer = "deployer"
	RoleViewer   = "viewer"
)

// roleBinding is the stored body of a role binding.
type roleBinding struct {
	Spec struct {
		Subject struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"subject"`
		Role string `json:"role"`
	} `json:"spec"`
}

// matches reports whether the binding names the identity.
func (b *roleBinding) matches(id *auth.Identity) bool {
	s := b.Spec.Subject
	switch s.Kind {
	case "user":
		return id.Username != "" && s.Name == id.Username
	case "client":
		return id.ClientID != "" && s.Name == id.ClientID
	case "group":
		for _, g := range id.Groups {
			if g == s.Name {
				return true
			}
		}
	}
	return false
}

var rank = map[string]int{RoleViewer: 1, RoleDeployer: 2, RoleOwner: 3}

// bindingCache keeps each project's role bindings for a short time; writes
// through this process invalidate it at once.
type bindingCache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	bindings []roleBinding
	expires  time.Time
}

const bindingTTL = 2 * time.Second

func projectKey(p string) string { return "projects/" + p }

func (s *Service) bindings(ctx context.Context, project string) ([]roleBinding, error) {
	s.cache.mu.Lock()
	e, ok := s.cache.entries[project]
	s.cache.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		return e.bindings, nil
	}
	recs, err := s.deps.Store.List(ctx, projectKey(project), "roleBinding")
	if err != nil {
		return nil, err
	}
	out := make([]roleBinding, 0, len(recs))
	for _, r := range recs {
		var b roleBinding
		if err := json.Unmarshal(r.Body, &b); err != nil {
			return nil, fmt.Errorf("role binding %s: %w", r.Key, err)
		}
		out = append(out, b)
	}
	s.cache.mu.Lock()
	s.cache.entries[project] = cacheEntry{bindings: out, expires: time.Now().Add(bindingTTL)}
	s.cache.mu.Unlock()
	return out, nil
}

func (s *Service) invalidate(project string) {
	s.cache.mu.Lock()
	delete(s.cache.entries, project)
	s.cache.mu.Unlock()
}

// roleOf returns the identity's strongest role in the project, "" for none.
// Platform admins are owners everywhere.
func (s *Service) roleOf(ctx context.Context, id *auth.Identity, project string) (string, error) {
	if id.Admin {
		return RoleOwner, nil
	}
	bs, err := s.bindings(ctx, project)
	if err != nil {
		return "", err
	}
	best := ""
	for i := range bs {
		if bs[i].matches(id) && rank[bs[i].Spec.Role] > rank[best] {
			best = bs[i].Spec.Role
		}
	}
	return best, nil
}

// authorize enforces who may do what under /v2/projects and /v2/controllers:
// controllers are platform-admin only (403); in a project a subject without
// a role gets 404 (its objects do not exist for them); viewers read,
// deployers also create, update and run the lifecycle of composite apps,
// owners do everything, role bindings included.
func (s *Service) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok {
			httpx.WriteProblem(w, r, http.StatusUnauthorized, "authentication required")
			return
		}
		if err := s.permit(w, r, id, next); err != nil {
			status, _ := httpx.StatusOf(err)
			if status == http.StatusForbidden || status == http.StatusNotFound {
				s.deps.Audit.Denied(r, status, id.Principal())
			}
			httpx.WriteError(w, r, s.deps.Log, err)
		}
	})
}

func (s *Service) permit(w http.ResponseWriter, r *http.Request, id *auth.Identity, next http.Handler) error {
	path := strings.TrimPrefix(r.URL.Path, rest.Prefix)
	seg := strings.Split(strings.Trim(path, "/"), "/")
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case seg[0] == "controllers" || seg[0] == "audit":
		if !id.Admin {
			return httpx.Errorf(http.StatusForbidden, "only platform admins may use /v2/"+seg[0])
		}
	case seg[0] == "projects" && len(seg) == 1:
		if read && !id.Admin {
			return s.listProjects(w, r, id)
		}
		// Any authenticated subject may create a project; it becomes its owner.
	case seg[0] == "projects":
		project := seg[1]
		role, err := s.roleOf(r.Context(), id, project)
		if err != nil {
			return err
		}
		if role == "" {
			return httpx.Errorf(http.StatusNotFound, "project "+project+" not found")
		}
		if !allowed(role, r.Method, seg[2:]) {
			return httpx.Errorf(http.StatusForbidden, fmt.Sprintf("role %s may not %s this resource", role, r.Method))
		}
		if len(seg) > 2 && seg[2] == "role-bindings" && !read {
			defer s.invalidate(project)
		}
	}
	next.ServeHTTP(w, r)
	return nil
}

// allowed says whether role may use method on the project-relative path.
// For project secrets (served by the secrets service, which asks through
// Authorize) this means: every role reads their names, only owners write.
func allowed(role, method string, rel []string) bool {
	read := method == http.MethodGet || method == http.MethodHead
	bindings := len(rel) > 0 && rel[0] == "role-bindings"
	switch role {
	case RoleOwner:
		return true
	case RoleDeployer:
		if bindings {
			return false
		}
		if read {
			return true
		}
		// Create, update and the lifecycle of composite apps; never delete.
		return method != http.MethodDelete && len(rel) > 0 && rel[0] == "composite-apps"
	case RoleViewer:
		return read && !bindings
	}
	return false
}

// listProjects answers GET /v2/projects for a non-admin: only the projects
// the subject has a role in.
func (s *Service) listProjects(w http.ResponseWriter, r *http.Request, id *auth.Identity) error {
	recs, err := s.deps.Store.List(r.Context(), "", "project")
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteByte('[')
	n := 0
	for _, rec := range recs {
		role, err := s.roleOf(r.Context(), id, lastSegment(rec.Key))
		if err != nil {
			return err
		}
		if role == "" {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(rec.Body)
		n++
	}
	b.WriteByte(']')
	httpx.WriteRawJSON(w, http.StatusOK, []byte(b.String()))
	return nil
}

// makeCreatorOwner binds the creator of a project as its owner.
func (s *Service) makeCreatorOwner(ctx context.Context, key string, _ *rest.Object) error {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return errors.New("project created without an identity")
	}
	b := roleBinding{}
	b.Spec.Role = RoleOwner
	if id.Username != "" {
		b.Spec.Subject.Kind, b.Spec.Subject.Name = "user", id.Username
	} else {
		b.Spec.Subject.Kind, b.Spec.Subject.Name = "client", id.ClientID
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{"name": "creator"}, "spec": b.Spec})
	if err != nil {
		return err
	}
	_, err = s.deps.Store.Create(ctx, store.Record{Key: key + "/role-bindings/creator", Parent: key, Kind: "roleBinding", Body: body})
	s.invalidate(lastSegment(key))
	return err
}

// projectDeletable refuses to delete a project that still has objects other
// than its role bindings, and removes the bindings otherwise.
func (s *Service) projectDeletable(ctx context.Context, key string, v map[string]string) error {
	for _, kind := range []string{"compositeApp", "logicalCloud"} {
		recs, err := s.deps.Store.List(ctx, key, kind)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			return httpx.Errorf(http.StatusConflict, "project "+v["project"]+" has child resources; delete them first")
		}
	}
	// Project secrets live in the secrets service: a project whose
	// secrets are left would hand them to the next project of that name.
	sec, err := s.deps.Secrets.ListProjectSecrets(ctx, &secretsv1.ListProjectSecretsRequest{Project: v["project"]})
	if err != nil {
		return fmt.Errorf("list project secrets: %w", grpcx.FromStatus(err))
	}
	if n := len(sec.GetSecrets()); n > 0 {
		return httpx.Errorf(http.StatusConflict, fmt.Sprintf("project %s has %d secrets; delete them first", v["project"], n))
	}
	recs, err := s.deps.Store.List(ctx, key, "roleBinding")
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := s.deps.Store.Delete(ctx, r.Key); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	s.invalidate(v["project"])
	return nil
}

// identityOf names the caller of a request for the audit log.
func identityOf(r *http.Request) (subject, client string) {
	id, ok := auth.FromContext(r.Context())
	if !ok {
		return "", ""
	}
	return id.Principal(), id.ClientID
}

// projectOf names the project a request concerns, for the audit log.
func projectOf(r *http.Request) string {
	seg := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, rest.Prefix), "/"), "/")
	if len(seg) >= 2 && seg[0] == "projects" {
		return seg[1]
	}
	return ""
}

// auditStreams are the services whose audit streams /v2/audit reads.
var auditStreams = []string{"gateway", "orchestrator", "clusterregistry", "secrets"}

// listAudit answers GET /v2/audit (platform admins; checked in authorize).
func (s *Service) listAudit(w http.ResponseWriter, r *http.Request, _ map[string]string) error {
	q := r.URL.Query()
	f := audit.Filter{Subject: q.Get("subject"), Project: q.Get("project"), Outcome: q.Get("outcome")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return httpx.Errorf(http.StatusBadRequest, name+" must be an RFC 3339 time")
			}
			*dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxListLimit {
			return httpx.Errorf(http.StatusBadRequest, fmt.Sprintf("limit must be between 1 and %d", audit.MaxListLimit))
		}
		f.Limit = n
	}
	streams := auditStreams
	if v := q.Get("service"); v != "" {
		if !slices.Contains(auditStreams, v) {
			return httpx.Errorf(http.StatusBadRequest, "service must be one of "+strings.Join(auditStreams, ", "))
		}
		streams = []string{v}
	}
	out := []auditRecord{}
	for _, st := range streams {
		recs, err := s.deps.AuditReader(r.Context(), st, f)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			out = append(out, auditRecord(rec))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if lim := f.Limit; lim > 0 && len(out) > lim {
		out = out[len(out)-lim:]
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// auditRecord is an audit record as /v2/audit shows it.
type auditRecord audit.Record

// MarshalJSON renders the contract's field names.
func (a auditRecord) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"seq": a.Seq, "time": a.Time, "service": a.Service, "subject": a.Subject, "client": a.Client,
		"project": a.Project, "method": a.Method, "path": a.Path, "outcome": a.Outcome, "status": a.Status,
		"requestId": a.RequestID, "prev": a.Prev, "hash": a.Hash,
	})
}

// Authorize implements orchestratorv1.OrchestratorServer for the services
// that serve REST routes under a project (secrets): it verifies the user's
// bearer token forwarded in the call's metadata (the mTLS policy already
// admitted the calling service) and answers with the project's RBAC, as
// authorize does for the orchestrator's own routes. A project that does
// not exist is a 404 for everyone, platform admins included.
func (s *Service) Authorize(ctx context.Context, req *orchestratorv1.AuthorizeRequest) (*orchestratorv1.AuthorizeResponse, error) {
	var out *orchestratorv1.AuthorizeResponse
	verify := auth.UnaryServerInterceptor(s.deps.Auth)
	info := &grpc.UnaryServerInfo{FullMethod: orchestratorv1.Orchestrator_Authorize_FullMethodName}
	_, err := verify(ctx, req, info, func(ctx context.Context, _ any) (any, error) {
		var err error
		out, err = s.authorizeCall(ctx, req)
		return out, err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) authorizeCall(ctx context.Context, req *orchestratorv1.AuthorizeRequest) (*orchestratorv1.AuthorizeResponse, error) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "authentication required")
	}
	project := req.GetProject()
	seg := strings.Split(strings.Trim(strings.TrimPrefix(req.GetPath(), rest.Prefix), "/"), "/")
	switch {
	case !rest.ValidName(project):
		return nil, status.Error(codes.InvalidArgument, "project is not a valid name")
	case len(seg) < 2 || seg[0] != "projects" || seg[1] != project:
		return nil, status.Error(codes.InvalidArgument, "path is not under the project")
	case !slices.Contains([]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}, req.GetMethod()):
		return nil, status.Error(codes.InvalidArgument, "method is not an HTTP method the API serves")
	}
	deny := func(code int, msg string) *orchestratorv1.AuthorizeResponse {
		return &orchestratorv1.AuthorizeResponse{Status: int32(code), Message: msg}
	}
	notFound := deny(http.StatusNotFound, "project "+project+" not found")
	if _, err := s.deps.Store.Get(ctx, projectKey(project)); errors.Is(err, store.ErrNotFound) {
		return notFound, nil
	} else if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	role, err := s.roleOf(ctx, id, project)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	if role == "" {
		return notFound, nil
	}
	if !allowed(role, req.GetMethod(), seg[2:]) {
		return deny(http.StatusForbidden, fmt.Sprintf("role %s may not %s this resource", role, req.GetMethod())), nil
	}
	return &orchestratorv1.AuthorizeResponse{Allowed: true, Status: http.StatusOK, Role: role}, nil
}
