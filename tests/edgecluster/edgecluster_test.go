package edgecluster_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"edgeway.dev/tests/edgecluster"
)

const (
	namespace = "edgeway-demo"
	configMap = "greeting"
	manager   = "edgecluster-test"
)

// TestFleet starts two clusters and checks that they are separate, that one
// can be taken away and that it comes back with its data.
func TestFleet(t *testing.T) {
	began := time.Now()
	f := edgecluster.StartT(t, edgecluster.Options{N: 2})
	t.Logf("fleet of 2 ready in %s", time.Since(began).Round(time.Millisecond))
	ctx := t.Context()

	clusters := f.Clusters()
	require.Len(t, clusters, 2)
	edge1, edge2 := clusters[0], clusters[1]
	require.Equal(t, "edge1", edge1.Name)
	require.Equal(t, "edge2", edge2.Name)
	for _, c := range clusters {
		require.True(t, c.Running, c.Name)
		u, err := url.Parse(c.URL)
		require.NoError(t, err)
		require.Equal(t, "https", u.Scheme)
		require.Equal(t, "127.0.0.1", u.Hostname())
	}
	require.NotEqual(t, edge1.URL, edge2.URL)
	c1, c2 := client(t, edge1.Kubeconfig), client(t, edge2.Kubeconfig)

	// The kubeconfig on disk reaches the cluster too.
	fromFile, err := clientcmd.BuildConfigFromFlags("", edge1.KubeconfigPath)
	require.NoError(t, err)
	require.Equal(t, edge1.URL, fromFile.Host)
	version, err := kubernetes.NewForConfigOrDie(fromFile).Discovery().ServerVersion()
	require.NoError(t, err)
	t.Logf("edge1 runs Kubernetes %s", version.GitVersion)

	apply(ctx, t, c1, "from edge1")
	requireGreeting(ctx, t, c1, "from edge1")

	// edge2 shares the etcd but not the data.
	_, err = c2.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "edge2 sees edge1's namespace: %v", err)
	_, err = c2.CoreV1().ConfigMaps(namespace).Get(ctx, configMap, metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "edge2 sees edge1's config map: %v", err)

	apply(ctx, t, c2, "from edge2")
	requireGreeting(ctx, t, c2, "from edge2")
	requireGreeting(ctx, t, c1, "from edge1")

	// Take edge2 away: it is unreachable, edge1 is not.
	require.NoError(t, f.StopCluster("edge2"))
	stopped, ok := f.Cluster("edge2")
	require.True(t, ok)
	require.False(t, stopped.Running)
	_, err = c2.CoreV1().ConfigMaps(namespace).Get(ctx, configMap, metav1.GetOptions{})
	require.Error(t, err, "edge2 answers after StopCluster")
	require.False(t, apierrors.IsNotFound(err), "edge2 answers after StopCluster: %v", err)
	requireGreeting(ctx, t, c1, "from edge1")

	// Bring it back: same address and credentials, same data.
	began = time.Now()
	require.NoError(t, f.StartCluster(ctx, "edge2"))
	t.Logf("edge2 back in %s", time.Since(began).Round(time.Millisecond))
	back, ok := f.Cluster("edge2")
	require.True(t, ok)
	require.True(t, back.Running)
	require.Equal(t, edge2.URL, back.URL)
	require.Equal(t, edge2.Kubeconfig, back.Kubeconfig)
	requireGreeting(ctx, t, c2, "from edge2") // the client made before the stop
	requireGreeting(ctx, t, c1, "from edge1")

	require.Error(t, f.StartCluster(ctx, "edge2"), "starting a running cluster")
	require.Error(t, f.StopCluster("edge3"), "stopping an unknown cluster")
}

func client(t *testing.T, kubeconfig []byte) *kubernetes.Clientset {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	require.NoError(t, err)
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	require.NoError(t, err)
	return cs
}

// apply creates the namespace and the config map with server-side apply.
func apply(ctx context.Context, t *testing.T, cs kubernetes.Interface, greeting string) {
	t.Helper()
	opts := metav1.ApplyOptions{FieldManager: manager, Force: true}
	_, err := cs.CoreV1().Namespaces().Apply(ctx, corev1ac.Namespace(namespace), opts)
	require.NoError(t, err)
	cm, err := cs.CoreV1().ConfigMaps(namespace).Apply(ctx,
		corev1ac.ConfigMap(configMap, namespace).
			WithLabels(map[string]string{"app.kubernetes.io/managed-by": "edgeway"}).
			WithData(map[string]string{"greeting": greeting}),
		opts)
	require.NoError(t, err)
	require.Equal(t, greeting, cm.Data["greeting"])
	require.NotEmpty(t, cm.ManagedFields, "server-side apply records its field manager")
	require.Equal(t, manager, cm.ManagedFields[0].Manager)
}

func requireGreeting(ctx context.Context, t *testing.T, cs kubernetes.Interface, want string) {
	t.Helper()
	cm, err := cs.CoreV1().ConfigMaps(namespace).Get(ctx, configMap, metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, want, cm.Data["greeting"])
}
