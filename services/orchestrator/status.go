package orchestrator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"

	deployerv1 "edgeway.dev/api-spec/gen/deployer/v1"
	"edgeway.dev/common/grpcx"
	"edgeway.dev/common/httpx"
)

// statusQuery is a parsed EMCO status query.
type statusQuery struct {
	deployed bool // status=deployed (else ready)
	output   string
	instance string
	apps     []string
	clusters []string // provider+cluster
	res      []string
	list     string // "apps", "clusters", "resources" or ""
}

func parseStatusQuery(q url.Values) (statusQuery, error) {
	sq := statusQuery{output: "all"}
	st := q.Get("status")
	if st == "" {
		switch q.Get("type") {
		case "rsync":
			st = "deployed"
		case "", "cluster":
			st = "ready"
		default:
			return sq, httpx.Errorf(http.StatusBadRequest, "type must be rsync or cluster")
		}
	}
	switch st {
	case "deployed":
		sq.deployed = true
	case "ready":
	default:
		return sq, httpx.Errorf(http.StatusBadRequest, "status must be deployed or ready")
	}
	if o := q.Get("output"); o != "" {
		if o != "summary" && o != "all" && o != "detail" {
			return sq, httpx.Errorf(http.StatusBadRequest, "output must be summary, all or detail")
		}
		sq.output = o
	}
	sq.instance = q.Get("instance")
	sq.apps, sq.clusters, sq.res = q["app"], q["cluster"], q["resource"]
	for _, f := range []string{"apps", "clusters", "resources"} {
		if _, ok := q[f]; ok {
			sq.list = f
			break
		}
	}
	return sq, nil
}

// gvk is EMCO's GVK object in status answers.
type gvk struct {
	Group   string `json:"Group"`
	Version string `json:"Version"`
	Kind    string `json:"Kind"`
}

type resourceStatus struct {
	GVK            gvk             `json:"GVK"`
	Name           string          `json:"name"`
	DeployedStatus string          `json:"deployedStatus,omitempty"`
	ReadyStatus    string          `json:"readyStatus,omitempty"`
	Detail         json.RawMessage `json:"detail,omitempty"`
}

type clusterStatus struct {
	ClusterProvider string           `json:"clusterProvider"`
	Cluster         string           `json:"cluster"`
	Connectivity    string           `json:"connectivity"`
	Resources       []resourceStatus `json:"resources"`
}

type appStatus struct {
	Name     string          `json:"name"`
	Clusters []clusterStatus `json:"clusters"`
}

// status answers EMCO's DIG status query.
func (s *Service) status(w http.ResponseWriter, r *http.Request, v map[string]string) error {
	ctx := r.Context()
	q, err := parseStatusQuery(r.URL.Query())
	if err != nil {
		return err
	}
	dig, st, err := s.loadState(ctx, v)
	if err != nil {
		return err
	}
	var d digSpec
	_ = json.Unmarshal(dig.Body, &d)
	appRecs, err := s.deps.Store.List(ctx, caKey(v), "app")
	if err != nil {
		return err
	}
	var appNames []string
	for _, a := range appRecs {
		appNames = append(appNames, lastSegment(a.Key))
	}
	for _, a := range q.apps {
		if !slices.Contains(appNames, a) {
			return httpx.Errorf(http.StatusNotFound, "app "+a+" is not part of the composite app")
		}
	}
	ctxID := st.StatusCtxID
	if q.instance != "" {
		found := false
		for _, rv := range st.Revisions {
			found = found || rv.ContextID == q.instance
		}
		if !found {
			return httpx.Errorf(http.StatusNotFound, "instance "+q.instance+" not found")
		}
		ctxID = q.instance
	}
	var cs *deployerv1.ContextStatus
	if ctxID != "" {
		cs, err = s.deps.Deployer.Status(ctx, &deployerv1.StatusRequest{ContextId: ctxID, Detail: q.output == "detail"})
		if err != nil {
			return fmt.Errorf("status: %w", grpcx.FromStatus(err))
		}
	}
	apps := s.filterStatus(cs, q)
	// Unknown cluster and resource filters are 404, as in EMCO.
	for _, c := range q.clusters {
		if !hasCluster(cs, c) {
			return httpx.Errorf(http.StatusNotFound, "cluster "+c+" is not part of the deployment")
		}
	}
	for _, rn := range q.res {
		if !hasResource(cs, rn) {
			return httpx.Errorf(http.StatusNotFound, "resource "+rn+" is not part of the deployment")
		}
	}
	out := map[string]any{"name": v["deploymentIntentGroup"]}
	switch q.list {
	case "apps":
		names := []string{}
		for _, a := range appNames {
			if len(q.apps) == 0 || slices.Contains(q.apps, a) {
				names = append(names, a)
			}
		}
		out["apps"] = names
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	case "clusters":
		byApp := []any{}
		for _, a := range apps {
			cl := []any{}
			for _, c := range a.Clusters {
				cl = append(cl, map[string]string{"clusterProvider": c.ClusterProvider, "cluster": c.Cluster})
			}
			byApp = append(byApp, map[string]any{"app": a.Name, "clusters": cl})
		}
		out["clustersByApp"] = byApp
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	case "resources":
		byApp := []any{}
		for _, a := range apps {
			for _, c := range a.Clusters {
				rs := []any{}
				for _, r := range c.Resources {
					rs = append(rs, map[string]any{"name": r.Name, "GVK": r.GVK})
				}
				byApp = append(byApp, map[string]any{"app": a.Name, "clusterProvider": c.ClusterProvider, "cluster": c.Cluster, "resources": rs})
			}
		}
		out["resourcesByApp"] = byApp
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	out["project"] = v["project"]
	out["compositeApp"] = v["compositeApp"]
	out["compositeAppVersion"] = v["compositeAppVersion"]
	out["compositeProfile"] = d.Spec.CompositeProfile
	actions := st.Actions
	if actions == nil {
		actions = []action{{State: StateCreated}}
	}
	out["states"] = map[string]any{"statusctxid": ctxID, "actions": actions}
	counts := map[string]int{}
	allReady := true
	for _, a := range apps {
		for _, c := range a.Clusters {
			for _, r := range c.Resources {
				if q.deployed {
					counts[r.DeployedStatus]++
				} else {
					counts[r.ReadyStatus]++
					allReady = allReady && r.ReadyStatus == "Ready"
				}
			}
		}
	}
	// A DIG that was never instantiated has only its states (as in EMCO).
	if cs == nil {
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	if q.deployed {
		out["deployedStatus"] = cs.GetDeployedStatus()
		out["deployedCounts"] = counts
	} else {
		rs := "NotReady"
		if allReady && len(counts) > 0 {
			rs = "Ready"
		}
		out["readyStatus"] = rs
		out["readyCounts"] = counts
	}
	if q.output != "summary" {
		if apps == nil {
			apps = []appStatus{}
		}
		out["apps"] = apps
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

// filterStatus converts the deployer's answer to EMCO's shape, keeping the
// apps, clusters and resources the query asks for.
func (s *Service) filterStatus(cs *deployerv1.ContextStatus, q statusQuery) []appStatus {
	if cs == nil {
		return nil
	}
	var out []appStatus
	for _, a := range cs.GetApps() {
		if a.GetName() == "" {
			continue // the logical cloud's setup objects, not an app
		}
		if len(q.apps) > 0 && !slices.Contains(q.apps, a.GetName()) {
			continue
		}
		as := appStatus{Name: a.GetName(), Clusters: []clusterStatus{}}
		for _, c := range a.GetClusters() {
			id := c.GetClusterProvider() + "+" + c.GetCluster()
			if len(q.clusters) > 0 && !slices.Contains(q.clusters, id) {
				continue
			}
			conn := c.GetConnectivity()
			if conn == "" {
				conn = "Unknown"
			}
			cst := clusterStatus{ClusterProvider: c.GetClusterProvider(), Cluster: c.GetCluster(), Connectivity: conn, Resources: []resourceStatus{}}
			for _, r := range c.GetResources() {
				if len(q.res) > 0 && !slices.Contains(q.res, r.GetName()) {
					continue
				}
				rs := resourceStatus{GVK: gvk{Group: r.GetGroup(), Version: r.GetVersion(), Kind: r.GetKind()}, Name: r.GetName()}
				if q.deployed {
					rs.DeployedStatus = r.GetDeployedStatus()
				} else {
					rs.ReadyStatus = r.GetReadyStatus()
				}
				if q.output == "detail" && r.GetDetail() != "" && json.Valid([]byte(r.GetDetail())) {
					rs.Detail = json.RawMessage(r.GetDetail())
				}
				cst.Resources = append(cst.Resources, rs)
			}
			if len(q.res) > 0 && len(cst.Resources) == 0 {
				continue // the resource filter left nothing on this cluster
			}
			as.Clusters = append(as.Clusters, cst)
		}
		if (len(q.clusters) > 0 || len(q.res) > 0) && len(as.Clusters) == 0 {
			continue // the filters left nothing of this app
		}
		out = append(out, as)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func hasCluster(cs *deployerv1.ContextStatus, id string) bool {
	for _, a := range cs.GetApps() {
		for _, c := range a.GetClusters() {
			if c.GetClusterProvider()+"+"+c.GetCluster() == id {
				return true
			}
		}
	}
	return false
}

func hasResource(cs *deployerv1.ContextStatus, name string) bool {
	for _, a := range cs.GetApps() {
		for _, c := range a.GetClusters() {
			for _, r := range c.GetResources() {
				if r.GetName() == name {
					return true
				}
			}
		}
	}
	return false
}
