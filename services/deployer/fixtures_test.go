package deployer

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/devstores"
	"edgeway.dev/common/store/etcdstore"
	"edgeway.dev/services/secrets/reencrypt"
	"edgeway.dev/tests/edgecluster"
)

// The package's integration tests share one fleet of two kube-apiservers
// and one embedded etcd, started on first use; each test works under its
// own etcd prefix and deployment id.
var shared struct {
	etcdOnce  sync.Once
	etcdErr   error
	fleetOnce sync.Once
	fleetErr  error
	dir       string
	fleet     *edgecluster.Fleet
	etcd      *devstores.Etcd
	cli       *clientv3.Client
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cli != nil {
		_ = shared.cli.Close()
	}
	if shared.fleet != nil {
		shared.fleet.Close()
	}
	if shared.etcd != nil {
		shared.etcd.Stop()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

const provider = "edge"

// startEtcd starts the shared embedded etcd on first use.
func startEtcd(t *testing.T) {
	t.Helper()
	shared.etcdOnce.Do(func() {
		if shared.dir, shared.etcdErr = os.MkdirTemp("", "deployer-test-"); shared.etcdErr != nil {
			return
		}
		if shared.etcd, shared.etcdErr = devstores.StartEtcd(filepath.Join(shared.dir, "etcd"), "127.0.0.1:0", nil); shared.etcdErr != nil {
			return
		}
		shared.cli, shared.etcdErr = devstores.ConnectEtcd(shared.etcd.Endpoints())
	})
	require.NoError(t, shared.etcdErr)
}

// startFleet starts the shared fleet of two kube-apiservers on first use.
func startFleet(t *testing.T) {
	t.Helper()
	if os.Getenv(edgecluster.EnvSkip) == "1" {
		t.Skip(edgecluster.EnvSkip + "=1: skipping the test that needs real kube-apiservers")
	}
	if testing.Short() {
		t.Skip("-short: skipping the test that needs real kube-apiservers")
	}
	startEtcd(t)
	shared.fleetOnce.Do(func() {
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		shared.fleet, shared.fleetErr = edgecluster.Start(ctx, edgecluster.Options{
			N: 2, Dir: filepath.Join(shared.dir, "fleet"),
			// A loopback advertise address needs no endpoint reconciler
			// (kube-apiserver refuses to start with one).
			Args: []string{"--endpoint-reconciler-type=none"},
		})
		fmt.Fprintf(os.Stderr, "deployer tests: fleet started in %s\n", time.Since(began).Round(time.Second))
	})
	require.NoError(t, shared.fleetErr)
}

// env is one test's deployer world: a KV under its own prefix, a
// registry and a secrets service in process, the shared clusters.
type env struct {
	t      *testing.T
	prefix string
	reg    *testRegistry
	sec    *testSecrets
	cfg    Config
	logs   *syncBuffer
	// Optional clients start passes on: a secrets service in place of sec,
	// the project secrets, the keys of the re-encryption job.
	secrets secretsv1.SecretsClient
	proj    secretsv1.ProjectSecretsClient
	keys    reencrypt.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	startFleet(t)
	return newEtcdEnv(t)
}

// newEtcdEnv is an env without clusters: the registry knows none.
func newEtcdEnv(t *testing.T) *env {
	t.Helper()
	startEtcd(t)
	sec := newTestSecrets(t)
	e := &env{
		t:      t,
		prefix: "/test/" + strings.ReplaceAll(t.Name(), "/", "_") + "/deployer/",
		reg:    &testRegistry{sec: sec, fleet: shared.fleet},
		sec:    sec,
		logs:   &syncBuffer{},
		cfg: Config{
			ClusterConcurrency: 4,
			RetryBase:          100 * time.Millisecond,
			RetryMax:           time.Second,
			RetryLimit:         0,
			ReadyPoll:          200 * time.Millisecond,
			RequestTimeout:     10 * time.Second,
			StatusTimeout:      2 * time.Second,
		},
	}
	return e
}

// start builds a deployer on the env's etcd prefix; Close runs at cleanup
// (and may run earlier).
func (e *env) start() *Service {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(io.MultiWriter(e.logs, testWriter{e.t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	var sc secretsv1.SecretsClient = e.sec
	if e.secrets != nil {
		sc = e.secrets
	}
	s, err := New(e.cfg, Deps{
		Log: log, KV: etcdstore.New(shared.cli, e.prefix),
		ClusterRegistry: e.reg, Secrets: sc, ProjectSecrets: e.proj, Keys: e.keys,
	})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawValues returns every value stored under the env's prefix.
func (e *env) rawValues() map[string][]byte {
	e.t.Helper()
	resp, err := shared.cli.Get(context.Background(), e.prefix, clientv3.WithPrefix())
	require.NoError(e.t, err)
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

// testWriter sends log lines to t.Log while the test runs.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	defer func() { _ = recover() }() // a late line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testSecrets seals with AES-GCM under a random key, binding the
// associated data, so that a sealed value really hides its plaintext (the
// secrets service's current "plain0" framing does not, yet).
type testSecrets struct {
	aead    cipher.AEAD
	seals   atomic.Int64
	unseals atomic.Int64
}

func newTestSecrets(t *testing.T) *testSecrets {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	return &testSecrets{aead: aead}
}

func (s *testSecrets) seal(plain []byte, aad string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(aad))
}

func (s *testSecrets) Seal(_ context.Context, req *secretsv1.SealRequest, _ ...grpc.CallOption) (*secretsv1.SealResponse, error) {
	if req.GetAssociatedData() == "" {
		return nil, status.Error(codes.InvalidArgument, "associated data is required")
	}
	s.seals.Add(1)
	return &secretsv1.SealResponse{Ciphertext: s.seal(req.GetPlaintext(), req.GetAssociatedData())}, nil
}

func (s *testSecrets) Unseal(_ context.Context, req *secretsv1.UnsealRequest, _ ...grpc.CallOption) (*secretsv1.UnsealResponse, error) {
	s.unseals.Add(1)
	ct, n := req.GetCiphertext(), s.aead.NonceSize()
	if len(ct) < n {
		return nil, status.Error(codes.InvalidArgument, "value cannot be unsealed for this associated data")
	}
	plain, err := s.aead.Open(nil, ct[:n], ct[n:], []byte(req.GetAssociatedData()))
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "value cannot be unsealed for this associated data")
	}
	return &secretsv1.UnsealResponse{Plaintext: plain}, nil
}

// testRegistry hands out the fleet's kubeconfigs sealed the way the
// cluster registry stores them.
type testRegistry struct {
	clusterregistryv1.UnimplementedClusterRegistryServer
	sec   *testSecrets
	fleet *edgecluster.Fleet
	calls atomic.Int64
}

func (r *testRegistry) GetKubeconfig(_ context.Context, req *clusterregistryv1.GetClusterRequest, _ ...grpc.CallOption) (*clusterregistryv1.Kubeconfig, error) {
	r.calls.Add(1)
	var c edgecluster.Cluster
	ok := false
	if r.fleet != nil {
		c, ok = r.fleet.Cluster(req.GetCluster())
	}
	if req.GetClusterProvider() != provider || !ok {
		return nil, status.Errorf(codes.NotFound, "cluster %s/%s not found", req.GetClusterProvider(), req.GetCluster())
	}
	aad := "clusterregistry/cluster-providers/" + provider + "/clusters/" + c.Name + "#kubeconfig"
	return &clusterregistryv1.Kubeconfig{Sealed: r.sec.seal(c.Kubeconfig, aad), AssociatedData: aad}, nil
}

func (r *testRegistry) GetCluster(context.Context, *clusterregistryv1.GetClusterRequest, ...grpc.CallOption) (*clusterregistryv1.Cluster, error) {
	return nil, status.Error(codes.Unimplemented, "not in tests")
}

func (r *testRegistry) ListClusters(context.Context, *clusterregistryv1.ListClustersRequest, ...grpc.CallOption) (*clusterregistryv1.ListClustersResponse, error) {
	return nil, status.Error(codes.Unimplemented, "not in tests")
}

// kube is a dynamic client of a fleet cluster, for checking what the
// deployer did.
func kube(t *testing.T, cluster string) dynamic.Interface {
	t.Helper()
	c, ok := shared.fleet.Cluster(cluster)
	require.True(t, ok)
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig)
	require.NoError(t, err)
	cfg.Timeout = 10 * time.Second
	dyn, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	return dyn
}

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// getObj reads an object; nil when it does not exist.
func getObj(t *testing.T, cluster string, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var ri dynamic.ResourceInterface = kube(t, cluster).Resource(gvr)
	if ns != "" {
		ri = kube(t, cluster).Resource(gvr).Namespace(ns)
	}
	obj, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		require.Contains(t, err.Error(), "not found")
		return nil
	}
	return obj
}

// markDeploymentReady sets the status a controller would set once every
// replica is available (the test clusters have no controllers).
func markDeploymentReady(t *testing.T, cluster, ns, name string) {
	t.Helper()
	ri := kube(t, cluster).Resource(deployments).Namespace(ns)
	obj, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	replicas, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
	require.NoError(t, unstructured.SetNestedMap(obj.Object, map[string]any{
		"observedGeneration": obj.GetGeneration(),
		"replicas":           replicas, "updatedReplicas": replicas,
		"readyReplicas": replicas, "availableReplicas": replicas,
	}, "status"))
	_, err = ri.UpdateStatus(context.Background(), obj, metav1.UpdateOptions{})
	require.NoError(t, err)
}

// Manifests.

func configMap(name, ns string, data map[string]string) *deployerv1.Resource {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n", name)
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return &deployerv1.Resource{ApiVersion: "v1", Kind: "ConfigMap", Name: name, Namespace: ns, Manifest: []byte(b.String())}
}

func secret(name, ns, password string) *deployerv1.Resource {
	m := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\ntype: Opaque\nstringData:\n  password: %q\n", name, ns, password)
	return &deployerv1.Resource{ApiVersion: "v1", Kind: "Secret", Name: name, Namespace: ns, Manifest: []byte(m)}
}

func namespace(name string) *deployerv1.Resource {
	return &deployerv1.Resource{ApiVersion: "v1", Kind: "Namespace", Name: name,
		Manifest: []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"` + name + `"}}`)}
}

func deployment(name, ns string) *deployerv1.Resource {
	m := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: main
        image: registry.example/%[1]s:1.0
`, name)
	return &deployerv1.Resource{ApiVersion: "apps/v1", Kind: "Deployment", Name: name, Namespace: ns, Manifest: []byte(m)}
}

// onClusters places the same resources on each named cluster.
func onClusters(clusters []string, rs ...*deployerv1.Resource) []*deployerv1.ClusterResources {
	var out []*deployerv1.ClusterResources
	for _, c := range clusters {
		out = append(out, &deployerv1.ClusterResources{ClusterProvider: provider, Cluster: c, Resources: rs})
	}
	return out
}

// status reads a context's status.
func getStatus(t *testing.T, s *Service, id string, detail bool) *deployerv1.ContextStatus {
	t.Helper()
	st, err := s.Status(context.Background(), &deployerv1.StatusRequest{ContextId: id, Detail: detail})
	require.NoError(t, err)
	return st
}

// resourceStatus finds one resource's status.
func resourceStatus(st *deployerv1.ContextStatus, app, cluster, kind, name string) *deployerv1.ResourceStatus {
	for _, a := range st.GetApps() {
		if a.GetName() != app {
			continue
		}
		for _, c := range a.GetClusters() {
			if c.GetCluster() != cluster {
				continue
			}
			for _, r := range c.GetResources() {
				if r.GetKind() == kind && r.GetName() == name {
					return r
				}
			}
		}
	}
	return nil
}

// connectivity finds a cluster's connectivity in any app of the status.
func connectivity(st *deployerv1.ContextStatus, cluster string) string {
	for _, a := range st.GetApps() {
		for _, c := range a.GetClusters() {
			if c.GetCluster() == cluster {
				return c.GetConnectivity()
			}
		}
	}
	return ""
}

// waitStatus waits until the context's deployed status is want.
func waitStatus(t *testing.T, s *Service, id, want string, within time.Duration) *deployerv1.ContextStatus {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := getStatus(t, s, id, false)
		if st.GetDeployedStatus() == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("context %s did not reach %s within %s; status: %v", id, want, within, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventually polls cond every 100 ms until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
