package orchestrator

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/grpc"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	placementv1 "edgeway.dev/api-spec/gen/placement/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/audit"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/rest"
	"edgeway.dev/common/store"
)

// Name is the service's identity.
const Name = "orchestrator"

// Collection is the MongoDB collection the orchestrator owns.
const Collection = "orchestrator"

// Config configures the orchestrator.
type Config struct {
	// MaxBodyBytes bounds request bodies (charts included).
	MaxBodyBytes int64
}

// Deps are the orchestrator's collaborators.
type Deps struct {
	Log      *slog.Logger
	Store    store.Resources
	Contract *openapi3.T
	// ClusterRegistry answers questions about clusters.
	ClusterRegistry clusterregistryv1.ClusterRegistryClient
	// Placement resolves placement intents to clusters.
	Placement placementv1.PlacementClient
	// Deployer applies AppContexts to clusters.
	Deployer deployerv1.DeployerClient
	// Secrets lists the project secrets: a project that has some cannot be
	// deleted, and instantiate checks the ones overrides refer to.
	Secrets secretsv1.ProjectSecretsClient
	// Auth verifies the bearer token of every request.
	Auth *auth.Verifier
	// Audit records every mutation (fail closed) and every refusal.
	Audit *audit.Log
	// AuditReader reads a service's audit stream for /v2/audit.
	AuditReader func(ctx context.Context, service string, f audit.Filter) ([]audit.Record, error)
}

// Service is the orchestrator.
type Service struct {
	orchestratorv1.UnimplementedOrchestratorServer
	cfg     Config
	deps    Deps
	handler http.Handler
	cache   bindingCache
}

// New builds the orchestrator; it fails when the contract lacks a schema
// for one of its routes.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Store == nil || deps.Contract == nil || deps.ClusterRegistry == nil ||
		deps.Placement == nil || deps.Deployer == nil || deps.Secrets == nil || deps.Auth == nil ||
		deps.Audit == nil || deps.AuditReader == nil || deps.Log == nil {
		return nil, errors.New("orchestrator: missing dependency")
	}
	s := &Service{cfg: cfg, deps: deps, cache: bindingCache{entries: map[string]cacheEntry{}}}
	r := rest.NewRouter()
	eng := rest.New(deps.Contract, deps.Store, deps.Log, cfg.MaxBodyBytes)
	if err := eng.Register(r, s.families()...); err != nil {
		return nil, err
	}
	s.registerLifecycle(r)
	r.Handle("/v2/audit", s.handle(s.listAudit)).Methods(http.MethodGet)
	s.handler = auth.Middleware(deps.Auth, deps.Log, auth.OnFailure(func(r *http.Request, _ error) {
		deps.Audit.Denied(r, http.StatusUnauthorized, "")
	}))(audit.Middleware(deps.Audit, Name, identityOf, projectOf)(s.authorize(r)))
	return s, nil
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service.
func (s *Service) REST() http.Handler { return s.handler }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) { orchestratorv1.RegisterOrchestratorServer(g, s) }

// Policy implements svc.Service.
func (s *Service) Policy() grpcx.Policy {
	return grpcx.Policy{
		orchestratorv1.Orchestrator_ListReferences_FullMethodName: {"clusterregistry"},
		// The secrets service serves REST routes under projects and asks
		// here, with the user's token, whether each request is allowed.
		orchestratorv1.Orchestrator_Authorize_FullMethodName: {"secrets"},
	}
}

// Ready implements svc.Service.
func (s *Service) Ready(ctx context.Context) error { return s.deps.Store.Ping(ctx) }

// ListReferences implements orchestratorv1.OrchestratorServer.
func (s *Service) ListReferences(ctx context.Context, req *orchestratorv1.ListReferencesRequest) (*orchestratorv1.ListReferencesResponse, error) {
	ref := ProviderRef(req.GetClusterProvider())
	if req.GetCluster() != "" {
		ref = ClusterRef(req.GetClusterProvider(), req.GetCluster())
	}
	recs, err := s.deps.Store.ReferencedBy(ctx, ref)
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	out := &orchestratorv1.ListReferencesResponse{}
	for _, r := range recs {
		out.Referrers = append(out.Referrers, r.Key)
	}
	return out, nil
}

// ProviderRef is how project objects reference a cluster provider.
func ProviderRef(provider string) string {
	return "clusterregistry:cluster-providers/" + provider
}

// ClusterRef is how project objects reference a cluster.
func ClusterRef(provider, cluster string) string {
	return "clusterregistry:cluster-providers/" + provider + "/clusters/" + cluster
}
