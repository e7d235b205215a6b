package deployer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
)

// kubeConn is a client of one cluster: a dynamic client and a RESTMapper
// backed by cached discovery. It is shared by every worker and Status call
// while the cluster's kubeconfig stays the same.
type kubeConn struct {
	hash   [sha256.Size]byte
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// connCache keeps one kubeConn per cluster key.
type connCache struct {
	timeout time.Duration
	mu      sync.Mutex
	m       map[string]*kubeConn
}

func (c *connCache) init(timeout time.Duration) {
	c.timeout = timeout
	c.m = map[string]*kubeConn{}
}

// connect fetches the cluster's kubeconfig from the registry, unseals it
// and returns the cached client for it (a new one if the kubeconfig
// changed). The kubeconfig never leaves this function except inside the
// rest.Config of the client.
func (s *Service) connect(ctx context.Context, provider, cluster string) (*kubeConn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	kc, err := s.deps.ClusterRegistry.GetKubeconfig(ctx, &clusterregistryv1.GetClusterRequest{ClusterProvider: provider, Cluster: cluster})
	if err != nil {
		return nil, fmt.Errorf("get kubeconfig: %w", grpcx.FromStatus(err))
	}
	un, err := s.deps.Secrets.Unseal(ctx, &secretsv1.UnsealRequest{Ciphertext: kc.GetSealed(), AssociatedData: kc.GetAssociatedData()})
	if err != nil {
		return nil, fmt.Errorf("unseal kubeconfig: %w", grpcx.FromStatus(err))
	}
	plain := un.GetPlaintext()
	h := sha256.Sum256(plain)
	key := clusterKey(provider, cluster)
	s.conns.mu.Lock()
	defer s.conns.mu.Unlock()
	if c := s.conns.m[key]; c != nil && c.hash == h {
		return c, nil
	}
	cfg, err := restConfig(plain, s.conns.timeout)
	if err != nil {
		return nil, permanent(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, permanent(fmt.Errorf("kubeconfig: %w", err))
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, permanent(fmt.Errorf("kubeconfig: %w", err))
	}
	c := &kubeConn{hash: h, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
	s.conns.m[key] = c
	return c, nil
}

// restConfig builds a client configuration from a kubeconfig, refusing
// anything that would make the deployer run a program or read a local file
// (exec and auth-provider plug-ins, token and certificate files): a
// kubeconfig comes from a cluster owner, not from the deployer's host.
func restConfig(kubeconfig []byte, timeout time.Duration) (*rest.Config, error) {
	cc, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, errors.New("kubeconfig cannot be parsed")
	}
	if err := checkKubeconfig(cc); err != nil {
		return nil, err
	}
	if cc.CurrentContext == "" && len(cc.Contexts) == 1 {
		for name := range cc.Contexts {
			cc.CurrentContext = name
		}
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*cc, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, errors.New("kubeconfig has no usable context")
	}
	u, err := url.Parse(cfg.Host)
	if err != nil || u.Scheme != "https" {
		return nil, errors.New("kubeconfig server must be an https URL")
	}
	cfg.Timeout = timeout
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "edgeway-deployer"
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg, nil
}

func checkKubeconfig(cc *clientcmdapi.Config) error {
	for name, u := range cc.AuthInfos {
		switch {
		case u.Exec != nil || u.AuthProvider != nil:
			return fmt.Errorf("kubeconfig user %q uses a plug-in, which the deployer refuses to run", name)
		case u.TokenFile != "" || u.ClientCertificate != "" || u.ClientKey != "":
			return fmt.Errorf("kubeconfig user %q refers to local files; embed the credentials", name)
		}
	}
	for name, c := range cc.Clusters {
		if c.CertificateAuthority != "" {
			return fmt.Errorf("kubeconfig cluster %q refers to a local CA file; embed it", name)
		}
	}
	return nil
}

// noMatchTries bounds the RESTMapper refreshes for a kind the cluster does
// not serve yet (a CRD applied moments ago takes a little while to be
// served), noMatchWait is the wait between them.
const (
	noMatchTries = 20
	noMatchWait  = 250 * time.Millisecond
)

// unservedError: the cluster does not serve the kind, even after a
// discovery refresh.
type unservedError struct{ gvk schema.GroupVersionKind }

func (e *unservedError) Error() string { return "the cluster does not serve " + e.gvk.String() }

// resourceFor maps a kind to its resource on the cluster. A kind the cached
// discovery does not know is looked up again after a refresh, up to tries
// times; a kind that stays unknown is a permanent *unservedError.
func (c *kubeConn) resourceFor(ctx context.Context, gvk schema.GroupVersionKind, tries int) (*apimeta.RESTMapping, error) {
	for try := 1; ; try++ {
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			return m, nil
		}
		if !apimeta.IsNoMatchError(err) {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if try >= tries {
			return nil, permanent(&unservedError{gvk: gvk})
		}
		c.mapper.Reset()
		if err := sleep(ctx, noMatchWait); err != nil {
			return nil, err
		}
	}
}

// client returns the dynamic client of the object's resource and the
// namespace the object goes to ("" for cluster-scoped kinds).
func (c *kubeConn) client(ctx context.Context, gvk schema.GroupVersionKind, namespace string, tries int) (dynamic.ResourceInterface, string, error) {
	m, err := c.resourceFor(ctx, gvk, tries)
	if err != nil {
		return nil, "", err
	}
	if m.Scope.Name() != apimeta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource), "", nil
	}
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	return c.dyn.Resource(m.Resource).Namespace(namespace), namespace, nil
}

// apply server-side applies obj (already labelled) and returns the live
// object.
func (c *kubeConn) apply(ctx context.Context, obj *unstructured.Unstructured, namespace string) (*unstructured.Unstructured, error) {
	ri, ns, err := c.client(ctx, obj.GroupVersionKind(), namespace, noMatchTries)
	if err != nil {
		return nil, err
	}
	obj.SetNamespace(ns)
	data, err := obj.MarshalJSON()
	if err != nil {
		return nil, permanent(fmt.Errorf("encode: %w", err))
	}
	force := true
	return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
}

// get reads the live object of a resource.
func (c *kubeConn) get(ctx context.Context, r *resource) (*unstructured.Unstructured, error) {
	ri, _, err := c.client(ctx, r.gvk(), r.Namespace, 2)
	if err != nil {
		return nil, err
	}
	return ri.Get(ctx, r.Name, metav1.GetOptions{})
}

// remove deletes the live object of a resource if it carries the
// deployment's label, tolerating an object already gone. An object with the
// same name that belongs to another deployment is left alone.
func (c *kubeConn) remove(ctx context.Context, r *resource, deploymentID string) (removed bool, err error) {
	ri, _, err := c.client(ctx, r.gvk(), r.Namespace, 2)
	var ue *unservedError
	if errors.As(err, &ue) {
		return true, nil // the kind is gone (its CRD deleted), so is the object
	}
	if err != nil {
		return false, err
	}
	live, err := ri.Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if live.GetLabels()[LabelDeployment] != deploymentID {
		return false, nil
	}
	if live.GetDeletionTimestamp() != nil {
		return true, nil // being deleted already (a namespace being emptied)
	}
	uid := live.GetUID()
	bg := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &bg})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or replaced by a new object since the read: not ours to delete.
		return apierrors.IsNotFound(err), nil
	}
	return err == nil, err
}
