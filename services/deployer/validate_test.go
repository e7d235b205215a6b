package deployer

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
)

func res(apiVersion, kind, name, ns, manifest string) *deployerv1.Resource {
	return &deployerv1.Resource{ApiVersion: apiVersion, Kind: kind, Name: name, Namespace: ns, Manifest: []byte(manifest)}
}

func on(provider, cluster string, rs ...*deployerv1.Resource) *deployerv1.ClusterResources {
	return &deployerv1.ClusterResources{ClusterProvider: provider, Cluster: cluster, Resources: rs}
}

const cmYAML = `# a comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
  resourceVersion: "42"
  uid: 0b4c
data:
  big: "12345678901234567890"
`

func TestBuildPlan(t *testing.T) {
	req := &deployerv1.InstallRequest{
		ContextId: "c1", DeploymentId: "d1", Revision: 1,
		Apps: []*deployerv1.App{
			{Name: "b", DependsOn: []*deployerv1.Dependency{{App: "a"}}, Clusters: []*deployerv1.ClusterResources{
				on("p", "x", res("apps/v1", "Deployment", "web", "ns", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3}}`)),
			}},
			{Name: "a", Clusters: []*deployerv1.ClusterResources{
				on("p", "x",
					res("v1", "ConfigMap", "cm", "ns", cmYAML),
					res("v1", "Namespace", "ns", "", "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n"),
					res("v1", "Secret", "s", "ns", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n")),
				on("p", "y", res("v1", "ConfigMap", "cm", "ns", cmYAML)),
			}},
		},
		Setup: []*deployerv1.ClusterResources{on("p", "x", res("v1", "ResourceQuota", "q", "ns", "apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: q, namespace: ns}\n"))},
	}
	p, err := buildPlan(req, time.Unix(0, 0))
	require.NoError(t, err)
	require.Equal(t, StatusInstantiating, p.meta.Status)
	require.Equal(t, []string{"p+x", "p+y"}, p.meta.Clusters)
	require.Equal(t, opStatusReady, p.meta.Apps[0].DependsOn[0].OpStatus, "op_status defaults to Ready")
	require.Len(t, p.records, 4)

	a := p.records["res/c1/p+x/a"]
	require.NotNil(t, a)
	cm := a.Resources[0]
	require.Equal(t, "ns", cm.Namespace, "namespace from the resource")
	require.Equal(t, ResourcePending, cm.Deployed)
	require.Equal(t, NotPresent, cm.Ready)
	var obj map[string]any
	require.NoError(t, json.Unmarshal(cm.Manifest, &obj))
	require.NotContains(t, obj["metadata"], "resourceVersion", "server fields are dropped")
	require.NotContains(t, obj["metadata"], "uid")
	require.Contains(t, string(cm.Manifest), `"12345678901234567890"`)
	require.JSONEq(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3}}`,
		string(p.records["res/c1/p+x/b"].Resources[0].Manifest), "integers survive")
	require.True(t, a.Resources[1].Early, "namespaces go first")
	require.True(t, a.Resources[2].isSecret())
	require.NotNil(t, p.records["res/c1/p+x/"+setupApp])

	order, err := applyOrder(p.meta.Apps)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, order)
}

func TestBuildPlanRefuses(t *testing.T) {
	good := func() *deployerv1.InstallRequest {
		return &deployerv1.InstallRequest{ContextId: "c1", DeploymentId: "d1", Revision: 1, Apps: []*deployerv1.App{
			{Name: "a", Clusters: []*deployerv1.ClusterResources{on("p", "x", res("v1", "ConfigMap", "cm", "", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"))}},
		}}
	}
	_, err := buildPlan(good(), time.Now())
	require.NoError(t, err)

	cases := []struct {
		name   string
		change func(*deployerv1.InstallRequest)
		want   string
	}{
		{"no context id", func(r *deployerv1.InstallRequest) { r.ContextId = "" }, "context_id"},
		{"slash in context id", func(r *deployerv1.InstallRequest) { r.ContextId = "a/b" }, "context_id"},
		{"bad deployment id", func(r *deployerv1.InstallRequest) { r.DeploymentId = "not a label" }, "deployment_id"},
		{"revision 0", func(r *deployerv1.InstallRequest) { r.Revision = 0 }, "revision"},
		{"previous is itself", func(r *deployerv1.InstallRequest) { r.PreviousContextId = "c1" }, "previous_context_id"},
		{"setup app name", func(r *deployerv1.InstallRequest) { r.Apps[0].Name = setupApp }, "not a valid name"},
		{"app twice", func(r *deployerv1.InstallRequest) { r.Apps = append(r.Apps, r.Apps[0]) }, "listed twice"},
		{"unknown dependency", func(r *deployerv1.InstallRequest) {
			r.Apps[0].DependsOn = []*deployerv1.Dependency{{App: "zz"}}
		}, "not another app"},
		{"bad op status", func(r *deployerv1.InstallRequest) {
			r.Apps = append(r.Apps, &deployerv1.App{Name: "b", DependsOn: []*deployerv1.Dependency{{App: "a", OpStatus: "Running"}}})
		}, "op_status"},
		{"cycle", func(r *deployerv1.InstallRequest) {
			r.Apps[0].DependsOn = []*deployerv1.Dependency{{App: "b"}}
			r.Apps = append(r.Apps, &deployerv1.App{Name: "b", DependsOn: []*deployerv1.Dependency{{App: "a"}}})
		}, "cycle"},
		{"plus in cluster name", func(r *deployerv1.InstallRequest) { r.Apps[0].Clusters[0].Cluster = "a+b" }, "not a valid name"},
		{"cluster twice", func(r *deployerv1.InstallRequest) {
			r.Apps[0].Clusters = append(r.Apps[0].Clusters, r.Apps[0].Clusters[0])
		}, "listed twice"},
		{"kind mismatch", func(r *deployerv1.InstallRequest) { r.Apps[0].Clusters[0].Resources[0].Kind = "Secret" }, "not what the resource says"},
		{"two documents", func(r *deployerv1.InstallRequest) {
			r.Apps[0].Clusters[0].Resources[0].Manifest = []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm2}\n")
		}, "more than one document"},
		{"not yaml", func(r *deployerv1.InstallRequest) { r.Apps[0].Clusters[0].Resources[0].Manifest = []byte("{{{") }, "manifest is not"},
		{"empty manifest", func(r *deployerv1.InstallRequest) { r.Apps[0].Clusters[0].Resources[0].Manifest = nil }, "empty"},
		{"namespace mismatch", func(r *deployerv1.InstallRequest) {
			r.Apps[0].Clusters[0].Resources[0].Namespace = "a"
			r.Apps[0].Clusters[0].Resources[0].Manifest = []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: b}\n")
		}, "differs"},
		{"same object twice on a cluster", func(r *deployerv1.InstallRequest) {
			r.Apps = append(r.Apps, &deployerv1.App{Name: "b", Clusters: r.Apps[0].Clusters})
		}, "is also in app a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := good()
			c.change(r)
			_, err := buildPlan(r, time.Now())
			require.ErrorContains(t, err, c.want)
		})
	}

	r := good()
	r.ContextId, r.Revision = "", 0
	_, err = buildPlan(r, time.Now())
	require.ErrorContains(t, err, "context_id")
	require.ErrorContains(t, err, "revision", "every problem is reported at once")
}

func TestStatusForRevisions(t *testing.T) {
	m := &meta{Op: opApply, Revision: 1}
	require.Equal(t, StatusInstantiating, m.inProgressStatus())
	require.Equal(t, StatusInstantiated, m.doneStatus(true))
	require.Equal(t, StatusInstantiateFailed, m.doneStatus(false))
	// A later revision without a previous context is an instantiation
	// again (after terminate), not an update.
	m.Revision = 2
	require.Equal(t, StatusInstantiating, m.inProgressStatus())
	require.Equal(t, StatusInstantiated, m.doneStatus(true))
	m.PreviousContextID = "ctx-1"
	require.Equal(t, StatusUpdating, m.inProgressStatus())
	require.Equal(t, StatusUpdated, m.doneStatus(true))
	require.Equal(t, StatusUpdateFailed, m.doneStatus(false))
	m.Op = opTerminate
	require.Equal(t, StatusTerminating, m.inProgressStatus())
	require.Equal(t, StatusTerminated, m.doneStatus(true))
	require.Equal(t, StatusTerminateFailed, m.doneStatus(false))
}
