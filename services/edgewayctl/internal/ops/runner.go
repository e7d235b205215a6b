package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/manifest"
)

// Words a result line starts with.
const (
	WordCreated   = "created"
	WordExists    = "exists"
	WordUpdated   = "updated"
	WordUnchanged = "unchanged"
	WordRead      = "read"
	WordDeleted   = "deleted"
	WordGone      = "gone"
	WordSkipped   = "skipped"
	WordFailed    = "FAILED"
)

// Runner carries out documents against one API.
type Runner struct {
	API *api.Client
	// Out receives one line per document; nil prints nothing.
	Out io.Writer
	// File is the resource file, for messages.
	File string
	// StopOnError stops at the first failed document.
	StopOnError bool
	// TerminateTimeout bounds the wait for a terminated group's objects to
	// be deleted from its clusters (delete); 0 means 5 minutes.
	TerminateTimeout time.Duration
	// Poll is the interval of status polls; 0 means 1 s.
	Poll time.Duration
}

// Result is the outcome of one document.
type Result struct {
	Doc  *manifest.Document
	Word string
	Path string
	Note string
	Err  error
	// Object is what get read.
	Object json.RawMessage
}

// Summary is the outcome of a run.
type Summary struct {
	Op       string
	Results  []Result
	NotTried int
}

// Failed returns the failed results.
func (s *Summary) Failed() []Result {
	var out []Result
	for _, r := range s.Results {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}

// ErrFailed is returned (wrapped) when documents failed.
var ErrFailed = errors.New("documents failed")

// Err is nil when every document succeeded.
func (s *Summary) Err() error {
	if n := len(s.Failed()); n > 0 || s.NotTried > 0 {
		return fmt.Errorf("%s: %d of %d %w", s.Op, n, len(s.Results)+s.NotTried, ErrFailed)
	}
	return nil
}

// Print writes the summary: counts, and each failure with its document.
func (s *Summary) Print(w io.Writer, file string) {
	failed := s.Failed()
	total := len(s.Results) + s.NotTried
	fmt.Fprintf(w, "%s: %d documents, %d succeeded, %d failed", s.Op, total, len(s.Results)-len(failed), len(failed))
	if s.NotTried > 0 {
		fmt.Fprintf(w, ", %d not tried (stopped at the first failure)", s.NotTried)
	}
	fmt.Fprintln(w)
	for _, r := range failed {
		fmt.Fprintf(w, "  %s (line %d) %s: %s\n", r.Doc.Source(file), r.Doc.Line, r.Path, errText(r.Err))
	}
}

func (r *Runner) poll() time.Duration {
	if r.Poll <= 0 {
		return time.Second
	}
	return r.Poll
}

// run applies fn to docs in order, printing a line per document.
func (r *Runner) run(ctx context.Context, op string, docs []*manifest.Document, fn func(context.Context, *manifest.Document) Result) *Summary {
	s := &Summary{Op: op}
	for i, d := range docs {
		if err := ctx.Err(); err != nil {
			s.NotTried = len(docs) - i
			break
		}
		res := fn(ctx, d)
		res.Doc = d
		if res.Path == "" {
			res.Path = d.ObjectPath()
		}
		if res.Err != nil {
			res.Word = WordFailed
		}
		r.line(res)
		s.Results = append(s.Results, res)
		if res.Err != nil && r.StopOnError {
			s.NotTried = len(docs) - i - 1
			break
		}
	}
	return s
}

func (r *Runner) line(res Result) {
	if r.Out == nil {
		return
	}
	msg := fmt.Sprintf("%-12s %s", res.Word, res.Path)
	if res.Err != nil {
		msg += ": " + errText(res.Err)
	} else if res.Note != "" {
		msg += " (" + res.Note + ")"
	}
	fmt.Fprintln(r.Out, msg)
}

// errText is the server's status and detail for API errors, the error
// otherwise.
func errText(err error) string {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Short()
	}
	return err.Error()
}

// send sends a document's body to path: multipart when it has a file,
// JSON when it has a body, nothing otherwise.
func (r *Runner) send(ctx context.Context, method, path string, d *manifest.Document) (*api.Response, error) {
	req := api.Request{Method: method, Path: path}
	body, err := json.Marshal(d.Body)
	if err != nil {
		return nil, err
	}
	file, name, err := d.File()
	if err != nil {
		return nil, err
	}
	switch {
	case len(d.Files) > 0:
		req.ContentType, req.Body, err = api.Multipart(body, file, name)
		if err != nil {
			return nil, err
		}
	case d.HasBody():
		req.ContentType, req.Body = api.ContentJSON, body
	}
	return r.API.Do(ctx, req)
}

// revisionNote reads {"revision": N} from a lifecycle answer.
func revisionNote(resp *api.Response) (note, instance string) {
	var a struct {
		Revision int    `json:"revision"`
		Instance string `json:"instance"`
	}
	if resp == nil || json.Unmarshal(resp.Body, &a) != nil || a.Revision == 0 {
		return "", ""
	}
	return fmt.Sprintf("revision %d", a.Revision), a.Instance
}

// pastTense names a verb's success.
func pastTense(verb string) string {
	switch verb {
	case "stop":
		return "stopped"
	case "rollback":
		return "rolled-back"
	}
	return strings.TrimSuffix(verb, "e") + "ed"
}

// post sends POST path without a body.
func (r *Runner) post(ctx context.Context, path string) (*api.Response, error) {
	return r.API.Do(ctx, api.Request{Method: http.MethodPost, Path: path})
}
