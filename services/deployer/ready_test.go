package deployer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsReady(t *testing.T) {
	cases := []struct {
		name string
		obj  string
		want bool
	}{
		{"configmap exists", `{"apiVersion":"v1","kind":"ConfigMap"}`, true},
		{"custom resource exists", `{"apiVersion":"example.com/v1","kind":"Widget","status":{"phase":"Failed"}}`, true},
		{"deployment without status", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":1},"spec":{"replicas":2}}`, false},
		{"deployment available", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":3},"spec":{"replicas":2},
			"status":{"observedGeneration":3,"availableReplicas":2,"updatedReplicas":2}}`, true},
		{"deployment old generation observed", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":3},"spec":{"replicas":2},
			"status":{"observedGeneration":2,"availableReplicas":2,"updatedReplicas":2}}`, false},
		{"deployment rolling out", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":3},"spec":{"replicas":2},
			"status":{"observedGeneration":3,"availableReplicas":2,"updatedReplicas":1}}`, false},
		{"deployment replicas default to 1", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":1},"spec":{},
			"status":{"observedGeneration":1,"availableReplicas":1,"updatedReplicas":1}}`, true},
		{"deployment default 1 not met", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":1},"spec":{},
			"status":{"observedGeneration":1}}`, false},
		{"deployment scaled to zero", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generation":2},"spec":{"replicas":0},
			"status":{"observedGeneration":2}}`, true},
		{"statefulset ready", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"generation":1},"spec":{"replicas":3},
			"status":{"observedGeneration":1,"readyReplicas":3,"currentRevision":"r1","updateRevision":"r1"}}`, true},
		{"statefulset updating", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"generation":1},"spec":{"replicas":3},
			"status":{"observedGeneration":1,"readyReplicas":3,"currentRevision":"r1","updateRevision":"r2"}}`, false},
		{"statefulset not enough ready", `{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"generation":1},"spec":{"replicas":3},
			"status":{"observedGeneration":1,"readyReplicas":2,"currentRevision":"r1","updateRevision":"r1"}}`, false},
		{"daemonset ready", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
			"status":{"observedGeneration":1,"desiredNumberScheduled":4,"numberAvailable":4,"updatedNumberScheduled":4}}`, true},
		{"daemonset updating", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
			"status":{"observedGeneration":1,"desiredNumberScheduled":4,"numberAvailable":4,"updatedNumberScheduled":3}}`, false},
		{"daemonset unavailable", `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"generation":1},
			"status":{"observedGeneration":1,"desiredNumberScheduled":4,"numberAvailable":3,"updatedNumberScheduled":4}}`, false},
		{"job succeeded", `{"apiVersion":"batch/v1","kind":"Job","spec":{"completions":2},"status":{"succeeded":2}}`, true},
		{"job running", `{"apiVersion":"batch/v1","kind":"Job","spec":{"completions":2},"status":{"succeeded":1}}`, false},
		{"job completions default 1", `{"apiVersion":"batch/v1","kind":"Job","spec":{},"status":{"succeeded":1}}`, true},
		{"job without status", `{"apiVersion":"batch/v1","kind":"Job","spec":{}}`, false},
		{"pod ready", `{"apiVersion":"v1","kind":"Pod","status":{"conditions":[{"type":"PodScheduled","status":"True"},{"type":"Ready","status":"True"}]}}`, true},
		{"pod not ready", `{"apiVersion":"v1","kind":"Pod","status":{"conditions":[{"type":"Ready","status":"False"}]}}`, false},
		{"pod without conditions", `{"apiVersion":"v1","kind":"Pod","status":{}}`, false},
		{"deployment of another group is just a kind", `{"apiVersion":"example.com/v1","kind":"Deployment"}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, numbers := range []string{"float64", "json.Number"} {
				var obj map[string]any
				dec := json.NewDecoder(strings.NewReader(c.obj))
				if numbers == "json.Number" {
					dec.UseNumber()
				}
				require.NoError(t, dec.Decode(&obj))
				require.Equal(t, c.want, isReady(obj), numbers)
			}
		})
	}
}

func TestNumAcceptsEveryIntegerType(t *testing.T) {
	for _, v := range []any{int64(3), 3, int32(3), float64(3), json.Number("3")} {
		require.Equal(t, int64(3), num(map[string]any{"a": map[string]any{"b": v}}, 0, "a", "b"))
	}
	require.Equal(t, int64(7), num(map[string]any{"a": nil}, 7, "a", "b"), "missing means default")
}
