package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxDocuments bounds the documents (empty ones included) of one file.
const maxDocuments = 10000

// Version is the only document version understood.
const Version = "emco/v2"

// Verbs are the lifecycle verbs a document's anchor may end in.
var Verbs = []string{"approve", "instantiate", "update", "rollback", "stop", "terminate"}

// Document is one resource of a file.
type Document struct {
	// Index is the document's position in the file, from 1.
	Index int
	// Line is the line of the rendered file where the document starts.
	Line int
	// Anchor is the collection path relative to the API prefix, e.g.
	// "projects/p1/composite-apps", or the verb path
	// ".../deployment-intent-groups/d1/approve".
	Anchor string
	// Name is metadata.name (the label for cluster labels).
	Name string
	// Verb is the lifecycle verb the anchor ends in, or "".
	Verb string
	// Body is the JSON body: every top-level field except version,
	// resourceContext, file and files.
	Body map[string]any
	// Files are the paths of file / files, resolved against the file's
	// directory.
	Files []string
}

// Source names the document for messages: "app.yaml#3".
func (d *Document) Source(file string) string {
	return fmt.Sprintf("%s#%d", filepath.Base(file), d.Index)
}

// ObjectPath is the path of the document's object: anchor/name, for a
// composite app anchor/name/version. For a verb document it is the path of
// the object the verb acts on (the deployment intent group).
func (d *Document) ObjectPath() string {
	if d.Verb != "" {
		return path.Dir(d.Anchor)
	}
	if path.Base(d.Anchor) == "composite-apps" {
		if v := d.CompositeAppVersion(); v != "" {
			return d.Anchor + "/" + d.Name + "/" + v
		}
	}
	return d.Anchor + "/" + d.Name
}

// CompositeAppVersion is spec.compositeAppVersion, if any.
func (d *Document) CompositeAppVersion() string {
	spec, _ := d.Body["spec"].(map[string]any)
	v, _ := spec["compositeAppVersion"].(string)
	return v
}

// Kind is the collection's last path segment ("apps", "composite-apps"),
// or the verb.
func (d *Document) Kind() string {
	if d.Verb != "" {
		return d.Verb
	}
	return path.Base(d.Anchor)
}

// HasBody tells whether the document carries anything to send.
func (d *Document) HasBody() bool { return len(d.Body) > 0 }

// Options control Parse.
type Options struct {
	// Values are the template values; when nil the file is not a template.
	Values map[string]any
}

// ReadValues reads and merges values files, later files winning (maps
// merge recursively).
func ReadValues(paths []string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("values %s: %w", p, err)
		}
		merge(out, normalize(v).(map[string]any))
	}
	return out, nil
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// ParseFile reads, renders (when opts.Values is set) and parses file.
func ParseFile(file string, opts Options) ([]*Document, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if opts.Values != nil {
		if b, err = Render(filepath.Base(file), b, opts.Values); err != nil {
			return nil, err
		}
	}
	return Parse(b, filepath.Dir(file))
}

// Render executes data as a text/template with values; a key missing from
// the values is an error.
func Render(name string, data []byte, values map[string]any) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, values); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return buf.Bytes(), nil
}

// Parse splits data into documents and checks each; dir resolves relative
// file paths. Empty documents are skipped. Every problem is reported.
func Parse(data []byte, dir string) ([]*Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*Document
	var errs []error
	for i, n := 1, 0; ; i, n = i+1, n+1 {
		if n >= maxDocuments {
			errs = append(errs, fmt.Errorf("more than %d documents", maxDocuments))
			break
		}
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			break
		}
		if len(node.Content) == 0 || node.Content[0].Kind == yaml.ScalarNode && node.Content[0].Tag == "!!null" {
			i--
			continue
		}
		line := node.Content[0].Line
		d, err := parseDocument(&node, dir)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (line %d): %w", i, line, err))
			continue
		}
		d.Line = line
		d.Index = i
		docs = append(docs, d)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(docs) == 0 {
		return nil, errors.New("no documents")
	}
	return docs, nil
}

func parseDocument(node *yaml.Node, dir string) (*Document, error) {
	var raw any
	if err := node.Decode(&raw); err != nil {
		return nil, err
	}
	m, ok := normalize(raw).(map[string]any)
	if !ok {
		return nil, errors.New("not a mapping")
	}
	d := &Document{Body: map[string]any{}}
	var errs []error
	if v, _ := m["version"].(string); v != Version {
		errs = append(errs, fmt.Errorf("version is %q, want %q", m["version"], Version))
	}
	rc, _ := m["resourceContext"].(map[string]any)
	anchor, _ := rc["anchor"].(string)
	anchor = strings.Trim(strings.TrimSpace(anchor), "/")
	anchor = strings.TrimPrefix(anchor, "v2/")
	if anchor == "" {
		errs = append(errs, errors.New("resourceContext.anchor is missing"))
	}
	d.Anchor = anchor
	if slices.Contains(Verbs, path.Base(anchor)) && strings.Count(anchor, "/") >= 2 {
		d.Verb = path.Base(anchor)
	}
	for k, v := range m {
		switch k {
		case "version", "resourceContext":
		case "file":
			f, ok := v.(string)
			if !ok || f == "" {
				errs = append(errs, errors.New("file must be a path"))
				continue
			}
			d.Files = append(d.Files, resolve(dir, f))
		case "files":
			list, ok := v.([]any)
			if !ok {
				errs = append(errs, errors.New("files must be a list of paths"))
				continue
			}
			for _, x := range list {
				f, ok := x.(string)
				if !ok || f == "" {
					errs = append(errs, errors.New("files must be a list of paths"))
					continue
				}
				d.Files = append(d.Files, resolve(dir, f))
			}
		default:
			d.Body[k] = v
		}
	}
	if len(d.Files) > 1 {
		errs = append(errs, fmt.Errorf("%d files given; Edgeway takes one file per object", len(d.Files)))
	}
	if md, ok := d.Body["metadata"]; ok {
		mm, ok := md.(map[string]any)
		if !ok {
			errs = append(errs, errors.New("metadata must be a mapping"))
		} else {
			d.Name, _ = mm["name"].(string)
		}
	}
	if label, ok := d.Body["clusterLabel"].(string); ok && d.Name == "" {
		d.Name = label
	}
	if d.Verb == "" && d.Name == "" && anchor != "" {
		errs = append(errs, errors.New("metadata.name is missing"))
	}
	if d.Verb == "" && path.Base(anchor) == "composite-apps" && d.CompositeAppVersion() == "" {
		errs = append(errs, errors.New("a composite app needs spec.compositeAppVersion"))
	}
	return d, errors.Join(errs...)
}

func resolve(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// normalize turns YAML values into what encoding/json marshals as the
// author meant: maps with string keys, timestamps as RFC 3339 strings.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = normalize(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case time.Time:
		return x.Format(time.RFC3339Nano)
	}
	return v
}
