package rest

import (
	"context"
	"encoding/json"
	"strings"
)

// BodyKind says how a family's requests carry the object.
type BodyKind int

const (
	// JSONBody: application/json.
	JSONBody BodyKind = iota
	// MultipartBody: multipart/form-data with a `metadata` JSON part and a
	// `file` part (chart, profile, kubeconfig).
	MultipartBody
)

// FileAccess says whether GET may return a family's attached file.
type FileAccess int

const (
	// FileHidden: the file is never returned (kubeconfigs).
	FileHidden FileAccess = iota
	// FileReturned: GET returns the file for Accept multipart/form-data or
	// application/octet-stream.
	FileReturned
)

// Object is a decoded, schema-valid request body.
type Object struct {
	Raw  []byte         // compact JSON as stored and returned
	Doc  map[string]any // the decoded document
	File []byte         // the `file` part of a multipart body
	Vars map[string]string
}

// String returns the string at a dotted path of the document ("spec.app"),
// or "" when it is absent or not a string.
func (o *Object) String(path string) string {
	var cur any = o.Doc
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// Family declares one resource family.
type Family struct {
	// Kind names the family in storage, logs and messages ("app").
	Kind string
	// Collection is the collection path template relative to /v2, e.g.
	// "/projects/{project}/composite-apps/{compositeApp}/{compositeAppVersion}/apps".
	// The parent object's path is the collection path without its last
	// segment; top-level collections have no parent.
	Collection string
	// ItemVars are the path variables that follow Collection in the item
	// template, usually one ("app"); composite apps have two.
	ItemVars []string
	// Body says how the object is carried.
	Body BodyKind
	// File says whether GET may return the attached file.
	File FileAccess
	// NoPut removes PUT from the item (cluster labels).
	NoPut bool
	// Names returns the item variables' values from a body, in ItemVars
	// order. Default: metadata.name.
	Names func(o *Object) []string
	// CheckFile validates the attached file; a returned error is a 400
	// unless it is an *httpx.Error.
	CheckFile func(file []byte) error
	// Check validates the object beyond its schema (references to other
	// objects) and returns the keys it references. It runs on POST and PUT.
	Check func(ctx context.Context, o *Object) (refs []string, err error)
	// StoreFile transforms the file before it is stored (sealing).
	StoreFile func(ctx context.Context, key string, file []byte) ([]byte, error)
	// AfterCreate runs once the object is stored; when it fails, the object
	// is removed again and the create fails.
	AfterCreate func(ctx context.Context, key string, o *Object) error
	// BeforeDelete runs before a delete (references held by other services).
	BeforeDelete func(ctx context.Context, key string, vars map[string]string) error
	// Deleted runs after a successful delete (cleanup owned elsewhere).
	Deleted func(ctx context.Context, key string)
}

func (f *Family) itemTemplate() string {
	t := f.Collection
	for _, v := range f.ItemVars {
		t += "/{" + v + "}"
	}
	return t
}

func (f *Family) names(o *Object) []string {
	if f.Names != nil {
		return f.Names(o)
	}
	return []string{o.String("metadata.name")}
}

// expand fills a template with vars and returns it without the leading "/".
func expand(tmpl string, vars map[string]string) string {
	parts := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
	for i, p := range parts {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			parts[i] = vars[p[1:len(p)-1]]
		}
	}
	return strings.Join(parts, "/")
}

// Key returns the storage key of the item that vars name.
func (f *Family) Key(vars map[string]string) string { return expand(f.itemTemplate(), vars) }

// ParentKey returns the storage key of the parent of the collection, "" for
// top-level families.
func (f *Family) ParentKey(vars map[string]string) string {
	c := expand(f.Collection, vars)
	i := strings.LastIndex(c, "/")
	if i < 0 {
		return ""
	}
	return c[:i]
}

// compact re-encodes a JSON document compactly.
func compact(doc map[string]any) ([]byte, error) { return json.Marshal(doc) }
