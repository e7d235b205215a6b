package placement

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	placementv1 "edgeway.dev/api-spec/gen/placement/v1"
)

// registry is a small in-memory ClusterRegistry for placement's pure logic;
// the e2e tests run placement against the real registry.
type registry struct {
	clusters map[string][]*clusterregistryv1.Cluster // provider → clusters
}

func (r registry) GetCluster(_ context.Context, in *clusterregistryv1.GetClusterRequest, _ ...grpc.CallOption) (*clusterregistryv1.Cluster, error) {
	for _, c := range r.clusters[in.GetClusterProvider()] {
		if c.GetName() == in.GetCluster() {
			return c, nil
		}
	}
	return nil, status.Error(codes.NotFound, "no such cluster")
}

func (r registry) ListClusters(_ context.Context, in *clusterregistryv1.ListClustersRequest, _ ...grpc.CallOption) (*clusterregistryv1.ListClustersResponse, error) {
	cs, ok := r.clusters[in.GetClusterProvider()]
	if !ok {
		return nil, status.Error(codes.NotFound, "no such provider")
	}
	out := &clusterregistryv1.ListClustersResponse{}
	for _, c := range cs {
		for _, l := range c.GetLabels() {
			if l == in.GetLabel() {
				out.Clusters = append(out.Clusters, c)
			}
		}
	}
	return out, nil
}

func (r registry) GetKubeconfig(context.Context, *clusterregistryv1.GetClusterRequest, ...grpc.CallOption) (*clusterregistryv1.Kubeconfig, error) {
	return nil, status.Error(codes.PermissionDenied, "not for placement")
}

func TestResolve(t *testing.T) {
	reg := registry{clusters: map[string][]*clusterregistryv1.Cluster{
		"local": {
			{ClusterProvider: "local", Name: "edge1", Labels: []string{"edge", "zone-a"}},
			{ClusterProvider: "local", Name: "edge2", Labels: []string{"edge", "zone-b"}},
		},
	}}
	s, err := New(Config{}, Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), ClusterRegistry: reg})
	require.NoError(t, err)
	sel := func(c, l string) *placementv1.Selector {
		return &placementv1.Selector{ClusterProvider: "local", Cluster: c, ClusterLabel: l}
	}
	names := func(p *placementv1.AppPlacement) []string {
		var out []string
		for _, c := range p.GetClusters() {
			out = append(out, c.GetCluster())
		}
		return out
	}
	cases := []struct {
		name   string
		intent *placementv1.AppIntent
		want   []string
		err    string
	}{
		{"allOf label", &placementv1.AppIntent{App: "a", AllOf: []*placementv1.Selector{sel("", "edge")}}, []string{"edge1", "edge2"}, ""},
		{"allOf name and label dedup", &placementv1.AppIntent{App: "a", AllOf: []*placementv1.Selector{sel("edge2", ""), sel("", "zone-b")}}, []string{"edge2"}, ""},
		{"anyOf picks one", &placementv1.AppIntent{App: "a", AnyOf: []*placementv1.Selector{sel("", "edge")}}, []string{"edge1"}, ""},
		{"allOf plus anyOf", &placementv1.AppIntent{App: "a", AllOf: []*placementv1.Selector{sel("", "zone-b")}, AnyOf: []*placementv1.Selector{sel("", "zone-a")}}, []string{"edge1", "edge2"}, ""},
		{"unknown cluster", &placementv1.AppIntent{App: "web", AllOf: []*placementv1.Selector{sel("edge9", "")}}, nil, "app web: cluster local/edge9 does not exist"},
		{"unknown label", &placementv1.AppIntent{App: "web", AnyOf: []*placementv1.Selector{sel("", "gpu")}}, nil, "app web: no cluster of provider local has label gpu"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := s.Resolve(context.Background(), &placementv1.ResolveRequest{Intents: []*placementv1.AppIntent{c.intent}})
			if c.err != "" {
				require.Equal(t, codes.FailedPrecondition, status.Code(err))
				require.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, names(resp.GetPlacements()[0]))
		})
	}
}
