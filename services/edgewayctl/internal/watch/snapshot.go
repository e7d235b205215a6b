package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"edgeway.dev/services/edgewayctl/internal/api"
)

// Phase is where a deployment stands.
type Phase int

const (
	// NotDeployed: the group is created or approved but not instantiated,
	// or it was terminated.
	NotDeployed Phase = iota
	Progressing
	Ready
	Failed
)

func (p Phase) String() string {
	return [...]string{"not deployed", "progressing", "ready", "failed"}[p]
}

// Lifecycle states of a deployment intent group (EMCO's).
const (
	StateCreated            = "Created"
	StateApproved           = "Approved"
	StateInstantiated       = "Instantiated"
	StateUpdated            = "Updated"
	StateTerminated         = "Terminated"
	StateInstantiateStopped = "InstantiateStopped"
	StateTerminateStopped   = "TerminateStopped"
)

// Deployed reports whether a lifecycle state means the group's objects may
// be on clusters (what terminate undoes).
func Deployed(state string) bool {
	switch state {
	case StateInstantiated, StateUpdated, StateInstantiateStopped, StateTerminateStopped:
		return true
	}
	return false
}

// Resource is one object of one app on one cluster.
type Resource struct {
	Kind     string
	Name     string
	Deployed string // Pending, Applied, Failed, Deleted
	Ready    string // Ready, NotReady, NotPresent
	// Blocked says why the resource can never become ready, if it cannot.
	Blocked string
}

// Row is one app on one cluster.
type Row struct {
	App          string
	Provider     string
	Cluster      string
	Connectivity string
	Resources    []Resource
}

// ClusterName is "provider/cluster".
func (r *Row) ClusterName() string { return r.Provider + "/" + r.Cluster }

// AppName is the app, "(setup)" for the logical cloud's objects.
func (r *Row) AppName() string {
	if r.App == "" {
		return "(setup)"
	}
	return r.App
}

// Counts returns the number of resources, applied ones, failed ones and
// ready ones.
func (r *Row) Counts() (total, applied, failed, ready int) {
	for _, res := range r.Resources {
		total++
		switch res.Deployed {
		case "Applied":
			applied++
		case "Failed":
			failed++
		}
		if res.Ready == "Ready" {
			ready++
		}
	}
	return
}

// Snapshot is the status of a group at one moment.
type Snapshot struct {
	Time time.Time
	// Path is the group's API path.
	Path string
	// State is the last lifecycle action (Created … Terminated).
	State    string
	Revision int
	// Instance is the runtime context reported on.
	Instance       string
	DeployedStatus string
	ReadyStatus    string
	Rows           []Row
	// Raw is the ready-status answer as the server sent it.
	Raw json.RawMessage
}

type statusAnswer struct {
	DeployedStatus string `json:"deployedStatus"`
	ReadyStatus    string `json:"readyStatus"`
	States         struct {
		StatusCtxID string `json:"statusctxid"`
		Actions     []struct {
			State    string `json:"state"`
			Instance string `json:"instance"`
			Revision int    `json:"revision"`
		} `json:"actions"`
	} `json:"states"`
	Apps []struct {
		Name     string `json:"name"`
		Clusters []struct {
			ClusterProvider string `json:"clusterProvider"`
			Cluster         string `json:"cluster"`
			Connectivity    string `json:"connectivity"`
			Resources       []struct {
				GVK struct {
					Kind string `json:"Kind"`
				} `json:"GVK"`
				Name           string          `json:"name"`
				DeployedStatus string          `json:"deployedStatus"`
				ReadyStatus    string          `json:"readyStatus"`
				Detail         json.RawMessage `json:"detail"`
			} `json:"resources"`
		} `json:"clusters"`
	} `json:"apps"`
}

func (a *statusAnswer) state() (string, int) {
	if n := len(a.States.Actions); n > 0 {
		return a.States.Actions[n-1].State, a.States.Actions[n-1].Revision
	}
	return "", 0
}

// State reads the lifecycle state and the deployed status of the group at
// path (the cheap summary query).
func State(ctx context.Context, c *api.Client, path string) (state, deployedStatus string, err error) {
	var a statusAnswer
	if err := c.GetJSON(ctx, path+"/status", "status=deployed&output=summary", &a); err != nil {
		return "", "", err
	}
	state, _ = a.state()
	return state, a.DeployedStatus, nil
}

// Fetch reads the group's deployed status and its ready status with each
// resource's live detail, and merges them.
func Fetch(ctx context.Context, c *api.Client, path string) (*Snapshot, error) {
	var dep statusAnswer
	if err := c.GetJSON(ctx, path+"/status", "status=deployed", &dep); err != nil {
		return nil, err
	}
	resp, err := c.Get(ctx, path+"/status", "status=ready&output=detail")
	if err != nil {
		return nil, err
	}
	var rdy statusAnswer
	if err := json.Unmarshal(resp.Body, &rdy); err != nil {
		return nil, fmt.Errorf("status of %s: %w", path, err)
	}
	s := &Snapshot{Time: time.Now(), Path: path, DeployedStatus: dep.DeployedStatus, ReadyStatus: rdy.ReadyStatus,
		Instance: dep.States.StatusCtxID, Raw: resp.Body}
	s.State, s.Revision = dep.state()

	type key struct{ app, provider, cluster, kind, name string }
	ready := map[key]Resource{}
	for _, a := range rdy.Apps {
		for _, cl := range a.Clusters {
			for _, r := range cl.Resources {
				ready[key{a.Name, cl.ClusterProvider, cl.Cluster, r.GVK.Kind, r.Name}] = Resource{
					Ready: r.ReadyStatus, Blocked: blocked(r.GVK.Kind, r.Detail)}
			}
		}
	}
	for _, a := range dep.Apps {
		for _, cl := range a.Clusters {
			row := Row{App: a.Name, Provider: cl.ClusterProvider, Cluster: cl.Cluster, Connectivity: cl.Connectivity}
			for _, r := range cl.Resources {
				res := ready[key{a.Name, cl.ClusterProvider, cl.Cluster, r.GVK.Kind, r.Name}]
				res.Kind, res.Name, res.Deployed = r.GVK.Kind, r.Name, r.DeployedStatus
				if res.Ready == "" {
					res.Ready = "NotReady"
				}
				row.Resources = append(row.Resources, res)
			}
			s.Rows = append(s.Rows, row)
		}
	}
	sort.SliceStable(s.Rows, func(i, j int) bool {
		if s.Rows[i].App != s.Rows[j].App {
			return s.Rows[i].App < s.Rows[j].App
		}
		return s.Rows[i].ClusterName() < s.Rows[j].ClusterName()
	})
	return s, nil
}

// Totals adds up the rows' counts.
func (s *Snapshot) Totals() (total, applied, failed, ready int) {
	for i := range s.Rows {
		t, a, f, r := s.Rows[i].Counts()
		total, applied, failed, ready = total+t, applied+a, failed+f, ready+r
	}
	return
}

// Phase decides where the deployment stands.
func (s *Snapshot) Phase() Phase {
	switch s.State {
	case "", StateCreated, StateApproved, StateTerminated:
		return NotDeployed
	}
	if strings.HasSuffix(s.DeployedStatus, "Failed") || strings.HasSuffix(s.DeployedStatus, "Stopped") ||
		s.State == StateInstantiateStopped || s.State == StateTerminateStopped {
		return Failed
	}
	total, _, failed, ready := s.Totals()
	if failed > 0 || len(s.Problems()) > 0 {
		return Failed
	}
	if (s.DeployedStatus == StateInstantiated || s.DeployedStatus == StateUpdated) && total > 0 && ready == total {
		return Ready
	}
	return Progressing
}

// Problems lists what makes the deployment fail: a failed deployed status,
// resources the deployer could not apply, resources that can never become
// ready.
func (s *Snapshot) Problems() []string {
	var out []string
	if strings.HasSuffix(s.DeployedStatus, "Failed") || strings.HasSuffix(s.DeployedStatus, "Stopped") {
		out = append(out, "deployed status "+s.DeployedStatus)
	}
	for _, row := range s.Rows {
		for _, r := range row.Resources {
			switch {
			case r.Deployed == "Failed":
				out = append(out, fmt.Sprintf("%s %s of app %s on %s was not applied (Failed)", r.Kind, r.Name, row.AppName(), row.ClusterName()))
			case r.Blocked != "":
				out = append(out, fmt.Sprintf("%s %s of app %s on %s: %s", r.Kind, r.Name, row.AppName(), row.ClusterName(), r.Blocked))
			}
		}
	}
	return out
}

// Waiting lists the resources that are not ready yet.
func (s *Snapshot) Waiting() []string {
	var out []string
	for _, row := range s.Rows {
		for _, r := range row.Resources {
			if r.Ready != "Ready" {
				out = append(out, fmt.Sprintf("%s %s of app %s on %s (%s, %s)", r.Kind, r.Name, row.AppName(), row.ClusterName(), r.Deployed, r.Ready))
			}
		}
	}
	return out
}

// DisplayName turns a group path into PROJECT/APP/VERSION/DIG.
func DisplayName(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	// projects/P/composite-apps/CA/V/deployment-intent-groups/D
	if len(parts) == 7 && parts[0] == "projects" && parts[2] == "composite-apps" && parts[5] == "deployment-intent-groups" {
		return parts[1] + "/" + parts[3] + "/" + parts[4] + "/" + parts[6]
	}
	return path
}

// PathOf turns PROJECT/APP/VERSION/DIG into the group's API path.
func PathOf(ref string) (string, error) {
	parts := strings.Split(strings.Trim(ref, "/"), "/")
	if len(parts) != 4 {
		return "", fmt.Errorf("%q: want PROJECT/COMPOSITE-APP/VERSION/DEPLOYMENT-INTENT-GROUP", ref)
	}
	for _, p := range parts {
		if p == "" || p != url.PathEscape(p) {
			return "", fmt.Errorf("%q: want PROJECT/COMPOSITE-APP/VERSION/DEPLOYMENT-INTENT-GROUP", ref)
		}
	}
	return "projects/" + parts[0] + "/composite-apps/" + parts[1] + "/" + parts[2] + "/deployment-intent-groups/" + parts[3], nil
}
