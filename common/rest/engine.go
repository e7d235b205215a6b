package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"

	"edgeway.dev/common/httpx"
	"edgeway.dev/common/store"
)

// Prefix is the path prefix of the whole API.
const Prefix = "/v2"

// Engine serves the resource families of one service from its store.
type Engine struct {
	store   store.Resources
	doc     *openapi3.T
	log     *slog.Logger
	maxBody int64
	byItem  map[string]*family // item template → family, for parent messages
}

// New returns an engine over st that validates bodies against doc and
// refuses bodies larger than maxBody bytes.
func New(doc *openapi3.T, st store.Resources, log *slog.Logger, maxBody int64) *Engine {
	return &Engine{store: st, doc: doc, log: log, maxBody: maxBody, byItem: map[string]*family{}}
}

// NewRouter returns a router for the /v2 API that answers unknown paths and
// methods with problem+json and records the matched route template.
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpx.WriteProblem(w, req, http.StatusNotFound, "no such resource path")
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpx.WriteProblem(w, req, http.StatusMethodNotAllowed, "method not allowed on this path")
	})
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if cr := mux.CurrentRoute(req); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					httpx.SetRoute(req, t)
				}
			}
			// Every path variable is a resource name: one outside the name
			// pattern is a bad request, not a missing object.
			for k, v := range mux.Vars(req) {
				if !ValidName(v) {
					httpx.WriteProblem(w, req, http.StatusBadRequest, fmt.Sprintf("%s %q is not a valid name", k, v))
					return
				}
			}
			next.ServeHTTP(w, req)
		})
	})
	return r
}

// family is a Family with its compiled request schemas.
type family struct {
	Family
	create *openapi3.Schema
	update *openapi3.Schema
}

// Register adds the families' routes to r. It fails when the contract has no
// request schema for one of the routes, so a family cannot be served
// without validation.
func (e *Engine) Register(r *mux.Router, fams ...Family) error {
	var problems []string
	for _, f := range fams {
		fam := &family{Family: f}
		e.byItem[f.itemTemplate()] = fam
		var err error
		if fam.create, err = e.schema(f.Collection, http.MethodPost, f.Body); err != nil {
			problems = append(problems, err.Error())
		}
		if !f.NoPut {
			if fam.update, err = e.schema(f.itemTemplate(), http.MethodPut, f.Body); err != nil {
				problems = append(problems, err.Error())
			}
		}
		coll, item := Prefix+f.Collection, Prefix+f.itemTemplate()
		r.Handle(coll, e.handle(fam, e.create)).Methods(http.MethodPost)
		r.Handle(coll, e.handle(fam, e.list)).Methods(http.MethodGet)
		r.Handle(item, e.handle(fam, e.get)).Methods(http.MethodGet)
		if !f.NoPut {
			r.Handle(item, e.handle(fam, e.update)).Methods(http.MethodPut)
		}
		r.Handle(item, e.handle(fam, e.delete)).Methods(http.MethodDelete)
	}
	if len(problems) > 0 {
		return fmt.Errorf("contract incomplete: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (e *Engine) schema(path, method string, kind BodyKind) (*openapi3.Schema, error) {
	item := e.doc.Paths.Find(path)
	if item == nil {
		return nil, fmt.Errorf("no path %s", path)
	}
	op := item.GetOperation(method)
	if op == nil || op.RequestBody == nil || op.RequestBody.Value == nil {
		return nil, fmt.Errorf("no request body for %s %s", method, path)
	}
	mt := "application/json"
	if kind == MultipartBody {
		mt = "multipart/form-data"
	}
	c := op.RequestBody.Value.Content.Get(mt)
	if c == nil || c.Schema == nil || c.Schema.Value == nil {
		return nil, fmt.Errorf("no %s schema for %s %s", mt, method, path)
	}
	s := c.Schema.Value
	if kind == MultipartBody {
		m := s.Properties["metadata"]
		if m == nil || m.Value == nil {
			return nil, fmt.Errorf("no metadata part schema for %s %s", method, path)
		}
		s = m.Value
	}
	return s, nil
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, f *family, vars map[string]string) error

func (e *Engine) handle(f *family, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r, f, mux.Vars(r)); err != nil {
			httpx.WriteError(w, r, e.log, err)
		}
	})
}

func (e *Engine) create(w http.ResponseWriter, r *http.Request, f *family, vars map[string]string) error {
	o, err := e.decode(w, r, f, f.create, vars)
	if err != nil {
		return err
	}
	names := f.names(o)
	for i, v := range f.ItemVars {
		vars[v] = names[i]
	}
	rec, err := e.prepare(r.Context(), f, o, vars)
	if err != nil {
		return err
	}
	if _, err := e.store.Create(r.Context(), rec); err != nil {
		switch {
		case errors.Is(err, store.ErrExists):
			return httpx.Errorf(http.StatusConflict, fmt.Sprintf("%s %s already exists", f.Kind, strings.Join(names, "/")))
		case errors.Is(err, store.ErrNotFound):
			return e.parentNotFound(f, vars)
		}
		return err
	}
	if f.AfterCreate != nil {
		if err := f.AfterCreate(r.Context(), rec.Key, o); err != nil {
			if derr := e.store.Delete(context.WithoutCancel(r.Context()), rec.Key); derr != nil {
				e.log.ErrorContext(r.Context(), "could not undo a create", "key", rec.Key, "error", derr)
			}
			return err
		}
	}
	httpx.WriteRawJSON(w, http.StatusCreated, o.Raw)
	return nil
}

// prepare runs the family's checks and builds the record to store.
func (e *Engine) prepare(ctx context.Context, f *family, o *Object, vars map[string]string) (store.Record, error) {
	rec := store.Record{Key: f.Key(vars), Parent: f.ParentKey(vars), Kind: f.Kind, Body: o.Raw}
	if f.Check != nil {
		refs, err := f.Check(ctx, o)
		if err != nil {
			return rec, err
		}
		rec.Refs = refs
	}
	rec.File = o.File
	if f.StoreFile != nil && o.File != nil {
		sealed, err := f.StoreFile(ctx, rec.Key, o.File)
		if err != nil {
			return rec, err
		}
		rec.File = sealed
	}
	return rec, nil
}

func (e *Engine) update(w http.ResponseWriter, r *http.Request, f *family, vars map[string]string) error {
	o, err := e.decode(w, r, f, f.update, vars)
	if err != nil {
		return err
	}
	names := f.names(o)
	for i, v := range f.ItemVars {
		if names[i] != vars[v] {
			return httpx.Errorf(http.StatusBadRequest, fmt.Sprintf("body %s %q does not match the URL %q", v, names[i], vars[v]))
		}
	}
	if err := e.parentExists(r.Context(), f, vars); err != nil {
		return err
	}
	rec, err := e.prepare(r.Context(), f, o, vars)
	if err != nil {
		return err
	}
	_, err = e.store.Update(r.Context(), rec.Key, func(old store.Record) (store.Record, error) {
		old.Body, old.File, old.Refs = rec.Body, rec.File, rec.Refs
		return old, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return e.notFound(f, vars)
	}
	if err != nil {
		return err
	}
	httpx.WriteRawJSON(w, http.StatusOK, o.Raw)
	return nil
}

func (e *Engine) notFound(f *family, vars map[string]string) error {
	names := make([]string, len(f.ItemVars))
	for i, v := range f.ItemVars {
		names[i] = vars[v]
	}
	return httpx.Errorf(http.StatusNotFound, fmt.Sprintf("%s %s not found", f.Kind, strings.Join(names, "/")))
}

func (e *Engine) parentExists(ctx context.Context, f *family, vars map[string]string) error {
	p := f.ParentKey(vars)
	if p == "" {
		return nil
	}
	if _, err := e.store.Get(ctx, p); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return e.parentNotFound(f, vars)
		}
		return err
	}
	return nil
}

// parentNotFound names the missing parent the way users call it
// ("project p1 not found").
func (e *Engine) parentNotFound(f *family, vars map[string]string) error {
	tmpl := f.Collection[:strings.LastIndex(f.Collection, "/")]
	if pf, ok := e.byItem[tmpl]; ok {
		return e.notFound(pf, vars)
	}
	return httpx.Errorf(http.StatusNotFound, fmt.Sprintf("parent %s not found", f.ParentKey(vars)))
}

func (e *Engine) list(w http.ResponseWriter, r *http.Request, f *family, vars map[string]string) error {
	if err := e.parentExists(r.Context(), f, vars); err != nil {
		return err
	}
	recs, err := e.store.List(r.Context(), f.ParentKey(vars), f.Kind)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, rec := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(rec.Body)
	}
	b.WriteByte(']')
	httpx.WriteRawJSON(w, http.StatusOK, []byte(b.String()))
	return nil
}

func (e *Engine) get(w http.ResponseWriter, r *http.Request, f *family, vars map[string]string) error {
	rec, err := e.store.Get(r.Context(), f.Key(vars))
	if errors.Is(err, store.ErrNotFound) {
		return e.notFound(f, vars)
	}
	if err != nil {
		return err
	}
	if f.File == FileReturned {
		return writeWithFile(w, r, rec.Body, rec.File)
	}
	httpx.WriteRawJSON(w, http.StatusOK, rec.Body)
	return nil
}

func (e *Engine) delete(w http.ResponseWriter, r *http.Request, f *family, vars map[string]string) error {
	key := f.Key(vars)
	if _, err := e.store.Get(r.Context(), key); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return e.notFound(f, vars)
		}
		return err
	}
	if f.BeforeDelete != nil {
		if err := f.BeforeDelete(r.Context(), key, vars); err != nil {
			return err
		}
	}
	err := e.store.Delete(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return e.notFound(f, vars)
	case errors.Is(err, store.ErrHasChildren):
		return httpx.Errorf(http.StatusConflict, fmt.Sprintf("%s %s has child resources; delete them first", f.Kind, vars[f.ItemVars[0]]))
	case errors.Is(err, store.ErrReferenced):
		refs, _ := e.store.ReferencedBy(r.Context(), key)
		msg := fmt.Sprintf("%s %s is referenced by other resources", f.Kind, vars[f.ItemVars[0]])
		if len(refs) > 0 {
			msg += " (" + refs[0].Key + ")"
		}
		return httpx.Errorf(http.StatusConflict, msg)
	case err != nil:
		return err
	}
	if f.Deleted != nil {
		f.Deleted(r.Context(), key)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
