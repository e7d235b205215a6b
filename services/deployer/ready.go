package deployer

import (
	"encoding/json"
	"strings"
)

// isReady decides from a live object (as decoded JSON) whether it is ready:
//
//   - apps/Deployment: status.observedGeneration >= metadata.generation and
//     availableReplicas and updatedReplicas >= spec.replicas (default 1);
//   - apps/StatefulSet: observedGeneration >= generation, readyReplicas >=
//     spec.replicas (default 1) and currentRevision == updateRevision;
//   - apps/DaemonSet: observedGeneration >= generation, numberAvailable and
//     updatedNumberScheduled >= desiredNumberScheduled;
//   - batch/Job: status.succeeded >= spec.completions (default 1);
//   - v1/Pod: condition Ready is True;
//   - anything else: ready once it exists.
func isReady(obj map[string]any) bool {
	group, _, _ := strings.Cut(str(obj, "apiVersion"), "/")
	if !strings.Contains(str(obj, "apiVersion"), "/") {
		group = "" // core group: "v1"
	}
	kind := str(obj, "kind")
	observed := func() bool {
		return num(obj, 0, "status", "observedGeneration") >= num(obj, 0, "metadata", "generation")
	}
	switch {
	case group == "apps" && kind == "Deployment":
		want := num(obj, 1, "spec", "replicas")
		return observed() &&
			num(obj, 0, "status", "availableReplicas") >= want &&
			num(obj, 0, "status", "updatedReplicas") >= want
	case group == "apps" && kind == "StatefulSet":
		want := num(obj, 1, "spec", "replicas")
		cur, upd := str(obj, "status", "currentRevision"), str(obj, "status", "updateRevision")
		return observed() && num(obj, 0, "status", "readyReplicas") >= want && cur == upd
	case group == "apps" && kind == "DaemonSet":
		want := num(obj, 0, "status", "desiredNumberScheduled")
		return observed() &&
			num(obj, 0, "status", "numberAvailable") >= want &&
			num(obj, 0, "status", "updatedNumberScheduled") >= want
	case group == "batch" && kind == "Job":
		return num(obj, 0, "status", "succeeded") >= num(obj, 1, "spec", "completions")
	case group == "" && kind == "Pod":
		conds, _ := field(obj, "status", "conditions").([]any)
		for _, c := range conds {
			if cm, ok := c.(map[string]any); ok && cm["type"] == "Ready" {
				return cm["status"] == "True"
			}
		}
		return false
	}
	return true
}

// field walks nested maps; nil when a step is missing.
func field(obj map[string]any, path ...string) any {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func str(obj map[string]any, path ...string) string {
	s, _ := field(obj, path...).(string)
	return s
}

// num reads an integer written as any JSON number type, or def when it is
// missing (null counts as missing).
func num(obj map[string]any, def int64, path ...string) int64 {
	switch v := field(obj, path...).(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float64:
		return int64(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		if f, err := v.Float64(); err == nil {
			return int64(f)
		}
	}
	return def
}
