package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"edgeway.dev/tests/edgecluster"
)

// kubeClient reaches one cluster of the fleet.
type kubeClient struct {
	name  string
	typed kubernetes.Interface
	dyn   dynamic.Interface
}

// newKubeClient builds clients with the deployer's settings (QPS 50, burst
// 100, 30 s timeout), so the floor is not held back by client-go's default
// rate limit of 5 requests a second.
func newKubeClient(c edgecluster.Cluster) (*kubeClient, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Timeout = 30 * time.Second
	cfg.UserAgent = "edgeway-bench"
	cfg.WarningHandler = rest.NoWarnings{}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &kubeClient{name: c.Name, typed: typed, dyn: dyn}, nil
}

// rolloutFaker plays the Deployment controller on every cluster: as soon as
// a Deployment appears in appNamespace (or its spec changes), it reports the
// rollout done with UpdateStatus.
type rolloutFaker struct {
	log     *slog.Logger
	updates atomic.Int64
	errors  atomic.Int64
}

func (f *rolloutFaker) start(ctx context.Context, clients []*kubeClient) error {
	var wg sync.WaitGroup
	synced := make([]bool, len(clients))
	for i, kc := range clients {
		factory := informers.NewSharedInformerFactoryWithOptions(kc.typed, 0, informers.WithNamespace(appNamespace))
		inf := factory.Apps().V1().Deployments().Informer()
		handle := func(o any) {
			if d, ok := o.(*appsv1.Deployment); ok {
				f.complete(ctx, kc, d)
			}
		}
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    handle,
			UpdateFunc: func(_, o any) { handle(o) },
		}); err != nil {
			return err
		}
		factory.Start(ctx.Done())
		wg.Go(func() {
			synced[i] = cache.WaitForCacheSync(ctx.Done(), inf.HasSynced)
		})
	}
	wg.Wait()
	for i, ok := range synced {
		if !ok {
			return fmt.Errorf("deployment informer of %s did not sync", clients[i].name)
		}
	}
	return nil
}

func rolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas >= want && s.AvailableReplicas >= want && s.ReadyReplicas >= want
}

func (f *rolloutFaker) complete(ctx context.Context, kc *kubeClient, d *appsv1.Deployment) {
	if rolledOut(d) || d.DeletionTimestamp != nil {
		return
	}
	for try := 0; try < 5 && ctx.Err() == nil; try++ {
		d = d.DeepCopy()
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation,
			Replicas:           want, UpdatedReplicas: want, ReadyReplicas: want, AvailableReplicas: want,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		}
		_, err := kc.typed.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "bench-rollout"})
		switch {
		case err == nil:
			f.updates.Add(1)
			return
		case apierrors.IsNotFound(err):
			return
		case apierrors.IsConflict(err):
			if d, err = kc.typed.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{}); err != nil {
				f.errors.Add(1)
				return
			}
			if rolledOut(d) {
				return
			}
		default:
			f.errors.Add(1)
			f.log.Warn("deployment status", "cluster", kc.name, "deployment", d.Name, "error", err)
			return
		}
	}
}
