package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	clusterregistryv1 "edgeway.dev/api-spec/gen/clusterregistry/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/rest"
	"edgeway.dev/common/store"
)

// Path templates of the orchestrator's families, relative to /v2.
const (
	projects = "/projects"
	project  = projects + "/{project}"
	cas      = project + "/composite-apps"
	ca       = cas + "/{compositeApp}/{compositeAppVersion}"
	apps     = ca + "/apps"
	app      = apps + "/{app}"
	cps      = ca + "/composite-profiles"
	cp       = cps + "/{compositeProfile}"
	digs     = ca + "/deployment-intent-groups"
	dig      = digs + "/{deploymentIntentGroup}"
	gpis     = dig + "/generic-placement-intents"
	gpi      = gpis + "/{genericPlacementIntent}"
	lcs      = project + "/logical-clouds"
	lc       = lcs + "/{logicalCloud}"
)

func (s *Service) families() []rest.Family {
	return []rest.Family{
		{Kind: "project", Collection: projects, ItemVars: []string{"project"},
			AfterCreate: s.makeCreatorOwner, BeforeDelete: s.projectDeletable},
		{Kind: "roleBinding", Collection: project + "/role-bindings", ItemVars: []string{"roleBinding"}},
		{Kind: "compositeApp", Collection: cas, ItemVars: []string{"compositeApp", "compositeAppVersion"},
			Names: func(o *rest.Object) []string {
				return []string{o.String("metadata.name"), o.String("spec.compositeAppVersion")}
			}},
		{Kind: "app", Collection: apps, ItemVars: []string{"app"}, Body: rest.MultipartBody, File: rest.FileReturned,
			CheckFile: func(b []byte) error { return rest.CheckTarGz(b, "Chart.yaml") }},
		{Kind: "appDependency", Collection: app + "/dependency", ItemVars: []string{"dependency"}, Check: s.checkDependency},
		{Kind: "compositeProfile", Collection: cps, ItemVars: []string{"compositeProfile"}},
		{Kind: "appProfile", Collection: cp + "/profiles", ItemVars: []string{"appProfile"}, Body: rest.MultipartBody,
			File: rest.FileReturned, CheckFile: func(b []byte) error { return rest.CheckTarGz(b, "") }, Check: s.checkProfile},
		{Kind: "deploymentIntentGroup", Collection: digs, ItemVars: []string{"deploymentIntentGroup"}, Check: s.checkDIG,
			AfterCreate: s.digCreated, BeforeDelete: s.digDeletable, Deleted: s.digDeleted},
		{Kind: "intent", Collection: dig + "/intents", ItemVars: []string{"intent"}, Check: s.checkIntent},
		{Kind: "genericPlacementIntent", Collection: gpis, ItemVars: []string{"genericPlacementIntent"}},
		{Kind: "appIntent", Collection: gpi + "/app-intents", ItemVars: []string{"appIntent"}, Check: s.checkAppIntent},
		{Kind: "logicalCloud", Collection: lcs, ItemVars: []string{"logicalCloud"}},
		{Kind: "clusterReference", Collection: lc + "/cluster-references", ItemVars: []string{"clusterReference"}, Check: s.checkClusterReference},
		{Kind: "userPermission", Collection: lc + "/user-permissions", ItemVars: []string{"userPermission"}},
		{Kind: "clusterQuota", Collection: lc + "/cluster-quotas", ItemVars: []string{"clusterQuota"}},
		{Kind: "logicalCloudKv", Collection: lc + "/kv-pairs", ItemVars: []string{"kvPair"}},
		{Kind: "controller", Collection: "/controllers", ItemVars: []string{"controller"}},
	}
}

func caKey(v map[string]string) string {
	return "projects/" + v["project"] + "/composite-apps/" + v["compositeApp"] + "/" + v["compositeAppVersion"]
}

func digKey(v map[string]string) string {
	return caKey(v) + "/deployment-intent-groups/" + v["deploymentIntentGroup"]
}

// mustExist returns key when it names an object of the orchestrator, and a
// 404 naming what is missing otherwise.
func (s *Service) mustExist(ctx context.Context, key, what string) (string, error) {
	if _, err := s.deps.Store.Get(ctx, key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", httpx.Errorf(http.StatusNotFound, what+" not found")
		}
		return "", err
	}
	return key, nil
}

func (s *Service) appRef(ctx context.Context, v map[string]string, name string) (string, error) {
	return s.mustExist(ctx, caKey(v)+"/apps/"+name,
		fmt.Sprintf("app %s of composite app %s/%s", name, v["compositeApp"], v["compositeAppVersion"]))
}

func (s *Service) checkDependency(ctx context.Context, o *rest.Object) ([]string, error) {
	dep := o.String("spec.app")
	if dep == o.Vars["app"] {
		return nil, httpx.Errorf(http.StatusBadRequest, "an app cannot depend on itself")
	}
	ref, err := s.appRef(ctx, o.Vars, dep)
	if err != nil {
		return nil, err
	}
	return []string{ref}, nil
}

func (s *Service) checkProfile(ctx context.Context, o *rest.Object) ([]string, error) {
	ref, err := s.appRef(ctx, o.Vars, o.String("spec.app"))
	if err != nil {
		return nil, err
	}
	return []string{ref}, nil
}

func (s *Service) checkDIG(ctx context.Context, o *rest.Object) ([]string, error) {
	var refs []string
	if cp := o.String("spec.compositeProfile"); cp != "" {
		ref, err := s.mustExist(ctx, caKey(o.Vars)+"/composite-profiles/"+cp, "composite profile "+cp)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	if l := o.String("spec.logicalCloud"); l != "" {
		ref, err := s.mustExist(ctx, "projects/"+o.Vars["project"]+"/logical-clouds/"+l, "logical cloud "+l)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	spec, _ := o.Doc["spec"].(map[string]any)
	ovs, _ := spec["overrideValues"].([]any)
	for _, ov := range ovs {
		m, _ := ov.(map[string]any)
		name, _ := m["app"].(string)
		ref, err := s.appRef(ctx, o.Vars, name)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return dedup(refs), nil
}

func (s *Service) checkIntent(ctx context.Context, o *rest.Object) ([]string, error) {
	spec, _ := o.Doc["spec"].(map[string]any)
	intents, _ := spec["intent"].(map[string]any)
	var refs []string
	if g, ok := intents["genericPlacementIntent"].(string); ok {
		ref, err := s.mustExist(ctx, digKey(o.Vars)+"/generic-placement-intents/"+g, "generic placement intent "+g)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

func (s *Service) checkAppIntent(ctx context.Context, o *rest.Object) ([]string, error) {
	ref, err := s.appRef(ctx, o.Vars, o.String("spec.app"))
	if err != nil {
		return nil, err
	}
	refs := []string{ref}
	spec, _ := o.Doc["spec"].(map[string]any)
	intent, _ := spec["intent"].(map[string]any)
	for _, clause := range []string{"allOf", "anyOf"} {
		sels, _ := intent[clause].([]any)
		for _, sel := range sels {
			m, _ := sel.(map[string]any)
			provider, _ := m["clusterProvider"].(string)
			cluster, _ := m["cluster"].(string)
			r, err := s.clusterRefs(ctx, provider, cluster)
			if err != nil {
				return nil, err
			}
			refs = append(refs, r...)
		}
	}
	return dedup(refs), nil
}

func (s *Service) checkClusterReference(ctx context.Context, o *rest.Object) ([]string, error) {
	return s.clusterRefs(ctx, o.String("spec.clusterProvider"), o.String("spec.cluster"))
}

// clusterRefs checks with the cluster registry that the provider (and the
// cluster, when named) exist, and returns the references to record.
func (s *Service) clusterRefs(ctx context.Context, provider, cluster string) ([]string, error) {
	var err error
	if cluster != "" {
		_, err = s.deps.ClusterRegistry.GetCluster(ctx, &clusterregistryv1.GetClusterRequest{ClusterProvider: provider, Cluster: cluster})
	} else {
		_, err = s.deps.ClusterRegistry.ListClusters(ctx, &clusterregistryv1.ListClustersRequest{ClusterProvider: provider})
	}
	if err != nil {
		err = grpcx.FromStatus(err)
		if errors.Is(err, store.ErrNotFound) {
			if cluster != "" {
				return nil, httpx.Errorf(http.StatusNotFound, fmt.Sprintf("cluster %s/%s not found", provider, cluster))
			}
			return nil, httpx.Errorf(http.StatusNotFound, fmt.Sprintf("cluster provider %s not found", provider))
		}
		return nil, err
	}
	refs := []string{ProviderRef(provider)}
	if cluster != "" {
		refs = append(refs, ClusterRef(provider, cluster))
	}
	return refs, nil
}

func dedup(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
