package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"edgeway.dev/common/httpx"
)

// decode reads, checks and validates a request body of family f.
func (e *Engine) decode(w http.ResponseWriter, r *http.Request, f *family, schema *openapi3.Schema, vars map[string]string) (*Object, error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	want := "application/json"
	if f.Body == MultipartBody {
		want = "multipart/form-data"
	}
	if ct != want {
		return nil, httpx.Errorf(http.StatusUnsupportedMediaType, "Content-Type must be "+want)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", e.maxBody))
		}
		return nil, httpx.Errorf(http.StatusBadRequest, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, httpx.Errorf(http.StatusBadRequest, "request body is empty")
	}
	o := &Object{Vars: vars}
	meta := body
	if f.Body == MultipartBody {
		if meta, o.File, err = readMultipart(body, params["boundary"]); err != nil {
			return nil, err
		}
	}
	if o.Doc, err = DecodeObject(meta); err != nil {
		return nil, err
	}
	if err := Validate(schema, o.Doc); err != nil {
		return nil, err
	}
	if f.Body == MultipartBody {
		if len(o.File) == 0 {
			return nil, httpx.Errorf(http.StatusBadRequest, "multipart part \"file\" is required")
		}
		if f.CheckFile != nil {
			if err := f.CheckFile(o.File); err != nil {
				var he *httpx.Error
				if errors.As(err, &he) {
					return nil, err
				}
				return nil, httpx.Errorf(http.StatusBadRequest, "invalid file: "+err.Error())
			}
		}
	}
	if o.Raw, err = compact(o.Doc); err != nil {
		return nil, err
	}
	return o, nil
}

// readMultipart returns the metadata JSON and the file of a multipart body.
func readMultipart(body []byte, boundary string) (meta, file []byte, err error) {
	if boundary == "" {
		return nil, nil, httpx.Errorf(http.StatusBadRequest, "multipart body without boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, httpx.Errorf(http.StatusBadRequest, "malformed multipart body")
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, httpx.Errorf(http.StatusBadRequest, "malformed multipart body")
		}
		switch p.FormName() {
		case "metadata":
			if meta != nil {
				return nil, nil, httpx.Errorf(http.StatusBadRequest, "multipart part \"metadata\" given twice")
			}
			meta = data
		case "file":
			if file != nil {
				return nil, nil, httpx.Errorf(http.StatusBadRequest, "multipart part \"file\" given twice")
			}
			file = data
		default:
			return nil, nil, httpx.Errorf(http.StatusBadRequest, fmt.Sprintf("unexpected multipart part %q", p.FormName()))
		}
	}
	if len(bytes.TrimSpace(meta)) == 0 {
		return nil, nil, httpx.Errorf(http.StatusBadRequest, "multipart part \"metadata\" is required")
	}
	return meta, file, nil
}

// DecodeObject parses a JSON object strictly: invalid JSON, duplicate keys,
// a non-object document, or a metadata/spec of the wrong shape are 422.
func DecodeObject(data []byte) (map[string]any, error) {
	if err := checkJSON(data); err != nil {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "body is not valid JSON: "+err.Error())
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "body is not valid JSON")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "body must be a JSON object")
	}
	if m, ok := doc["metadata"]; ok {
		md, ok := m.(map[string]any)
		if !ok {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "metadata must be an object")
		}
		for _, k := range []string{"name", "description", "userData1", "userData2"} {
			if x, ok := md[k]; ok {
				if _, ok := x.(string); !ok {
					return nil, httpx.Errorf(http.StatusUnprocessableEntity, "metadata."+k+" must be a string")
				}
			}
		}
	}
	if s, ok := doc["spec"]; ok {
		if _, ok := s.(map[string]any); !ok {
			return nil, httpx.Errorf(http.StatusUnprocessableEntity, "spec must be an object")
		}
	}
	return toPlain(doc).(map[string]any), nil
}

// toPlain turns json.Number into float64 or int64-valued float64 as the
// schema validator expects.
func toPlain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = toPlain(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = toPlain(e)
		}
		return x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	}
	return v
}

// checkJSON reports syntax errors, trailing data and duplicate object keys.
func checkJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walk(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

const maxDepth = 64

func walk(dec *json.Decoder, depth int) error {
	if depth > maxDepth {
		return errors.New("document nested too deeply")
	}
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k, _ := kt.(string)
			if seen[k] {
				return fmt.Errorf("duplicate key %q", k)
			}
			seen[k] = true
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walk(dec, depth+1); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // closing delimiter
	return err
}

// Validate checks doc against schema; violations are 400 with the first
// problem's location and reason.
func Validate(schema *openapi3.Schema, doc map[string]any) error {
	err := schema.VisitJSON(doc)
	if err == nil {
		return nil
	}
	var se *openapi3.SchemaError
	msg := "body does not match the resource schema"
	status := http.StatusBadRequest
	if errors.As(err, &se) {
		if se.SchemaField == "type" {
			// A value of the wrong type does not decode into the resource.
			status = http.StatusUnprocessableEntity
			msg = "body does not decode into the resource"
		}
		loc := strings.Join(se.JSONPointer(), ".")
		if loc != "" {
			msg += ": " + loc
		}
		if se.Reason != "" {
			msg += ": " + se.Reason
		}
	}
	return &httpx.Error{Status: status, Msg: msg, Err: err}
}

// writeWithFile answers a GET of a family with an attached file according
// to the Accept header: the file alone, metadata and file as multipart, or
// the JSON object.
func writeWithFile(w http.ResponseWriter, r *http.Request, body, file []byte) error {
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "application/octet-stream"):
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(file)
	case strings.Contains(accept, "multipart/form-data"):
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="metadata"`)
		h.Set("Content-Type", "application/json")
		pw, _ := mw.CreatePart(h)
		_, _ = pw.Write(body)
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="file.tgz"`)
		h.Set("Content-Type", "application/octet-stream")
		pw, _ = mw.CreatePart(h)
		_, _ = pw.Write(file)
		if err := mw.Close(); err != nil {
			return err
		}
		w.Header().Set("Content-Type", mw.FormDataContentType())
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes())
	default:
		httpx.WriteRawJSON(w, http.StatusOK, body)
	}
	return nil
}

// namePattern is the contract's resource name pattern.
var namePattern = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)

// ValidName reports whether s is a valid resource name.
func ValidName(s string) bool { return len(s) <= 128 && namePattern.MatchString(s) }
