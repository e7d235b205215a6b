package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	placementv1 "edgeway.dev/api-spec/gen/placement/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/store"
)

// Name is the service's identity.
const Name = "placement"

// Config configures placement (nothing yet).
type Config struct{}

// Deps are placement's collaborators.
type Deps struct {
	Log             *slog.Logger
	ClusterRegistry clusterregistryv1.ClusterRegistryClient
}

// Service is the placement service.
type Service struct {
	placementv1.UnimplementedPlacementServer
	deps Deps
}

// New builds the placement service.
func New(_ Config, deps Deps) (*Service, error) {
	if deps.ClusterRegistry == nil || deps.Log == nil {
		return nil, errors.New("placement: missing dependency")
	}
	return &Service{deps: deps}, nil
}

// Name implements svc.Service.
func (s *Service) Name() string { return Name }

// REST implements svc.Service: placement has no REST routes.
func (s *Service) REST() http.Handler { return nil }

// RegisterGRPC implements svc.Service.
func (s *Service) RegisterGRPC(g *grpc.Server) { placementv1.RegisterPlacementServer(g, s) }

// Policy implements svc.Service.
func (s *Service) Policy() grpcx.Policy {
	return grpcx.Policy{placementv1.Placement_Resolve_FullMethodName: {"orchestrator"}}
}

// Ready implements svc.Service.
func (s *Service) Ready(context.Context) error { return nil }

type ref struct{ provider, cluster string }

// Resolve implements placementv1.PlacementServer.
func (s *Service) Resolve(ctx context.Context, req *placementv1.ResolveRequest) (*placementv1.ResolveResponse, error) {
	out := &placementv1.ResolveResponse{}
	for _, in := range req.GetIntents() {
		set := map[ref]bool{}
		for _, sel := range in.GetAllOf() {
			found, err := s.match(ctx, in.GetApp(), sel)
			if err != nil {
				return nil, err
			}
			for _, r := range found {
				set[r] = true
			}
		}
		if any := in.GetAnyOf(); len(any) > 0 {
			var pool []ref
			for _, sel := range any {
				found, err := s.match(ctx, in.GetApp(), sel)
				if err != nil {
					return nil, err
				}
				pool = append(pool, found...)
			}
			sortRefs(pool)
			set[pool[0]] = true // deterministic: the first in name order
		}
		refs := make([]ref, 0, len(set))
		for r := range set {
			refs = append(refs, r)
		}
		sortRefs(refs)
		ap := &placementv1.AppPlacement{App: in.GetApp()}
		for _, r := range refs {
			ap.Clusters = append(ap.Clusters, &placementv1.ClusterRef{ClusterProvider: r.provider, Cluster: r.cluster})
		}
		out.Placements = append(out.Placements, ap)
	}
	return out, nil
}

// match returns the clusters a selector names; a cluster that does not
// exist or a label no cluster has is FAILED_PRECONDITION naming it.
func (s *Service) match(ctx context.Context, app string, sel *placementv1.Selector) ([]ref, error) {
	p := sel.GetClusterProvider()
	if c := sel.GetCluster(); c != "" {
		_, err := s.deps.ClusterRegistry.GetCluster(ctx, &clusterregistryv1.GetClusterRequest{ClusterProvider: p, Cluster: c})
		if err != nil {
			if errors.Is(grpcx.FromStatus(err), store.ErrNotFound) {
				return nil, status.Errorf(codes.FailedPrecondition, "app %s: cluster %s/%s does not exist", app, p, c)
			}
			return nil, err
		}
		return []ref{{p, c}}, nil
	}
	l := sel.GetClusterLabel()
	resp, err := s.deps.ClusterRegistry.ListClusters(ctx, &clusterregistryv1.ListClustersRequest{ClusterProvider: p, Label: l})
	if err != nil {
		if errors.Is(grpcx.FromStatus(err), store.ErrNotFound) {
			return nil, status.Errorf(codes.FailedPrecondition, "app %s: cluster provider %s does not exist", app, p)
		}
		return nil, err
	}
	if len(resp.GetClusters()) == 0 {
		return nil, status.Errorf(codes.FailedPrecondition, "app %s: no cluster of provider %s has label %s", app, p, l)
	}
	out := make([]ref, 0, len(resp.GetClusters()))
	for _, c := range resp.GetClusters() {
		out = append(out, ref{p, c.GetName()})
	}
	return out, nil
}

func sortRefs(r []ref) {
	sort.Slice(r, func(i, j int) bool {
		return fmt.Sprint(r[i].provider, "/", r[i].cluster) < fmt.Sprint(r[j].provider, "/", r[j].cluster)
	})
}
