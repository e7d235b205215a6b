package deployer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
)

var bothClusters = []string{"edge1", "edge2"}

// requireManaged checks that the object carries the deployment's label and
// that edgeway applied it, with one field manager entry (a second apply must
// not add another).
func requireManaged(t *testing.T, obj *unstructured.Unstructured, deploymentID string) {
	t.Helper()
	require.NotNil(t, obj)
	require.Equal(t, deploymentID, obj.GetLabels()[LabelDeployment], obj.GetName())
	n := 0
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == FieldManager {
			require.Equal(t, metav1.ManagedFieldsOperationApply, mf.Operation)
			n++
		}
	}
	require.Equal(t, 1, n, "one edgeway apply entry in the managed fields of %s", obj.GetName())
}

func TestInstallUpdateUninstall(t *testing.T) {
	e := newEnv(t)
	s := e.start()
	ctx := context.Background()
	const (
		ns           = "life"
		secretMarker = "s3cr3t-MARKER-7f1c2a"
		plainMarker  = "plain-MARKER-19a0b3"
	)
	apps := func(webData string, withOld bool) []*deployerv1.App {
		web := []*deployerv1.Resource{configMap("web", ns, map[string]string{"k": webData})}
		if withOld {
			web = append(web, configMap("web-old", ns, map[string]string{"k": "old"}))
		}
		return []*deployerv1.App{
			{Name: "db", Clusters: onClusters(bothClusters,
				namespace(ns), deployment("db", ns), secret("db-pass", ns, secretMarker),
				configMap("db-conf", ns, map[string]string{"note": plainMarker}))},
			{Name: "web", DependsOn: []*deployerv1.Dependency{{App: "db", OpStatus: "Ready"}}, Clusters: onClusters(bothClusters, web...)},
		}
	}
	began := time.Now()
	req := &deployerv1.InstallRequest{ContextId: "life-1", DeploymentId: "life", Revision: 1, Apps: apps("v1", true)}
	resp, err := s.Install(ctx, req)
	require.NoError(t, err)
	require.Equal(t, "life-1", resp.GetContextId())
	_, err = s.Install(ctx, req)
	require.NoError(t, err, "installing the same context again changes nothing")

	// db is applied on both clusters; web waits for db's Deployment to be ready.
	eventually(t, time.Minute, "db applied on both clusters", func() bool {
		st := getStatus(t, s, "life-1", false)
		for _, c := range bothClusters {
			for _, kind := range []string{"Namespace", "Deployment", "Secret", "ConfigMap"} {
				for _, r := range []string{"life", "db", "db-pass", "db-conf"} {
					if rs := resourceStatus(st, "db", c, kind, r); rs != nil && rs.GetDeployedStatus() != ResourceApplied {
						return false
					}
				}
			}
		}
		return true
	})
	st := getStatus(t, s, "life-1", false)
	require.Equal(t, StatusInstantiating, st.GetDeployedStatus())
	require.Equal(t, NotReady, st.GetReadyStatus())
	require.Equal(t, NotReady, resourceStatus(st, "db", "edge1", "Deployment", "db").GetReadyStatus())
	require.Equal(t, ResourcePending, resourceStatus(st, "web", "edge1", "ConfigMap", "web").GetDeployedStatus())
	require.Nil(t, getObj(t, "edge1", configMaps, ns, "web"), "web waits for db to be ready")

	// db ready on edge1 only: web goes to edge1, not yet to edge2.
	markDeploymentReady(t, "edge1", ns, "db")
	eventually(t, 30*time.Second, "web applied on edge1", func() bool { return getObj(t, "edge1", configMaps, ns, "web") != nil })
	require.Nil(t, getObj(t, "edge2", configMaps, ns, "web"), "web on edge2 still waits for db there")
	require.Equal(t, StatusInstantiating, getStatus(t, s, "life-1", false).GetDeployedStatus())

	markDeploymentReady(t, "edge2", ns, "db")
	st = waitStatus(t, s, "life-1", StatusInstantiated, 30*time.Second)
	t.Logf("instantiated in %s", time.Since(began).Round(time.Millisecond))
	eventually(t, 10*time.Second, "ready", func() bool { return getStatus(t, s, "life-1", false).GetReadyStatus() == Ready })
	st = getStatus(t, s, "life-1", false)
	for _, a := range st.GetApps() {
		for _, c := range a.GetClusters() {
			require.Equal(t, ConnAvailable, c.GetConnectivity())
			for _, r := range c.GetResources() {
				require.Equal(t, ResourceApplied, r.GetDeployedStatus(), r.GetName())
				require.Equal(t, Ready, r.GetReadyStatus(), r.GetName())
			}
		}
	}

	// The objects are on both clusters, labelled and applied by edgeway.
	for _, c := range bothClusters {
		requireManaged(t, getObj(t, c, namespaces, "", ns), "life")
		requireManaged(t, getObj(t, c, deployments, ns, "db"), "life")
		requireManaged(t, getObj(t, c, configMaps, ns, "db-conf"), "life")
		requireManaged(t, getObj(t, c, configMaps, ns, "web"), "life")
		requireManaged(t, getObj(t, c, configMaps, ns, "web-old"), "life")
		sec := getObj(t, c, secretsGVR, ns, "db-pass")
		requireManaged(t, sec, "life")
		pw, _, _ := unstructured.NestedString(sec.Object, "data", "password")
		plain, err := base64.StdEncoding.DecodeString(pw)
		require.NoError(t, err)
		require.Equal(t, secretMarker, string(plain), "the Secret arrives unsealed on the cluster")
	}

	// The Secret's manifest is sealed in etcd; other manifests are not.
	raw := e.rawValues()
	foundPlain := false
	for k, v := range raw {
		require.NotContains(t, string(v), secretMarker, "etcd key %s holds the secret in plaintext", k)
		foundPlain = foundPlain || strings.Contains(string(v), plainMarker)
		var rec record
		if strings.Contains(k, "/res/") && json.Unmarshal(v, &rec) == nil {
			for _, r := range rec.Resources {
				require.NotContains(t, string(r.Sealed), secretMarker)
				require.NotContains(t, string(r.Manifest), secretMarker)
				if r.Kind == "Secret" {
					require.NotEmpty(t, r.Sealed)
					require.Empty(t, r.Manifest)
				}
			}
		}
	}
	require.True(t, foundPlain, "the scan does see manifests")
	require.Positive(t, e.sec.unseals.Load())

	// Status with detail shows the live status; never a Secret's data.
	st = getStatus(t, s, "life-1", true)
	require.Contains(t, resourceStatus(st, "db", "edge1", "Deployment", "db").GetDetail(), `"availableReplicas":2`)
	require.NotContains(t, resourceStatus(st, "db", "edge1", "Secret", "db-pass").GetDetail(), secretMarker)

	// Update: web changes, web-old is gone from the new revision.
	_, err = s.Install(ctx, &deployerv1.InstallRequest{
		ContextId: "life-2", DeploymentId: "life", Revision: 2, PreviousContextId: "life-1", Apps: apps("v2", false),
	})
	require.NoError(t, err)
	waitStatus(t, s, "life-2", StatusUpdated, time.Minute)
	for _, c := range bothClusters {
		require.Nil(t, getObj(t, c, configMaps, ns, "web-old"), "pruned from %s", c)
		web := getObj(t, c, configMaps, ns, "web")
		requireManaged(t, web, "life")
		v, _, _ := unstructured.NestedString(web.Object, "data", "k")
		require.Equal(t, "v2", v)
		requireManaged(t, getObj(t, c, secretsGVR, ns, "db-pass"), "life")
	}
	old, err := s.getMeta(ctx, "life-1")
	require.NoError(t, err)
	require.Equal(t, "life-2", old.SupersededBy)
	_, err = s.Uninstall(ctx, &deployerv1.ContextRequest{ContextId: "life-1"})
	require.Equal(t, codes.FailedPrecondition, grpcstatus.Code(err), "a superseded context is not uninstalled")

	// Uninstall deletes every object.
	_, err = s.Uninstall(ctx, &deployerv1.ContextRequest{ContextId: "life-2"})
	require.NoError(t, err)
	st = waitStatus(t, s, "life-2", StatusTerminated, time.Minute)
	for _, a := range st.GetApps() {
		for _, c := range a.GetClusters() {
			for _, r := range c.GetResources() {
				require.Equal(t, ResourceDeleted, r.GetDeployedStatus(), r.GetName())
			}
		}
	}
	for _, c := range bothClusters {
		for _, name := range []string{"web", "db-conf"} {
			require.Nil(t, getObj(t, c, configMaps, ns, name))
		}
		require.Nil(t, getObj(t, c, secretsGVR, ns, "db-pass"))
		require.Nil(t, getObj(t, c, deployments, ns, "db"))
		if n := getObj(t, c, namespaces, "", ns); n != nil {
			require.NotNil(t, n.GetDeletionTimestamp(), "the namespace is being deleted (no namespace controller empties it here)")
		}
	}

	// Nothing secret reached the logs: neither the Secret nor the kubeconfig's key.
	logs := e.logs.String()
	require.NotContains(t, logs, secretMarker)
	edge1, _ := shared.fleet.Cluster("edge1")
	kc, err := clientcmd.Load(edge1.Kubeconfig)
	require.NoError(t, err)
	for _, u := range kc.AuthInfos {
		require.NotEmpty(t, u.ClientKeyData)
		require.NotContains(t, logs, string(u.ClientKeyData))
		require.NotContains(t, logs, base64.StdEncoding.EncodeToString(u.ClientKeyData))
	}
	require.NotContains(t, logs, "PRIVATE KEY")
}

func TestUnreachableClusterIsRetried(t *testing.T) {
	e := newEnv(t)
	e.cfg.RetryLimit = 0
	s := e.start()
	ctx := context.Background()
	require.NoError(t, shared.fleet.StopCluster("edge2"))
	t.Cleanup(func() {
		if c, _ := shared.fleet.Cluster("edge2"); !c.Running {
			_ = shared.fleet.StartCluster(context.Background(), "edge2")
		}
	})
	apps := []*deployerv1.App{{Name: "a", Clusters: onClusters(bothClusters, configMap("reach", "default", map[string]string{"k": "v"}))}}
	_, err := s.Install(ctx, &deployerv1.InstallRequest{ContextId: "reach-1", DeploymentId: "reach", Revision: 1, Apps: apps})
	require.NoError(t, err)

	eventually(t, 30*time.Second, "edge1 applied while edge2 is retried", func() bool {
		st := getStatus(t, s, "reach-1", false)
		return resourceStatus(st, "a", "edge1", "ConfigMap", "reach").GetDeployedStatus() == ResourceApplied &&
			connectivity(st, "edge2") == ConnRetrying
	})
	st := getStatus(t, s, "reach-1", false)
	require.Equal(t, StatusInstantiating, st.GetDeployedStatus())
	require.Equal(t, ConnAvailable, connectivity(st, "edge1"))
	require.Equal(t, ResourcePending, resourceStatus(st, "a", "edge2", "ConfigMap", "reach").GetDeployedStatus())

	// A detailed status does not wait for the cluster that is down.
	began := time.Now()
	st = getStatus(t, s, "reach-1", true)
	require.Less(t, time.Since(began), e.cfg.StatusTimeout+time.Second)
	require.Empty(t, resourceStatus(st, "a", "edge2", "ConfigMap", "reach").GetDetail())
	require.NotEmpty(t, resourceStatus(st, "a", "edge1", "ConfigMap", "reach").GetReadyStatus())

	// A deployer with a retry limit gives up on the cluster.
	limited := newEnv(t)
	limited.prefix = "/test/" + t.Name() + "-limited/deployer/"
	limited.cfg.RetryLimit = 3
	ls := limited.start()
	_, err = ls.Install(ctx, &deployerv1.InstallRequest{ContextId: "limit-1", DeploymentId: "limit", Revision: 1,
		Apps: []*deployerv1.App{{Name: "a", Clusters: onClusters(bothClusters, configMap("limit", "default", nil))}}})
	require.NoError(t, err)
	st = waitStatus(t, ls, "limit-1", StatusInstantiateFailed, 30*time.Second)
	require.Equal(t, ResourceApplied, resourceStatus(st, "a", "edge1", "ConfigMap", "limit").GetDeployedStatus())
	failed := resourceStatus(st, "a", "edge2", "ConfigMap", "limit")
	require.Equal(t, ResourceFailed, failed.GetDeployedStatus())
	require.Contains(t, failed.GetError(), "unreachable after 3 attempts")
	require.Equal(t, ConnUnknown, connectivity(st, "edge2"))

	// The cluster comes back: the unlimited deployer completes.
	require.NoError(t, shared.fleet.StartCluster(ctx, "edge2"))
	st = waitStatus(t, s, "reach-1", StatusInstantiated, time.Minute)
	require.Equal(t, ConnAvailable, connectivity(st, "edge2"))
	requireManaged(t, getObj(t, "edge2", configMaps, "default", "reach"), "reach")
}

func TestResumeAfterRestart(t *testing.T) {
	e := newEnv(t)
	s1 := e.start()
	ctx := context.Background()
	req := &deployerv1.InstallRequest{ContextId: "resume-1", DeploymentId: "resume", Revision: 1, Apps: []*deployerv1.App{
		{Name: "a", Clusters: onClusters(bothClusters, deployment("resume-a", "default"), configMap("resume-a", "default", nil))},
		{Name: "b", DependsOn: []*deployerv1.Dependency{{App: "a", OpStatus: "Ready", WaitSeconds: 1}},
			Clusters: onClusters(bothClusters, configMap("resume-b", "default", nil), secret("resume-s", "default", "pw"))},
	}}
	_, err := s1.Install(ctx, req)
	require.NoError(t, err)
	eventually(t, time.Minute, "app a applied", func() bool {
		return getObj(t, "edge1", configMaps, "default", "resume-a") != nil && getObj(t, "edge2", configMaps, "default", "resume-a") != nil
	})

	// The process goes away in the middle of the install (b waits for a).
	require.NoError(t, s1.Close())
	require.Equal(t, StatusInstantiating, getStatus(t, s1, "resume-1", false).GetDeployedStatus())
	for _, c := range bothClusters {
		markDeploymentReady(t, c, "default", "resume-a")
	}
	time.Sleep(2 * e.cfg.ReadyPoll)
	require.Nil(t, getObj(t, "edge1", configMaps, "default", "resume-b"), "nothing works on the context while no deployer runs")

	// A new process resumes from etcd and completes, with no duplicate.
	s2 := e.start()
	waitStatus(t, s2, "resume-1", StatusInstantiated, time.Minute)
	for _, c := range bothClusters {
		list, err := kube(t, c).Resource(configMaps).Namespace("default").List(ctx, metav1.ListOptions{LabelSelector: LabelDeployment + "=resume"})
		require.NoError(t, err)
		var names []string
		for i := range list.Items {
			names = append(names, list.Items[i].GetName())
			requireManaged(t, &list.Items[i], "resume")
		}
		require.ElementsMatch(t, []string{"resume-a", "resume-b"}, names, c)
		requireManaged(t, getObj(t, c, deployments, "default", "resume-a"), "resume")
		requireManaged(t, getObj(t, c, secretsGVR, "default", "resume-s"), "resume")
	}
	_, err = s2.Install(ctx, req)
	require.NoError(t, err)
	require.Equal(t, StatusInstantiated, getStatus(t, s2, "resume-1", false).GetDeployedStatus(), "a repeated install changes nothing")
}

func TestStopThenUninstall(t *testing.T) {
	e := newEnv(t)
	s := e.start()
	ctx := context.Background()
	_, err := s.Install(ctx, &deployerv1.InstallRequest{ContextId: "stop-1", DeploymentId: "stop", Revision: 1, Apps: []*deployerv1.App{
		{Name: "a", Clusters: onClusters([]string{"edge1"}, deployment("stop-a", "default"))},
		{Name: "b", DependsOn: []*deployerv1.Dependency{{App: "a"}}, Clusters: onClusters([]string{"edge1"}, configMap("stop-b", "default", nil))},
	}})
	require.NoError(t, err)
	eventually(t, time.Minute, "app a applied", func() bool { return getObj(t, "edge1", deployments, "default", "stop-a") != nil })

	_, err = s.Stop(ctx, &deployerv1.ContextRequest{ContextId: "stop-1"})
	require.NoError(t, err)
	require.Equal(t, StatusInstantiateStopped, getStatus(t, s, "stop-1", false).GetDeployedStatus())

	// Neither this process nor a new one goes on with a stopped context.
	require.NoError(t, s.Close())
	markDeploymentReady(t, "edge1", "default", "stop-a")
	s2 := e.start()
	time.Sleep(5 * e.cfg.ReadyPoll)
	require.Nil(t, getObj(t, "edge1", configMaps, "default", "stop-b"))
	require.Equal(t, StatusInstantiateStopped, getStatus(t, s2, "stop-1", false).GetDeployedStatus())

	_, err = s2.Uninstall(ctx, &deployerv1.ContextRequest{ContextId: "stop-1"})
	require.NoError(t, err)
	waitStatus(t, s2, "stop-1", StatusTerminated, time.Minute)
	require.Nil(t, getObj(t, "edge1", deployments, "default", "stop-a"))

	_, err = s2.Status(ctx, &deployerv1.StatusRequest{ContextId: "nope"})
	require.Equal(t, codes.NotFound, grpcstatus.Code(err))
	_, err = s2.Install(ctx, &deployerv1.InstallRequest{ContextId: "bad"})
	require.Equal(t, codes.InvalidArgument, grpcstatus.Code(err))
}

func TestCRDsFirstAndRefusedResources(t *testing.T) {
	e := newEnv(t)
	s := e.start()
	ctx := context.Background()
	crd := &deployerv1.Resource{ApiVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition", Name: "widgets.example.com", Manifest: []byte(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`)}
	widget := &deployerv1.Resource{ApiVersion: "example.com/v1", Kind: "Widget", Name: "w1", Namespace: "default",
		Manifest: []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n")}
	bad := configMap("Not_A_Valid_Name", "default", nil)
	// The Widget comes before its CRD in the request: the CRD is applied first anyway.
	_, err := s.Install(ctx, &deployerv1.InstallRequest{ContextId: "crd-1", DeploymentId: "crd", Revision: 1, Apps: []*deployerv1.App{
		{Name: "widgets", Clusters: onClusters([]string{"edge1"}, widget, crd, bad, configMap("crd-ok", "default", nil))},
	}})
	require.NoError(t, err)
	st := waitStatus(t, s, "crd-1", StatusInstantiateFailed, time.Minute)
	require.Equal(t, ResourceApplied, resourceStatus(st, "widgets", "edge1", "Widget", "w1").GetDeployedStatus())
	require.Equal(t, ResourceApplied, resourceStatus(st, "widgets", "edge1", "ConfigMap", "crd-ok").GetDeployedStatus())
	refused := resourceStatus(st, "widgets", "edge1", "ConfigMap", "Not_A_Valid_Name")
	require.Equal(t, ResourceFailed, refused.GetDeployedStatus())
	require.Contains(t, refused.GetError(), "Invalid")
	w := getObj(t, "edge1", schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}, "default", "w1")
	requireManaged(t, w, "crd")

	_, err = s.Uninstall(ctx, &deployerv1.ContextRequest{ContextId: "crd-1"})
	require.NoError(t, err)
	waitStatus(t, s, "crd-1", StatusTerminated, time.Minute)
	require.Nil(t, getObj(t, "edge1", configMaps, "default", "crd-ok"))
}

func TestUninstallDuringUpdateRemovesLeftovers(t *testing.T) {
	e := newEnv(t)
	s := e.start()
	ctx := context.Background()
	edge1 := []string{"edge1"}
	_, err := s.Install(ctx, &deployerv1.InstallRequest{ContextId: "left-1", DeploymentId: "left", Revision: 1, Apps: []*deployerv1.App{
		{Name: "a", Clusters: onClusters(edge1, configMap("left-a", "default", nil), configMap("left-x", "default", nil))},
	}})
	require.NoError(t, err)
	waitStatus(t, s, "left-1", StatusInstantiated, 30*time.Second)

	// The update never gets to pruning left-x: b waits for a gate that is never ready.
	_, err = s.Install(ctx, &deployerv1.InstallRequest{ContextId: "left-2", DeploymentId: "left", Revision: 2, PreviousContextId: "left-1", Apps: []*deployerv1.App{
		{Name: "a", Clusters: onClusters(edge1, configMap("left-a", "default", nil), deployment("left-gate", "default"))},
		{Name: "b", DependsOn: []*deployerv1.Dependency{{App: "a"}}, Clusters: onClusters(edge1, configMap("left-b", "default", nil))},
	}})
	require.NoError(t, err)
	eventually(t, 30*time.Second, "the gate applied", func() bool { return getObj(t, "edge1", deployments, "default", "left-gate") != nil })
	require.Equal(t, StatusUpdating, getStatus(t, s, "left-2", false).GetDeployedStatus())
	require.NotNil(t, getObj(t, "edge1", configMaps, "default", "left-x"), "not pruned before the update is applied")

	_, err = s.Uninstall(ctx, &deployerv1.ContextRequest{ContextId: "left-2"})
	require.NoError(t, err)
	waitStatus(t, s, "left-2", StatusTerminated, 30*time.Second)
	for _, name := range []string{"left-a", "left-x", "left-b"} {
		require.Nil(t, getObj(t, "edge1", configMaps, "default", name), name)
	}
	require.Nil(t, getObj(t, "edge1", deployments, "default", "left-gate"))
}
