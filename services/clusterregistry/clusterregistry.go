package clusterregistry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/grpc"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	orchestratorv1 "edgeway.dev/api-spec/gen/orchestrator/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/audit"
	"edgeway.dev/common/auth"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/rest"
	"edgeway.dev/common/store"
	"edgeway.dev/services/secrets/reencrypt"
)

// Name is the service's identity.
const Name = "clusterregistry"

// Collection is the MongoDB collection the registry owns.
const Collection = "clusterregistry"

// Config configures the registry.
type Config struct {
	MaxBodyBytes int64
	// AllowLoopbackClusters accepts kubeconfigs of clusters on loopback
	// addresses (--dev: the local edge clusters).
	AllowLoopbackClusters bool
}

// Deps are the registry's collaborators.
type Deps struct {
	Log          *slog.Logger
	Store        store.Resources
	Contract     *openapi3.T
	Orchestrator orchestratorv1.OrchestratorClient
	Secrets      secretsv1.SecretsClient
	// Auth verifies the bearer token of every request.
	Auth *auth.Verifier
	// Audit records every mutation (fail closed) and every refusal.
	Audit *audit.Log
	// Keys rewraps kubeconfigs after a key rotation (nil: no re-encryption).
	Keys reencrypt.Client
}

// Service is the cluster registry.
type Service struct {
	clusterregistryv1.UnimplementedClusterRegistryServer
	cfg     Config
	deps    Deps
	handler http.Handler
}

const (
	providers = "/cluster-providers"
	provider  = providers + "/{clusterProvider}"
	clusters  = provider + "/clusters"
	cluster   = clusters + "/{cluster}"
)

// New builds the registry.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Store == nil || deps.Contract == nil || deps.Orchestrator == nil || deps.Secrets == nil || deps.Auth == nil ||
		deps.Audit == nil || deps.Log == nil {
		return nil, errors.New("clusterregistry: missing dependency")
	}
	s := &Service{cfg: cfg, deps: deps}
	r := rest.NewRouter()
	eng := rest.New(deps.Contract, deps.Store, deps.Log, cfg.MaxBodyBytes)
	err := eng.Register(r,
		rest.Family{Kind: "clusterProvider", Collection: providers, ItemVars: []string{"clusterProvider"},
			BeforeDelete: s.refusedIfReferenced},
		rest.Family{Kind: "cluster", Collection: clusters, ItemVars: []string{"cluster"}, Body: rest.MultipartBody,
			File: rest.FileHidden, CheckFile: KubeconfigChecker{AllowLoopback: cfg.AllowLoopbackClusters}.Check, StoreFile: s.sealKubeconfig,
			BeforeDelete: s.refusedIfReferenced},
		rest.Family{Kind: "clusterLabel", Collection: cluster + "/labels", ItemVars: []string{"clusterLabel"}, NoPut: true,
			Names: func(o *rest.Object) []string { return []string{o.String("clusterLabel")} }},
		rest.Family{Kind: "clusterKv", Collection: cluster + "/kv-pairs", ItemVars: []string{"clusterKv"}},
	)
	if err != nil {
		return nil, err
	}
	s.handler = auth.Middleware(deps.Auth, deps.Log, auth.OnFailure(func(r *http.Request, _ error) {
		deps.Audit.Denied(r, http.StatusUnauthorized, "")
	}))(audit.Middleware(deps.Audit, Name, identityOf, nil)(adminOnly(deps.Audit, r)))
	return s, nil
}

// adminOnly lets only platform admins manage (and read) cluster providers,
// clusters, labels and kv-pairs; project members see clusters only through
// their deployments' status.
func adminOnly(l *audit.Log, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := auth.FromContext(r.Context())
		if !ok || !id.Admin {
			if ok {
				l.Denied(r, http.StatusForbidden, id.Principal())
			}
			httpx.WriteProblem(w, r, http.StatusForbidden, "cluster providers and clusters are managed by platform admins")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service.
func (s *Service) REST() http.Handler { return s.handler }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) { clusterregistryv1.RegisterClusterRegistryServer(g, s) }

// Policy implements svc.Service.
func (s *Service) Policy() grpcx.Policy {
	readers := []string{"orchestrator", "placement", "deployer"}
	return grpcx.Policy{
		clusterregistryv1.ClusterRegistry_GetCluster_FullMethodName:    readers,
		clusterregistryv1.ClusterRegistry_ListClusters_FullMethodName:  readers,
		clusterregistryv1.ClusterRegistry_GetKubeconfig_FullMethodName: {"deployer"},
	}
}

// Ready implements svc.Service.
func (s *Service) Ready(ctx context.Context) error { return s.deps.Store.Ping(ctx) }

func providerKey(p string) string   { return "cluster-providers/" + p }
func clusterKey(p, c string) string { return providerKey(p) + "/clusters/" + c }

// kubeconfigAAD binds a sealed kubeconfig to the record it belongs to.
func kubeconfigAAD(key string) string { return Collection + "/" + key + "#kubeconfig" }

func (s *Service) sealKubeconfig(ctx context.Context, key string, file []byte) ([]byte, error) {
	resp, err := s.deps.Secrets.Seal(ctx, &secretsv1.SealRequest{Plaintext: file, AssociatedData: kubeconfigAAD(key)})
	if err != nil {
		return nil, fmt.Errorf("seal kubeconfig: %w", grpcx.FromStatus(err))
	}
	return resp.GetCiphertext(), nil
}

// refusedIfReferenced asks the orchestrator whether project objects still
// name the provider or cluster about to be deleted.
func (s *Service) refusedIfReferenced(ctx context.Context, key string, vars map[string]string) error {
	resp, err := s.deps.Orchestrator.ListReferences(ctx, &orchestratorv1.ListReferencesRequest{
		ClusterProvider: vars["clusterProvider"], Cluster: vars["cluster"],
	})
	if err != nil {
		return fmt.Errorf("list references: %w", grpcx.FromStatus(err))
	}
	if refs := resp.GetReferrers(); len(refs) > 0 {
		return httpx.Errorf(http.StatusConflict, fmt.Sprintf("%s is referenced by %s", key, refs[0]))
	}
	return nil
}

// GetCluster implements clusterregistryv1.ClusterRegistryServer.
func (s *Service) GetCluster(ctx context.Context, req *clusterregistryv1.GetClusterRequest) (*clusterregistryv1.Cluster, error) {
	c, err := s.cluster(ctx, req.GetClusterProvider(), req.GetCluster())
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	return c, nil
}

func (s *Service) cluster(ctx context.Context, p, c string) (*clusterregistryv1.Cluster, error) {
	key := clusterKey(p, c)
	if _, err := s.deps.Store.Get(ctx, key); err != nil {
		return nil, fmt.Errorf("cluster %s/%s: %w", p, c, err)
	}
	labels, err := s.deps.Store.List(ctx, key, "clusterLabel")
	if err != nil {
		return nil, err
	}
	out := &clusterregistryv1.Cluster{ClusterProvider: p, Name: c}
	for _, l := range labels {
		out.Labels = append(out.Labels, l.Key[strings.LastIndex(l.Key, "/")+1:])
	}
	return out, nil
}

// ListClusters implements clusterregistryv1.ClusterRegistryServer.
func (s *Service) ListClusters(ctx context.Context, req *clusterregistryv1.ListClustersRequest) (*clusterregistryv1.ListClustersResponse, error) {
	p := req.GetClusterProvider()
	if _, err := s.deps.Store.Get(ctx, providerKey(p)); err != nil {
		return nil, grpcx.ToStatus(fmt.Errorf("cluster provider %s: %w", p, err))
	}
	recs, err := s.deps.Store.List(ctx, providerKey(p), "cluster")
	if err != nil {
		return nil, grpcx.ToStatus(err)
	}
	out := &clusterregistryv1.ListClustersResponse{}
	for _, r := range recs {
		c, err := s.cluster(ctx, p, r.Key[strings.LastIndex(r.Key, "/")+1:])
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, grpcx.ToStatus(err)
		}
		if l := req.GetLabel(); l != "" && !contains(c.Labels, l) {
			continue
		}
		out.Clusters = append(out.Clusters, c)
	}
	return out, nil
}

// GetKubeconfig implements clusterregistryv1.ClusterRegistryServer: the
// sealed kubeconfig, for the deployer to unseal.
func (s *Service) GetKubeconfig(ctx context.Context, req *clusterregistryv1.GetClusterRequest) (*clusterregistryv1.Kubeconfig, error) {
	key := clusterKey(req.GetClusterProvider(), req.GetCluster())
	rec, err := s.deps.Store.Get(ctx, key)
	if err != nil {
		return nil, grpcx.ToStatus(fmt.Errorf("cluster %s/%s: %w", req.GetClusterProvider(), req.GetCluster(), err))
	}
	return &clusterregistryv1.Kubeconfig{Sealed: rec.File, AssociatedData: kubeconfigAAD(key)}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// identityOf names the caller of a request for the audit log.
func identityOf(r *http.Request) (subject, client string) {
	id, ok := auth.FromContext(r.Context())
	if !ok {
		return "", ""
	}
	return id.Principal(), id.ClientID
}
