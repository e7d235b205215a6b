package deployer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
)

// testProjectSecrets hands out project secrets sealed the way the secrets
// service stores them (for "secrets/<key>#data"), with the env's sealer.
type testProjectSecrets struct {
	secretsv1.ProjectSecretsClient
	sec    *testSecrets
	mu     sync.Mutex
	values map[string]map[string]string
	calls  atomic.Int64
}

func (p *testProjectSecrets) set(key string, values map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.values == nil {
		p.values = map[string]map[string]string{}
	}
	p.values[key] = values
}

func (p *testProjectSecrets) GetProjectSecret(_ context.Context, req *secretsv1.GetProjectSecretRequest, _ ...grpc.CallOption) (*secretsv1.GetProjectSecretResponse, error) {
	p.calls.Add(1)
	p.mu.Lock()
	v, ok := p.values[req.GetKey()]
	p.mu.Unlock()
	if !ok {
		return nil, status.Error(codes.NotFound, "project secret "+req.GetKey()+" not found")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	aad := "secrets/" + req.GetKey() + "#data"
	return &secretsv1.GetProjectSecretResponse{Sealed: p.sec.seal(b, aad), AssociatedData: aad}, nil
}

// secretRef is the Secret the orchestrator adds for a project secret: a
// reference, no values (extra is merged into the manifest).
func secretRef(name, ns, ref string, extra map[string]any) *deployerv1.Resource {
	m := map[string]any{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": name, "namespace": ns, "annotations": map[string]any{AnnotationProjectSecret: ref}}}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return &deployerv1.Resource{ApiVersion: "v1", Kind: "Secret", Name: name, Namespace: ns, Manifest: b}
}

// secretData decodes a live Secret's data.
func secretData(t *testing.T, obj *unstructured.Unstructured) map[string]string {
	t.Helper()
	require.NotNil(t, obj)
	raw, _, err := unstructured.NestedStringMap(obj.Object, "data")
	require.NoError(t, err)
	out := map[string]string{}
	for k, v := range raw {
		b, err := base64.StdEncoding.DecodeString(v)
		require.NoError(t, err)
		out[k] = string(b)
	}
	return out
}

// TestProjectSecretReference: a Secret that refers to a project secret
// reaches the cluster with the secret's values, fetched and unsealed just
// before the apply; etcd and the log never see them; a key dropped from
// the secret is dropped from the cluster at the next revision; a missing
// secret, or a reference carrying data, fails that resource only.
func TestProjectSecretReference(t *testing.T) {
	e := newEnv(t)
	ps := &testProjectSecrets{sec: e.sec}
	e.proj = ps
	s := e.start()
	ctx := context.Background()
	const (
		ns     = "psec"
		ref    = "projects/p1/secrets/db"
		marker = "psec-MARKER-0d41e7"
	)
	ps.set(ref, map[string]string{"password": marker, "user": "shop"})
	_, err := s.Install(ctx, &deployerv1.InstallRequest{ContextId: "psec-1", DeploymentId: "psec", Revision: 1,
		Apps: []*deployerv1.App{{Name: "a", Clusters: onClusters([]string{"edge1"},
			namespace(ns),
			secretRef("db", ns, ref, nil),
			secretRef("gone", ns, "projects/p1/secrets/gone", nil),
			secretRef("smuggled", ns, ref, map[string]any{"stringData": map[string]any{"x": "y"}}),
		)}}})
	require.NoError(t, err)
	st := waitStatus(t, s, "psec-1", StatusInstantiateFailed, time.Minute)

	require.Equal(t, ResourceApplied, resourceStatus(st, "a", "edge1", "Secret", "db").GetDeployedStatus())
	gone := resourceStatus(st, "a", "edge1", "Secret", "gone")
	require.Equal(t, ResourceFailed, gone.GetDeployedStatus())
	require.Contains(t, gone.GetError(), "project secret projects/p1/secrets/gone")
	require.Contains(t, gone.GetError(), "not found")
	smuggled := resourceStatus(st, "a", "edge1", "Secret", "smuggled")
	require.Equal(t, ResourceFailed, smuggled.GetDeployedStatus())
	require.Contains(t, smuggled.GetError(), "must not carry stringData")
	require.Nil(t, getObj(t, "edge1", secretsGVR, ns, "smuggled"))
	live := getObj(t, "edge1", secretsGVR, ns, "db")
	requireManaged(t, live, "psec")
	require.Equal(t, map[string]string{"password": marker, "user": "shop"}, secretData(t, live))
	require.Equal(t, ref, live.GetAnnotations()[AnnotationProjectSecret])

	// At rest: the record keeps the reference, sealed, without values.
	raw := e.rawValues()
	for k, v := range raw {
		require.NotContains(t, string(v), marker, k)
	}
	key := recordKey("psec-1", provider+"+edge1", "a")
	var rec record
	require.NoError(t, json.Unmarshal(raw[e.prefix+key], &rec))
	i := slices.IndexFunc(rec.Resources, func(r resource) bool { return r.Name == "db" })
	un, err := e.sec.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: rec.Resources[i].Sealed, AssociatedData: sealAAD(key, &rec.Resources[i])})
	require.NoError(t, err)
	require.NotContains(t, string(un.GetPlaintext()), marker)
	require.Contains(t, string(un.GetPlaintext()), ref)

	// The next revision delivers the secret as it is then.
	ps.set(ref, map[string]string{"password": marker + "-2"})
	_, err = s.Install(ctx, &deployerv1.InstallRequest{ContextId: "psec-2", DeploymentId: "psec", Revision: 2, PreviousContextId: "psec-1",
		Apps: []*deployerv1.App{{Name: "a", Clusters: onClusters([]string{"edge1"}, namespace(ns), secretRef("db", ns, ref, nil))}}})
	require.NoError(t, err)
	waitStatus(t, s, "psec-2", StatusUpdated, time.Minute)
	require.Equal(t, map[string]string{"password": marker + "-2"}, secretData(t, getObj(t, "edge1", secretsGVR, ns, "db")),
		"the key dropped from the project secret is gone from the cluster")
	require.NotContains(t, e.logs.String(), marker)
}
