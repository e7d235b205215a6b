package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	placementv1 "edgeway.dev/api-spec/gen/placement/v1"
	secretsv1 "edgeway.dev/api-spec/gen/secrets/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
	"edgeway.dev/common/store"
	"edgeway.dev/services/orchestrator/render"
)

// digSpec is the part of a DIG body the lifecycle reads.
type digSpec struct {
	Spec struct {
		CompositeProfile string `json:"compositeProfile"`
		LogicalCloud     string `json:"logicalCloud"`
		OverrideValues   []struct {
			App    string            `json:"app"`
			Values map[string]string `json:"values"`
		} `json:"overrideValues"`
	} `json:"spec"`
}

// place resolves the DIG's placement intents into clusters per app.
func (s *Service) place(ctx context.Context, v map[string]string, digBody []byte) (map[string][]*placementv1.ClusterRef, error) {
	apps, err := s.deps.Store.List(ctx, caKey(v), "app")
	if err != nil {
		return nil, err
	}
	intents := map[string]*placementv1.AppIntent{}
	gpis, err := s.deps.Store.List(ctx, digKey(v), "genericPlacementIntent")
	if err != nil {
		return nil, err
	}
	for _, g := range gpis {
		ais, err := s.deps.Store.List(ctx, g.Key, "appIntent")
		if err != nil {
			return nil, err
		}
		for _, ai := range ais {
			var b struct {
				Spec struct {
					App    string `json:"app"`
					Intent struct {
						AllOf []selector `json:"allOf"`
						AnyOf []selector `json:"anyOf"`
					} `json:"intent"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(ai.Body, &b); err != nil {
				return nil, fmt.Errorf("app intent %s: %w", ai.Key, err)
			}
			in := intents[b.Spec.App]
			if in == nil {
				in = &placementv1.AppIntent{App: b.Spec.App}
				intents[b.Spec.App] = in
			}
			for _, sel := range b.Spec.Intent.AllOf {
				in.AllOf = append(in.AllOf, sel.proto())
			}
			for _, sel := range b.Spec.Intent.AnyOf {
				in.AnyOf = append(in.AnyOf, sel.proto())
			}
		}
	}
	req := &placementv1.ResolveRequest{}
	for _, a := range apps {
		name := lastSegment(a.Key)
		in, ok := intents[name]
		if !ok {
			return nil, httpx.Errorf(http.StatusConflict, "app "+name+" has no placement intent in this deployment intent group")
		}
		req.Intents = append(req.Intents, in)
	}
	if len(req.Intents) == 0 {
		return nil, httpx.Errorf(http.StatusConflict, "the composite app has no apps")
	}
	resp, err := s.deps.Placement.Resolve(ctx, req)
	if err != nil {
		if status.Code(err) == codes.FailedPrecondition {
			return nil, httpx.Errorf(http.StatusConflict, "placement: "+status.Convert(err).Message())
		}
		return nil, fmt.Errorf("placement: %w", grpcx.FromStatus(err))
	}
	out := map[string][]*placementv1.ClusterRef{}
	for _, p := range resp.GetPlacements() {
		out[p.GetApp()] = p.GetClusters()
	}
	return out, nil
}

type selector struct {
	ClusterProvider string `json:"clusterProvider"`
	Cluster         string `json:"cluster"`
	ClusterLabel    string `json:"clusterLabel"`
}

func (s selector) proto() *placementv1.Selector {
	return &placementv1.Selector{ClusterProvider: s.ClusterProvider, Cluster: s.Cluster, ClusterLabel: s.ClusterLabel}
}

func lastSegment(key string) string { return key[strings.LastIndex(key, "/")+1:] }

// assemble renders the composite app for the DIG body and builds the
// AppContext the deployer installs.
func (s *Service) assemble(ctx context.Context, v map[string]string, digBody []byte) (*deployerv1.InstallRequest, error) {
	var d digSpec
	if err := json.Unmarshal(digBody, &d); err != nil {
		return nil, fmt.Errorf("deployment intent group body: %w", err)
	}
	placements, err := s.place(ctx, v, digBody)
	if err != nil {
		return nil, err
	}
	ns, setup, err := s.logicalCloud(ctx, v, d.Spec.LogicalCloud, placements)
	if err != nil {
		return nil, err
	}
	profiles, err := s.profileValues(ctx, v, d.Spec.CompositeProfile)
	if err != nil {
		return nil, err
	}
	overrides := map[string]map[string]string{}
	for _, o := range d.Spec.OverrideValues {
		if overrides[o.App] == nil {
			overrides[o.App] = map[string]string{}
		}
		for k, val := range o.Values {
			overrides[o.App][k] = val
		}
	}
	secretRefs, err := s.projectSecretRefs(ctx, v["project"], overrides)
	if err != nil {
		return nil, err
	}
	delivered := map[string]bool{} // cluster + namespace + name of the reference Secrets added
	apps, err := s.deps.Store.List(ctx, caKey(v), "app")
	if err != nil {
		return nil, err
	}
	req := &deployerv1.InstallRequest{Setup: setup}
	for _, a := range apps {
		name := lastSegment(a.Key)
		res, err := render.Render(render.Input{
			Chart:         a.File,
			ReleaseName:   render.ReleaseName(v["deploymentIntentGroup"], name),
			Namespace:     ns,
			ProfileValues: profiles[name],
			Overrides:     overrides[name],
		})
		if err != nil {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, fmt.Sprintf("app %s: %v", name, err))
		}
		if err := checkRendered(name, ns, res, secretRefs[name]); err != nil {
			return nil, err
		}
		resources := toResources(res)
		app := &deployerv1.App{Name: name}
		deps, err := s.deps.Store.List(ctx, a.Key, "appDependency")
		if err != nil {
			return nil, err
		}
		for _, dep := range deps {
			var b struct {
				Spec struct {
					App      string `json:"app"`
					OpStatus string `json:"opStatus"`
					Wait     int32  `json:"wait"`
				} `json:"spec"`
			}
			if err := json.Unmarshal(dep.Body, &b); err != nil {
				return nil, fmt.Errorf("dependency %s: %w", dep.Key, err)
			}
			app.DependsOn = append(app.DependsOn, &deployerv1.Dependency{App: b.Spec.App, OpStatus: b.Spec.OpStatus, WaitSeconds: b.Spec.Wait})
		}
		for _, c := range placements[name] {
			rs := resources
			if refs := secretRefs[name]; len(refs) > 0 {
				var add []*deployerv1.Resource
				for _, sec := range refs {
					id := c.GetClusterProvider() + "+" + c.GetCluster() + "/" + ns + "/" + sec
					if delivered[id] {
						continue // another app brings it to this cluster
					}
					delivered[id] = true
					r, err := projectSecretResource(v["project"], sec, ns)
					if err != nil {
						return nil, err
					}
					add = append(add, r)
				}
				rs = append(add, resources...)
			}
			app.Clusters = append(app.Clusters, &deployerv1.ClusterResources{
				ClusterProvider: c.GetClusterProvider(), Cluster: c.GetCluster(), Resources: rs,
			})
		}
		req.Apps = append(req.Apps, app)
	}
	return req, nil
}

// toResources orders a rendered chart for applying: CRDs, pre-install
// hooks, the objects in Helm's install order, then the other hooks.
func toResources(r *render.Result) []*deployerv1.Resource {
	var out []*deployerv1.Resource
	add := func(objs []render.Object, keep func(render.Object) bool) {
		for _, o := range objs {
			if keep(o) {
				out = append(out, &deployerv1.Resource{ApiVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, Namespace: o.Namespace, Manifest: o.Manifest})
			}
		}
	}
	all := func(render.Object) bool { return true }
	pre := func(o render.Object) bool { return strings.HasPrefix(o.Hook, "pre-") }
	add(r.CRDs, all)
	add(r.Hooks, pre)
	add(r.Objects, all)
	add(r.Hooks, func(o render.Object) bool { return !pre(o) })
	return out
}

// profileValues returns the values file of each app's profile in the
// composite profile, by app name.
func (s *Service) profileValues(ctx context.Context, v map[string]string, cp string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if cp == "" {
		return out, nil
	}
	recs, err := s.deps.Store.List(ctx, caKey(v)+"/composite-profiles/"+cp, "appProfile")
	if err != nil {
		return nil, err
	}
	for _, p := range recs {
		var b struct {
			Spec struct {
				App string `json:"app"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(p.Body, &b); err != nil {
			return nil, fmt.Errorf("profile %s: %w", p.Key, err)
		}
		vals, err := profileFileValues(p.File)
		if err != nil {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, fmt.Sprintf("profile %s: %v", lastSegment(p.Key), err))
		}
		out[b.Spec.App] = vals
	}
	return out, nil
}

// logicalCloud returns the namespace apps deploy into and, for a standard
// (level 1) cloud, the objects to create on every cluster first: its
// namespace, its quotas (ResourceQuota) and its user permissions (Role and
// RoleBinding). An admin (level 0) cloud deploys into its namespace as given.
func (s *Service) logicalCloud(ctx context.Context, v map[string]string, name string, placements map[string][]*placementv1.ClusterRef) (string, []*deployerv1.ClusterResources, error) {
	if name == "" {
		return "default", nil, nil
	}
	key := "projects/" + v["project"] + "/logical-clouds/" + name
	rec, err := s.deps.Store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, httpx.Errorf(http.StatusConflict, "logical cloud "+name+" not found")
	}
	if err != nil {
		return "", nil, err
	}
	var lc struct {
		Spec struct {
			Namespace string `json:"namespace"`
			Level     string `json:"level"`
			User      struct {
				UserName string `json:"userName"`
			} `json:"user"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rec.Body, &lc); err != nil {
		return "", nil, fmt.Errorf("logical cloud %s: %w", name, err)
	}
	ns := lc.Spec.Namespace
	if ns == "" {
		ns = "default"
	}
	if lc.Spec.Level != "1" {
		return ns, nil, nil
	}
	objs, err := s.cloudObjects(ctx, key, ns, lc.Spec.User.UserName)
	if err != nil {
		return "", nil, err
	}
	seen := map[string]bool{}
	var clusters []*placementv1.ClusterRef
	for _, refs := range placements {
		for _, c := range refs {
			id := c.GetClusterProvider() + "+" + c.GetCluster()
			if !seen[id] {
				seen[id] = true
				clusters = append(clusters, c)
			}
		}
	}
	sort.Slice(clusters, func(i, j int) bool {
		return clusters[i].GetClusterProvider()+"+"+clusters[i].GetCluster() < clusters[j].GetClusterProvider()+"+"+clusters[j].GetCluster()
	})
	var setup []*deployerv1.ClusterResources
	for _, c := range clusters {
		setup = append(setup, &deployerv1.ClusterResources{ClusterProvider: c.GetClusterProvider(), Cluster: c.GetCluster(), Resources: objs})
	}
	return ns, setup, nil
}

// cloudObjects builds the namespace, quotas and permissions of a standard
// logical cloud.
func (s *Service) cloudObjects(ctx context.Context, lcKey, ns, user string) ([]*deployerv1.Resource, error) {
	obj := func(apiVersion, kind, name, namespace string, rest map[string]any) (*deployerv1.Resource, error) {
		m := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}
		if namespace != "" {
			m["metadata"].(map[string]any)["namespace"] = namespace
		}
		for k, val := range rest {
			m[k] = val
		}
		b, err := json.Marshal(m)
		return &deployerv1.Resource{ApiVersion: apiVersion, Kind: kind, Name: name, Namespace: namespace, Manifest: b}, err
	}
	var out []*deployerv1.Resource
	nsObj, err := obj("v1", "Namespace", ns, "", nil)
	if err != nil {
		return nil, err
	}
	out = append(out, nsObj)
	quotas, err := s.deps.Store.List(ctx, lcKey, "clusterQuota")
	if err != nil {
		return nil, err
	}
	for _, q := range quotas {
		var b struct {
			Spec map[string]any `json:"spec"`
		}
		if err := json.Unmarshal(q.Body, &b); err != nil {
			return nil, err
		}
		r, err := obj("v1", "ResourceQuota", lastSegment(q.Key), ns, map[string]any{"spec": map[string]any{"hard": b.Spec}})
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	perms, err := s.deps.Store.List(ctx, lcKey, "userPermission")
	if err != nil {
		return nil, err
	}
	for _, p := range perms {
		var b struct {
			Spec struct {
				APIGroups []string `json:"apiGroups"`
				Resources []string `json:"resources"`
				Verbs     []string `json:"verbs"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(p.Body, &b); err != nil {
			return nil, err
		}
		name := lastSegment(p.Key)
		role, err := obj("rbac.authorization.k8s.io/v1", "Role", name, ns, map[string]any{
			"rules": []any{map[string]any{"apiGroups": orEmpty(b.Spec.APIGroups), "resources": b.Spec.Resources, "verbs": b.Spec.Verbs}},
		})
		if err != nil {
			return nil, err
		}
		out = append(out, role)
		if user != "" {
			rb, err := obj("rbac.authorization.k8s.io/v1", "RoleBinding", name, ns, map[string]any{
				"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
				"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
			})
			if err != nil {
				return nil, err
			}
			out = append(out, rb)
		}
	}
	return out, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{""}
	}
	return s
}

// Project secrets in override values.
const (
	// projectSecretPrefix starts an override value that names a project
	// secret: "$projectSecret:NAME".
	projectSecretPrefix = "$projectSecret:"
	// AnnotationProjectSecret marks the Secret manifests the orchestrator
	// adds for project secrets: its value, projects/<p>/secrets/<name>,
	// tells the deployer which secret's values to put in just before it
	// applies the Secret. The manifest itself carries no values.
	AnnotationProjectSecret = "edgeway.dev/project-secret"
)

// projectSecretRefs replaces, in overrides, every value "$projectSecret:NAME"
// by NAME (the Kubernetes Secret the app will find in its namespace) and
// returns the names each app refers to, sorted. A name that is not a secret
// of the project, or cannot name a Kubernetes Secret, is a 422 naming it.
func (s *Service) projectSecretRefs(ctx context.Context, project string, overrides map[string]map[string]string) (map[string][]string, error) {
	out := map[string][]string{}
	var problems []string
	for app, vals := range overrides {
		seen := map[string]bool{}
		for k, val := range vals {
			name, ok := strings.CutPrefix(val, projectSecretPrefix)
			if !ok {
				continue
			}
			if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
				problems = append(problems, fmt.Sprintf("app %s: override %s: project secret %q cannot name a Kubernetes Secret (a DNS-1123 subdomain is needed)", app, k, name))
				continue
			}
			vals[k] = name
			if !seen[name] {
				seen[name] = true
				out[app] = append(out[app], name)
			}
		}
		sort.Strings(out[app])
	}
	if len(problems) == 0 && len(out) > 0 {
		resp, err := s.deps.Secrets.ListProjectSecrets(ctx, &secretsv1.ListProjectSecretsRequest{Project: project})
		if err != nil {
			return nil, fmt.Errorf("list project secrets: %w", grpcx.FromStatus(err))
		}
		have := map[string]bool{}
		for _, sec := range resp.GetSecrets() {
			have[sec.GetName()] = true
		}
		for app, names := range out {
			for _, n := range names {
				if !have[n] {
					problems = append(problems, fmt.Sprintf("app %s: project secret %s not found", app, n))
				}
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, strings.Join(problems, "; "))
	}
	return out, nil
}

// checkRendered refuses a rendered app that carries the project-secret
// annotation itself (a chart must not pick another project's secret by
// writing the reference the deployer trusts) or renders a Secret with the
// name of a project secret the app refers to.
func checkRendered(app, ns string, res *render.Result, refs []string) error {
	for _, list := range [][]render.Object{res.CRDs, res.Objects, res.Hooks} {
		for _, o := range list {
			if o.APIVersion == "v1" && o.Kind == "Secret" && o.Namespace == ns && slices.Contains(refs, o.Name) {
				return httpx.Errorf(http.StatusUnprocessableEntity, fmt.Sprintf("app %s: the chart renders Secret %s, which is also the project secret its overrides refer to", app, o.Name))
			}
			// Parsed every time: YAML escapes can spell the key without
			// its literal bytes.
			var m struct {
				Metadata struct {
					Annotations map[string]any `json:"annotations"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(o.Manifest, &m); err != nil {
				return httpx.Errorf(http.StatusUnprocessableEntity, fmt.Sprintf("app %s: %s %s cannot be read", app, o.Kind, o.Name))
			}
			if _, ok := m.Metadata.Annotations[AnnotationProjectSecret]; ok {
				return httpx.Errorf(http.StatusUnprocessableEntity, fmt.Sprintf("app %s: %s %s sets the annotation %s, which only Edgeway may set", app, o.Kind, o.Name, AnnotationProjectSecret))
			}
		}
	}
	return nil
}

// projectSecretResource is the Secret the deployer fills with the project
// secret's values just before applying it: a reference, no values.
func projectSecretResource(project, name, namespace string) (*deployerv1.Resource, error) {
	b, err := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{
			"name": name, "namespace": namespace,
			"annotations": map[string]any{AnnotationProjectSecret: "projects/" + project + "/secrets/" + name},
		},
	})
	if err != nil {
		return nil, err
	}
	return &deployerv1.Resource{ApiVersion: "v1", Kind: "Secret", Name: name, Namespace: namespace, Manifest: b}, nil
}
