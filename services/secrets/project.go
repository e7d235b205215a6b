package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
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

// Project secrets are stored in the service's collection, one record per
// secret:
//
//	_id  projects/<project>/secrets/<name>
//	body {"metadata": {...}, "spec": {"keys": [...]}}  (what GET returns)
//	file the values, a JSON object, sealed for "secrets/<_id>#data"
//
// under an anchor record projects/<project> (kind "project", no data) that
// is created with the project's first secret and lets the store list a
// project's secrets by parent. Values are never stored, returned or logged
// in clear; only the deployer gets them unsealed, just before it applies
// them (ProjectSecrets.GetProjectSecret, then Secrets.Unseal).
const (
	secretKind = "projectSecret"
	anchorKind = "project"
	// Route templates (the path variables are the OpenAPI parameters).
	secretsCollection = rest.Prefix + "/projects/{project}/secrets"
	secretsItem       = secretsCollection + "/{secret}"
	// contractPath is the collection in the OpenAPI document.
	contractPath = "/projects/{project}/secrets"
)

// SecretKey is the record key of a project secret (also the reference the
// deployer passes to GetProjectSecret).
func SecretKey(project, name string) string { return "projects/" + project + "/secrets/" + name }

// SecretAAD is the associated data a project secret's values are sealed for.
func SecretAAD(key string) string { return Name + "/" + key + "#data" }

func anchorKey(project string) string { return "projects/" + project }

// parseSecretKey splits projects/<project>/secrets/<name>.
func parseSecretKey(key string) (project, name string, ok bool) {
	seg := strings.Split(key, "/")
	if len(seg) != 4 || seg[0] != "projects" || seg[2] != "secrets" || !rest.ValidName(seg[1]) || !rest.ValidName(seg[3]) {
		return "", "", false
	}
	return seg[1], seg[3], true
}

// secretKeyPattern is what Kubernetes accepts as a Secret's data key.
var secretKeyPattern = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

func validDataKey(k string) bool {
	return len(k) <= 253 && k != "." && k != ".." && secretKeyPattern.MatchString(k)
}

// projectSecrets serves the project secrets.
type projectSecrets struct {
	s       *Service
	log     *slog.Logger
	store   store.Resources
	schema  *openapi3.Schema // the body of POST and PUT
	orch    orchestratorv1.OrchestratorClient
	verify  *auth.Verifier
	audit   *audit.Log
	maxBody int64
}

func newProjectSecrets(s *Service, deps Deps) (*projectSecrets, error) {
	item := deps.Contract.Paths.Find(contractPath)
	var op *openapi3.Operation
	if item != nil {
		op = item.GetOperation(http.MethodPost)
	}
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil, fmt.Errorf("secrets: contract incomplete: no request body for POST %s", contractPath)
	}
	mt := op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil, fmt.Errorf("secrets: contract incomplete: no application/json schema for POST %s", contractPath)
	}
	return &projectSecrets{
		s: s, log: deps.Log, store: deps.Store, schema: mt.Schema.Value, orch: deps.Orchestrator,
		verify: deps.Auth, audit: deps.Audit, maxBody: s.cfg.MaxBodyBytes,
	}, nil
}

// handler returns the REST routes: authentication, the audit of every
// mutation, then the router; each route asks the orchestrator whether the
// caller may use it.
func (ps *projectSecrets) handler() http.Handler {
	return auth.Middleware(ps.verify, ps.log, auth.OnFailure(func(r *http.Request, _ error) {
		ps.audit.Denied(r, http.StatusUnauthorized, "")
	}))(audit.Middleware(ps.audit, Name, identityOf, projectOf)(ps.routes()))
}

// routes is the router of the REST routes, for authenticated requests.
func (ps *projectSecrets) routes() http.Handler {
	r := rest.NewRouter()
	r.Handle(secretsCollection, ps.handle(ps.create)).Methods(http.MethodPost)
	r.Handle(secretsCollection, ps.handle(ps.list)).Methods(http.MethodGet)
	r.Handle(secretsItem, ps.handle(ps.get)).Methods(http.MethodGet)
	r.Handle(secretsItem, ps.handle(ps.update)).Methods(http.MethodPut)
	r.Handle(secretsItem, ps.handle(ps.delete)).Methods(http.MethodDelete)
	return r
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, project, name string) error

func (ps *projectSecrets) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := mux.Vars(r)
		err := ps.authorize(r, v["project"])
		if err == nil {
			err = h(w, r, v["project"], v["secret"])
		}
		if err != nil {
			httpx.WriteError(w, r, ps.log, err)
		}
	})
}

// authorize asks the orchestrator, with the caller's token, whether the
// request is allowed in the project: 404 when the project does not exist
// for the caller, 403 for a role that may not (writes need an owner).
// Refusals are audited.
func (ps *projectSecrets) authorize(r *http.Request, project string) error {
	ctx := r.Context()
	id, ok := auth.FromContext(ctx)
	if !ok {
		return httpx.Errorf(http.StatusUnauthorized, "authentication required")
	}
	resp, err := ps.orch.Authorize(auth.ForwardToken(ctx), &orchestratorv1.AuthorizeRequest{
		Project: project, Method: r.Method, Path: r.URL.Path,
	})
	switch {
	case status.Code(err) == codes.Unauthenticated:
		ps.audit.Denied(r, http.StatusUnauthorized, id.Principal())
		return httpx.Errorf(http.StatusUnauthorized, "authentication required")
	case err != nil:
		return fmt.Errorf("authorize: %w", grpcx.FromStatus(err))
	case resp.GetAllowed():
		return nil
	}
	code := int(resp.GetStatus())
	if code != http.StatusNotFound {
		code = http.StatusForbidden
	}
	ps.audit.Denied(r, code, id.Principal())
	return httpx.Errorf(code, resp.GetMessage())
}

// body is a decoded, valid request body.
type body struct {
	meta map[string]any
	name string
	data map[string]string
}

// decode reads and validates a request body; the raw bytes are cleared
// once decoded.
func (ps *projectSecrets) decode(w http.ResponseWriter, r *http.Request) (*body, error) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return nil, httpx.Errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ps.maxBody))
	defer clear(raw)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", ps.maxBody))
		}
		return nil, httpx.Errorf(http.StatusBadRequest, "could not read the request body")
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, httpx.Errorf(http.StatusBadRequest, "request body is empty")
	}
	doc, err := rest.DecodeObject(raw)
	if err != nil {
		return nil, err
	}
	if err := rest.Validate(ps.schema, doc); err != nil {
		return nil, err
	}
	b := &body{data: map[string]string{}}
	b.meta, _ = doc["metadata"].(map[string]any)
	b.name, _ = b.meta["name"].(string)
	spec, _ := doc["spec"].(map[string]any)
	data, _ := spec["data"].(map[string]any)
	for k, v := range data {
		if !validDataKey(k) {
			return nil, httpx.Errorf(http.StatusBadRequest, fmt.Sprintf("spec.data: key %q is not a valid Secret key (letters, digits, '-', '_', '.'; at most 253)", k))
		}
		s, ok := v.(string)
		if !ok {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "spec.data: values must be strings")
		}
		b.data[k] = s
	}
	return b, nil
}

// keys returns the data's key names, sorted, never nil.
func (b *body) keys() []string {
	out := make([]string, 0, len(b.data))
	for k := range b.data {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// view is the stored body and the answer of every read: metadata and key
// names.
func (b *body) view() ([]byte, error) {
	return json.Marshal(map[string]any{"metadata": b.meta, "spec": map[string]any{"keys": b.keys()}})
}

// seal seals the body's values for the secret's record.
func (ps *projectSecrets) seal(ctx context.Context, key string, b *body) ([]byte, error) {
	plain, err := json.Marshal(b.data)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return ps.s.seal(ctx, plain, SecretAAD(key))
}

func notFound(name string) error {
	return httpx.Errorf(http.StatusNotFound, "secret "+name+" not found")
}

func (ps *projectSecrets) create(w http.ResponseWriter, r *http.Request, project, _ string) error {
	ctx := r.Context()
	b, err := ps.decode(w, r)
	if err != nil {
		return err
	}
	key := SecretKey(project, b.name)
	view, err := b.view()
	if err != nil {
		return err
	}
	sealed, err := ps.seal(ctx, key, b)
	if err != nil {
		return err
	}
	if _, err := ps.store.Create(ctx, store.Record{Key: anchorKey(project), Kind: anchorKind, Body: []byte("{}")}); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	_, err = ps.store.Create(ctx, store.Record{Key: key, Parent: anchorKey(project), Kind: secretKind, Body: view, File: sealed})
	switch {
	case errors.Is(err, store.ErrExists):
		return httpx.Errorf(http.StatusConflict, "secret "+b.name+" already exists")
	case err != nil:
		return err
	}
	httpx.WriteRawJSON(w, http.StatusCreated, view)
	return nil
}

func (ps *projectSecrets) update(w http.ResponseWriter, r *http.Request, project, name string) error {
	ctx := r.Context()
	b, err := ps.decode(w, r)
	if err != nil {
		return err
	}
	if b.name != name {
		return httpx.Errorf(http.StatusBadRequest, fmt.Sprintf("body secret %q does not match the URL %q", b.name, name))
	}
	key := SecretKey(project, name)
	view, err := b.view()
	if err != nil {
		return err
	}
	sealed, err := ps.seal(ctx, key, b)
	if err != nil {
		return err
	}
	_, err = ps.store.Update(ctx, key, func(old store.Record) (store.Record, error) {
		old.Body, old.File = view, sealed
		return old, nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(name)
	case err != nil:
		return err
	}
	httpx.WriteRawJSON(w, http.StatusOK, view)
	return nil
}

func (ps *projectSecrets) get(w http.ResponseWriter, r *http.Request, project, name string) error {
	rec, err := ps.store.Get(r.Context(), SecretKey(project, name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(name)
	case err != nil:
		return err
	}
	httpx.WriteRawJSON(w, http.StatusOK, rec.Body)
	return nil
}

func (ps *projectSecrets) list(w http.ResponseWriter, r *http.Request, project, _ string) error {
	recs, err := ps.store.List(r.Context(), anchorKey(project), secretKind)
	if err != nil {
		return err
	}
	var out strings.Builder
	out.WriteByte('[')
	for i, rec := range recs {
		if i > 0 {
			out.WriteByte(',')
		}
		out.Write(rec.Body)
	}
	out.WriteByte(']')
	httpx.WriteRawJSON(w, http.StatusOK, []byte(out.String()))
	return nil
}

func (ps *projectSecrets) delete(w http.ResponseWriter, r *http.Request, project, name string) error {
	err := ps.store.Delete(r.Context(), SecretKey(project, name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(name)
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
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

// secretKeys reads the key names of a stored secret's body.
func secretKeys(body []byte) []string {
	var v struct {
		Spec struct {
			Keys []string `json:"keys"`
		} `json:"spec"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Spec.Keys
}

// projectServer serves secretsv1.ProjectSecretsServer.
type projectServer struct {
	secretsv1.UnimplementedProjectSecretsServer
	s *Service
}

var errNoProjectSecrets = status.Error(codes.FailedPrecondition, "project secrets are not configured in this secrets service")

// ListProjectSecrets implements secretsv1.ProjectSecretsServer: names and
// key names, never values.
func (p *projectServer) ListProjectSecrets(ctx context.Context, req *secretsv1.ListProjectSecretsRequest) (*secretsv1.ListProjectSecretsResponse, error) {
	ps := p.s.projects
	if ps == nil {
		return nil, errNoProjectSecrets
	}
	if !rest.ValidName(req.GetProject()) {
		return nil, status.Error(codes.InvalidArgument, "project is not a valid name")
	}
	recs, err := ps.store.List(ctx, anchorKey(req.GetProject()), secretKind)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	out := &secretsv1.ListProjectSecretsResponse{}
	for _, rec := range recs {
		_, name, _ := parseSecretKey(rec.Key)
		out.Secrets = append(out.Secrets, &secretsv1.ProjectSecretInfo{Name: name, Keys: secretKeys(rec.Body)})
	}
	return out, nil
}

// GetProjectSecret implements secretsv1.ProjectSecretsServer: the values
// as stored, sealed; the deployer unseals them.
func (p *projectServer) GetProjectSecret(ctx context.Context, req *secretsv1.GetProjectSecretRequest) (*secretsv1.GetProjectSecretResponse, error) {
	ps := p.s.projects
	if ps == nil {
		return nil, errNoProjectSecrets
	}
	key := req.GetKey()
	if _, _, ok := parseSecretKey(key); !ok {
		return nil, status.Error(codes.InvalidArgument, "key must be projects/<project>/secrets/<name>")
	}
	rec, err := ps.store.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Error(codes.NotFound, "project secret "+key+" not found")
	case err != nil:
		return nil, grpcx.ToStatus(err)
	}
	return &secretsv1.GetProjectSecretResponse{Sealed: rec.File, AssociatedData: SecretAAD(key), Keys: secretKeys(rec.Body)}, nil
}
