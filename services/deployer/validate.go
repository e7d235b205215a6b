package deployer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
)

// namePattern restricts the names that become etcd key segments: no "/",
// no "+" (the cluster key separator), no "~" (reserved for the setup).
var namePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$`)

// maxProblems bounds the problems listed in one InvalidArgument answer.
const maxProblems = 10

// plan is a validated InstallRequest: the context's meta and its records,
// keyed by record key. Secret manifests are still in plaintext in Manifest;
// Install seals them before anything is written.
type plan struct {
	meta    *meta
	records map[string]*record
}

// problems collects every validation problem of a request.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	list := p
	if len(list) > maxProblems {
		list = append(slices.Clone(list[:maxProblems]), fmt.Sprintf("and %d more", len(p)-maxProblems))
	}
	return errors.New(strings.Join(list, "; "))
}

// buildPlan validates req and turns it into records. It reports every
// problem at once.
func buildPlan(req *deployerv1.InstallRequest, now time.Time) (*plan, error) {
	var pr problems
	id := req.GetContextId()
	if !namePattern.MatchString(id) {
		pr.addf("context_id %q is not a valid id", id)
	}
	if errs := validation.IsValidLabelValue(req.GetDeploymentId()); req.GetDeploymentId() == "" || len(errs) > 0 {
		pr.addf("deployment_id %q must be a non-empty label value", req.GetDeploymentId())
	}
	if req.GetRevision() < 1 {
		pr.addf("revision must be at least 1")
	}
	if prev := req.GetPreviousContextId(); prev != "" && (!namePattern.MatchString(prev) || prev == id) {
		pr.addf("previous_context_id %q is not a valid id other than context_id", prev)
	}
	m := &meta{
		ContextID:         id,
		DeploymentID:      req.GetDeploymentId(),
		Revision:          req.GetRevision(),
		PreviousContextID: req.GetPreviousContextId(),
		Op:                opApply,
		Created:           now,
		Updated:           now,
	}
	m.Status = m.inProgressStatus()
	p := &plan{meta: m, records: map[string]*record{}}
	seen := map[string]map[string]string{} // cluster key → object identity → where

	appNames := map[string]bool{}
	for _, a := range req.GetApps() {
		if !namePattern.MatchString(a.GetName()) {
			pr.addf("app %q: not a valid name", a.GetName())
		} else if appNames[a.GetName()] {
			pr.addf("app %q: listed twice", a.GetName())
		}
		appNames[a.GetName()] = true
	}
	for _, a := range req.GetApps() {
		am := appMeta{Name: a.GetName()}
		for _, d := range a.GetDependsOn() {
			dep := dependency{App: d.GetApp(), OpStatus: d.GetOpStatus(), WaitSeconds: d.GetWaitSeconds()}
			if dep.OpStatus == "" {
				dep.OpStatus = opStatusReady
			}
			switch {
			case !appNames[dep.App] || dep.App == a.GetName():
				pr.addf("app %q: depends on %q, which is not another app of the request", a.GetName(), dep.App)
			case dep.OpStatus != opStatusReady && dep.OpStatus != opStatusDeployed:
				pr.addf("app %q: dependency on %q: op_status must be %s or %s", a.GetName(), dep.App, opStatusReady, opStatusDeployed)
			case dep.WaitSeconds < 0 || dep.WaitSeconds > maxDependencyWaitSec:
				pr.addf("app %q: dependency on %q: wait_seconds must be between 0 and %d", a.GetName(), dep.App, maxDependencyWaitSec)
			}
			am.DependsOn = append(am.DependsOn, dep)
		}
		m.Apps = append(m.Apps, am)
		p.addClusters(&pr, seen, a.GetName(), a.GetClusters())
	}
	p.addClusters(&pr, seen, setupApp, req.GetSetup())
	if len(pr) == 0 {
		if _, err := applyOrder(m.Apps); err != nil {
			pr.addf("%v", err)
		}
	}
	for ck := range seen {
		m.Clusters = append(m.Clusters, ck)
	}
	slices.Sort(m.Clusters)
	if err := pr.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// addClusters validates the resources of one app (or the setup) and adds
// one record per cluster.
func (p *plan) addClusters(pr *problems, seen map[string]map[string]string, app string, clusters []*deployerv1.ClusterResources) {
	where := "app " + app
	if app == setupApp {
		where = "setup"
	}
	for _, c := range clusters {
		if !namePattern.MatchString(c.GetClusterProvider()) || !namePattern.MatchString(c.GetCluster()) {
			pr.addf("%s: cluster %q of provider %q: not a valid name", where, c.GetCluster(), c.GetClusterProvider())
			continue
		}
		ck := clusterKey(c.GetClusterProvider(), c.GetCluster())
		key := recordKey(p.meta.ContextID, ck, app)
		if _, dup := p.records[key]; dup {
			pr.addf("%s: cluster %s listed twice", where, ck)
			continue
		}
		rec := &record{App: app, ClusterProvider: c.GetClusterProvider(), Cluster: c.GetCluster()}
		if seen[ck] == nil {
			seen[ck] = map[string]string{}
		}
		for i, r := range c.GetResources() {
			res, err := newResource(r)
			if err != nil {
				pr.addf("%s: cluster %s: resource %d (%s %s): %v", where, ck, i, r.GetKind(), r.GetName(), err)
				continue
			}
			if other, dup := seen[ck][res.identity()]; dup {
				pr.addf("%s: cluster %s: %s is also in %s", where, ck, res.what(), other)
				continue
			}
			seen[ck][res.identity()] = where
			rec.Resources = append(rec.Resources, res)
		}
		p.records[key] = rec
	}
}

// newResource checks one resource against its manifest and normalizes the
// manifest to JSON without server-populated metadata.
func newResource(r *deployerv1.Resource) (resource, error) {
	obj, err := parseManifest(r.GetManifest())
	if err != nil {
		return resource{}, err
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	md, _ := obj["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	switch {
	case r.GetApiVersion() == "" || r.GetKind() == "" || r.GetName() == "":
		return resource{}, errors.New("api_version, kind and name are required")
	case apiVersion != r.GetApiVersion() || kind != r.GetKind() || name != r.GetName():
		return resource{}, fmt.Errorf("manifest is %s %s %q, not what the resource says", apiVersion, kind, name)
	case ns != "" && r.GetNamespace() != "" && ns != r.GetNamespace():
		return resource{}, fmt.Errorf("manifest namespace %q differs from the resource's %q", ns, r.GetNamespace())
	}
	if _, err := schema.ParseGroupVersion(apiVersion); err != nil {
		return resource{}, fmt.Errorf("api_version: %w", err)
	}
	if ns == "" {
		ns = r.GetNamespace()
	}
	for _, f := range []string{"resourceVersion", "uid", "selfLink", "creationTimestamp", "generation", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		delete(md, f)
	}
	if _, ok := md["generateName"]; ok {
		return resource{}, errors.New("generateName is not supported: objects need a stable name")
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return resource{}, fmt.Errorf("manifest: %w", err)
	}
	res := resource{
		APIVersion: apiVersion, Kind: kind, Name: name, Namespace: ns,
		Manifest: b, Deployed: ResourcePending, Ready: NotPresent,
	}
	gk := res.gvk().GroupKind()
	res.Early = gk == schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"} ||
		gk == schema.GroupKind{Kind: "Namespace"}
	return res, nil
}

// isSecret reports whether a resource's manifest must be sealed.
func (r *resource) isSecret() bool { return r.gvk().GroupKind() == schema.GroupKind{Kind: "Secret"} }

// parseManifest reads exactly one YAML or JSON object. Numbers keep their
// text (json.Number), so integers survive the round trip.
func parseManifest(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("manifest is empty")
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var doc []byte
	for {
		d, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errors.New("manifest is not valid YAML or JSON")
		}
		if len(bytes.TrimSpace(stripComments(d))) == 0 {
			continue
		}
		if doc != nil {
			return nil, errors.New("manifest holds more than one document")
		}
		doc = d
	}
	if doc == nil {
		return nil, errors.New("manifest is empty")
	}
	js, err := utilyaml.ToJSON(doc)
	if err != nil {
		return nil, errors.New("manifest is not valid YAML or JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("manifest is not an object")
	}
	return obj, nil
}

// stripComments drops YAML comment lines, so a document of only comments
// counts as empty.
func stripComments(d []byte) []byte {
	var out bytes.Buffer
	for line := range bytes.Lines(d) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out.Write(line)
		}
	}
	return out.Bytes()
}

// applyOrder returns the app names in an order where each app comes after
// the apps it depends on, keeping the request order otherwise.
func applyOrder(apps []appMeta) ([]string, error) {
	done := map[string]bool{}
	var order []string
	for len(order) < len(apps) {
		progressed := false
		for _, a := range apps {
			if done[a.Name] {
				continue
			}
			ready := true
			for _, d := range a.DependsOn {
				if !done[d.App] {
					ready = false
					break
				}
			}
			if ready {
				done[a.Name] = true
				order = append(order, a.Name)
				progressed = true
			}
		}
		if !progressed {
			var cyc []string
			for _, a := range apps {
				if !done[a.Name] {
					cyc = append(cyc, a.Name)
				}
			}
			return nil, fmt.Errorf("apps %s depend on each other in a cycle", strings.Join(cyc, ", "))
		}
	}
	return order, nil
}
