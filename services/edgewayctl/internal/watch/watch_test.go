package watch

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBlocked(t *testing.T) {
	tests := []struct {
		name, kind, detail, want string
	}{
		{"job failed", "Job", `{"failed":1,"conditions":[{"type":"FailureTarget","status":"True"},{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","message":"limit"}]}`, "failed (BackoffLimitExceeded: limit)"},
		{"job running", "Job", `{"active":1}`, ""},
		{"failed condition false", "Job", `{"conditions":[{"type":"Failed","status":"False"}]}`, ""},
		{"pod failed", "Pod", `{"phase":"Failed"}`, "pod failed"},
		{"deployment deadline", "Deployment", `{"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded"}]}`, "progress deadline exceeded (ProgressDeadlineExceeded)"},
		{"deployment progressing", "Deployment", `{"conditions":[{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}`, ""},
		{"no detail", "Job", ``, ""},
		{"not an object", "Job", `"x"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, blocked(tc.kind, json.RawMessage(tc.detail)))
		})
	}
}

func snap(state, deployed string, res ...Resource) *Snapshot {
	return &Snapshot{Path: "projects/p/composite-apps/ca/v1/deployment-intent-groups/d", State: state, DeployedStatus: deployed, Revision: 1,
		Rows: []Row{{App: "web", Provider: "local", Cluster: "edge1", Connectivity: "Available", Resources: res}}}
}

var (
	readyCM    = Resource{Kind: "ConfigMap", Name: "cm", Deployed: "Applied", Ready: "Ready"}
	notReadyD  = Resource{Kind: "Deployment", Name: "web", Deployed: "Applied", Ready: "NotReady"}
	readyD     = Resource{Kind: "Deployment", Name: "web", Deployed: "Applied", Ready: "Ready"}
	failedJob  = Resource{Kind: "Job", Name: "j", Deployed: "Applied", Ready: "NotReady", Blocked: "failed"}
	refusedObj = Resource{Kind: "Service", Name: "s", Deployed: "Failed", Ready: "NotPresent"}
)

func TestPhase(t *testing.T) {
	tests := []struct {
		name string
		s    *Snapshot
		want Phase
	}{
		{"created", snap("Created", ""), NotDeployed},
		{"approved", snap("Approved", ""), NotDeployed},
		{"terminated", snap("Terminated", "Terminated", readyCM), NotDeployed},
		{"instantiating", snap("Instantiated", "Instantiating", readyCM, readyD), Progressing},
		{"not ready", snap("Instantiated", "Instantiated", readyCM, notReadyD), Progressing},
		{"ready", snap("Instantiated", "Instantiated", readyCM, readyD), Ready},
		{"updated ready", snap("Updated", "Updated", readyCM, readyD), Ready},
		{"no resources", snap("Instantiated", "Instantiated"), Progressing},
		{"deploy failed", snap("Instantiated", "InstantiateFailed", readyCM), Failed},
		{"update failed", snap("Updated", "UpdateFailed", readyCM), Failed},
		{"stopped", snap("InstantiateStopped", "InstantiateStopped", readyCM), Failed},
		{"job can never be ready", snap("Instantiated", "Instantiated", readyCM, failedJob), Failed},
		{"resource refused", snap("Instantiated", "Instantiating", readyCM, refusedObj), Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.s.Phase(), "%+v", tc.s)
		})
	}
	require.Equal(t, []string{"Job j of app web on local/edge1: failed"}, snap("Instantiated", "Instantiated", failedJob).Problems())
	require.Equal(t, []string{"Deployment web of app web on local/edge1 (Applied, NotReady)"}, snap("Instantiated", "Instantiated", readyCM, notReadyD).Waiting())
}

func TestPaths(t *testing.T) {
	p, err := PathOf("demo/shop/v1/edge")
	require.NoError(t, err)
	require.Equal(t, "projects/demo/composite-apps/shop/v1/deployment-intent-groups/edge", p)
	require.Equal(t, "demo/shop/v1/edge", DisplayName(p))
	require.Equal(t, "demo/shop/v1/edge", DisplayName("/"+p+"/"))
	for _, bad := range []string{"demo/shop/v1", "demo/shop/v1/edge/x", "demo//v1/edge", "demo/sh op/v1/edge"} {
		_, err := PathOf(bad)
		require.Error(t, err, bad)
	}
}

func TestBar(t *testing.T) {
	require.Equal(t, "[#####-----]  50%", Bar(1, 2, 10))
	require.Equal(t, "[##########] 100%", Bar(3, 3, 10))
	require.Equal(t, "[----------]   -", Bar(0, 0, 10))
}

func TestRendererPlainPrintsChanges(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	r := &Renderer{W: &out, Start: start}
	s1 := snap("Instantiated", "Instantiated", readyCM, notReadyD)
	s1.Time = start
	r.Render(s1)
	r.Render(s1) // nothing changed: nothing printed
	s2 := snap("Instantiated", "Instantiated", readyCM, readyD)
	s2.Time = start.Add(3 * time.Second)
	r.Render(s2)
	want := "[   0s] p/ca/v1/d: Instantiated (revision 1), deployed Instantiated 2/2 applied, ready 1/2 [##########----------]  50%\n" +
		"[   0s]   web on local/edge1: Available, 2/2 applied, ready 1/2\n" +
		"[   3s] p/ca/v1/d: Instantiated (revision 1), deployed Instantiated 2/2 applied, ready 2/2 [####################] 100%\n" +
		"[   3s]   web on local/edge1: Available, 2/2 applied, ready 2/2\n"
	require.Equal(t, want, out.String())
}

func TestRendererTTYRedraws(t *testing.T) {
	var out bytes.Buffer
	r := &Renderer{W: &out, TTY: true, Color: true}
	r.Render(snap("Instantiated", "Instantiated", readyCM, notReadyD))
	first := out.String()
	require.NotContains(t, first, "\x1b[3A", "nothing to go back over yet")
	require.Contains(t, first, sgrYellow+"web ")
	r.Render(snap("Instantiated", "Instantiated", readyCM, readyD))
	second := strings.TrimPrefix(out.String(), first)
	require.True(t, strings.HasPrefix(second, "\x1b[3A"), "back to the top of the table: %q", second)
	require.Contains(t, second, sgrGreen+"web ")
	require.Equal(t, 3, strings.Count(second, "\x1b[2K"))
}
