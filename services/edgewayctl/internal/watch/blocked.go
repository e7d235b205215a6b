package watch

import (
	"encoding/json"
	"strings"
)

// condition is a Kubernetes status condition.
type condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// blocked reads a resource's live status (the detail of the status query)
// and says why it can never become ready, or "":
//
//   - a Job (or anything) with a condition Failed=True;
//   - a Pod in phase Failed;
//   - a Deployment whose Progressing condition is False with reason
//     ProgressDeadlineExceeded.
func blocked(kind string, detail json.RawMessage) string {
	if len(detail) == 0 {
		return ""
	}
	var st struct {
		Phase      string      `json:"phase"`
		Conditions []condition `json:"conditions"`
	}
	if err := json.Unmarshal(detail, &st); err != nil {
		return ""
	}
	for _, c := range st.Conditions {
		if c.Type == "Failed" && c.Status == "True" {
			return "failed" + because(c)
		}
		if kind == "Deployment" && c.Type == "Progressing" && c.Status == "False" && c.Reason == "ProgressDeadlineExceeded" {
			return "progress deadline exceeded" + because(c)
		}
	}
	if kind == "Pod" && st.Phase == "Failed" {
		return "pod failed"
	}
	return ""
}

func because(c condition) string {
	var parts []string
	if c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	if c.Message != "" {
		parts = append(parts, c.Message)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ": ") + ")"
}
