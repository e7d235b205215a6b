package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"

	"edgeway.dev/services/edgewayctl/internal/api"
	"edgeway.dev/services/edgewayctl/internal/manifest"
)

// sync makes a document's object match the document: it creates a missing
// object, replaces one whose body or file differs, and leaves an equal one
// alone. The server stores bodies as sent, so equality is exact (JSON
// values compared, not text). Files the server never returns (kubeconfigs)
// cannot be compared and count as equal.
func (r *Runner) sync(ctx context.Context, d *manifest.Document) Result {
	p := d.ObjectPath()
	resp, err := r.API.Get(ctx, p, "")
	switch {
	case api.StatusOf(err) == http.StatusNotFound:
		if _, err := r.send(ctx, http.MethodPost, d.Anchor, d); err != nil {
			return Result{Err: err}
		}
		return Result{Word: WordCreated}
	case err != nil:
		return Result{Err: err}
	}
	same, err := r.same(ctx, d, resp.Body)
	if err != nil {
		return Result{Err: err}
	}
	if same {
		return Result{Word: WordUnchanged}
	}
	if _, err := r.send(ctx, http.MethodPut, p, d); err != nil {
		return Result{Err: err}
	}
	return Result{Word: WordUpdated}
}

func (r *Runner) same(ctx context.Context, d *manifest.Document, stored []byte) (bool, error) {
	want, err := json.Marshal(d.Body)
	if err != nil {
		return false, err
	}
	var a, b any
	if json.Unmarshal(want, &a) != nil || json.Unmarshal(stored, &b) != nil || !reflect.DeepEqual(a, b) {
		return false, nil
	}
	if len(d.Files) == 0 {
		return true, nil
	}
	file, _, err := d.File()
	if err != nil {
		return false, err
	}
	resp, err := r.API.Do(ctx, api.Request{Method: http.MethodGet, Path: d.ObjectPath(), Accept: api.ContentOctet})
	if err != nil {
		return false, err
	}
	if resp.ContentType() != api.ContentOctet {
		return true, nil // the family does not return its file
	}
	return bytes.Equal(resp.Body, file), nil
}
