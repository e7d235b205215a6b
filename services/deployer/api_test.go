package deployer

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

// TestInstallRecords needs etcd only: the context's cluster is unknown to
// the registry, so the context fails fast, and what Install wrote can be
// checked in etcd.
func TestInstallRecords(t *testing.T) {
	e := newEtcdEnv(t)
	s := e.start()
	ctx := context.Background()
	const marker = "records-MARKER-55e1"
	req := &deployerv1.InstallRequest{
		ContextId: "rec-1", DeploymentId: "rec", Revision: 1,
		Apps: []*deployerv1.App{{Name: "a", Clusters: []*deployerv1.ClusterResources{{
			ClusterProvider: provider, Cluster: "nowhere",
			Resources: []*deployerv1.Resource{configMap("c", "ns", map[string]string{"k": "v"}), secret("s", "ns", marker)},
		}}}},
		Setup: []*deployerv1.ClusterResources{{ClusterProvider: provider, Cluster: "nowhere", Resources: []*deployerv1.Resource{namespace("ns")}}},
	}
	_, err := s.Install(ctx, req)
	require.NoError(t, err)
	_, err = s.Install(ctx, req)
	require.NoError(t, err)
	require.EqualValues(t, 1, e.sec.seals.Load(), "the second install writes nothing")

	st := waitStatus(t, s, "rec-1", StatusInstantiateFailed, 10*time.Second)
	require.Equal(t, int64(1), st.GetRevision())
	require.Equal(t, "", st.GetApps()[0].GetName(), "the setup comes first, as an app without a name")
	require.Equal(t, "a", st.GetApps()[1].GetName())
	cs := st.GetApps()[1].GetClusters()[0]
	require.Equal(t, ConnUnknown, cs.GetConnectivity())
	require.Contains(t, cs.GetError(), "not found")
	for _, r := range cs.GetResources() {
		require.Equal(t, ResourceFailed, r.GetDeployedStatus())
		require.Contains(t, r.GetError(), "get kubeconfig")
	}

	raw := e.rawValues()
	require.Len(t, raw, 4, "meta, two records, connectivity: %v", keysOf(raw))
	var m meta
	require.NoError(t, json.Unmarshal(raw[e.prefix+metaKey("rec-1")], &m))
	require.Equal(t, "rec", m.DeploymentID)
	require.Equal(t, []string{provider + "+nowhere"}, m.Clusters)
	var rec record
	key := recordKey("rec-1", provider+"+nowhere", "a")
	require.NoError(t, json.Unmarshal(raw[e.prefix+key], &rec))
	require.Len(t, rec.Resources, 2)
	sec := rec.Resources[1]
	require.Empty(t, sec.Manifest)
	for k, v := range raw {
		require.NotContains(t, string(v), marker, k)
	}
	_, err = e.sec.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: sec.Sealed, AssociatedData: sealAAD(key, &sec)})
	require.NoError(t, err, "sealed for its record and resource")
	_, err = e.sec.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: sec.Sealed, AssociatedData: sealAAD(recordKey("rec-2", provider+"+nowhere", "a"), &sec)})
	require.Error(t, err, "a sealed manifest copied to another record does not unseal")

	// Errors map to gRPC codes.
	_, err = s.Uninstall(ctx, &deployerv1.ContextRequest{ContextId: "missing"})
	require.Equal(t, codes.NotFound, grpcstatus.Code(err))
	_, err = s.Stop(ctx, &deployerv1.ContextRequest{ContextId: "missing"})
	require.Equal(t, codes.NotFound, grpcstatus.Code(err))
	bad := &deployerv1.InstallRequest{ContextId: "rec-2", DeploymentId: "other", Revision: 2, PreviousContextId: "rec-1"}
	_, err = s.Install(ctx, bad)
	require.Equal(t, codes.InvalidArgument, grpcstatus.Code(err), "previous context of another deployment")
	bad.PreviousContextId = "missing"
	_, err = s.Install(ctx, bad)
	require.Equal(t, codes.NotFound, grpcstatus.Code(err))
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, strings.TrimPrefix(k, "/"))
	}
	return out
}
