package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// floorManager is the field manager of the floor's applies.
const floorManager = "bench-floor"

func floorNamespace(n, run int) string { return fmt.Sprintf("bench-floor-n%d-r%d", n, run) }

// createNamespaces creates ns on every cluster (before the clock starts).
func createNamespaces(ctx context.Context, clients []*kubeClient, ns string) error {
	return eachCluster(clients, func(kc *kubeClient) error {
		_, err := kc.typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

// runFloor server-side applies objs (force, field manager bench-floor) into
// ns on every cluster at once, the objects of one cluster in order, and
// returns the time until the last apply answered.
func runFloor(ctx context.Context, clients []*kubeClient, objs []floorObject, ns string) (time.Duration, error) {
	began := time.Now()
	err := eachCluster(clients, func(kc *kubeClient) error {
		for _, o := range objs {
			u := o.obj.DeepCopy()
			u.SetNamespace(ns)
			if _, err := kc.dyn.Resource(o.gvr).Namespace(ns).Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: floorManager, Force: true}); err != nil {
				return fmt.Errorf("%s: apply %s %s: %w", kc.name, u.GetKind(), u.GetName(), err)
			}
		}
		return nil
	})
	return time.Since(began), err
}

// cleanFloor deletes the floor's objects and namespace (after the clock
// stopped). Without controllers the namespace stays Terminating, which is
// harmless: every run uses a new one.
func cleanFloor(ctx context.Context, clients []*kubeClient, objs []floorObject, ns string) error {
	return eachCluster(clients, func(kc *kubeClient) error {
		for i := len(objs) - 1; i >= 0; i-- {
			o := objs[i]
			err := kc.dyn.Resource(o.gvr).Namespace(ns).Delete(ctx, o.obj.GetName(), metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		err := kc.typed.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// eachCluster runs f for every cluster concurrently.
func eachCluster(clients []*kubeClient, f func(*kubeClient) error) error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, kc := range clients {
		wg.Go(func() { errs[i] = f(kc) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// checkEdgewayObjects checks that the objects Edgeway applied to the first
// cluster are the floor's objects: same kinds and names, same ConfigMap
// data, same Deployment image.
func checkEdgewayObjects(ctx context.Context, kc *kubeClient, objs []floorObject) error {
	for _, o := range objs {
		live, err := kc.dyn.Resource(o.gvr).Namespace(appNamespace).Get(ctx, o.obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s %s/%s: %w", o.obj.GetKind(), appNamespace, o.obj.GetName(), err)
		}
		if !slices.ContainsFunc(live.GetManagedFields(), func(e metav1.ManagedFieldsEntry) bool { return e.Manager == "edgeway" }) {
			return fmt.Errorf("%s %s has no fields managed by edgeway", o.obj.GetKind(), o.obj.GetName())
		}
		switch o.obj.GetKind() {
		case "ConfigMap":
			if fmt.Sprint(live.Object["data"]) != fmt.Sprint(o.obj.Object["data"]) {
				return fmt.Errorf("ConfigMap %s: Edgeway applied other data than the floor renders", o.obj.GetName())
			}
		case "Deployment":
			want, _, _ := unstructured.NestedSlice(o.obj.Object, "spec", "template", "spec", "containers")
			got, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
			if len(want) != 1 || len(got) != 1 || want[0].(map[string]any)["image"] != got[0].(map[string]any)["image"] {
				return fmt.Errorf("Deployment %s: Edgeway applied another image than the floor renders", o.obj.GetName())
			}
		}
	}
	return nil
}
