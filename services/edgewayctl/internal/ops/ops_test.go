package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/manifest"
)

// fakeAPI keeps objects by path as sent, like Edgeway's store, and plays
// one deployment intent group's lifecycle.
type fakeAPI struct {
	mu      sync.Mutex
	objects map[string][]byte
	files   map[string][]byte
	calls   []string
	state   string // lifecycle state of the group
	// deployed is the deployed status, terminating counts polls until
	// Terminated.
	deployed    string
	terminating int
	failTerm    bool
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if r.Method != http.MethodGet || !strings.HasSuffix(p, "/status") {
		f.calls = append(f.calls, r.Method+" "+p)
	}
	problem := func(status int, detail string) {
		w.Header().Set("Content-Type", api.ContentProblem)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(api.Problem{Title: http.StatusText(status), Status: status, Detail: detail, RequestID: "req"})
	}
	verb := path.Base(p)
	switch {
	case r.Method == http.MethodGet && verb == "status":
		if _, ok := f.objects[path.Dir(p)]; !ok {
			problem(404, "deployment intent group not found")
			return
		}
		if f.state == "Terminated" && f.deployed == "Terminating" {
			if f.terminating--; f.terminating <= 0 {
				f.deployed = "Terminated"
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"deployedStatus": f.deployed,
			"states": map[string]any{"actions": []any{map[string]any{"state": f.state}}}})
	case r.Method == http.MethodPost && (verb == "approve" || verb == "instantiate" || verb == "terminate" || verb == "update"):
		next := map[string]string{"approve": "Approved", "instantiate": "Instantiated", "terminate": "Terminated", "update": "Updated"}[verb]
		allowed := map[string][]string{"approve": {"Created", "Approved"}, "instantiate": {"Approved"}, "terminate": {"Instantiated", "Updated"}, "update": {"Instantiated", "Updated"}}[verb]
		if !contains(allowed, f.state) {
			problem(409, "deployment intent group is "+f.state)
			return
		}
		f.state = next
		switch verb {
		case "instantiate", "update":
			f.deployed = next
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"revision":1,"instance":"c1"}`)
			return
		case "terminate":
			f.deployed, f.terminating = "Terminating", 2
			if f.failTerm {
				f.deployed = "TerminateFailed"
			}
		}
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost:
		body, file := readBody(r)
		var o struct {
			Metadata struct{ Name string } `json:"metadata"`
			Spec     struct {
				CompositeAppVersion string `json:"compositeAppVersion"`
			} `json:"spec"`
		}
		_ = json.Unmarshal(body, &o)
		key := p + "/" + o.Metadata.Name
		if o.Spec.CompositeAppVersion != "" {
			key += "/" + o.Spec.CompositeAppVersion
		}
		if parent := path.Dir(p); parent != "." {
			if _, ok := f.objects[parent]; !ok && !strings.HasSuffix(p, "/apps") {
				problem(404, "parent "+parent+" not found")
				return
			}
		}
		if _, ok := f.objects[key]; ok {
			problem(409, o.Metadata.Name+" already exists")
			return
		}
		f.objects[key], f.files[key] = body, file
		if strings.HasSuffix(p, "deployment-intent-groups") {
			f.state = "Created"
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case r.Method == http.MethodPut:
		if _, ok := f.objects[p]; !ok {
			problem(404, p+" not found")
			return
		}
		f.objects[p], f.files[p] = readBody(r)
		_, _ = w.Write(f.objects[p])
	case r.Method == http.MethodGet:
		b, ok := f.objects[p]
		if !ok {
			problem(404, p+" not found")
			return
		}
		if r.Header.Get("Accept") == api.ContentOctet && f.files[p] != nil {
			w.Header().Set("Content-Type", api.ContentOctet)
			_, _ = w.Write(f.files[p])
			return
		}
		w.Header().Set("Content-Type", api.ContentJSON)
		_, _ = w.Write(b)
	case r.Method == http.MethodDelete:
		if _, ok := f.objects[p]; !ok {
			problem(404, p+" not found")
			return
		}
		for k := range f.objects {
			if strings.HasPrefix(k, p+"/") {
				problem(409, p+" has children")
				return
			}
		}
		if strings.Contains(p, "deployment-intent-groups/") && f.deployed != "Terminated" && f.state != "Created" && f.state != "Approved" {
			problem(409, "terminate it first")
			return
		}
		delete(f.objects, p)
		w.WriteHeader(http.StatusNoContent)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readBody(r *http.Request) (body, file []byte) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		b, _ := io.ReadAll(r.Body)
		return b, nil
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return body, file
		}
		b, _ := io.ReadAll(part)
		if part.FormName() == "metadata" {
			body = b
		} else {
			file = b
		}
	}
}

const dig = "projects/p/composite-apps/ca/v1/deployment-intent-groups/d"

const file = `version: emco/v2
resourceContext: {anchor: projects}
metadata: {name: p}
---
version: emco/v2
resourceContext: {anchor: projects/p/composite-apps}
metadata: {name: ca}
spec: {compositeAppVersion: v1}
---
version: emco/v2
resourceContext: {anchor: projects/p/composite-apps/ca/v1/apps}
metadata: {name: web}
file: web.tgz
---
version: emco/v2
resourceContext: {anchor: projects/p/composite-apps/ca/v1/deployment-intent-groups}
metadata: {name: d}
spec: {version: r1}
---
version: emco/v2
resourceContext: {anchor: ` + dig + `/intents}
metadata: {name: i}
spec: {intent: {genericPlacementIntent: g}}
---
version: emco/v2
resourceContext: {anchor: ` + dig + `/approve}
---
version: emco/v2
resourceContext: {anchor: ` + dig + `/instantiate}
`

func setup(t *testing.T) (*fakeAPI, *Runner, *bytes.Buffer, []*manifest.Document) {
	t.Helper()
	f := &fakeAPI{objects: map[string][]byte{}, files: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	docs, err := manifest.Parse([]byte(file), dir)
	require.NoError(t, err)
	require.NoError(t, writeFile(dir+"/web.tgz", "chart-1"))
	var out bytes.Buffer
	r := &Runner{API: &api.Client{Endpoint: srv.URL, HTTP: srv.Client()}, Out: &out, File: "f.yaml", Poll: time.Millisecond}
	return f, r, &out, docs
}

func TestApplyIsIdempotent(t *testing.T) {
	f, r, out, docs := setup(t)
	s := r.Apply(context.Background(), docs)
	require.NoError(t, s.Err(), out.String())
	require.Equal(t, "created      projects/p\ncreated      projects/p/composite-apps/ca/v1\ncreated      projects/p/composite-apps/ca/v1/apps/web\n"+
		"created      "+dig+"\ncreated      "+dig+"/intents/i\napproved     "+dig+"\ninstantiated "+dig+" (revision 1)\n", out.String())
	require.Equal(t, "chart-1", string(f.files["projects/p/composite-apps/ca/v1/apps/web"]), "the file went as the multipart file part")
	require.JSONEq(t, `{"metadata":{"name":"web"}}`, string(f.objects["projects/p/composite-apps/ca/v1/apps/web"]))

	out.Reset()
	s = r.Apply(context.Background(), docs)
	require.NoError(t, s.Err(), out.String())
	require.Equal(t, 7, strings.Count(out.String(), "\nexists ")+1, out.String())
	require.Contains(t, out.String(), "exists       "+dig+" (already Instantiated)\n")
}

func TestApplyReportsEveryFailure(t *testing.T) {
	_, r, out, docs := setup(t)
	docs = append([]*manifest.Document{}, docs[1:]...) // no project: its children fail
	s := r.Apply(context.Background(), docs)
	require.ErrorIs(t, s.Err(), ErrFailed)
	require.Len(t, s.Failed(), 5, "the app's POST is accepted by the fake, every other document fails: %s", out)
	var sum bytes.Buffer
	s.Print(&sum, "f.yaml")
	require.Contains(t, sum.String(), "apply: 6 documents, 1 succeeded, 5 failed")
	require.Contains(t, sum.String(), "  f.yaml#2 (line 5) projects/p/composite-apps/ca/v1: 404 Not Found: parent projects/p not found (request id req)\n")

	r.StopOnError = true
	out.Reset()
	s = r.Apply(context.Background(), docs)
	require.Len(t, s.Results, 1)
	require.Equal(t, 5, s.NotTried)
}

func TestDeleteTerminatesFirst(t *testing.T) {
	f, r, out, docs := setup(t)
	require.NoError(t, r.Apply(context.Background(), docs).Err())
	f.calls = nil
	out.Reset()
	s := r.Delete(context.Background(), docs)
	require.NoError(t, s.Err(), out.String())
	require.Equal(t, []string{
		"POST " + dig + "/terminate",
		"DELETE " + dig + "/intents/i",
		"DELETE " + dig,
		"DELETE projects/p/composite-apps/ca/v1/apps/web",
		"DELETE projects/p/composite-apps/ca/v1",
		"DELETE projects/p",
	}, f.calls)
	require.Contains(t, out.String(), "terminated   "+dig+" (objects deleted from the clusters)\nskipped      "+dig+" (approve: nothing to undo)\n")
	require.Empty(t, f.objects)

	out.Reset()
	require.NoError(t, r.Delete(context.Background(), docs).Err())
	require.Equal(t, 6, strings.Count(out.String(), "gone "), out.String())
}

func TestDeleteKeepsTheGroupWhenTerminationFails(t *testing.T) {
	f, r, out, docs := setup(t)
	require.NoError(t, r.Apply(context.Background(), docs).Err())
	f.failTerm = true
	out.Reset()
	s := r.Delete(context.Background(), docs)
	require.Len(t, s.Failed(), 5, "the group, its child and its parents are kept:\n%s", out)
	require.Contains(t, out.String(), "FAILED       "+dig+": termination failed (deployed status TerminateFailed)\n")
	require.Contains(t, out.String(), "FAILED       "+dig+"/intents/i: kept: deployment intent group p/ca/v1/d was not terminated\n")
	require.Contains(t, f.objects, dig+"/intents/i")
}

func TestRolloutUpdatesOnlyWhatChanged(t *testing.T) {
	f, r, out, docs := setup(t)
	ro := &Rollout{Runner: r, Out: out, Wait: false}
	require.Equal(t, ExitReady, ro.Run(context.Background(), docs), out.String())
	require.Contains(t, out.String(), "rollout: p/ca/v1/d is new\n")
	require.Contains(t, out.String(), "rollout: p/ca/v1/d: instantiate started (revision 1)\n")

	// Nothing changed.
	out.Reset()
	require.Equal(t, ExitReady, ro.Run(context.Background(), docs), out.String())
	require.Equal(t, 5, strings.Count(out.String(), "unchanged "), out.String())
	require.Contains(t, out.String(), "nothing changed, no update needed")

	// A new chart: the app is replaced and the group updated.
	require.NoError(t, writeFile(strings.TrimSuffix(docs[2].Files[0], "web.tgz")+"web.tgz", "chart-2"))
	out.Reset()
	f.calls = nil
	require.Equal(t, ExitReady, ro.Run(context.Background(), docs), out.String())
	require.Contains(t, out.String(), "updated      projects/p/composite-apps/ca/v1/apps/web\n")
	require.Contains(t, f.calls, "PUT projects/p/composite-apps/ca/v1/apps/web")
	require.Contains(t, f.calls, "POST "+dig+"/update")
	require.Equal(t, "chart-2", string(f.files["projects/p/composite-apps/ca/v1/apps/web"]))
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o644) }
